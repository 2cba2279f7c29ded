import { afterAll, beforeAll, describe, it } from "vitest";
import {
  POSTGRES_BIN,
  POSTGRES_SKIP_REASON,
  type PostgresCluster,
  startPostgres,
} from "../../../test/helpers/postgres.js";
import { describeRunStoreContract, describeStoreContract } from "../store-contract.js";
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
  const open = async () => openPostgresStore(await cluster.createDatabase(), { poolSize: 4 });
  describeStoreContract("postgres", open);
  describeRunStoreContract("postgres", open);
}
