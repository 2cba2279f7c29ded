// Find in a step's log: every match of the text (case-insensitive) in the lines the pane keeps,
// a count, next / previous. Matches are painted with the CSS Custom Highlight API (ranges over
// the text as it is), so searching never rewrites the log's DOM or its colours.

import type { LogLine } from "./log-lines.js";

export interface Match {
  readonly line: LogLine;
  readonly at: number;
  readonly length: number;
}

/** Past this many the count says "more than"; painting a million ranges helps nobody. */
export const MAX_MATCHES = 5000;

export function findMatches(lines: readonly LogLine[], query: string): Match[] {
  const out: Match[] = [];
  if (query === "") return out;
  const q = query.toLowerCase();
  for (const line of lines) {
    if (line.marker) continue;
    const text = (line.text.textContent ?? "").toLowerCase();
    for (let i = text.indexOf(q); i >= 0; i = text.indexOf(q, i + q.length)) {
      out.push({ line, at: i, length: q.length });
      if (out.length > MAX_MATCHES) return out;
    }
  }
  return out;
}

/** A DOM range over characters [at, at+length) of el's text. */
export function rangeOf(el: Element, at: number, length: number): Range | undefined {
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let pos = 0;
  let started = false;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const len = node.textContent?.length ?? 0;
    if (!started && at < pos + len) {
      range.setStart(node, at - pos);
      started = true;
    }
    if (started && at + length <= pos + len) {
      range.setEnd(node, at + length - pos);
      return range;
    }
    pos += len;
  }
  return undefined;
}

interface HighlightRegistry {
  set(name: string, h: unknown): void;
  delete(name: string): void;
}
type HighlightCtor = new (...ranges: Range[]) => unknown;

/** Paints matches and the current one; a browser without highlights still gets the line marked. */
export function paint(matches: readonly Match[], current: number): void {
  const registry = (globalThis.CSS as unknown as { highlights?: HighlightRegistry }).highlights;
  const Ctor = (globalThis as unknown as { Highlight?: HighlightCtor }).Highlight;
  if (!registry || !Ctor) return;
  const all: Range[] = [];
  let cur: Range | undefined;
  for (const [i, m] of matches.slice(0, MAX_MATCHES).entries()) {
    const r = rangeOf(m.line.text, m.at, m.length);
    if (!r) continue;
    if (i === current) cur = r;
    else all.push(r);
  }
  registry.set("log-match", new Ctor(...all));
  if (cur) registry.set("log-match-current", new Ctor(cur));
  else registry.delete("log-match-current");
}

export function unpaint(): void {
  const registry = (globalThis.CSS as unknown as { highlights?: HighlightRegistry }).highlights;
  registry?.delete("log-match");
  registry?.delete("log-match-current");
}
