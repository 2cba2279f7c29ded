// Validation of CodeArts's `definition` (spec §5.1, §5.5) into the normalised `Definition`, plus
// the stage ordering the scheduler follows. Every failure names the offending field path.

import { parseArtifactDecls, parseDownloads } from "./artifacts.js";
import { parseCacheDecl } from "./caches.js";
import { parseCondition } from "./condition.js";
import { InvalidInput, invalidDefinition, withPathPrefix } from "./issues.js";
import { checkJsonValue, LIMITS, type LimitName, utf8Length } from "./limits.js";
import { absent, checkTaskInputs, MAX_TIMEOUT_SECONDS, parseDurationSeconds } from "./task-inputs.js";
import type { Definition, JobDef, StageDef, StepDef, StepInput } from "./types.js";
import { SUPPORTED_TASKS, type TaskName } from "./vocabulary.js";

export const DEFAULT_CONDITION = "${{ default() }}";

const IDENTIFIER = /^[A-Za-z0-9_-]{1,128}$/;
const STAGE_KEYS = new Set(["name", "identifier", "sequence", "depends_on", "run_always", "jobs"]);
const JOB_KEYS = new Set([
  "name",
  "identifier",
  "sequence",
  "depends_on",
  "condition",
  "timeout",
  "resource",
  "steps",
  "artifacts",
  "download_artifacts",
  "cache",
]);
const STEP_KEYS = new Set(["name", "identifier", "task", "sequence", "inputs"]);

type Obj = Readonly<Record<string, unknown>>;

const bad = invalidDefinition;

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function extraOf(obj: Obj, known: ReadonlySet<string>): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!known.has(k)) extra[k] = v;
  return extra;
}

function name(v: unknown, path: string): string {
  if (typeof v !== "string" || v.length < 1 || v.length > 128) {
    throw bad(path, "must be a string of 1 to 128 characters");
  }
  return v;
}

function identifier(v: unknown, path: string): string {
  if (typeof v !== "string" || !IDENTIFIER.test(v)) {
    throw bad(path, "must be 1 to 128 letters, digits, '_' or '-'");
  }
  return v;
}

function sequence(v: unknown, path: string, fallback: number): number {
  if (absent(v)) return fallback;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw bad(path, "must be an integer >= 0");
  return v;
}

function dependsOn(v: unknown, path: string): string[] {
  if (absent(v)) return [];
  if (!Array.isArray(v)) throw bad(path, "must be an array of identifiers");
  const out: string[] = [];
  v.forEach((item: unknown, i) => {
    if (typeof item !== "string") throw bad(`${path}[${i}]`, "must be a string");
    // A repeated name adds no constraint; keeping one copy keeps the graph simple.
    if (!out.includes(item)) out.push(item);
  });
  return out;
}

function nonEmptyArray(v: unknown, path: string, what: string): readonly unknown[] {
  if (!Array.isArray(v) || v.length === 0) throw bad(path, `must be a non-empty array of ${what}`);
  return v;
}

function timeoutSeconds(v: unknown, path: string): number {
  const secs = parseDurationSeconds(v);
  if (secs === null)
    throw bad(path, 'must be seconds (number or numeric string) or a duration like "30m", "2h", "90s"');
  if (secs < 1 || secs > MAX_TIMEOUT_SECONDS)
    throw bad(path, `must be between 1 second and 7 days (${MAX_TIMEOUT_SECONDS} s)`);
  return secs;
}

function jobTimeout(v: unknown, path: string): { timeout: string; timeoutSeconds: number | null } {
  // CodeArts sends "" for "no explicit timeout"; the raw text is kept so run detail echoes it.
  if (absent(v) || v === "") return { timeout: "", timeoutSeconds: null };
  if (typeof v !== "string" && typeof v !== "number")
    throw bad(path, "must be a string or a number of seconds");
  return { timeout: String(v), timeoutSeconds: timeoutSeconds(v, path) };
}

function resource(v: unknown, path: string): string {
  if (absent(v)) return "";
  if (typeof v === "string") return v;
  // CodeArts JSON-encodes `resource`; an object (as a YAML file naturally writes it) is encoded here.
  if (isObject(v)) return JSON.stringify(v);
  throw bad(path, "must be a string (JSON-encoded resource)");
}

function condition(v: unknown, path: string): string {
  if (absent(v) || v === "") return DEFAULT_CONDITION;
  if (typeof v !== "string") throw bad(path, "must be a string");
  try {
    parseCondition(v);
  } catch (err) {
    if (err instanceof InvalidInput) throw withPathPrefix(err, path);
    throw err;
  }
  return v;
}

function inputs(v: unknown, path: string): StepInput[] {
  if (absent(v)) return [];
  if (!Array.isArray(v)) throw bad(path, "must be an array of {key, value}");
  const seen = new Set<string>();
  return v.map((item: unknown, i): StepInput => {
    const p = `${path}[${i}]`;
    if (!isObject(item)) throw bad(p, "must be an object {key, value}");
    if (typeof item.key !== "string" || item.key === "") throw bad(`${p}.key`, "must be a non-empty string");
    if (seen.has(item.key)) throw bad(`${p}.key`, `duplicate input key "${item.key}"`);
    seen.add(item.key);
    return { key: item.key, value: item.value };
  });
}

function task(v: unknown, path: string): TaskName {
  const found = SUPPORTED_TASKS.find((t) => t === v);
  if (!found) {
    const shown = typeof v === "string" ? `"${v}"` : "missing or not a string";
    throw bad(path, `unsupported task ${shown}; supported tasks: ${SUPPORTED_TASKS.join(", ")}`);
  }
  return found;
}

interface Located<T> {
  readonly value: T;
  readonly path: string;
}

function parseStep(raw: unknown, path: string, s: number, j: number, k: number): StepDef {
  if (!isObject(raw)) throw bad(path, "must be an object");
  const t = task(raw.task, `${path}.task`);
  const list = inputs(raw.inputs, `${path}.inputs`);
  checkTaskInputs(t, list, path);
  return {
    name: name(raw.name, `${path}.name`),
    // CodeArts always sends identifiers, but hand-written definitions often omit them; a
    // position-based default keeps the id stable across updates of the same text.
    identifier:
      absent(raw.identifier) || raw.identifier === ""
        ? `step_${s}_${j}_${k}`
        : identifier(raw.identifier, `${path}.identifier`),
    task: t,
    sequence: sequence(raw.sequence, `${path}.sequence`, k),
    inputs: list,
    extra: extraOf(raw, STEP_KEYS),
  };
}

function parseJob(raw: unknown, path: string, s: number, j: number): JobDef {
  if (!isObject(raw)) throw bad(path, "must be an object");
  const jobName = name(raw.name, `${path}.name`);
  const id = identifier(raw.identifier, `${path}.identifier`);
  const seq = sequence(raw.sequence, `${path}.sequence`, j);
  const deps = dependsOn(raw.depends_on, `${path}.depends_on`);
  const cond = condition(raw.condition, `${path}.condition`);
  const { timeout, timeoutSeconds: secs } = jobTimeout(raw.timeout, `${path}.timeout`);
  const res = resource(raw.resource, `${path}.resource`);
  const steps = nonEmptyArray(raw.steps, `${path}.steps`, "steps").map((step, k) =>
    parseStep(step, `${path}.steps[${k}]`, s, j, k),
  );
  return {
    name: jobName,
    identifier: id,
    sequence: seq,
    depends_on: deps,
    condition: cond,
    timeoutSeconds: secs,
    timeout,
    resource: res,
    // Sorted later, like jobs, so error paths keep the positions the client sent.
    steps,
    artifacts: parseArtifactDecls(raw.artifacts, `${path}.artifacts`),
    download_artifacts: parseDownloads(raw.download_artifacts, `${path}.download_artifacts`),
    cache: parseCacheDecl(raw.cache, `${path}.cache`),
    extra: extraOf(raw, JOB_KEYS),
  };
}

function parseStage(raw: unknown, path: string, s: number): StageDef {
  if (!isObject(raw)) throw bad(path, "must be an object");
  const stageName = name(raw.name, `${path}.name`);
  const id = identifier(raw.identifier, `${path}.identifier`);
  const seq = sequence(raw.sequence, `${path}.sequence`, s);
  const deps = dependsOn(raw.depends_on, `${path}.depends_on`);
  if (!absent(raw.run_always) && typeof raw.run_always !== "boolean") {
    throw bad(`${path}.run_always`, "must be a boolean");
  }
  const jobs = nonEmptyArray(raw.jobs, `${path}.jobs`, "jobs").map((job, j) =>
    parseJob(job, `${path}.jobs[${j}]`, s, j),
  );
  return {
    name: stageName,
    identifier: id,
    sequence: seq,
    depends_on: deps,
    run_always: raw.run_always === true,
    jobs,
    extra: extraOf(raw, STAGE_KEYS),
  };
}

function sortBySequence<T extends { readonly sequence: number }>(items: readonly T[]): T[] {
  // Array.prototype.sort is stable, so equal sequences keep the order the client sent.
  return [...items].sort((a, b) => a.sequence - b.sequence);
}

function checkUnique(items: readonly Located<string>[], what: string): void {
  const first = new Map<string, string>();
  for (const { value, path } of items) {
    const prev = first.get(value);
    if (prev !== undefined) throw bad(path, `duplicate ${what} identifier "${value}" (also at ${prev})`);
    first.set(value, path);
  }
}

/**
 * First cycle of a dependency graph, as the identifiers along it (`[a, b, a]` means a depends on b
 * which depends on a), or null. Nodes and edges are visited in the given order so the answer is
 * deterministic.
 */
export function findCycle(
  nodes: readonly string[],
  edges: ReadonlyMap<string, readonly string[]>,
): string[] | null {
  // Iterative DFS: a definition near the body-size limit can chain thousands of jobs, deeper than
  // a recursive walk may go on Node's stack.
  const state = new Map<string, "visiting" | "done">();
  for (const start of nodes) {
    if (state.has(start)) continue;
    const path: string[] = [start];
    const cursor: number[] = [0];
    state.set(start, "visiting");
    while (path.length > 0) {
      const top = path.length - 1;
      const n = path[top]!;
      const next = (edges.get(n) ?? [])[cursor[top]!];
      if (next === undefined) {
        state.set(n, "done");
        path.pop();
        cursor.pop();
        continue;
      }
      cursor[top] = cursor[top]! + 1;
      const st = state.get(next);
      if (st === "visiting") return [...path.slice(path.indexOf(next)), next];
      if (st === undefined) {
        state.set(next, "visiting");
        path.push(next);
        cursor.push(0);
      }
    }
  }
  return null;
}

/**
 * The sizes of a definition before any of it is parsed: counts of stages, jobs, steps and
 * dependency edges against LIMITS, so that nothing later (validation, planning, storing) handles
 * more than the documented limits. Only arrays are counted; their contents are checked later.
 */
function checkSizes(raw: Obj): void {
  const over = (path: string, what: string, n: number, limit: LimitName): InvalidInput =>
    bad(path, `has ${n} ${what}, more than the limit of ${LIMITS[limit]} (limit ${limit})`);
  const list = (v: unknown): readonly unknown[] => (Array.isArray(v) ? v : []);
  const deps = (v: unknown, path: string): number => {
    const n = list((v as Obj | undefined)?.depends_on).length;
    if (n > LIMITS.dependsOn) throw over(`${path}.depends_on`, "entries", n, "dependsOn");
    return n;
  };
  const stages = list(raw.stages);
  if (stages.length > LIMITS.stages) throw over("definition.stages", "stages", stages.length, "stages");
  let jobs = 0;
  let steps = 0;
  let edges = 0;
  stages.forEach((st, s) => {
    const sp = `definition.stages[${s}]`;
    edges += deps(st, sp);
    const js = list((st as Obj | undefined)?.jobs);
    jobs += js.length;
    if (jobs > LIMITS.jobs) throw over("definition", "jobs or more", jobs, "jobs");
    js.forEach((job, j) => {
      const jp = `${sp}.jobs[${j}]`;
      edges += deps(job, jp);
      const n = list((job as Obj | undefined)?.steps).length;
      if (n > LIMITS.stepsPerJob) throw over(`${jp}.steps`, "steps", n, "stepsPerJob");
      steps += n;
    });
    if (steps > LIMITS.steps) throw over("definition", "steps or more", steps, "steps");
    if (edges > LIMITS.edges) throw over("definition", "depends_on entries or more", edges, "edges");
  });
}

/**
 * Definitions parsed from text lately, by their text: the same text is parsed when a pipeline is
 * saved and again for its runs, and a large definition takes tens of milliseconds. A Definition
 * is immutable, so one parse serves every caller.
 */
const parsed = new Map<string, Definition>();
const PARSED_KEPT = 256;

/** Parse and validate a definition: a JSON string as the API sends it, or an already-parsed object. */
export function parseDefinition(input: unknown): Definition {
  if (typeof input !== "string") return finish(parseSteps(input));
  const known = parsed.get(input);
  if (known) return known;
  return remember(input, finish(parseSteps(input)));
}

/**
 * parseDefinition for a server: the work is split into pieces of a few milliseconds with `pause`
 * awaited between them, so a definition near the size limits (tens of milliseconds to parse)
 * does not hold everything else up. Same result, same errors.
 */
export async function parseDefinitionAsync(input: string, pause: () => Promise<void>): Promise<Definition> {
  const known = parsed.get(input);
  if (known) return known;
  const steps = parseSteps(input);
  let since = Date.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return remember(input, r.value);
    if (Date.now() - since >= SLICE_MS) {
      await pause();
      since = Date.now();
    }
  }
}

/** How long the parser runs before it offers a pause (parseDefinitionAsync). */
const SLICE_MS = 8;
/** Jobs parsed between two offers of a pause. */
const JOBS_PER_PIECE = 200;

function remember(text: string, def: Definition): Definition {
  if (parsed.size >= PARSED_KEPT) parsed.delete(parsed.keys().next().value!);
  parsed.set(text, def);
  return def;
}

function finish<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** The parse in pieces: it yields where a pause may go (see parseDefinitionAsync). */
function* parseSteps(input: unknown): Generator<void, Definition> {
  let raw = input;
  if (typeof input === "string") {
    if (input.trim() === "") throw bad("definition", "must not be empty");
    const bytes = utf8Length(input);
    if (bytes > LIMITS.definitionBytes) {
      throw bad(
        "definition",
        `is ${bytes} bytes, more than the limit of ${LIMITS.definitionBytes} (limit definitionBytes)`,
      );
    }
    try {
      raw = JSON.parse(input) as unknown;
    } catch (err) {
      throw new InvalidInput(
        { kind: "definition", path: "definition", problem: `not valid JSON (${(err as Error).message})` },
        { cause: err },
      );
    }
    yield;
  }
  const problem = checkJsonValue(raw);
  if (problem) throw bad(problem.path === "" ? "definition" : `definition.${problem.path}`, problem.problem);
  if (!isObject(raw)) throw bad("definition", "must be a JSON object with a stages array");
  checkSizes(raw);
  yield;
  const stages: StageDef[] = [];
  let jobs = 0;
  for (const [s, stage] of nonEmptyArray(raw.stages, "definition.stages", "stages").entries()) {
    const st = parseStage(stage, `definition.stages[${s}]`, s);
    stages.push(st);
    jobs += st.jobs.length;
    if (jobs >= JOBS_PER_PIECE) {
      jobs = 0;
      yield;
    }
  }

  checkUnique(
    stages.map((st, s) => ({ value: st.identifier, path: `definition.stages[${s}].identifier` })),
    "stage",
  );
  checkUnique(
    stages.flatMap((st, s) =>
      st.jobs.map((job, j) => ({
        value: job.identifier,
        path: `definition.stages[${s}].jobs[${j}].identifier`,
      })),
    ),
    "job",
  );
  yield;
  checkUnique(
    stages.flatMap((st, s) =>
      st.jobs.flatMap((job, j) =>
        job.steps.map((step, k) => ({
          value: step.identifier,
          path: `definition.stages[${s}].jobs[${j}].steps[${k}].identifier`,
        })),
      ),
    ),
    "step",
  );
  yield;

  const stageIds = new Set(stages.map((st) => st.identifier));
  const jobStage = new Map<string, string>();
  for (const st of stages) for (const job of st.jobs) jobStage.set(job.identifier, st.identifier);
  stages.forEach((st, s) => {
    st.depends_on.forEach((dep, d) => {
      if (!stageIds.has(dep)) throw bad(`definition.stages[${s}].depends_on[${d}]`, `unknown stage "${dep}"`);
    });
    st.jobs.forEach((job, j) => {
      job.depends_on.forEach((dep, d) => {
        const path = `definition.stages[${s}].jobs[${j}].depends_on[${d}]`;
        const other = jobStage.get(dep);
        if (other === undefined) throw bad(path, `unknown job "${dep}"`);
        if (other !== st.identifier) {
          throw bad(
            path,
            `job "${dep}" is in stage "${other}"; depends_on may only name jobs of the same stage`,
          );
        }
      });
    });
    const jobCycle = findCycle(
      st.jobs.map((j) => j.identifier),
      new Map(st.jobs.map((j) => [j.identifier, j.depends_on])),
    );
    if (jobCycle) throw bad(`definition.stages[${s}].jobs`, `dependency cycle ${jobCycle.join(" -> ")}`);
  });
  yield;

  const def: Definition = {
    stages: sortBySequence(stages).map((st) => ({
      ...st,
      jobs: sortBySequence(st.jobs).map((job) => ({ ...job, steps: sortBySequence(job.steps) })),
    })),
  };

  yield;
  // Checked on the effective graph: the implicit "wait for the previous stage" edges can close a
  // cycle with explicit ones (an early stage depending on a later one that has no depends_on).
  const order = stageOrder(def);
  const stageCycle = findCycle(
    order.map((o) => o.identifier),
    new Map(order.map((o) => [o.identifier, o.waitsFor])),
  );
  if (stageCycle) {
    const implicit = order.some((o) => o.implicit && stageCycle.includes(o.identifier));
    const why = implicit
      ? " (a stage without depends_on waits for the previous stage in sequence order)"
      : "";
    throw bad("definition.stages", `dependency cycle ${stageCycle.join(" -> ")}${why}`);
  }
  checkArtifactFlow(def, order);
  return def;
}

/**
 * Artifact names are the run's (one job keeps each), and a job downloads only what a job that
 * ends before it keeps: one of a stage it waits for (through others), or one it depends on in
 * its own stage. Paths name the jobs as sent, after sorting (the definition's own order).
 */
function checkArtifactFlow(def: Definition, order: readonly StageOrderEntry[]): void {
  const keeper = new Map<string, { stage: number; job: string; path: string }>();
  for (const [s, st] of def.stages.entries()) {
    for (const [j, job] of st.jobs.entries()) {
      for (const [k, a] of (job.artifacts ?? []).entries()) {
        const path = `definition.stages[${s}].jobs[${j}].artifacts[${k}].name`;
        const other = keeper.get(a.name);
        if (other) throw bad(path, `artifact "${a.name}" is also kept by job "${other.job}"`);
        keeper.set(a.name, { stage: s, job: job.identifier, path });
      }
    }
  }
  if (!def.stages.some((st) => st.jobs.some((j) => (j.download_artifacts ?? []).length > 0))) return;
  const index = new Map(order.map((o) => [o.identifier, o.index]));
  /** The stages (indexes) each stage waits for, through others. */
  const before = order.map(() => new Set<number>());
  for (const o of order) {
    const todo = o.waitsFor.map((id) => index.get(id)!);
    while (todo.length > 0) {
      const n = todo.pop()!;
      if (before[o.index]!.has(n)) continue;
      before[o.index]!.add(n);
      todo.push(...order[n]!.waitsFor.map((id) => index.get(id)!));
    }
  }
  def.stages.forEach((st, s) => {
    const deps = new Map(st.jobs.map((j) => [j.identifier, j.depends_on]));
    const upstream = (id: string): Set<string> => {
      const seen = new Set<string>();
      const todo = [...(deps.get(id) ?? [])];
      while (todo.length > 0) {
        const n = todo.pop()!;
        if (seen.has(n)) continue;
        seen.add(n);
        todo.push(...(deps.get(n) ?? []));
      }
      return seen;
    };
    for (const [j, job] of st.jobs.entries()) {
      for (const [k, name] of (job.download_artifacts ?? []).entries()) {
        const path = `definition.stages[${s}].jobs[${j}].download_artifacts[${k}]`;
        const from = keeper.get(name);
        if (!from) throw bad(path, `no job keeps an artifact "${name}"`);
        const ok = from.stage === s ? upstream(job.identifier).has(from.job) : before[s]!.has(from.stage);
        if (!ok) {
          throw bad(
            path,
            `artifact "${name}" is kept by job "${from.job}", which does not end before this job (a stage this one waits for, or a job it depends on)`,
          );
        }
      }
    }
  });
}

export interface StageOrderEntry {
  readonly identifier: string;
  /** Index in `def.stages` (already in sequence order). */
  readonly index: number;
  /** Identifiers of the stages that must end before this one starts. */
  readonly waitsFor: readonly string[];
  /** True when `waitsFor` is the implicit previous stage rather than an explicit depends_on. */
  readonly implicit: boolean;
}

/**
 * How stages wait for each other, in sequence order. Decision (CodeArts does not document it):
 * a stage with a non-empty `depends_on` waits for exactly those stages, so DAG-shaped pipelines
 * can run stages in parallel; a stage without one waits for the stage just before it in
 * `sequence` order. CodeArts sends `depends_on: []` on every stage and runs its stages one after
 * another, so this keeps its serial behaviour while still honouring explicit graphs.
 */
export function stageOrder(def: Definition): StageOrderEntry[] {
  return def.stages.map((st, index) => {
    if (st.depends_on.length > 0)
      return { identifier: st.identifier, index, waitsFor: st.depends_on, implicit: false };
    const prev = index > 0 ? def.stages[index - 1] : undefined;
    return {
      identifier: st.identifier,
      index,
      waitsFor: prev ? [prev.identifier] : [],
      implicit: prev !== undefined,
    };
  });
}
