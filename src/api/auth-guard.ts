// Failed authentications: each is logged (never the credential), and a source that fails again
// and again has its credentials refused for a while, so guessing runs at a few attempts a minute
// instead of as fast as the server answers. Other sources are never held back: the account is
// kept per source address, in a bounded in-memory table (each replica keeps its own).

/** Failures a source may have in a burst before it is held back. */
export const AUTH_FAILURE_BURST = 20;
/** Then one more attempt each this long (a token bucket refilling at this rate). */
export const AUTH_FAILURE_REFILL_MS = 3_000;
/** Sources remembered at most; those whose account is clear go first. */
const MAX_SOURCES = 10_000;

interface Bucket {
  /** Attempts left, as of `at`. */
  tokens: number;
  at: number;
}

export interface AuthGuard {
  /** Milliseconds until this source may try again; 0 when it may now. */
  retryAfterMs(source: string): number;
  /** Counts a failure of this source; says whether it has just used up its attempts. */
  failed(source: string): { readonly left: number; readonly heldBack: boolean };
  /** Sources currently remembered (for tests of the bound). */
  readonly size: number;
}

export function createAuthGuard(
  now: () => number,
  opts: { burst?: number; refillMs?: number; maxSources?: number } = {},
): AuthGuard {
  const burst = opts.burst ?? AUTH_FAILURE_BURST;
  const refillMs = opts.refillMs ?? AUTH_FAILURE_REFILL_MS;
  const maxSources = opts.maxSources ?? MAX_SOURCES;
  const buckets = new Map<string, Bucket>();

  /** The bucket brought up to now; undefined when the source has a full account. */
  function current(key: string): Bucket | undefined {
    const b = buckets.get(key);
    if (!b) return undefined;
    const t = now();
    b.tokens = Math.min(burst, b.tokens + Math.max(0, t - b.at) / refillMs);
    b.at = t;
    if (b.tokens >= burst) {
      buckets.delete(key);
      return undefined;
    }
    return b;
  }

  function makeRoom(): void {
    for (const key of [...buckets.keys()]) current(key); // drops the full ones
    // Still full (many sources failing at once): the oldest accounts go.
    const excess = buckets.size - Math.floor(maxSources * 0.9);
    if (excess > 0) {
      let n = 0;
      for (const key of buckets.keys()) {
        if (n++ >= excess) break;
        buckets.delete(key);
      }
    }
  }

  return {
    retryAfterMs(source) {
      const b = current(sourceKey(source));
      return b && b.tokens < 1 ? Math.ceil((1 - b.tokens) * refillMs) : 0;
    },
    failed(source) {
      const key = sourceKey(source);
      let b = current(key);
      if (!b) {
        if (buckets.size >= maxSources) makeRoom();
        b = { tokens: burst, at: now() };
        buckets.set(key, b);
      }
      const before = b.tokens;
      b.tokens = Math.max(0, b.tokens - 1);
      return { left: Math.floor(b.tokens), heldBack: before >= 1 && b.tokens < 1 };
    },
    get size() {
      return buckets.size;
    },
  };
}

/**
 * The account a source address is kept under: an IPv4 address itself, an IPv6 address by its
 * /64 (one host usually has a whole /64, and could otherwise take a fresh address per attempt).
 */
export function sourceKey(ip: string): string {
  const v4 = /^(?:::ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (v4) return v4[1]!;
  if (!ip.includes(":")) return ip;
  const [head = "", tail] = ip.toLowerCase().split("%")[0]!.split("::") as [string, string | undefined];
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}
