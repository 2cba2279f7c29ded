// Run graphs for the engine's unit tests: built from a definition as run creation builds them,
// and moved along as the scheduler and a runner would, without a store.

import { buildRunGraph } from "../../src/engine/create-runs.js";
import { applyChanges } from "../../src/engine/graph.js";
import { planRun } from "../../src/engine/plan.js";
import { parseDefinition } from "../../src/pipeline/definition.js";
import type { RunGraph } from "../../src/store/run-records.js";
import type { PipelineRecord } from "../../src/store/store.js";

let n = 0;
export const newId = (): string => (++n).toString(16).padStart(32, "0");

export function pipeline(definition: unknown, extra: Partial<PipelineRecord["spec"]> = {}): PipelineRecord {
  return {
    id: "p".repeat(32),
    project_id: "q".repeat(32),
    name: "demo",
    description: "",
    is_publish: false,
    banned: false,
    manifest_version: "3.0",
    definition: JSON.stringify(definition),
    spec: {
      sources: [],
      variables: [],
      schedules: [],
      triggers: [],
      concurrency_control: null,
      group_id: null,
      component_id: "",
      project_name: "",
      ...extra,
    },
    creator_id: "u",
    creator_name: "u",
    updater_id: "u",
    create_time: 0,
    update_time: 0,
    run_counter: 0,
  };
}

/** A job of one shell step. */
export const sh = (id: string, extra: Record<string, unknown> = {}) => ({
  name: id,
  identifier: id,
  ...extra,
  steps: [
    {
      name: "s",
      task: "official_shell_plugin",
      inputs: [{ key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: "true" }],
    },
  ],
});

/** A run as run creation makes it (admitted, not planned yet). */
export function newRun(
  def: unknown,
  options: { choose_stages?: string[]; choose_jobs?: string[] } = {},
  vars: { name: string; value: string }[] = [],
): RunGraph {
  const p = pipeline(def);
  return buildRunGraph({
    pipeline: p,
    definition: parseDefinition(p.definition),
    runId: newId(),
    runNumber: 1,
    options,
    variables: vars.map((v) => ({ ...v, is_secret: false })),
    executor: { id: "u", name: "u" },
    now: 1000,
    queueSeq: 1,
    start: { kind: "admitted" },
    newId,
  });
}

let seq = 0;
export const nextSeq = (): number => ++seq;
export const env = { now: 2000, nextSeq };
/** Lets the planner take the run as far as it goes. */
export const step = (g: RunGraph): RunGraph => applyChanges(g, planRun(g, env));
export const job = (g: RunGraph, id: string) => g.jobs.find((j) => j.identifier === id)!;
export const stage = (g: RunGraph, id: string) => g.stages.find((s) => s.identifier === id)!;
/** Finishes a job as a runner would (it started when claimed), then lets the planner go on. */
export const finish = (g: RunGraph, id: string, status: "COMPLETED" | "FAILED" | "CANCELED"): RunGraph => {
  const j = job(g, id);
  return step(
    applyChanges(g, { jobs: [{ id: j.id, status, start_time: j.start_time || 2500, end_time: 3000 }] }),
  );
};
/** A runner claims the job (as the store's claim does). */
export const claim = (g: RunGraph, id: string, runnerId = "r1"): RunGraph => {
  const j = job(g, id);
  return applyChanges(g, {
    jobs: [
      {
        id: j.id,
        status: "RUNNING",
        attempt: j.attempt + 1,
        runner_id: runnerId,
        lease_expires: 9999,
        heartbeat_time: null,
        start_time: j.start_time || 2500,
      },
    ],
  });
};
