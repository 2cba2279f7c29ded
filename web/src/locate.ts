// Points an error at the editor: a field path from the server (`definition.stages[1].jobs[0].
// steps[2].task: …`) or a `file:line:col` from the local converter becomes a line and column.

import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";

export type Segment = string | number;

export interface Located {
  /** 1-based; undefined when the message names no place in the text. */
  readonly line?: number;
  readonly col?: number;
  /** The field path as written in the message, e.g. `stages[0].jobs[0].steps[0].uses`. */
  readonly path?: string;
  readonly message: string;
}

const PATH_RE = /^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\])*): ([\s\S]*)$/;

export function parsePath(text: string): Segment[] {
  const out: Segment[] = [];
  for (const m of text.matchAll(/\[(\d+)\]|\.?([A-Za-z_][A-Za-z0-9_-]*)/g)) {
    out.push(m[1] !== undefined ? Number(m[1]) : m[2]!);
  }
  return out;
}

/**
 * The definition's field names and their YAML-form spellings: a step's `task` is written `uses`,
 * its `inputs[i]` is the i-th key of `with`; a job may write `needs` and `if`.
 */
const ALIASES: Readonly<Record<string, readonly string[]>> = {
  task: ["uses"],
  inputs: ["with"],
  depends_on: ["needs"],
  condition: ["if"],
};

/** Line and column (1-based) of the deepest node along path that exists in the text. */
export function locatePath(
  text: string,
  path: readonly Segment[],
): { line: number; col: number } | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false });
  let node: unknown = doc.contents;
  let found: Node | null = null;
  let segs = [...path];
  // The YAML form has `stages` at the top where a request body has `definition.stages`.
  if (segs[0] === "definition" && isMap(node) && !node.has("definition")) segs = segs.slice(1);
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    if (isMap(node)) {
      if (typeof seg === "number") {
        // A mapping where a list was expected: `variables: {name: …}` counts its entries.
        const pair = node.items[seg];
        if (!pair) break;
        found = (isScalar(pair.key) ? pair.key : found) as Node | null;
        node = pair.value;
      } else {
        const names = [seg, ...(ALIASES[seg] ?? [])];
        const pair = node.items.find(
          (p) => isPair(p) && isScalar(p.key) && names.includes(String(p.key.value)),
        );
        if (!pair) break;
        const key = pair.key as Node;
        const isWith = isScalar(pair.key) && pair.key.value === "with";
        if (isWith && typeof segs[i + 1] === "number" && isMap(pair.value)) {
          // inputs[k].value → the k-th entry of `with`.
          const entry = pair.value.items[segs[i + 1] as number];
          found = entry && isScalar(entry.key) ? (entry.key as Node) : key;
          break;
        }
        // The last segment points at its key: `timout: 30m` is shown where `timout` starts.
        if (i === segs.length - 1) {
          found = key;
          break;
        }
        found = key;
        node = pair.value;
      }
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg];
      if (!item) break;
      node = item;
      found = item as Node;
    } else {
      break;
    }
    if (node === null || node === undefined) break;
  }
  const offset = found?.range?.[0];
  if (offset === undefined) return undefined;
  const pos = lines.linePos(offset);
  return { line: pos.line, col: pos.col };
}

/** An error message of the server, located in the text that was sent. */
export function locateServerError(text: string, message: string): Located {
  const m = PATH_RE.exec(message);
  if (!m) return { message };
  const path = m[1]!;
  const pos = locatePath(text, parsePath(path));
  return pos ? { ...pos, path, message: m[2]! } : { path, message: m[2]! };
}

/** An error of the local converter, whose messages start `editor:line:col: path: problem`. */
export function locateLocalError(fileName: string, message: string): Located {
  const prefix = `${fileName}:`;
  if (!message.startsWith(prefix)) return { message };
  const rest = message.slice(prefix.length);
  const m = /^(\d+):(\d+): ([\s\S]*)$/.exec(rest);
  if (!m) return { message: rest.replace(/^ /, "") };
  const inner = PATH_RE.exec(m[3]!) ?? /^(\(top level\)): ([\s\S]*)$/.exec(m[3]!);
  return {
    line: Number(m[1]),
    col: Number(m[2]),
    ...(inner ? { path: inner[1]!, message: inner[2]! } : { message: m[3]! }),
  };
}

/** JSON.parse's complaint, located ("… at position 57 (line 4 column 5)" in Chromium). */
export function locateJsonError(text: string, err: Error): Located {
  const lc = /line (\d+) column (\d+)/.exec(err.message);
  if (lc) return { line: Number(lc[1]), col: Number(lc[2]), message: `not valid JSON: ${err.message}` };
  const pos = /position (\d+)/.exec(err.message);
  if (pos) {
    const before = text.slice(0, Number(pos[1]));
    const line = before.split("\n").length;
    const col = before.length - before.lastIndexOf("\n");
    return { line, col, message: `not valid JSON: ${err.message}` };
  }
  return { message: `not valid JSON: ${err.message}` };
}
