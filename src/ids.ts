// Ids of the CodeArts shape: 32 lowercase hex characters. The first 12 are the time in ms and
// the other 20 random (80 bits), so new rows land at the end of every id index instead of all
// over it, which keeps the pages a write touches few as the store grows. Random bytes come from
// a pool: a batch of 1000 runs needs thousands of ids.

import crypto from "node:crypto";

const POOL_IDS = 256;
let pool = Buffer.alloc(0);
let at = 0;

export function newId(now: number = Date.now()): string {
  if (at >= pool.length) {
    pool = crypto.randomBytes(10 * POOL_IDS);
    at = 0;
  }
  const id = now.toString(16).padStart(12, "0").slice(-12) + pool.toString("hex", at, at + 10);
  at += 10;
  return id;
}
