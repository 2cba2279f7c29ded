// An exclusive lock of the operating system on a file, taken through SQLite (an exclusive
// transaction in exclusive locking mode) and held for the life of the process: the kernel
// releases it however the process ends (kill -9 included), so there is never a stale lock to
// clear by hand. Who holds it is written beside it, for the message a second taker gives.

import fs from "node:fs";
import SqliteDatabase from "better-sqlite3";

export interface OsLock {
  release(): void;
}

/** Takes the lock on `file`, writing `holder` (JSON) to `holderFile`; undefined when it is held. */
export function tryLock(file: string, holderFile: string, holder: unknown): OsLock | undefined {
  fs.closeSync(fs.openSync(file, "a", 0o600));
  const db = new SqliteDatabase(file, { timeout: 0 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== "SQLITE_BUSY") throw err;
    return undefined;
  }
  fs.writeFileSync(holderFile, `${JSON.stringify(holder)}\n`, { mode: 0o600 });
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      fs.rmSync(holderFile, { force: true });
      db.close();
    },
  };
}
