// Pipeline tags as the CLI reads and shows them: TAG arguments by name or id, colours, the tag
// set a pipeline ends with, and the tags each pipeline carries (the API has no field for it: the
// pipeline list filtered by each tag tells). Pure.

import { ERRORS } from "../errors.js";
import type { PipelineTag } from "./api.js";
import { closest } from "./args.js";
import { CliError, EXIT, usageError } from "./cli-error.js";
import type { Style } from "./format.js";

/** The colour a tag gets when none is given: the console's default blue. */
export const DEFAULT_TAG_COLOR = "#0b81f6";

/**
 * `--color` as the server takes it, `#rrggbb` (lower case). The `#` may be left out: a shell
 * reads an unquoted word starting with `#` as a comment, so `--color ff0000` is kinder.
 */
export function parseColor(text: string): string {
  const m = /^#?([0-9a-f]{6})$/i.exec(text.trim());
  if (!m) throw usageError(`--color must be #rrggbb (six hex digits, e.g. #0b81f6), got "${text}"`);
  return `#${m[1]!.toLowerCase()}`;
}

/** An unknown tag, reported as the server's not-found is (same code, exit 3), with the near names. */
export function unknownTags(refs: readonly string[], tags: readonly PipelineTag[]): CliError {
  const names = tags.map((t) => t.name);
  const parts = refs.map((r) => {
    const guess = closest(r, names);
    return `"${r}"${guess ? ` (did you mean "${guess}"?)` : ""}`;
  });
  const code = ERRORS.TAG_NOT_FOUND.code;
  return new CliError(EXIT.SERVER, `no tag ${parts.join(", ")} in this project (${code})`, {
    code,
    hint:
      tags.length > 0
        ? `Its tags: ${names.join(", ")}.`
        : "The project has no tags yet: create one with 'pipewright tag create NAME'.",
  });
}

/**
 * TAG arguments to tags, each by id or exact name (an id first: a name may look like one), in
 * the order given and without repeats; every unknown one is named in one error.
 */
export function findTags(refs: readonly string[], tags: readonly PipelineTag[]): PipelineTag[] {
  const out: PipelineTag[] = [];
  const missing: string[] = [];
  for (const ref of refs) {
    const hit = tags.find((t) => t.tag_id === ref) ?? tags.find((t) => t.name === ref);
    if (!hit) missing.push(ref);
    else if (!out.includes(hit)) out.push(hit);
  }
  if (missing.length > 0) throw unknownTags(missing, tags);
  return out;
}

export function findTag(ref: string, tags: readonly PipelineTag[]): PipelineTag {
  return findTags([ref], tags)[0]!;
}

/**
 * The tag ids a pipeline ends with: `set` replaces what it has; otherwise `add` and `remove`
 * change what it has (removing one it lacks, or adding one it has, is no change). Keeps the
 * project's order of tags, so the result does not depend on how the arguments were ordered.
 */
export function nextTagIds(
  current: readonly string[],
  change: {
    readonly set?: readonly string[];
    readonly add?: readonly string[];
    readonly remove?: readonly string[];
  },
  order: readonly PipelineTag[],
): string[] {
  const wanted = new Set(change.set ?? current);
  for (const id of change.add ?? []) wanted.add(id);
  for (const id of change.remove ?? []) wanted.delete(id);
  const known = order.map((t) => t.tag_id).filter((id) => wanted.has(id));
  // An id the project's list did not have (deleted meanwhile) is left for the server to refuse.
  return [...known, ...[...wanted].filter((id) => !known.includes(id))];
}

/** Which tags each pipeline carries, from the ids of the pipelines listed under each tag. */
export function tagsByPipeline(
  tags: readonly PipelineTag[],
  pipelinesOf: ReadonlyMap<string, readonly string[]>,
): Map<string, PipelineTag[]> {
  const out = new Map<string, PipelineTag[]>();
  for (const tag of tags) {
    for (const pid of pipelinesOf.get(tag.tag_id) ?? []) {
      const list = out.get(pid) ?? [];
      list.push(tag);
      out.set(pid, list);
    }
  }
  return out;
}

/** Tag names for a table cell or a line: `release, nightly`; `-` for none. */
export function tagNames(tags: readonly PipelineTag[] | undefined): string {
  return tags && tags.length > 0 ? tags.map((t) => t.name).join(", ") : "-";
}

/** The rows of `tag list`: NAME, COLOR, ID. */
export function tagRows(tags: readonly PipelineTag[], style: Style): string[][] {
  return tags.map((t) => [style.bold(t.name), t.color, style.dim(t.tag_id)]);
}
