// Paging a step's log by lines over byte offsets (ShowPipelineLog, §4.11): clients feed the
// offsets of one page back to get the next, forwards from a start or backwards from an end.
// Pure: the chunks come from the store; offsets are byte offsets into the UTF-8 text.

import { invalid } from "../errors.js";
import type { LogChunk } from "../store/run-records.js";

export interface LogPageText {
  /** Byte offsets of `text` in the whole log. */
  readonly start: number;
  readonly end: number;
  readonly text: string;
  /** More stored text lies beyond the page in the direction of paging. */
  readonly more: boolean;
}

/** A client's offset field: an integer or a string of digits; absent or "" means 0. */
export function offsetOf(field: string, v: number | string | undefined): number {
  if (v === undefined || v === "") return 0;
  const n = typeof v === "number" ? v : /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(field, "must be a non-negative integer");
  return n;
}

/** The stored text from byte offset `from` on, given chunks in offset order that cover it. */
export function joinFrom(chunks: readonly LogChunk[], from: number): string {
  if (chunks.length === 0) return "";
  const first = chunks[0]!;
  const all = Buffer.from(chunks.map((c) => c.text).join(""));
  return all.subarray(Math.max(0, from - first.start_offset)).toString();
}

/** Index just after the n-th newline (or the end). */
function nthLineEnd(text: string, n: number): number {
  let i = -1;
  for (let k = 0; k < n; k++) {
    i = text.indexOf("\n", i + 1);
    if (i < 0) return text.length;
  }
  return i + 1;
}

/** Index where the last n lines of text begin. */
function lastLinesStart(text: string, n: number): number {
  let i = text.endsWith("\n") ? text.length - 1 : text.length;
  for (let k = 0; k < n; k++) {
    i = text.lastIndexOf("\n", i - 1);
    if (i < 0) return 0;
  }
  return i + 1;
}

/** Up to `limit` lines from byte offset `start` (chunks read from `start` to the end). */
export function pageForward(chunks: readonly LogChunk[], start: number, limit: number): LogPageText {
  const text = joinFrom(chunks, start);
  const cut = nthLineEnd(text, limit);
  const out = text.slice(0, cut);
  return { start, end: start + Buffer.byteLength(out), text: out, more: cut < text.length };
}

/**
 * The last `limit` lines before byte offset `end` (0: the end of the log), given the chunks from
 * the start of the log up to `end`.
 */
export function pageBackward(chunks: readonly LogChunk[], end: number, limit: number): LogPageText {
  let text = joinFrom(chunks, 0);
  if (end > 0) text = Buffer.from(text).subarray(0, end).toString();
  const from = lastLinesStart(text, limit);
  const out = text.slice(from);
  const start = Buffer.byteLength(text.slice(0, from));
  return { start, end: start + Buffer.byteLength(out), text: out, more: start > 0 };
}
