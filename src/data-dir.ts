// The server's data dir: private to its user, and held by one server at a time.
//
// The lock is an exclusive lock of the operating system, taken through SQLite on
// `<dataDir>/server.lock` and held for the life of the process: it is released by the kernel
// however the process ends (kill -9 included), so there is never a stale lock to clear by hand.
// Who holds it is written beside it (`server.pid`), for the message a second server gives.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import SqliteDatabase from "better-sqlite3";

export class DataDirInUseError extends Error {
  override name = "DataDirInUseError";
}

export interface DataDirLock {
  release(): void;
}

interface Holder {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

/** Makes the dir (0700) and tightens an existing one; answers a problem to warn about, if any. */
export function privateDataDir(dir: string): string | undefined {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    fs.chmodSync(dir, 0o700);
    return undefined;
  } catch (err) {
    return `cannot make the data dir private (mode 0700): ${(err as Error).message}`;
  }
}

function describe(holderFile: string): string {
  try {
    const h: Holder = JSON.parse(fs.readFileSync(holderFile, "utf8"));
    return `pid ${h.pid} on ${h.host}, since ${h.since}`;
  } catch {
    return "a process that has not said who it is yet";
  }
}

/** Takes the data dir's lock, or throws DataDirInUseError saying who holds it. */
export function lockDataDir(dir: string, now: () => number): DataDirLock {
  const file = path.join(dir, "server.lock");
  const holderFile = path.join(dir, "server.pid");
  fs.closeSync(fs.openSync(file, "a", 0o600));
  const db = new SqliteDatabase(file, { timeout: 0 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== "SQLITE_BUSY") throw err;
    throw new DataDirInUseError(
      `the data dir ${dir} is in use by another Pipewright server (${describe(holderFile)}): ` +
        "stop that one first, or give this one its own --data-dir",
    );
  }
  const holder: Holder = { pid: process.pid, host: os.hostname(), since: new Date(now()).toISOString() };
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
