// How the CLI's PIPELINE and RUN arguments name things (docs/cli.md, "Naming pipelines and runs"):
// a pipeline by name or id; a run as PIPELINE (its latest run), PIPELINE#N (run number N) or a
// run id, found through --pipeline or by searching the project.

import { ERRORS } from "../errors.js";
import type { PipelineListItem, ProjectApi, RunDetail } from "./api.js";
import type { OptionSpec } from "./args.js";
import { closest } from "./args.js";
import { CliError, EXIT, usageError } from "./cli-error.js";
import { ID_RE } from "./command.js";

export interface PipelineRef {
  readonly id: string;
  readonly name: string;
}

export type RunRefSpec =
  | { readonly kind: "latest"; readonly pipeline: string }
  | { readonly kind: "number"; readonly pipeline: string; readonly number: number }
  /** 32 hex characters: a pipeline id (its latest run) or a run id. */
  | { readonly kind: "id"; readonly id: string };

/** Pure reading of a RUN argument. */
export function parseRunRef(text: string): RunRefSpec {
  const hash = text.lastIndexOf("#");
  if (hash !== -1) {
    const pipeline = text.slice(0, hash);
    const n = text.slice(hash + 1);
    if (pipeline === "" || !/^[1-9]\d*$/.test(n)) {
      throw usageError(`"${text}" is not PIPELINE#N (N a run number, 1 or more)`);
    }
    return { kind: "number", pipeline, number: Number(n) };
  }
  if (text === "") throw usageError("empty RUN argument");
  return ID_RE.test(text) ? { kind: "id", id: text } : { kind: "latest", pipeline: text };
}

export function runLabel(pipelineName: string, runNumber: number): string {
  return `${pipelineName}#${runNumber}`;
}

function notFound(key: "PIPELINE_NOT_FOUND" | "RUN_NOT_FOUND", message: string): CliError {
  // Reported like the server's own not-found answer: a script sees the same code and exit status
  // whether the pipeline was named by id (server side) or by name (looked up here).
  const code = ERRORS[key].code;
  return new CliError(EXIT.SERVER, `${message} (${code})`, { code });
}

function isCode(err: unknown, key: keyof typeof ERRORS): boolean {
  return err instanceof CliError && err.code === ERRORS[key].code;
}

function unknownPipelines(refs: readonly string[], all: readonly PipelineListItem[]): CliError {
  const names = all.map((p) => p.name);
  const parts = refs.map((r) => {
    const guess = closest(r, names);
    return `"${r}"${guess ? ` (did you mean "${guess}"?)` : ""}`;
  });
  return notFound("PIPELINE_NOT_FOUND", `no pipeline ${parts.join(", ")} in this project`);
}

/** One pipeline by id or exact name. */
export async function resolvePipeline(api: ProjectApi, ref: string): Promise<PipelineRef> {
  if (ID_RE.test(ref)) {
    try {
      const p = await api.getPipeline(ref);
      return { id: p.id, name: p.name };
    } catch (err) {
      // A 32-hex name is possible, so a missing id is tried as a name before giving up.
      if (!isCode(err, "PIPELINE_NOT_FOUND")) throw err;
    }
  }
  const candidates = await api.allPipelines(ref);
  const hit = candidates.find((p) => p.name === ref);
  if (hit) return { id: hit.pipeline_id, name: hit.name };
  throw unknownPipelines([ref], await api.allPipelines());
}

/** Several pipelines by id or name, with one listing of the project; every unknown one is named. */
export async function resolvePipelines(api: ProjectApi, refs: readonly string[]): Promise<PipelineRef[]> {
  const all = await api.allPipelines();
  const byId = new Map(all.map((p) => [p.pipeline_id, p]));
  const byName = new Map(all.map((p) => [p.name, p]));
  const missing: string[] = [];
  const out: PipelineRef[] = [];
  for (const ref of refs) {
    const p = byName.get(ref) ?? byId.get(ref);
    if (p) out.push({ id: p.pipeline_id, name: p.name });
    else missing.push(ref);
  }
  if (missing.length > 0) throw unknownPipelines(missing, all);
  return out;
}

export interface ResolvedRun {
  readonly pipeline: PipelineRef;
  readonly detail: RunDetail;
}

/** Run id of run number `n`, paging through the pipeline's runs (newest first). */
async function runIdOfNumber(api: ProjectApi, p: PipelineRef, n: number): Promise<string> {
  const limit = 100;
  for (let offset = 0; ; offset += limit) {
    const page = await api.listRuns(p.id, offset, limit);
    const hit = page.pipeline_runs.find((r) => r.run_number === n);
    if (hit) return hit.pipeline_run_id;
    if (page.pipeline_runs.length < limit || offset + limit >= page.total) {
      throw notFound("RUN_NOT_FOUND", `pipeline ${p.name} has no run #${n}`);
    }
  }
}

/** Which pipeline a bare run id belongs to: the latest runs first (one call), then pipeline by pipeline. */
async function pipelineOfRun(api: ProjectApi, runId: string): Promise<ResolvedRun> {
  const all = await api.allPipelines();
  const refOf = (id: string): PipelineRef => ({
    id,
    name: all.find((p) => p.pipeline_id === id)?.name ?? id,
  });
  const latest = await api.latestStatus(all.map((p) => p.pipeline_id));
  const hit = latest.find((r) => r.pipeline_run_id === runId);
  if (hit) return { pipeline: refOf(hit.pipeline_id), detail: await api.runDetail(hit.pipeline_id, runId) };
  // Older runs: ask each pipeline, a few at a time; a miss is a 404 we expect.
  const queue = [...all];
  let found: ResolvedRun | undefined;
  const worker = async (): Promise<void> => {
    for (let p = queue.shift(); p && !found; p = queue.shift()) {
      try {
        const detail = await api.runDetail(p.pipeline_id, runId);
        found = { pipeline: refOf(p.pipeline_id), detail };
      } catch (err) {
        if (!isCode(err, "RUN_NOT_FOUND")) throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  if (found) return found;
  throw notFound("RUN_NOT_FOUND", `no run ${runId} in any pipeline of this project`);
}

/**
 * A RUN argument to its pipeline and current detail. With `pipelineFlag`, RUN may also be a bare
 * run id or number of that pipeline.
 */
export async function resolveRun(api: ProjectApi, text: string, pipelineFlag?: string): Promise<ResolvedRun> {
  if (pipelineFlag !== undefined) {
    const p = await resolvePipeline(api, pipelineFlag);
    const num = /^#?([1-9]\d*)$/.exec(text);
    const runId = num ? await runIdOfNumber(api, p, Number(num[1])) : text;
    if (!num && !ID_RE.test(runId))
      throw usageError(`with --pipeline, RUN must be a run id or a run number, not "${text}"`);
    return { pipeline: p, detail: await api.runDetail(p.id, runId) };
  }
  const spec = parseRunRef(text);
  if (spec.kind === "number") {
    const p = await resolvePipeline(api, spec.pipeline);
    return { pipeline: p, detail: await api.runDetail(p.id, await runIdOfNumber(api, p, spec.number)) };
  }
  if (spec.kind === "latest") {
    const p = await resolvePipeline(api, spec.pipeline);
    return { pipeline: p, detail: await api.runDetail(p.id) };
  }
  try {
    const p = await api.getPipeline(spec.id);
    return { pipeline: { id: p.id, name: p.name }, detail: await api.runDetail(p.id) };
  } catch (err) {
    if (!isCode(err, "PIPELINE_NOT_FOUND")) throw err;
  }
  return pipelineOfRun(api, spec.id);
}

/** The option that names the pipeline of a RUN argument, and how RUN arguments read. */
export const PIPELINE_OPTION: OptionSpec = {
  name: "pipeline",
  short: "p",
  type: "string",
  arg: "PIPELINE",
  help: "the pipeline of RUN, so RUN may be a bare run id or run number",
};

export const RUN_HELP = `RUN is PIPELINE (its latest run), PIPELINE#N (run number N) or a run id; PIPELINE is a
pipeline name or id. A bare run id is looked up among the project's pipelines unless
--pipeline names its pipeline.`;
