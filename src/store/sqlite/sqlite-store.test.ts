import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import SqliteDatabase from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect, sql } from "kysely";
import { describe, expect, it } from "vitest";
import { TEST_SEALER } from "../../../test/helpers/sealer.js";
import { describeRunStoreContract } from "../run-store-contract.js";
import { describeSecretContract } from "../secret-store-contract.js";
import { describeMigrationContract, describeStoreContract } from "../store-contract.js";
import { SQLITE_MIGRATIONS } from "./migrations.js";
import { openSqliteStore } from "./open.js";

const newFile = (): string => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pw-store-")), "test.db");
const open = async () => openSqliteStore(newFile(), { sealer: TEST_SEALER });
describeStoreContract("sqlite", open);
describeRunStoreContract("sqlite", open);
describeMigrationContract("sqlite", async (migration) => {
  const file = newFile();
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new SqliteDatabase(file) }) });
  const { error } = await new Migrator({
    db,
    provider: { getMigrations: async () => SQLITE_MIGRATIONS },
  }).migrateTo(migration);
  if (error) throw error;
  return { db, open: () => openSqliteStore(file, { sealer: TEST_SEALER }) };
});
describeSecretContract("sqlite", async () => {
  const file = newFile();
  return { open: (sealer) => openSqliteStore(file, { sealer }) };
});

describe("sqlite: a transaction SQLite rolled back by itself", () => {
  it("fails with the error that ended it, not with Kysely's failed ROLLBACK after it", async () => {
    const store = await openSqliteStore(newFile(), { sealer: TEST_SEALER });
    try {
      // As SQLite does on SQLITE_FULL or an I/O error: the transaction is gone when the caller
      // learns of the failure and rolls back.
      const failure = store.transaction(async (tx) => {
        await tx.createProject({ id: "a".repeat(32), name: "gone", create_time: 1 });
        await sql`ROLLBACK`.execute(tx.db);
        throw Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
      });
      await expect(failure).rejects.toMatchObject({ code: "SQLITE_FULL" });
      expect(await store.listProjects()).toEqual([]);
      // And the connection is usable afterwards.
      await store.createProject({ id: "b".repeat(32), name: "next", create_time: 2 });
      expect((await store.listProjects()).map((p) => p.name)).toEqual(["next"]);
    } finally {
      await store.close();
    }
  });
});
