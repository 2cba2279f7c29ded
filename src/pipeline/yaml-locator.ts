// Paths and names in a pipeline file: where in the YAML text a path is, so errors of the YAML form
// name the file, line, column and YAML path (`p.yaml:41:13: stages[1].jobs[1].steps[0].uses: …`),
// and the identifiers the form derives from display names.

import { isMap, isScalar, isSeq, type LineCounter, type Node } from "yaml";
import { InvalidInput, type IssueKind } from "./issues.js";

export type Segment = string | number;

export function formatPath(path: readonly Segment[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out === "" ? "(top level)" : out;
}

/** Splits `definition.stages[0].jobs[1].steps[2].inputs[0].value` into segments. */
export function parsePath(text: string): Segment[] {
  const out: Segment[] = [];
  for (const m of text.matchAll(/\[(\d+)\]|\.?([A-Za-z_][A-Za-z0-9_-]*)/g)) {
    out.push(m[1] !== undefined ? Number(m[1]) : m[2]!);
  }
  return out;
}

/** Locates YAML paths in the source text so errors can say `file:line:col`. */
export class Locator {
  constructor(
    private readonly fileName: string,
    private readonly root: Node | null,
    private readonly lines: LineCounter | null,
  ) {}

  /** `file:line:col` of the deepest node along `path` that exists in the file. */
  where(path: readonly Segment[]): string {
    let node: unknown = this.root;
    let found: Node | null = this.root;
    for (const [i, seg] of path.entries()) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && p.key.value === seg);
        if (!pair) break;
        // The last segment points at its key: `timout: 30m` is reported where `timout` starts.
        if (i === path.length - 1 && isScalar(pair.key)) {
          found = pair.key;
          break;
        }
        node = pair.value;
      } else if (isSeq(node) && typeof seg === "number") {
        node = node.get(seg, true);
      } else {
        break;
      }
      if (node === undefined || node === null) break;
      found = node as Node;
    }
    const offset = found?.range?.[0];
    if (this.lines === null || offset === undefined) return this.fileName;
    const pos = this.lines.linePos(offset);
    return `${this.fileName}:${pos.line}:${pos.col}`;
  }

  fail(path: readonly Segment[], problem: string, kind: IssueKind, cause?: unknown): never {
    throw new InvalidInput(
      { kind, location: this.where(path), path: formatPath(path), problem },
      cause === undefined ? undefined : { cause },
    );
  }
}

/**
 * An identifier derived from a display name: lower case, every run of characters outside
 * `a-z 0-9 _ -` becomes `_`. "Unit tests" → `unit_tests`. Empty when nothing usable is left.
 */
export function slugOf(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 64);
}

/** Runs request validation (variables, concurrency), re-pointing its paths at the file. */
export function withRequestErrors(loc: Locator, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof InvalidInput)) throw err;
    if (!/^[A-Za-z_]+(?:\.[A-Za-z_]+|\[\d+\])*$/.test(err.issue.path)) throw err;
    loc.fail(parsePath(err.issue.path), err.issue.problem, err.issue.kind, err);
  }
}
