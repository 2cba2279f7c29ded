// Keyrings for tests that open a store directly (servers make their own, see main.ts).

import { createSealer, newSecretKey, parseKeyring, type Sealer } from "../../src/store/sealer.js";

/** A sealer over exactly these base64 keys, the first one active. */
export function sealerOf(...keys: readonly string[]): Sealer {
  return createSealer(parseKeyring(keys.join("\n"), "test keyring"));
}

/** A sealer with one new key. */
export const newTestSealer = (): Sealer => sealerOf(newSecretKey());

export const TEST_SEALER: Sealer = newTestSealer();
