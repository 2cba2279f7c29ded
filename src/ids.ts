// Ids of the CodeArts shape: 32 lowercase hex characters. The first 12 are the time in ms, the
// next 4 count ids made in that millisecond, the last 16 are random (64 bits): ids made by one
// process are strictly increasing (new rows land at the end of every id index, and records
// created in the same millisecond still sort in creation order), and ids of different processes
// do not collide. Random bytes come from a pool: a batch of 1000 runs needs thousands of ids.

import crypto from "node:crypto";

const POOL_IDS = 256;
let pool = Buffer.alloc(0);
let at = 0;
let lastMs = -1;
let counter = 0;

export function newId(now: number = Date.now()): string {
  if (at >= pool.length) {
    pool = crypto.randomBytes(8 * POOL_IDS);
    at = 0;
  }
  // A clock that steps back, or 65,536 ids in one millisecond, borrow from the next one.
  if (now > lastMs) {
    lastMs = now;
    counter = 0;
  } else if (++counter > 0xffff) {
    lastMs++;
    counter = 0;
  }
  const id =
    lastMs.toString(16).padStart(12, "0").slice(-12) +
    counter.toString(16).padStart(4, "0") +
    pool.toString("hex", at, at + 8);
  at += 8;
  return id;
}
