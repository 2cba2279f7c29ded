import { Kysely, Migrator, PostgresDialect } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, it } from "vitest";
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
  describeSecretContract("postgres", async () => {
    const url = await cluster.createDatabase();
    return { open: (sealer) => openPostgresStore(url, { poolSize: 2, sealer }) };
  });
}
