import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describeStoreContract } from "../store-contract.js";
import { openSqliteStore } from "./open.js";

describeStoreContract("sqlite", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pw-store-"));
  return openSqliteStore(path.join(dir, "test.db"));
});
