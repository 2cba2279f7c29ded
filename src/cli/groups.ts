// Pipeline groups as the CLI reads and shows them: GROUP arguments (an id, a name, or a path of
// names such as backend/api when a name is not unique), the tree drawn with its counts, and the
// path of names a group's id stands for. Pure.

import { ERRORS } from "../errors.js";
import type { PipelineGroup } from "./api.js";
import { closest } from "./args.js";
import { CliError, EXIT } from "./cli-error.js";
import type { Style } from "./format.js";

export interface FlatGroup {
  readonly group: PipelineGroup;
  /** The names from the root down, joined by '/'. */
  readonly path: string;
  /** 0 at the root. */
  readonly depth: number;
}

/** Every group of the tree, parents before their children, siblings in their order. */
export function flattenGroups(tree: readonly PipelineGroup[], above = "", depth = 0): FlatGroup[] {
  return tree.flatMap((g) => {
    const path = above === "" ? g.name : `${above}/${g.name}`;
    return [{ group: g, path, depth }, ...flattenGroups(g.children, path, depth + 1)];
  });
}

function unknownGroup(ref: string, flat: readonly FlatGroup[]): CliError {
  const code = ERRORS.GROUP_NOT_FOUND.code;
  const guess = closest(
    ref,
    flat.map((f) => f.path),
  );
  return new CliError(
    EXIT.SERVER,
    `no group "${ref}" in this project${guess ? ` (did you mean "${guess}"?)` : ""} (${code})`,
    {
      code,
      hint:
        flat.length > 0
          ? "List them with 'pipewright group list'."
          : "The project has no groups yet: create one with 'pipewright group create NAME'.",
    },
  );
}

/**
 * A GROUP argument: an id, a path of names (`backend/api`), or a name that only one group has
 * (an id first: a name may look like one). A name several groups share asks for the path.
 */
export function findGroup(ref: string, tree: readonly PipelineGroup[]): FlatGroup {
  const flat = flattenGroups(tree);
  const byId = flat.find((f) => f.group.id === ref);
  if (byId) return byId;
  const byPath = flat.find((f) => f.path === ref);
  if (byPath) return byPath;
  const named = flat.filter((f) => f.group.name === ref);
  if (named.length === 1) return named[0]!;
  if (named.length > 1) {
    throw new CliError(EXIT.USAGE, `${named.length} groups are named "${ref}"`, {
      hint: `Name one by its path: ${named.map((f) => f.path).join(", ")}.`,
    });
  }
  throw unknownGroup(ref, flat);
}

/** The group's path of names, or undefined when the tree has no such id. */
export function groupPath(id: string | null, tree: readonly PipelineGroup[]): string | undefined {
  if (id === null) return undefined;
  return flattenGroups(tree).find((f) => f.group.id === id)?.path;
}

const count = (n: number): string => (n === 1 ? "1 pipeline" : `${n} pipelines`);

/** The tree as indented lines: each group with its pipelines (those below it too) and its id. */
export function treeLines(tree: readonly PipelineGroup[], style: Style): string[] {
  const flat = flattenGroups(tree);
  const width = Math.max(...flat.map((f) => f.depth * 2 + f.group.name.length));
  const lines = flat.map(
    (f) =>
      `${"  ".repeat(f.depth)}${style.bold(f.group.name)}${" ".repeat(width - f.depth * 2 - f.group.name.length)}  ${count(f.group.pipeline_count).padEnd(13)}  ${style.dim(f.group.id)}`,
  );
  const ungrouped = tree[0]?.no_group_count ?? 0;
  lines.push(style.dim(`(ungrouped: ${count(ungrouped)})`));
  return lines;
}
