// Streaming secret masking for step logs: replaces every occurrence of a secret with `***`, also
// when the secret arrives split across output chunks. Pure; no I/O.

export const MASK = "***";

export interface Masker {
  /** Masks `text`; may hold back a tail that could be the start of a secret. */
  push(text: string): string;
  /** Returns what was held back (masked as far as it goes). Call once at the end of the stream. */
  flush(): string;
}

const identity: Masker = { push: (text) => text, flush: () => "" };

/**
 * Matching follows regular-expression semantics over the whole stream: leftmost match first and,
 * among secrets starting at the same place, the longest (so `abc` and `abcdef` both present mask
 * `abcdef` as one `***`). Chunking never changes the result: at most maxSecretLength-1 trailing
 * characters are held back, and only when they could still grow into a secret.
 */
export function createMasker(secrets: readonly string[]): Masker {
  // Longest first: regex alternation takes the first alternative that matches.
  const list = [...new Set(secrets.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
  const longest = list[0];
  // The common case pays nothing: no regex, no buffering, the same string back.
  if (longest === undefined) return identity;
  const maxLen = longest.length;
  const pattern = new RegExp(list.map(escapeRegExp).join("|"), "g");

  let pending = "";

  const push = (text: string): string => {
    const buf = pending + text;
    // From here on a secret could start without being fully in `buf`: only the tail needs care.
    const safeEnd = buf.length - (maxLen - 1);
    let out = "";
    let copied = 0;
    pattern.lastIndex = 0;
    for (let m = pattern.exec(buf); m !== null && m.index < safeEnd; m = pattern.exec(buf)) {
      out += buf.slice(copied, m.index) + MASK;
      copied = m.index + m[0].length;
    }
    let pos = Math.max(copied, safeEnd);
    // At most maxLen-1 positions, each checked against the secrets longest first.
    while (pos < buf.length) {
      const found = matchAt(list, buf, pos);
      if (found === "undecided") {
        out += buf.slice(copied, pos);
        pending = buf.slice(pos);
        return out;
      }
      if (found > 0) {
        out += buf.slice(copied, pos) + MASK;
        pos += found;
        copied = pos;
      } else {
        pos++;
      }
    }
    pending = "";
    // No match and nothing held back: hand the input itself back instead of a copy.
    return copied === 0 ? buf : out + buf.slice(copied);
  };

  const flush = (): string => {
    // No more text can come, so an incomplete prefix is just text; complete secrets in it
    // (a short one inside the prefix of a long one) still get masked.
    const rest = pending.replaceAll(pattern, MASK);
    pending = "";
    return rest;
  };

  return { push, flush };
}

/**
 * What the secrets (longest first) say about `buf` at `pos`: the length of the secret that
 * matches there, 0 for none, or "undecided" when a secret that would win is cut off by the end of
 * `buf` and the next chunk decides.
 */
function matchAt(list: readonly string[], buf: string, pos: number): number | "undecided" {
  const available = buf.length - pos;
  for (const secret of list) {
    if (secret.length <= available) {
      if (buf.startsWith(secret, pos)) return secret.length;
    } else if (secret.startsWith(buf.slice(pos))) {
      return "undecided";
    }
  }
  return 0;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
