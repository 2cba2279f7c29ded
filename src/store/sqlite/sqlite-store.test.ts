import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import SqliteDatabase from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect } from "kysely";
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
