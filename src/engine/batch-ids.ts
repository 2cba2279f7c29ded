// The batch-run contract's all-or-nothing check of `pipeline_ids` (DESIGN "Batch runs"): every
// malformed, duplicated, unknown or foreign id is named, and any one of them rejects the batch.
// Pure: the caller looks up which project each well-formed id belongs to.

import { ID_PATTERN } from "../pipeline/vocabulary.js";

const PIPELINE_ID_RE = new RegExp(ID_PATTERN);

export interface BatchIdProblems {
  readonly malformed: readonly string[];
  readonly duplicated: readonly string[];
  readonly unknown: readonly string[];
  readonly foreign: readonly string[];
}

/** The distinct well-formed ids, whose owners the caller must look up. */
export function wellFormedIds(ids: readonly string[]): string[] {
  return [...new Set(ids)].filter((id) => PIPELINE_ID_RE.test(id));
}

/**
 * What is wrong with a batch's ids, given the project of each existing pipeline among them;
 * undefined when nothing is. Each list keeps the order of first appearance.
 */
export function checkBatchIds(
  ids: readonly string[],
  projectId: string,
  owners: ReadonlyMap<string, string>,
): BatchIdProblems | undefined {
  const malformed = ids.filter((id) => !PIPELINE_ID_RE.test(id));
  const seen = new Set<string>();
  const duplicated = new Set<string>();
  for (const id of ids) (seen.has(id) ? duplicated : seen).add(id);
  const wellFormed = [...seen].filter((id) => PIPELINE_ID_RE.test(id));
  const unknown = wellFormed.filter((id) => !owners.has(id));
  const foreign = wellFormed.filter((id) => owners.has(id) && owners.get(id) !== projectId);
  if (malformed.length + duplicated.size + unknown.length + foreign.length === 0) return undefined;
  return { malformed, duplicated: [...duplicated], unknown, foreign };
}

/** One sentence naming every problem, for the error message. */
export function describeBatchIdProblems(p: BatchIdProblems): string {
  const parts: string[] = [];
  if (p.malformed.length) parts.push(`malformed (need 32 letters/digits): ${p.malformed.join(", ")}`);
  if (p.duplicated.length) parts.push(`duplicated: ${p.duplicated.join(", ")}`);
  if (p.unknown.length) parts.push(`unknown: ${p.unknown.join(", ")}`);
  if (p.foreign.length) parts.push(`of another project: ${p.foreign.join(", ")}`);
  return `pipeline_ids rejected, no run was created; ${parts.join("; ")}`;
}
