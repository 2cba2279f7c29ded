// A job's artifacts in the definition (ours, a sibling of `steps`): `artifacts: [{name, paths}]`
// are the files the job keeps once its steps complete, `download_artifacts: [name]` those of
// earlier jobs it gets in its workspace before its first step. Checked at create and update.

import { invalidDefinition } from "./issues.js";

export interface ArtifactDecl {
  readonly name: string;
  /** Glob patterns relative to the workspace; a directory's name stands for all of it. */
  readonly paths: readonly string[];
}

export const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const MAX_PATTERNS = 100;
const MAX_PATTERN_LENGTH = 1024;
const MAX_ARTIFACTS = 100;

const bad = invalidDefinition;

/** `artifacts` of a job (absent: none); throws a 400 naming the field. */
export function parseArtifactDecls(raw: unknown, path: string): ArtifactDecl[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw bad(path, "must be a list of {name, paths}");
  if (raw.length > MAX_ARTIFACTS) throw bad(path, `has more than ${MAX_ARTIFACTS} artifacts`);
  const seen = new Set<string>();
  return raw.map((a: unknown, i) => {
    const p = `${path}[${i}]`;
    if (typeof a !== "object" || a === null || Array.isArray(a))
      throw bad(p, "must be an object {name, paths}");
    const { name, paths } = a as { name?: unknown; paths?: unknown };
    if (typeof name !== "string" || !ARTIFACT_NAME.test(name))
      throw bad(
        `${p}.name`,
        "must be 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit",
      );
    if (seen.has(name)) throw bad(`${p}.name`, `"${name}" is kept twice by this job`);
    seen.add(name);
    if (!Array.isArray(paths) || paths.length === 0 || paths.length > MAX_PATTERNS)
      throw bad(`${p}.paths`, `must be a list of 1 to ${MAX_PATTERNS} patterns`);
    paths.forEach((pat: unknown, k) => {
      const pp = `${p}.paths[${k}]`;
      if (typeof pat !== "string" || pat.trim() === "" || pat.length > MAX_PATTERN_LENGTH)
        throw bad(pp, `must be a glob pattern of 1 to ${MAX_PATTERN_LENGTH} characters`);
      if (pat.startsWith("/") || /^[A-Za-z]:/.test(pat) || pat.split("/").includes(".."))
        throw bad(pp, "must stay inside the workspace (a relative path, no '..')");
    });
    return { name, paths: paths as string[] };
  });
}

/** `download_artifacts` of a job (absent: none). */
export function parseDownloads(raw: unknown, path: string): string[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.some((n) => typeof n !== "string"))
    throw bad(path, "must be a list of artifact names");
  const names = raw as string[];
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw bad(path, `names "${dup}" twice`);
  return names;
}
