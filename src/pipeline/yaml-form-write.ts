// The way back from a pipeline detail to the YAML form (`pipewright pipeline show --yaml`, the
// UI's editor): the shortest text that reads back into the same pipeline (yaml-form.ts).

import { stringify } from "yaml";
import { DEFAULT_CONDITION, parseDefinition } from "./definition.js";
import { slugOf } from "./yaml-locator.js";

type Obj = Record<string, unknown>;

/** The fields of a pipeline detail (spec §4.15) that the YAML form carries. */
export interface PipelineDetailLike {
  readonly name: string;
  readonly description?: string | null;
  readonly definition: string;
  readonly variables?: readonly Record<string, unknown>[] | null;
  readonly concurrency_control?: Record<string, unknown> | null;
  readonly sources?: readonly unknown[] | null;
  readonly schedules?: readonly unknown[] | null;
  readonly triggers?: readonly unknown[] | null;
}

/** What the detail adds to schedule and trigger entries (where they stand), not part of them. */
const SCHEDULE_VIEW = ["next_time", "last_fire_time", "missed_count", "last_missed_time"];
const TRIGGER_VIEW = ["last_poll_time", "next_poll_time", "poll_error"];
const without = (entry: unknown, keys: readonly string[]): Obj =>
  Object.fromEntries(Object.entries(entry as Obj).filter(([k]) => !keys.includes(k)));

const VARIABLE_DEFAULTS: Record<string, unknown> = {
  type: "string",
  is_secret: false,
  description: "",
  is_runtime: false,
  is_reset: false,
  latest_value: "",
};

/**
 * A stored pipeline as YAML-form text. Keys the YAML form has no place for (`pre`, `post`,
 * `strategy`, … of definitions made elsewhere) are left out; defaults are omitted, so applying
 * the text again gives the same pipeline.
 */
export function yamlFormFromDetail(p: PipelineDetailLike): string {
  const def = parseDefinition(p.definition);
  const out: Obj = { name: p.name };
  if (p.description) out.description = p.description;
  const vars = (p.variables ?? []).map((v, i) => {
    const kept: Obj = {};
    for (const [k, val] of Object.entries(v)) {
      if (k === "pipeline_id" || k === "runtime_value") continue;
      if (k === "sequence" && val === i + 1) continue;
      if (k === "limits" && Array.isArray(val) && val.length === 0) continue;
      if (k in VARIABLE_DEFAULTS && VARIABLE_DEFAULTS[k] === val) continue;
      kept[k] = val;
    }
    return kept;
  });
  if (vars.length > 0) out.variables = vars;
  if (p.concurrency_control) {
    const { pipeline_id: _p, create_time: _c, update_time: _u, ...cc } = p.concurrency_control;
    out.concurrency_control = cc;
  }
  if (p.sources && p.sources.length > 0) out.sources = p.sources;
  // Schedules keep their uuid: applied again, each keeps its place in time (next tick, misses).
  if (p.schedules && p.schedules.length > 0)
    out.schedules = p.schedules.map((s) => without(s, SCHEDULE_VIEW));
  if (p.triggers && p.triggers.length > 0) out.triggers = p.triggers.map((t) => without(t, TRIGGER_VIEW));
  const stageIds = new Set<string>();
  const jobIds = new Set<string>();
  out.stages = def.stages.map((st, s) => {
    const stage: Obj = { name: st.name };
    if (st.identifier !== (slugOf(st.name) || `stage_${s}`) || stageIds.has(st.identifier)) {
      stage.identifier = st.identifier;
    }
    stageIds.add(st.identifier);
    if (st.depends_on.length > 0) stage.depends_on = [...st.depends_on];
    if (st.run_always) stage.run_always = true;
    stage.jobs = st.jobs.map((job, j) => {
      const y: Obj = { name: job.name };
      if (job.identifier !== (slugOf(job.name) || `job_${s}_${j}`) || jobIds.has(job.identifier)) {
        y.identifier = job.identifier;
      }
      jobIds.add(job.identifier);
      if (job.depends_on.length > 0) y.depends_on = [...job.depends_on];
      if (job.condition !== DEFAULT_CONDITION) y.condition = job.condition;
      if (job.timeout !== "") y.timeout = /^\d+$/.test(job.timeout) ? Number(job.timeout) : job.timeout;
      if (job.resource !== "") {
        try {
          y.resource = JSON.parse(job.resource) as unknown;
        } catch {
          y.resource = job.resource;
        }
      }
      if ((job.artifacts ?? []).length > 0) y.artifacts = job.artifacts.map((a) => ({ ...a }));
      if ((job.download_artifacts ?? []).length > 0) y.download_artifacts = [...job.download_artifacts];
      if (job.cache) y.cache = { key: job.cache.key, paths: [...job.cache.paths] };
      y.steps = job.steps.map((step) => {
        const ys: Obj = { name: step.name, uses: step.task };
        // The server's default (step_<s>_<j>_<k>) is positional, so it is left to be generated again.
        if (!/^step_\d+_\d+_\d+$/.test(step.identifier)) ys.identifier = step.identifier;
        if (step.inputs.length > 0) ys.with = Object.fromEntries(step.inputs.map((i) => [i.key, i.value]));
        return ys;
      });
      return y;
    });
    return stage;
  });
  return stringify(out, { lineWidth: 0, blockQuote: "literal" });
}
