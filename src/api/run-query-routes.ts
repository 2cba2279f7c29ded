// Reading runs (spec §4.8–4.10, §4.12, §4.13): a run's detail (also as a live stream), the runs
// of a pipeline, the latest run of several pipelines, step outputs and artifacts.

import type { FastifyInstance } from "fastify";
import { yieldToEventLoop } from "../clock.js";
import { invalid, PipewrightError } from "../errors.js";
import { LIMITS } from "../pipeline/limits.js";
import { ID_PATTERN, RUN_STATUSES, SUBPIPELINE_TASK, TERMINAL_RUN_STATUSES } from "../pipeline/vocabulary.js";
import type { RunGraph, StageRunRecord, StepRunRecord } from "../store/run-records.js";
import {
  latestStatusSchema,
  projectRunListSchema,
  runDetailSchema,
  runListSchema,
  stepOutputsSchema,
} from "../wire/schemas.js";
import type { ProjectRunList, RunDetail, RunList, RunSummary } from "../wire/types.js";
import { authorizeProject, type RouteContext } from "./context.js";
import { loadRun, requireProjectExists } from "./lookups.js";
import { authorizePipeline, hiddenFrom, visibleTo } from "./pipeline-access.js";
import { latestStatusBody, RUN_LIST_DEFAULT_LIMIT, RUN_LIST_MAX_LIMIT, runListBody } from "./run-schemas.js";
import { runDetailView, runSummaryView } from "./run-views.js";
import { idSchema, pipelineParams, projectParams, runParams } from "./schemas.js";
import { streamSse } from "./sse.js";
import { typed } from "./type-provider.js";

const BASE = "/v5/:project_id/api/pipelines";
const ID_RE = new RegExp(ID_PATTERN);
/** The live run stream looks at the store this often for changes made on other replicas. */
const RUN_POLL_MS = 1000;
/** Changes come in bursts (a step ends, the job ends, the next starts): one event per burst. */
const RUN_DEBOUNCE_MS = 50;

/**
 * `start_time`-style filters: epoch milliseconds or `yyyy-MM-dd HH:mm:ss` (UTC). A date that
 * does not exist (month 13, 30 February, hour 24) is refused rather than rolled over.
 */
export function parseTimeFilter(field: string, v: unknown): number | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  const ms = typeof v === "number" ? v : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : undefined;
  if (ms !== undefined) {
    if (Number.isSafeInteger(ms) && ms >= 0) return ms;
    throw invalid(field, `must be epoch milliseconds from 0 to ${Number.MAX_SAFE_INTEGER}`);
  }
  if (typeof v === "string") {
    const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(v);
    if (m) {
      const [y, mo, d, h, mi, sec] = m.slice(1).map(Number) as [
        number,
        number,
        number,
        number,
        number,
        number,
      ];
      const t = Date.UTC(y, mo - 1, d, h, mi, sec);
      const back = new Date(t);
      const exists =
        back.getUTCFullYear() === y &&
        back.getUTCMonth() === mo - 1 &&
        back.getUTCDate() === d &&
        back.getUTCHours() === h &&
        back.getUTCMinutes() === mi &&
        back.getUTCSeconds() === sec;
      if (exists) return t;
      throw invalid(field, `"${v}" is not a date and time that exists`);
    }
  }
  throw invalid(field, "must be epoch milliseconds or 'yyyy-MM-dd HH:mm:ss'");
}

export function registerRunQueryRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store, clock, engine } = ctx;
  const api = typed(app);

  /** A run waiting for admission (concurrency QUEUE) shows its place in the pipeline's queue. */
  async function queueOf(g: RunGraph): Promise<{ position: number } | undefined> {
    if (g.run.admitted || g.run.status !== "QUEUED") return undefined;
    return { position: (await store.countWaitingBefore(g.run.pipeline_id, g.run.queue_seq)) + 1 };
  }

  async function detailOf(g: RunGraph): Promise<RunDetail> {
    // Only a run that was retried has earlier attempts to read.
    const attempts = g.jobs.some((j) => j.run_attempt > 1) ? await store.getJobAttempts(g.run.id) : [];
    const queue = await queueOf(g);
    // The view and its JSON of a run near the size limits take tens of milliseconds: the reads
    // before them are not added to that stretch.
    if (g.jobs.length + g.steps.length > 2000) await yieldToEventLoop();
    const children = g.steps.some((s) => s.task === SUBPIPELINE_TASK)
      ? await store.childRunsOf(g.run.id)
      : [];
    return runDetailView(g, clock.now(), queue, attempts, children);
  }

  async function summariesOf(runs: Parameters<typeof runSummaryView>[0][], withStageIds: boolean) {
    // By run at once: a filter per run was quadratic (a status poll of 1,000 pipelines looked at
    // a million stage rows).
    const stagesOf = new Map<string, StageRunRecord[]>();
    for (const s of await store.getStagesOfRuns(runs.map((r) => r.id))) {
      const list = stagesOf.get(s.run_id);
      if (list) list.push(s);
      else stagesOf.set(s.run_id, [s]);
    }
    return runs.map((r): RunSummary => runSummaryView(r, stagesOf.get(r.id) ?? [], withStageIds));
  }

  api.get(
    `${BASE}/:pipeline_id/pipeline-runs/detail`,
    {
      schema: {
        tags: ["runs"],
        summary:
          "Run detail (ShowPipelineRunDetail): by pipeline_run_id, or by pipeline_run_number; the latest run without either",
        params: pipelineParams,
        querystring: {
          type: "object",
          properties: {
            pipeline_run_id: idSchema,
            pipeline_run_number: { type: "string", pattern: "^[1-9]\\d{0,14}$" },
          },
        },
        response: { 200: runDetailSchema },
      },
    },
    async (req): Promise<RunDetail> => {
      const { project_id, pipeline_id } = req.params;
      await authorizePipeline(ctx, req, project_id, pipeline_id, "query");
      let id = req.query.pipeline_run_id;
      if (id === undefined && req.query.pipeline_run_number !== undefined) {
        const n = Number(req.query.pipeline_run_number);
        const run = await store.getRunByNumber(pipeline_id, n);
        if (!run) throw new PipewrightError("RUN_NOT_FOUND", `Pipeline ${pipeline_id} has no run #${n}.`);
        id = run.id;
      }
      if (id === undefined) {
        const latest = await store.getLatestRun(pipeline_id);
        if (!latest) throw new PipewrightError("NEVER_RUN", `Pipeline ${pipeline_id} has not run yet.`);
        id = latest.id;
      }
      const g = await store.getRunGraph(id);
      if (!g || g.run.pipeline_id !== pipeline_id)
        throw new PipewrightError("RUN_NOT_FOUND", `Pipeline ${pipeline_id} has no run ${id}.`);
      const n = req.query.pipeline_run_number;
      if (n !== undefined && String(g.run.run_number) !== n)
        throw new PipewrightError("RUN_NOT_FOUND", `Run ${id} of pipeline ${pipeline_id} is not run #${n}.`);
      return detailOf(g);
    },
  );

  api.post(
    `${BASE}/:pipeline_id/pipeline-runs/list`,
    {
      schema: {
        tags: ["runs"],
        summary: "List runs of a pipeline (ListPipelineRuns)",
        description: `offset is a row offset; limit defaults to ${RUN_LIST_DEFAULT_LIMIT}, at most ${RUN_LIST_MAX_LIMIT}. Newest first by default.`,
        params: pipelineParams,
        body: runListBody,
        response: { 200: runListSchema },
      },
    },
    async (req): Promise<RunList> => {
      const { project_id, pipeline_id } = req.params;
      await authorizePipeline(ctx, req, project_id, pipeline_id, "query");
      const b = req.body ?? {};
      const limit = b.limit ? b.limit : RUN_LIST_DEFAULT_LIMIT;
      const offset = b.offset ?? 0;
      const page = await store.listRuns({
        pipeline_id,
        statuses: b.status,
        start_time: parseTimeFilter("start_time", b.start_time),
        end_time: parseTimeFilter("end_time", b.end_time),
        update_time: parseTimeFilter("update_time", b.update_time),
        offset,
        limit,
        sort_key: b.sort_key ?? "start_time",
        sort_dir: b.sort_dir ?? "desc",
      });
      return { offset, limit, total: page.total, pipeline_runs: await summariesOf([...page.items], true) };
    },
  );

  api.post(
    "/v5/:project_id/api/pipeline-runs/list",
    {
      schema: {
        tags: ["runs"],
        summary:
          "The project's runs across its pipelines, newest first (ours: the UI's and the CLI's run list)",
        description: `Filters: status, pipeline_ids, trigger_type (Manual, Scheduler, CodeHub…), start_time and end_time
bounding when a run was created (epoch ms or 'yyyy-MM-dd HH:mm:ss' UTC). Runs of pipelines the caller may not see
are left out. limit defaults to ${RUN_LIST_DEFAULT_LIMIT}, at most ${RUN_LIST_MAX_LIMIT}.`,
        params: projectParams,
        body: {
          type: ["object", "null"],
          additionalProperties: false,
          properties: {
            status: {
              type: "array",
              items: { type: "string", enum: RUN_STATUSES },
              maxItems: RUN_STATUSES.length,
            },
            pipeline_ids: { type: "array", items: idSchema, maxItems: LIMITS.queryEntries },
            trigger_type: { type: "array", items: { type: "string", maxLength: 64 }, maxItems: 20 },
            start_time: runListBody.properties.start_time,
            end_time: runListBody.properties.end_time,
            offset: runListBody.properties.offset,
            limit: runListBody.properties.limit,
          },
        },
        response: { 200: projectRunListSchema },
      },
    },
    async (req): Promise<ProjectRunList> => {
      const { project_id } = req.params;
      const who = await authorizeProject(ctx, req, project_id, "read");
      await requireProjectExists(store, project_id);
      const b = req.body ?? {};
      const limit = b.limit ? b.limit : RUN_LIST_DEFAULT_LIMIT;
      const offset = b.offset ?? 0;
      const page = await store.listProjectRuns({
        project_id,
        pipeline_ids: b.pipeline_ids,
        statuses: b.status?.length ? b.status : undefined,
        trigger_types: b.trigger_type?.length ? b.trigger_type : undefined,
        from: parseTimeFilter("start_time", b.start_time),
        to: parseTimeFilter("end_time", b.end_time),
        visible_to: visibleTo(who),
        offset,
        limit,
      });
      const summaries = await summariesOf([...page.items], true);
      return {
        offset,
        limit,
        total: page.total,
        pipeline_runs: summaries.map((r, i) => ({ ...r, pipeline_name: page.items[i]!.pipeline_name })),
      };
    },
  );

  api.post(
    `${BASE}/status`,
    {
      schema: {
        tags: ["runs"],
        summary: "Latest run of several pipelines (BatchShowPipelinesLatestStatus)",
        description:
          "Body and answer are bare JSON arrays. Pipelines that never ran, or are not in this project, are left out.",
        params: projectParams,
        body: latestStatusBody,
        response: { 200: latestStatusSchema },
      },
    },
    async (req): Promise<readonly RunSummary[]> => {
      const { project_id } = req.params;
      const who = await authorizeProject(ctx, req, project_id, "read");
      const ids = [...new Set(req.body)];
      const found = (await store.latestRuns(ids)).filter((r) => r.project_id === project_id);
      // Pipelines the caller may not see are left out like those of other projects.
      const hidden = await hiddenFrom(
        ctx,
        who,
        found.map((r) => r.pipeline_id),
      );
      const runs = found.filter((r) => !hidden.has(r.pipeline_id));
      const order = new Map(ids.map((id, i) => [id, i]));
      runs.sort((a, b) => order.get(a.pipeline_id)! - order.get(b.pipeline_id)!);
      return summariesOf(runs, false);
    },
  );

  api.get(
    `${BASE}/:pipeline_id/pipeline-runs/:pipeline_run_id/steps/outputs`,
    {
      schema: {
        tags: ["runs"],
        summary:
          "Step outputs (ShowStepOutputs): what steps wrote to $PIPEWRIGHT_OUTPUT; without step_run_ids, every step of the run that left some",
        params: runParams,
        querystring: { type: "object", properties: { step_run_ids: { type: "string", maxLength: 4000 } } },
        response: { 200: stepOutputsSchema },
      },
    },
    async (req) => {
      await authorizePipeline(ctx, req, req.params.project_id, req.params.pipeline_id, "query");
      await loadRun(store, req.params);
      const ids = (req.query.step_run_ids ?? "").split(",").filter(Boolean);
      if (ids.length > LIMITS.stepRunIds) {
        throw invalid(
          "step_run_ids",
          `names ${ids.length} steps, more than the limit of ${LIMITS.stepRunIds}`,
        );
      }
      const steps: StepRunRecord[] = [];
      for (const [i, id] of ids.entries()) {
        if (!ID_RE.test(id)) throw invalid(`step_run_ids[${i}]`, "must be 32 letters or digits");
        const step = await store.getStep(id);
        if (step?.run_id !== req.params.pipeline_run_id)
          throw invalid(`step_run_ids[${i}]`, `no step ${id} in run ${req.params.pipeline_run_id}`);
        steps.push(step);
      }
      if (ids.length === 0) {
        const g = await store.getRunGraph(req.params.pipeline_run_id);
        steps.push(...(g?.steps ?? []).filter((s) => s.outputs.length > 0));
      }
      return {
        step_outputs: steps.map((s) => ({
          step_run_id: s.id,
          output_result: s.outputs.map((o) => ({ key: o.key, value: o.value })),
        })),
        current_system_time: clock.now(),
      };
    },
  );

  api.get(
    `${BASE}/:pipeline_id/pipeline-runs/:pipeline_run_id/events`,
    {
      schema: {
        tags: ["runs"],
        summary: "Live run detail (Server-Sent Events)",
        description:
          "text/event-stream: a `run` event whose data is the run detail (as GET …/pipeline-runs/detail answers it), " +
          "sent at once and again whenever the run changes; an `end` event after the run has finished.",
        params: runParams,
      },
    },
    async (req, reply) => {
      const { project_id, pipeline_id, pipeline_run_id } = req.params;
      await authorizePipeline(ctx, req, project_id, pipeline_id, "query");
      await loadRun(store, req.params);
      return streamSse(req, reply, { clock, closing: ctx.closing }, async (stream) => {
        const unsubscribe = engine.events.subscribe((id) => {
          if (id === pipeline_run_id) stream.wake();
        });
        try {
          let last = "";
          let built = 0;
          while (!stream.signal.aborted) {
            const started = performance.now();
            const g = await store.getRunGraph(pipeline_run_id);
            if (!g) return;
            const detail = await detailOf(g);
            // Only a change of the run itself is news; its clock fields change on every read.
            const { current_system_time: _t, pause_time: _p, ...stable } = detail;
            const body = JSON.stringify(stable);
            if (body !== last) {
              last = body;
              stream.send("run", detail);
            }
            built = performance.now() - started;
            if (TERMINAL_RUN_STATUSES.has(g.run.status)) return;
            // Woken by changes made in this process; the timeout catches those made elsewhere.
            await stream.wait(RUN_POLL_MS);
            // One event per burst of changes; a large run's detail costs more to build, so it is
            // sent at most as often as it takes to build, several times over.
            await clock.sleep(Math.max(RUN_DEBOUNCE_MS, 4 * built), stream.signal);
          }
        } finally {
          unsubscribe();
        }
      });
    },
  );
}
