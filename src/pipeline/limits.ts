// Every size Pipewright accepts, in one place (docs/limits.md lists them, a test keeps the two
// together): what a request, a definition, a variable or a page may hold. Checked where the input
// arrives (the body parser, the route schemas, definition and variable validation, run options),
// each with a 400 that names the limit. And the checks of any JSON value a client sends.

export const LIMITS = {
  /** A request body, in bytes. */
  bodyBytes: 4 * 1024 * 1024,
  /** Nesting of objects and arrays in any JSON a client sends (bodies, the definition text). */
  jsonDepth: 32,
  /** The `definition` text of a pipeline, in bytes. */
  definitionBytes: 2 * 1024 * 1024,
  /** Stages of a definition. */
  stages: 5_000,
  /** Jobs of a definition, all stages together. */
  jobs: 10_000,
  /** Steps of one job. */
  stepsPerJob: 100,
  /** Steps of a definition, all jobs together. */
  steps: 20_000,
  /** `depends_on` entries of one stage or job. */
  dependsOn: 1_000,
  /** `depends_on` entries of a definition, all stages and jobs together. */
  edges: 20_000,
  /** Names, identifiers (stages, jobs, steps, variables, pipelines). */
  nameLength: 128,
  /** A condition's text, and how deep its expression may nest. */
  conditionLength: 4_096,
  conditionDepth: 64,
  /** Variables of a pipeline, and of a run request. */
  variables: 500,
  /** A variable's value, and its latest value (characters). */
  variableValueLength: 8_192,
  /** Choices (`limits`) of an enum variable, and the length of each (characters). */
  enumChoices: 1_000,
  enumChoiceLength: 1_024,
  /** Descriptions: of a pipeline, a run, a variable (characters). */
  descriptionLength: 1_024,
  /** `concurrency_control.concurrency_number`. */
  concurrency: 1_000,
  /** A job's or a manual review's timeout, in seconds (7 days). */
  timeoutSeconds: 7 * 24 * 3600,
  /** A code source's `git_url` (characters). */
  gitUrlLength: 2_048,
  /** A branch or tag name: `default_branch`, `build_params.target_branch`, `build_params.tag`. */
  refLength: 256,
  /** `manifest_version`. */
  manifestVersionLength: 16,
  /** `choose_stages` / `choose_jobs` entries of a run request. */
  chooseEntries: 1_000,
  /** Code sources of a pipeline or a run. */
  sources: 100,
  /** `schedules` and `triggers` entries of a pipeline. */
  schedules: 100,
  triggers: 100,
  /** A row offset of a list call, and the page size (`limit`) of one. */
  listOffset: 1_000_000_000,
  pageSize: 100,
  /** Entries of a batch-runs/result query, and of a latest-run-status query. */
  queryEntries: 1_000,
  /** Projects one token or access key may be bound to. */
  projectsPerCredential: 1_000,
  /** Lines of one log page. */
  logLines: 10_000,
  /** Step run ids of one step-outputs call. */
  stepRunIds: 100,
  /** An Idempotency-Key header. */
  idempotencyKeyLength: 255,
  /** What a runner agent registers (labels, and the length of each) and reports (message length). */
  runnerLabels: 64,
  runnerLabelLength: 64,
  runnerSlots: 1_024,
  /** Jobs a runner names as held when it opens its job stream (running, or reports unanswered). */
  runnerHolding: 10_000,
  reportMessageLength: 4_096,
  /** What one step's output file may hold (bytes), how many outputs, and a value's length. */
  stepOutputBytes: 1024 * 1024,
  stepOutputs: 100,
  stepOutputValueLength: 65_536,
  /** Levels of pipeline groups (CodeArts allows three), and groups of one project (CodeArts: 1,000). */
  groupDepth: 3,
  groupsPerProject: 1_000,
  /** Levels of sub-pipeline runs under a top-level run (a run of A runs B runs C: depth 2). */
  subpipelineDepth: 5,
  /** A delay step's wait, in seconds (CodeArts's delayTime; 7 days), and how often it may be extended. */
  delaySeconds: 7 * 24 * 3600,
  delayExtensions: 3,
  /** Approvers named by one manual review. */
  approvers: 100,
} as const;

export type LimitName = keyof typeof LIMITS;

/** The largest integer JSON, JavaScript and a BIGINT column all hold exactly. */
export const MAX_SAFE_INTEGER = Number.MAX_SAFE_INTEGER;

export interface JsonProblem {
  /** Where, as `a.b[3]` below the value checked (empty: the value itself). */
  readonly path: string;
  readonly problem: string;
}

const key = (path: string, k: string): string =>
  /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) ? (path === "" ? k : `${path}.${k}`) : `${path}[${JSON.stringify(k)}]`;

/**
 * The first thing wrong with a parsed JSON value, walked without recursion (a hostile value may
 * nest thousands deep): nesting deeper than `maxDepth`, a NUL character or a lone UTF-16
 * surrogate in a string or key (neither survives a database, a process environment or a log).
 * The walk keeps no paths; only when something is wrong is the value walked again to name it.
 */
export function checkJsonValue(value: unknown, maxDepth: number = LIMITS.jsonDepth): JsonProblem | undefined {
  return walk(value, maxDepth, false) === undefined ? undefined : walk(value, maxDepth, true);
}

function walk(value: unknown, maxDepth: number, withPaths: boolean): JsonProblem | undefined {
  const values: unknown[] = [value];
  const depths: number[] = [0];
  const paths: string[] = [""];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    const path = withPaths ? paths.pop()! : "";
    if (typeof v === "string") {
      const problem = stringProblem(v);
      if (problem) return { path, problem };
      continue;
    }
    if (typeof v !== "object" || v === null) continue;
    if (depth >= maxDepth) return { path, problem: `nests deeper than ${maxDepth} levels (limit jsonDepth)` };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        values.push(v[i]);
        depths.push(depth + 1);
        if (withPaths) paths.push(`${path}[${i}]`);
      }
      continue;
    }
    for (const k in v) {
      const problem = stringProblem(k);
      if (problem) return { path: withPaths ? key(path, k) : "", problem: `key ${problem}` };
      values.push((v as Record<string, unknown>)[k]);
      depths.push(depth + 1);
      if (withPaths) paths.push(key(path, k));
    }
  }
  return undefined;
}

/** Bytes of `s` in UTF-8 (the browser has no Buffer; TextEncoder would copy it all). */
export function utf8Length(s: string): number {
  let n = 0;
  // Pure ASCII is the common case: one byte a character.
  if (/^[ -~\t\n\r]*$/.test(s)) return s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Why a string cannot be stored and passed on as text, or undefined. */
export function stringProblem(s: string): string | undefined {
  if (s.includes("\0")) return "contains a NUL character";
  if (!s.isWellFormed()) return "contains a lone UTF-16 surrogate (not valid Unicode text)";
  return undefined;
}
