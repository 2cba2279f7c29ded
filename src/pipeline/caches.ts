// A job's cache (ours, a sibling of `steps`): `cache: {key, paths}` — files restored into the
// workspace before the job's first step that is not a checkout (so the key can hash checked-out
// files) and saved after its last step when the key missed. The key may hash files of the
// workspace: `${{ hashFiles('package-lock.json', 'src/**/*.lock') }}`.

import { invalidDefinition } from "./issues.js";

export interface CacheDecl {
  /** The key as written (its hashFiles expressions unresolved). */
  readonly key: string;
  readonly paths: readonly string[];
}

const MAX_KEY = 512;
const MAX_PATTERNS = 100;
const EXPRESSION = /\$\{\{([^}]*)\}\}/g;
const HASH_FILES = /^\s*hashFiles\(\s*('[^']+'(?:\s*,\s*'[^']+')*)\s*\)\s*$/;

const bad = invalidDefinition;

function checkPattern(pat: unknown, path: string): string {
  if (typeof pat !== "string" || pat.trim() === "" || pat.length > 1024)
    throw bad(path, "must be a glob pattern of 1 to 1024 characters");
  if (pat.startsWith("/") || pat.split("/").includes(".."))
    throw bad(path, "must stay inside the workspace (a relative path, no '..')");
  return pat;
}

/** `cache` of a job (absent: none); throws a 400 naming the field. */
export function parseCacheDecl(raw: unknown, path: string): CacheDecl | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== "object" || Array.isArray(raw)) throw bad(path, "must be an object {key, paths}");
  const { key, paths } = raw as { key?: unknown; paths?: unknown };
  if (typeof key !== "string" || key.trim() === "" || key.length > MAX_KEY)
    throw bad(`${path}.key`, `must be a string of 1 to ${MAX_KEY} characters`);
  for (const m of key.matchAll(EXPRESSION)) {
    const call = HASH_FILES.exec(m[1]!);
    if (!call) throw bad(`${path}.key`, `${m[0]}: a key may use only hashFiles('<glob>', …)`);
    for (const g of globsOf(call[1]!)) checkPattern(g, `${path}.key`);
  }
  if (!Array.isArray(paths) || paths.length === 0 || paths.length > MAX_PATTERNS)
    throw bad(`${path}.paths`, `must be a list of 1 to ${MAX_PATTERNS} patterns`);
  return { key, paths: paths.map((p: unknown, i) => checkPattern(p, `${path}.paths[${i}]`)) };
}

function globsOf(args: string): string[] {
  return [...args.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
}

/** The globs of each hashFiles in a key, in order. */
export function hashFilesCalls(key: string): string[][] {
  return [...key.matchAll(EXPRESSION)].map((m) => globsOf(HASH_FILES.exec(m[1]!)?.[1] ?? ""));
}

/** The key with each hashFiles replaced by what `hash` answers for its globs. */
export async function renderCacheKey(
  key: string,
  hash: (globs: string[]) => Promise<string>,
): Promise<string> {
  const parts: string[] = [];
  let at = 0;
  for (const m of key.matchAll(EXPRESSION)) {
    parts.push(key.slice(at, m.index), await hash(globsOf(HASH_FILES.exec(m[1]!)?.[1] ?? "")));
    at = m.index! + m[0].length;
  }
  parts.push(key.slice(at));
  return parts.join("");
}
