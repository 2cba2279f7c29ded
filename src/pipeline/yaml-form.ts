// The YAML form of a pipeline (docs/definition.md, "YAML form") and its conversion into the
// create/update request body of the API (the way back: yaml-form-write.ts). Pure: text in, body
// out; every error names the file, line, column and YAML path (yaml-locator.ts). One module:
// it is one grammar (file shapes, stages, jobs, steps, variables) read by one recursive descent.

import { LineCounter, type Node, parseDocument } from "yaml";
import { DEFAULT_CONDITION, parseDefinition } from "./definition.js";
import { InvalidInput } from "./issues.js";
import { parseSchedule } from "./schedules.js";
import { SUBPIPELINE_ID_INPUTS } from "./task-inputs.js";
import { checkTrigger } from "./triggers.js";
import { parseConcurrencyControl, parseVariables } from "./variables.js";
import { ID_PATTERN, SHELL_SCRIPT_INPUT, SHELL_TASK, SUBPIPELINE_TASK } from "./vocabulary.js";
import { formatPath, Locator, parsePath, type Segment, slugOf, withRequestErrors } from "./yaml-locator.js";

/** The body of `POST /v5/{project_id}/api/pipelines` and `PUT …/pipelines/{pipeline_id}`. */
export interface PipelineBody {
  readonly name: string;
  readonly is_publish: boolean;
  /** Definition JSON as a string, as CodeArts sends it. */
  readonly definition: string;
  readonly description?: string;
  readonly variables?: readonly Record<string, unknown>[];
  readonly concurrency_control?: Record<string, unknown> | null;
  readonly sources?: readonly unknown[];
  readonly schedules?: readonly unknown[];
  readonly triggers?: readonly unknown[];
}

/** Which of the three accepted shapes a file had (see `pipelineBodyFromText`). */
export type FileShape = "yaml-form" | "definition" | "request-body";

export interface ParsedPipelineFile {
  readonly body: PipelineBody;
  readonly shape: FileShape;
}

export interface ParseOptions {
  /** Shown in error messages; its base name also names a bare definition that carries none. */
  readonly fileName?: string;
  /** Overrides the name written in the file. */
  readonly name?: string;
  /**
   * The id of the project's pipeline of this name, or undefined when there is none: with it, a
   * sub-pipeline step of the YAML form may name its child pipeline by name (`pipeline apply`
   * passes the project's pipelines). Without it a name stays as written (and is refused as no id).
   */
  readonly pipelineIdOf?: (name: string) => string | undefined;
}

type Obj = Record<string, unknown>;

const TOP_KEYS = [
  "name",
  "description",
  "variables",
  "concurrency_control",
  "sources",
  "schedules",
  "triggers",
  "stages",
];
const STAGE_KEYS = ["name", "identifier", "depends_on", "run_always", "jobs"];
const JOB_KEYS = [
  "name",
  "identifier",
  "depends_on",
  "needs",
  "condition",
  "if",
  "timeout",
  "resource",
  "labels",
  "artifacts",
  "download_artifacts",
  "cache",
  "steps",
];
const STEP_KEYS = ["name", "identifier", "uses", "with"];
const BODY_KEYS = [
  "name",
  "is_publish",
  "definition",
  "description",
  "manifest_version",
  "sources",
  "variables",
  "schedules",
  "triggers",
  "concurrency_control",
  "project_name",
  "group_id",
];
/** `with: {script: …}` on a shell step stands for the CodeArts input key. */
export const SCRIPT_ALIAS = "script";

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Reads a pipeline file into the API's create/update body. The file is YAML (JSON is YAML too)
 * of one of three shapes:
 * - a top-level `definition`: a request body as the API takes it (`definition` a JSON string or
 *   an object);
 * - top-level `stages` whose steps say `task`/`inputs`: a bare CodeArts definition;
 * - top-level `stages` whose steps say `uses`/`with`: the YAML form.
 * Everything is validated as the server would, so a file that passes here is accepted there.
 */
export function pipelineBodyFromText(text: string, opts: ParseOptions = {}): ParsedPipelineFile {
  const fileName = opts.fileName ?? "pipeline";
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const loc: Locator = new Locator(fileName, doc.contents as Node | null, lines);
  const first = doc.errors[0];
  if (first) {
    const pos = lines.linePos(first.pos[0]);
    throw new InvalidInput(
      {
        kind: "definition",
        location: `${fileName}:${pos.line}:${pos.col}`,
        path: "",
        problem: `not valid YAML: ${first.message}`,
      },
      { cause: first },
    );
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  if (!isObject(raw)) loc.fail([], "must be a mapping with `stages` (or `definition`)", "definition");

  const baseName = fileName
    .split(/[/\\]/)
    .pop()!
    .replace(/\.(ya?ml|json)$/i, "");
  if ("definition" in raw) {
    return { body: fromRequestBody(raw, loc, opts), shape: "request-body" };
  }
  if (!Array.isArray(raw.stages)) {
    loc.fail(
      ["stages"],
      "required: a list of stages (or give a request body with `definition`)",
      "definition",
    );
  }
  const shape = stepShape(raw.stages, loc);
  if (shape === "definition") {
    const name = opts.name ?? (typeof raw.name === "string" ? raw.name : baseName);
    // A `name` beside `stages` names the pipeline; it is not part of the definition.
    const { name: _name, ...bare } = raw;
    const def = withDefinitionErrors(loc, [], () => {
      parseDefinition(bare);
      return JSON.stringify(bare);
    });
    return { body: { name, is_publish: false, definition: def }, shape };
  }
  return { body: fromYamlForm(raw, loc, opts), shape };
}

/** Whether the steps say `task` (definition JSON) or `uses` (YAML form); a mix is an error. */
function stepShape(stages: readonly unknown[], loc: Locator): "definition" | "yaml-form" {
  let seen: { shape: "definition" | "yaml-form"; path: Segment[] } | null = null;
  stages.forEach((st, s) => {
    if (!isObject(st) || !Array.isArray(st.jobs)) return;
    st.jobs.forEach((job: unknown, j) => {
      if (!isObject(job) || !Array.isArray(job.steps)) return;
      job.steps.forEach((step: unknown, k) => {
        if (!isObject(step)) return;
        const shape = "task" in step || "inputs" in step ? "definition" : "uses" in step ? "yaml-form" : null;
        if (shape === null) return;
        const path: Segment[] = ["stages", s, "jobs", j, "steps", k];
        if (seen && seen.shape !== shape) {
          loc.fail(
            path,
            `mixes the two step spellings: this step says ${shape === "definition" ? "task/inputs" : "uses/with"}, ` +
              `${formatPath(seen.path)} says ${seen.shape === "definition" ? "task/inputs" : "uses/with"}`,
            "definition",
          );
        }
        seen ??= { shape, path };
      });
    });
  });
  return seen === null ? "yaml-form" : (seen as { shape: "definition" | "yaml-form" }).shape;
}

function fromRequestBody(raw: Obj, loc: Locator, opts: ParseOptions): PipelineBody {
  for (const key of Object.keys(raw)) {
    if (!BODY_KEYS.includes(key)) {
      loc.fail([key], `unknown key; a request body has ${BODY_KEYS.join(", ")}`, "request");
    }
  }
  const name = opts.name ?? raw.name;
  if (typeof name !== "string" || name === "") loc.fail(["name"], "required (or pass --name)", "request");
  let definition: string;
  if (typeof raw.definition === "string") definition = raw.definition;
  else if (isObject(raw.definition)) definition = JSON.stringify(raw.definition);
  else loc.fail(["definition"], "must be a JSON string or an object", "definition");
  withDefinitionErrors(loc, ["definition"], () => parseDefinition(definition));
  const vars = raw.variables ?? undefined;
  withRequestErrors(loc, () => {
    parseVariables(vars);
    parseConcurrencyControl(raw.concurrency_control);
  });
  if (!(raw.is_publish === undefined || typeof raw.is_publish === "boolean")) {
    loc.fail(["is_publish"], "must be a boolean", "request");
  }
  return {
    ...(raw as Obj),
    name,
    is_publish: raw.is_publish === true,
    definition,
  } as PipelineBody;
}

function checkKeys(obj: Obj, allowed: readonly string[], path: Segment[], loc: Locator, what: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      loc.fail([...path, key], `unknown key in ${what}; allowed: ${allowed.join(", ")}`, "definition");
    }
  }
}

function optString(obj: Obj, key: string, path: Segment[], loc: Locator): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") loc.fail([...path, key], "must be a string", "definition");
  return v;
}

function stringList(v: unknown, path: Segment[], loc: Locator): string[] {
  if (v === undefined || v === null) return [];
  // A single name is a list of one: `depends_on: build` reads naturally in YAML.
  if (typeof v === "string") return [v];
  if (!Array.isArray(v)) loc.fail(path, "must be a list of identifiers", "definition");
  return v.map((item: unknown, i) => {
    if (typeof item !== "string") loc.fail([...path, i], "must be a string", "definition");
    return item;
  });
}

function list(v: unknown, path: Segment[], loc: Locator, what: string): Obj[] {
  if (!Array.isArray(v) || v.length === 0)
    loc.fail(path, `must be a non-empty list of ${what}`, "definition");
  return v.map((item: unknown, i) => {
    if (!isObject(item)) loc.fail([...path, i], "must be a mapping", "definition");
    return item;
  });
}

/** Identifier given, or derived from the name; unique within `taken` (stages, or all jobs). */
function identifierOf(
  obj: Obj,
  path: Segment[],
  loc: Locator,
  taken: Map<string, Segment[]>,
  fallback: string,
): string {
  const given = optString(obj, "identifier", path, loc);
  const id = given ?? (slugOf(typeof obj.name === "string" ? obj.name : "") || fallback);
  const other = taken.get(id);
  if (other) {
    const how = given === undefined ? `"${id}" (derived from the name)` : `"${id}"`;
    loc.fail(
      [...path, given === undefined ? "name" : "identifier"],
      `identifier ${how} is also used by ${formatPath(other)}; give one of them an explicit identifier`,
      "definition",
    );
  }
  taken.set(id, path);
  return id;
}

/** Where an error of parseDefinition points in the YAML form, given how each step spelled its inputs. */
interface PathMap {
  /** `stages[s].jobs[j]` → the keys the job used for depends_on and condition. */
  readonly jobKeys: Map<string, { depends: string; condition: string }>;
  /** `stages[s].jobs[j].steps[k]` → the `with` key of each input, in order. */
  readonly inputKeys: Map<string, string[]>;
  readonly pipelineIdOf?: ((name: string) => string | undefined) | undefined;
}

function fromYamlForm(raw: Obj, loc: Locator, opts: ParseOptions): PipelineBody {
  checkKeys(raw, TOP_KEYS, [], loc, "a pipeline");
  const name = opts.name ?? optString(raw, "name", [], loc);
  if (name === undefined || name === "") loc.fail(["name"], "required (or pass --name)", "definition");
  const description = optString(raw, "description", [], loc);
  const map: PathMap = { jobKeys: new Map(), inputKeys: new Map(), pipelineIdOf: opts.pipelineIdOf };
  const stageIds = new Map<string, Segment[]>();
  const jobIds = new Map<string, Segment[]>();

  const stages = list(raw.stages, ["stages"], loc, "stages").map((st, s) => {
    const sp: Segment[] = ["stages", s];
    checkKeys(st, STAGE_KEYS, sp, loc, "a stage");
    if (st.run_always !== undefined && st.run_always !== null && typeof st.run_always !== "boolean") {
      loc.fail([...sp, "run_always"], "must be true or false", "definition");
    }
    const stage = {
      name: st.name,
      identifier: identifierOf(st, sp, loc, stageIds, `stage_${s}`),
      sequence: s,
      depends_on: stringList(st.depends_on, [...sp, "depends_on"], loc),
      run_always: st.run_always === true,
      jobs: [] as Obj[],
    };
    stage.jobs = list(st.jobs, [...sp, "jobs"], loc, "jobs").map((job, j) =>
      jobOf(job, [...sp, "jobs", j], j, loc, jobIds, map, `job_${s}_${j}`),
    );
    return stage;
  });
  const definition = { stages };
  withDefinitionErrors(loc, [], () => parseDefinition(definition), map);

  const body: {
    -readonly [K in keyof PipelineBody]: PipelineBody[K];
  } = { name, is_publish: false, definition: JSON.stringify(definition) };
  if (description !== undefined) body.description = description;
  if (raw.variables !== undefined && raw.variables !== null) body.variables = variablesOf(raw.variables, loc);
  if (raw.concurrency_control !== undefined && raw.concurrency_control !== null) {
    if (!isObject(raw.concurrency_control)) {
      loc.fail(["concurrency_control"], "must be a mapping", "request");
    }
    const cc = raw.concurrency_control;
    withRequestErrors(loc, () => parseConcurrencyControl(cc));
    body.concurrency_control = cc;
  }
  if (raw.sources !== undefined && raw.sources !== null) {
    if (!Array.isArray(raw.sources)) loc.fail(["sources"], "must be a list of sources", "request");
    raw.sources.forEach((src: unknown, i) => {
      if (!isObject(src) || typeof src.type !== "string") {
        loc.fail(["sources", i], "must be a mapping with `type` (code) and `params`", "request");
      }
    });
    body.sources = raw.sources;
  }
  // Checked here as the server checks them, so an error points at its line.
  if (raw.schedules !== undefined && raw.schedules !== null) {
    if (!Array.isArray(raw.schedules)) loc.fail(["schedules"], "must be a list of schedules", "request");
    const schedules = raw.schedules;
    withRequestErrors(loc, () =>
      schedules.forEach((entry: unknown, i) => {
        // The server gives an entry without one its uuid.
        parseSchedule(
          isObject(entry) && entry.uuid === undefined ? { ...entry, uuid: "new" } : entry,
          `schedules[${i}]`,
        );
      }),
    );
    body.schedules = schedules;
  }
  if (raw.triggers !== undefined && raw.triggers !== null) {
    if (!Array.isArray(raw.triggers)) loc.fail(["triggers"], "must be a list of triggers", "request");
    const triggers = raw.triggers;
    withRequestErrors(loc, () =>
      triggers.forEach((t: unknown, i) => {
        checkTrigger(t, `triggers[${i}]`);
      }),
    );
    body.triggers = triggers;
  }
  return body;
}

function jobOf(
  job: Obj,
  jp: Segment[],
  j: number,
  loc: Locator,
  jobIds: Map<string, Segment[]>,
  map: PathMap,
  fallback: string,
): Obj {
  checkKeys(job, JOB_KEYS, jp, loc, "a job");
  for (const [a, b] of [
    ["depends_on", "needs"],
    ["condition", "if"],
  ] as const) {
    if (job[a] !== undefined && job[b] !== undefined) {
      loc.fail([...jp, b], `give either ${a} or ${b} (the same thing), not both`, "definition");
    }
  }
  const dependsKey = job.needs !== undefined ? "needs" : "depends_on";
  const conditionKey = job.if !== undefined ? "if" : "condition";
  map.jobKeys.set(formatPath(jp), { depends: dependsKey, condition: conditionKey });
  const condition = job[conditionKey];
  if (condition !== undefined && condition !== null && typeof condition !== "string") {
    loc.fail([...jp, conditionKey], "must be a string such as ${{ default() }}", "definition");
  }
  const timeout = job.timeout;
  if (
    timeout !== undefined &&
    timeout !== null &&
    typeof timeout !== "string" &&
    typeof timeout !== "number"
  ) {
    loc.fail([...jp, "timeout"], 'must be seconds or a duration such as "30m"', "definition");
  }
  return {
    name: job.name,
    identifier: identifierOf(job, jp, loc, jobIds, fallback),
    sequence: j,
    depends_on: stringList(job[dependsKey], [...jp, dependsKey], loc),
    condition: typeof condition === "string" && condition !== "" ? condition : DEFAULT_CONDITION,
    timeout: timeout === undefined || timeout === null ? "" : timeout,
    resource: resourceOf(job, jp, loc),
    // Checked with the definition (their errors point here through the path map).
    ...(job.artifacts !== undefined ? { artifacts: job.artifacts } : {}),
    ...(job.download_artifacts !== undefined ? { download_artifacts: job.download_artifacts } : {}),
    ...(job.cache !== undefined ? { cache: job.cache } : {}),
    steps: list(job.steps, [...jp, "steps"], loc, "steps").map((step, k) =>
      stepOf(step, [...jp, "steps", k], k, loc, map),
    ),
  };
}

/** `resource` (a mapping or JSON text) with `labels` merged in, as CodeArts's JSON-encoded string. */
function resourceOf(job: Obj, jp: Segment[], loc: Locator): string {
  let res: Obj = {};
  const r = job.resource;
  if (typeof r === "string" && r !== "") {
    if (job.labels === undefined) return r;
    try {
      const parsed: unknown = JSON.parse(r);
      if (!isObject(parsed)) throw new Error("not an object");
      res = parsed;
    } catch {
      loc.fail(
        [...jp, "resource"],
        "must be a mapping (or JSON text of one) when labels are given",
        "definition",
      );
    }
  } else if (isObject(r)) {
    res = r;
  } else if (r !== undefined && r !== null && r !== "") {
    loc.fail([...jp, "resource"], "must be a mapping such as {type: system, arch: x86}", "definition");
  }
  if (job.labels !== undefined && job.labels !== null) {
    res = { ...res, labels: stringList(job.labels, [...jp, "labels"], loc) };
  }
  return Object.keys(res).length === 0 ? "" : JSON.stringify(res);
}

function stepOf(step: Obj, sp: Segment[], k: number, loc: Locator, map: PathMap): Obj {
  checkKeys(step, STEP_KEYS, sp, loc, "a step");
  const uses = step.uses;
  if (typeof uses !== "string" || uses === "") {
    loc.fail([...sp, "uses"], "required: the task to run, e.g. official_shell_plugin", "definition");
  }
  const withMap = step.with ?? {};
  if (!isObject(withMap))
    loc.fail([...sp, "with"], "must be a mapping of input keys to values", "definition");
  const keys = Object.keys(withMap);
  if (uses === SHELL_TASK && SCRIPT_ALIAS in withMap && SHELL_SCRIPT_INPUT in withMap) {
    loc.fail(
      [...sp, "with", SCRIPT_ALIAS],
      `give either ${SCRIPT_ALIAS} or ${SHELL_SCRIPT_INPUT} (the same input), not both`,
      "definition",
    );
  }
  map.inputKeys.set(formatPath(sp), keys);
  const inputs = keys.map((key) => ({
    key: uses === SHELL_TASK && key === SCRIPT_ALIAS ? SHELL_SCRIPT_INPUT : key,
    value:
      uses === SUBPIPELINE_TASK && (SUBPIPELINE_ID_INPUTS as readonly string[]).includes(key)
        ? childPipeline(withMap[key], [...sp, "with", key], loc, map)
        : withMap[key],
  }));
  const out: Obj = { name: step.name, task: uses, sequence: k, inputs };
  const id = optString(step, "identifier", sp, loc);
  if (id !== undefined) out.identifier = id;
  return out;
}

/**
 * A sub-pipeline step's child: an id as it stands; a name, given the project's pipelines, their
 * id (the API takes ids only, and a console export's literal id names a pipeline of another
 * installation, so a file meant to be applied anywhere names its child by name).
 */
function childPipeline(v: unknown, at: Segment[], loc: Locator, map: PathMap): unknown {
  if (typeof v !== "string" || new RegExp(ID_PATTERN).test(v) || !map.pipelineIdOf) return v;
  const id = map.pipelineIdOf(v);
  if (id === undefined) {
    loc.fail(
      at,
      `no pipeline named ${JSON.stringify(v)} in the project (apply the child pipeline first)`,
      "definition",
    );
  }
  return id;
}

/** `variables` as a list (CodeArts's shape) or a mapping `name: value | {value, is_runtime, …}`. */
function variablesOf(v: unknown, loc: Locator): Record<string, unknown>[] {
  let vars: Record<string, unknown>[];
  let pathOf: (i: number) => Segment[];
  if (Array.isArray(v)) {
    vars = v.map((item: unknown, i) => {
      if (!isObject(item)) loc.fail(["variables", i], "must be a mapping with name and value", "request");
      return item;
    });
    pathOf = (i) => ["variables", i];
  } else if (isObject(v)) {
    const names = Object.keys(v);
    vars = names.map((name) => {
      const spec = v[name];
      if (isObject(spec)) {
        if ("name" in spec)
          loc.fail(["variables", name, "name"], "the key above already names the variable", "request");
        return { name, ...spec };
      }
      if (
        spec === null ||
        typeof spec === "string" ||
        typeof spec === "number" ||
        typeof spec === "boolean"
      ) {
        return { name, value: spec === null ? "" : String(spec) };
      }
      return loc.fail(["variables", name], "must be a value or a mapping {value, is_runtime, …}", "request");
    });
    pathOf = (i) => ["variables", names[i]!];
  } else {
    loc.fail(["variables"], "must be a list of {name, value, …} or a mapping of names", "request");
  }
  try {
    parseVariables(vars);
  } catch (err) {
    if (!(err instanceof InvalidInput)) throw err;
    // parseVariables names `variables[i].field`; point at the entry as the file wrote it.
    const m = /^variables\[(\d+)\]((?:\.[A-Za-z_]+|\[\d+\])*)$/.exec(err.issue.path);
    if (!m) throw err;
    loc.fail([...pathOf(Number(m[1])), ...parsePath(m[2] ?? "")], err.issue.problem, err.issue.kind, err);
  }
  return vars;
}

/** Runs server-side validation, re-pointing its `definition.…` paths at the file. */
function withDefinitionErrors<T>(loc: Locator, prefix: Segment[], fn: () => T, map?: PathMap): T {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof InvalidInput)) throw err;
    if (!/^definition(?:\.[A-Za-z_]+|\[\d+\])*$/.test(err.issue.path)) throw err;
    const segs = parsePath(err.issue.path).slice(1);
    const path = map ? toYamlPath(segs, map) : [...prefix, ...segs];
    loc.fail(path, err.issue.problem, err.issue.kind, err);
  }
}

/** Definition path (without the leading `definition`) → the YAML form's path to the same thing. */
function toYamlPath(segs: Segment[], map: PathMap): Segment[] {
  const out: Segment[] = [];
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    const here = formatPath(out);
    if (seg === "task" && out.at(-2) === "steps") {
      out.push("uses");
    } else if (seg === "inputs" && out.at(-2) === "steps") {
      const keys = map.inputKeys.get(here) ?? [];
      const idx = segs[i + 1];
      out.push("with");
      if (typeof idx === "number" && keys[idx] !== undefined) out.push(keys[idx]);
      // `inputs[i].value` / `.key` are both the entry `with.<key>` in the YAML form.
      return out;
    } else if ((seg === "depends_on" || seg === "condition") && out.at(-2) === "jobs") {
      const keys = map.jobKeys.get(here);
      out.push(seg === "depends_on" ? (keys?.depends ?? seg) : (keys?.condition ?? seg));
    } else {
      out.push(seg);
    }
  }
  return out;
}
