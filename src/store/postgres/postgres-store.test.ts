import { Kysely, Migrator, PostgresDialect } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  POSTGRES_BIN,
  POSTGRES_SKIP_REASON,
  type PostgresCluster,
  startPostgres,
} from "../../../test/helpers/postgres.js";
import { TEST_SEALER } from "../../../test/helpers/sealer.js";
import { describeRunStoreContract } from "../run-store-contract.js";
import { describeSecretContract } from "../secret-store-contract.js";
import { describeMigrationContract, describeStoreContract } from "../store-contract.js";
import { POSTGRES_MIGRATIONS } from "./migrations.js";
import { openPostgresStore } from "./open.js";

if (!POSTGRES_BIN) {
  describe("store contract: postgres", () => {
    it.skip(`skipped: ${POSTGRES_SKIP_REASON}`, () => {});
  });
} else {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
  }, 60_000);
  afterAll(() => cluster?.stop());
  const open = async () =>
    openPostgresStore(await cluster.createDatabase(), { poolSize: 4, sealer: TEST_SEALER });
  describeStoreContract("postgres", open);
  describeRunStoreContract("postgres", open);
  describeMigrationContract("postgres", async (migration) => {
    const url = await cluster.createDatabase();
    const db = new Kysely<unknown>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }),
    });
    const { error } = await new Migrator({
      db,
      provider: { getMigrations: async () => POSTGRES_MIGRATIONS },
    }).migrateTo(migration);
    if (error) throw error;
    return { db, open: () => openPostgresStore(url, { poolSize: 2, sealer: TEST_SEALER }) };
  });
  describe("postgres: prepared statements", () => {
    it("keeps answering when the schema changed under a statement prepared on the connection", async () => {
      const url = await cluster.createDatabase();
      const store = await openPostgresStore(url, { poolSize: 1, sealer: TEST_SEALER });
      const id = "a".repeat(32);
      try {
        await store.createProject({ id, name: "p", create_time: 1 });
        for (let i = 0; i < 3; i++) expect(await store.getProject(id)).toMatchObject({ name: "p" });
        // Another replica's migration adds a column: the prepared `select *` no longer fits.
        const other = new pg.Client({ connectionString: url });
        await other.connect();
        await other.query("ALTER TABLE projects ADD COLUMN later TEXT");
        await other.end();
        expect(await store.getProject(id)).toMatchObject({ name: "p" });
        expect(await store.getProject(id)).toMatchObject({ name: "p" });
      } finally {
        await store.close();
      }
    });
  });
  describeSecretContract("postgres", async () => {
    const url = await cluster.createDatabase();
    return { open: (sealer) => openPostgresStore(url, { poolSize: 2, sealer }) };
  });
}
