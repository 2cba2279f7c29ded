import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describeRunStoreContract, describeStoreContract } from "../store-contract.js";
import { openSqliteStore } from "./open.js";

const open = async () =>
  openSqliteStore(path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pw-store-")), "test.db"));
describeStoreContract("sqlite", open);
describeRunStoreContract("sqlite", open);
