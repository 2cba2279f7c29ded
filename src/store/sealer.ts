// Secrets at rest: access-key secret keys and secret variable values are sealed with AES-256-GCM
// under a server key before they reach the database, and opened when read. A keyring holds the
// active key (which seals) and older ones (which still open), so keys can be rotated without a
// flag day: every sealed value names the key it was sealed with.
//
// Sealed text: `pwsec1.<kid>.<iv>.<ciphertext+tag>` (base64url parts); the kid is derived from the
// key itself (first 8 hex digits of its SHA-256), so a keyring file is just keys, one per line.

import crypto from "node:crypto";

const PREFIX = "pwsec1.";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface SecretKey {
  readonly kid: string;
  readonly key: Buffer;
}

export class KeyringError extends Error {
  override name = "KeyringError";
}

export interface Sealer {
  /** The kid new values are sealed with. */
  readonly activeKid: string;
  /** Every kid this sealer can open. */
  readonly kids: readonly string[];
  seal(plain: string): string;
  /** Opens sealed text; text that is not sealed (written before sealing existed) comes back as is. */
  open(text: string): string;
  /** Whether the text is sealed with the active key (so a reseal pass may leave it alone). */
  isCurrent(text: string): boolean;
}

export function kidOf(key: Buffer): string {
  return crypto.createHash("sha256").update(key).digest("hex").slice(0, 8);
}

export function newSecretKey(): string {
  return crypto.randomBytes(KEY_BYTES).toString("base64");
}

/**
 * Parses a keyring: base64 keys of 32 bytes, one per line (or separated by commas or spaces), `#`
 * starting a comment; the first key is the active one. Errors name the entry, never its content.
 */
export function parseKeyring(text: string, source: string): SecretKey[] {
  const entries = text
    .split("\n")
    .map((line) => line.replace(/#.*/, ""))
    .flatMap((line) => line.split(/[\s,]+/))
    .filter((e) => e !== "");
  if (entries.length === 0) throw new KeyringError(`${source} holds no key`);
  const keys = entries.map((entry, i) => {
    const key = /^[A-Za-z0-9+/_-]+=*$/.test(entry) ? Buffer.from(entry, "base64") : Buffer.alloc(0);
    if (key.length !== KEY_BYTES) {
      throw new KeyringError(
        `${source}: key ${i + 1} is not ${KEY_BYTES} bytes of base64 (make one with: openssl rand -base64 32)`,
      );
    }
    return { kid: kidOf(key), key };
  });
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k.kid)) throw new KeyringError(`${source}: key ${k.kid} is listed twice`);
    seen.add(k.kid);
  }
  return keys;
}

export function createSealer(keys: readonly SecretKey[]): Sealer {
  const active = keys[0];
  if (!active) throw new KeyringError("a keyring needs at least one key");
  const byKid = new Map(keys.map((k) => [k.kid, k.key]));
  const currentPrefix = `${PREFIX}${active.kid}.`;
  return {
    activeKid: active.kid,
    kids: keys.map((k) => k.kid),
    seal(plain) {
      const iv = crypto.randomBytes(IV_BYTES);
      const cipher = crypto.createCipheriv("aes-256-gcm", active.key, iv);
      const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final(), cipher.getAuthTag()]);
      return `${currentPrefix}${iv.toString("base64url")}.${body.toString("base64url")}`;
    },
    open(text) {
      if (!text.startsWith(PREFIX)) return text;
      const [kid, iv, body] = text.slice(PREFIX.length).split(".");
      const key = kid === undefined ? undefined : byKid.get(kid);
      if (!key) throw new KeyringError(`a secret is sealed with key ${kid}, which the keyring does not hold`);
      const raw = Buffer.from(body ?? "", "base64url");
      const decipher = crypto.createDecipheriv("aes-256-gcm", key, Buffer.from(iv ?? "", "base64url"));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      try {
        return Buffer.concat([
          decipher.update(raw.subarray(0, raw.length - TAG_BYTES)),
          decipher.final(),
        ]).toString("utf8");
      } catch {
        throw new KeyringError(
          `a secret sealed with key ${kid} does not open (damaged, or another key with that id)`,
        );
      }
    },
    isCurrent: (text) => text.startsWith(currentPrefix),
  };
}

/** Applies `f` to the secret parts of pipeline variables (value, latest_value, the enum's limits). */
export function mapSecretVariables<
  V extends {
    readonly is_secret: boolean;
    readonly value: string;
    readonly latest_value: string;
    readonly limits: readonly string[];
  },
>(vars: readonly V[], f: (s: string) => string): V[] {
  return vars.map((v) =>
    v.is_secret ? { ...v, value: f(v.value), latest_value: f(v.latest_value), limits: v.limits.map(f) } : v,
  );
}

/** Applies `f` to the values of a run's secret variables. */
export function mapSecretValues<V extends { readonly is_secret: boolean; readonly value: string }>(
  vars: readonly V[],
  f: (s: string) => string,
): V[] {
  return vars.map((v) => (v.is_secret ? { ...v, value: f(v.value) } : v));
}
