// The server's data dir: private to its user, and held by one server at a time.
//
// The lock is an exclusive lock of the operating system on `<dataDir>/server.lock` (os-lock.ts),
// held for the life of the process. Who holds it is written beside it (`server.pid`).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { tryLock } from "./os-lock.js";

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
  const holderFile = path.join(dir, "server.pid");
  const holder: Holder = { pid: process.pid, host: os.hostname(), since: new Date(now()).toISOString() };
  const lock = tryLock(path.join(dir, "server.lock"), holderFile, holder);
  if (!lock) {
    throw new DataDirInUseError(
      `the data dir ${dir} is in use by another Pipewright server (${describe(holderFile)}): ` +
        "stop that one first, or give this one its own --data-dir",
    );
  }
  return lock;
}
