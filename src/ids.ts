// Ids of the CodeArts shape: 32 lowercase hex characters (128 random bits, like a UUID without
// dashes). Drawn from a pool of random bytes: a batch of 1000 runs needs thousands of ids.

import crypto from "node:crypto";

const POOL_IDS = 256;
let pool = Buffer.alloc(0);
let at = 0;

export function newId(): string {
  if (at >= pool.length) {
    pool = crypto.randomBytes(16 * POOL_IDS);
    at = 0;
  }
  const id = pool.toString("hex", at, at + 16);
  at += 16;
  return id;
}
