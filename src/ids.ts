// Ids of the CodeArts shape: 32 lowercase hex characters (a UUID without dashes).

import crypto from "node:crypto";

export function newId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}
