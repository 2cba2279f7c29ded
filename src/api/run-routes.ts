// Running pipelines (spec §4.1–4.13, §4.20): batch runs and their start results, single runs,
// stop, retry, manual review, run detail and lists, latest status, step logs (paged and live).

import crypto from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { invalid, PipewrightError } from "../errors.js";
import { RUN_STATUSES } from "../pipeline/types.js";
import { RUN_SORT_KEYS, type RunGraph, type RunRecord, type RunSortKey } from "../store/run-records.js";
import type { PipelineRecord } from "../store/store.js";
import { authorizeProject, type RouteContext } from "./context.js";
import { loadPipeline } from "./pipeline-routes.js";
import { runDetailView, runSummaryView } from "./run-views.js";
import { ID_PATTERN, idSchema, pipelineParams, projectParams, runParams, stepParams } from "./schemas.js";

export const RUN_LIST_DEFAULT_LIMIT = 10;
export const RUN_LIST_MAX_LIMIT = 100;
export const LOG_MAX_LINES = 10_000;
const ID_RE = new RegExp(ID_PATTERN);

const successOut = { 200: { type: "object", properties: { success: { type: "boolean" } } } } as const;

const runBody = {
  type: ["object", "null"],
  properties: {
    description: { type: "string", maxLength: 1024 },
    variables: {
      type: "array",
      maxItems: 500,
      items: {
        type: "object",
        required: ["name", "value"],
        properties: {
          name: { type: "string", minLength: 1, maxLength: 128 },
          value: { type: "string", maxLength: 8192 },
        },
      },
    },
    choose_jobs: { type: "array", items: { type: "string" }, maxItems: 1000 },
    choose_stages: { type: "array", items: { type: "string" }, maxItems: 1000 },
    sources: {
      type: "array",
      maxItems: 100,
      items: {
        type: "object",
        required: ["type"],
        properties: {
          type: { type: "string", enum: ["code", "artifact"] },
          params: {
            type: "object",
            properties: {
              git_type: { type: "string", enum: ["codehub", "gitee", "github", "gitcode", "gitlab"] },
              git_url: { type: "string", maxLength: 2048 },
              alias: { type: "string", maxLength: 128 },
              default_branch: { type: "string", maxLength: 256 },
              build_params: {
                type: "object",
                properties: {
                  build_type: { type: "string", enum: ["branch", "tag"] },
                  target_branch: { type: "string" },
                  tag: { type: "string" },
                  event_type: {
                    type: "string",
                    enum: ["Manual", "Scheduler", "MR", "Push", "CreateTag", "Issue", "Note"],
                  },
                },
              },
            },
          },
        },
      },
    },
  },
} as const;

interface RunBody {
  description?: string;
  variables?: { name: string; value: string }[];
  choose_jobs?: string[];
  choose_stages?: string[];
  sources?: unknown[];
}

/** `start_time`-style filters: epoch milliseconds or `yyyy-MM-dd HH:mm:ss` (UTC). */
export function parseTimeFilter(field: string, v: unknown): number | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string") {
    if (/^\d+$/.test(v)) return Number(v);
    const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(v);
    if (m) {
      const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
      if (!Number.isNaN(t)) return t;
    }
  }
  throw invalid(field, "must be epoch milliseconds or 'yyyy-MM-dd HH:mm:ss'");
}

export function registerRunRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store, now } = ctx;
  const { scheduler, logs } = ctx.engine;
  const base = "/v5/:project_id/api/pipelines";

  async function loadRun(projectId: string, pipelineId: string, runId: string): Promise<RunRecord> {
    await loadPipeline(ctx, projectId, pipelineId);
    const run = await store.getRun(runId);
    if (!run || run.pipeline_id !== pipelineId) {
      throw new PipewrightError("RUN_NOT_FOUND", `Pipeline ${pipelineId} has no run ${runId}.`);
    }
    return run;
  }

  /** A run waiting for admission (concurrency QUEUE) shows its place in the pipeline's queue. */
  async function queueOf(g: RunGraph): Promise<{ position: number } | undefined> {
    if (g.run.admitted || g.run.status !== "QUEUED") return undefined;
    return { position: (await store.countWaitingBefore(g.run.pipeline_id, g.run.queue_seq)) + 1 };
  }

  const executorOf = async (req: FastifyRequest, projectId: string, permission: "read" | "operate") => {
    const p = await authorizeProject(ctx, req, projectId, permission);
    return { id: p.id, name: p.name };
  };

  // ---- batch runs ---------------------------------------------------------------------------

  app.post(
    `${base}/batch-runs`,
    {
      schema: {
        tags: ["runs"],
        summary: "Run pipelines in batch",
        description:
          "All-or-nothing: malformed, duplicate, unknown or foreign ids reject the whole request (all named) and create no run. " +
          "Every run is created in one transaction before the answer; `result` is in request order. " +
          "A disabled pipeline or one at its concurrency limit with exceed_action ABORT gets a run that ends at once " +
          "(see batch-runs/result). An `Idempotency-Key` header makes a retried request start nothing new.",
        params: projectParams,
        headers: {
          type: "object",
          properties: { "idempotency-key": { type: "string", minLength: 1, maxLength: 255 } },
        },
        body: {
          type: "object",
          required: ["pipeline_ids"],
          properties: { pipeline_ids: { type: "array", items: { type: "string" } } },
        },
        response: {
          200: {
            type: "object",
            properties: {
              result: {
                type: "array",
                items: {
                  type: "object",
                  properties: { pipeline_id: { type: "string" }, pipeline_run_id: { type: "string" } },
                },
              },
            },
          },
        },
      },
    },
    async (req, reply) => {
      const { project_id } = req.params as { project_id: string };
      const executor = await executorOf(req, project_id, "operate");
      const ids = (req.body as { pipeline_ids: string[] }).pipeline_ids;
      if (ids.length === 0 || ids.length > ctx.maxBatchSize) {
        throw new PipewrightError(
          "BATCH_TOO_LARGE",
          `pipeline_ids: must hold 1 to ${ctx.maxBatchSize} ids, got ${ids.length}.`,
        );
      }
      const malformed = ids.filter((id) => !ID_RE.test(id));
      const seen = new Set<string>();
      const duplicated = new Set<string>();
      for (const id of ids) (seen.has(id) ? duplicated : seen).add(id);
      const wellFormed = [...seen].filter((id) => ID_RE.test(id));
      const found = await store.getPipelineProjects(wellFormed);
      const unknown = wellFormed.filter((id) => !found.has(id));
      const foreign = wellFormed.filter((id) => found.has(id) && found.get(id) !== project_id);
      if (malformed.length + duplicated.size + unknown.length + foreign.length > 0) {
        const parts: string[] = [];
        if (malformed.length) parts.push(`malformed (need 32 letters/digits): ${malformed.join(", ")}`);
        if (duplicated.size) parts.push(`duplicated: ${[...duplicated].join(", ")}`);
        if (unknown.length) parts.push(`unknown: ${unknown.join(", ")}`);
        if (foreign.length) parts.push(`of another project: ${foreign.join(", ")}`);
        throw new PipewrightError(
          "BATCH_INVALID_IDS",
          `pipeline_ids rejected, no run was created; ${parts.join("; ")}`,
          {
            extra: {
              invalid_pipeline_ids: { malformed, duplicated: [...duplicated], unknown, foreign },
            },
          },
        );
      }
      const key = req.headers["idempotency-key"] as string | undefined;
      const items = ids.map((id) => ({ pipelineId: id, options: {} }));
      const answer = (runs: readonly RunRecord[]) => ({
        result: runs.map((r) => ({ pipeline_id: r.pipeline_id, pipeline_run_id: r.id })),
      });
      const respond = (runs: readonly RunRecord[]): string => JSON.stringify(answer(runs));
      const res = await scheduler.createRuns(
        items,
        executor,
        key === undefined
          ? undefined
          : {
              spec: {
                key,
                projectId: project_id,
                bodyHash: crypto.createHash("sha256").update(JSON.stringify(ids)).digest("hex"),
              },
              respond,
            },
      );
      if (res.replayed) {
        reply.header("Idempotent-Replayed", "true");
        return JSON.parse(res.response);
      }
      return answer(res.runs);
    },
  );

  app.post(
    `${base}/batch-runs/result`,
    {
      schema: {
        tags: ["runs"],
        summary: "Start results of batch-started runs",
        params: projectParams,
        body: {
          type: "object",
          required: ["query"],
          properties: {
            query: {
              type: "array",
              maxItems: 1000,
              items: {
                type: "object",
                required: ["pipeline_id", "pipeline_run_id"],
                properties: { pipeline_id: idSchema, pipeline_run_id: idSchema },
              },
            },
          },
        },
      },
    },
    async (req) => {
      const { project_id } = req.params as { project_id: string };
      await authorizeProject(ctx, req, project_id, "read");
      const query = (req.body as { query: { pipeline_id: string; pipeline_run_id: string }[] }).query;
      const runs = new Map((await store.getRuns(query.map((q) => q.pipeline_run_id))).map((r) => [r.id, r]));
      return {
        result: query.map((q) => {
          const r = runs.get(q.pipeline_run_id);
          if (!r || r.pipeline_id !== q.pipeline_id || r.project_id !== project_id) {
            return {
              ...q,
              pipeline_name: null,
              status: "START_FAILED",
              reason: "No such run of this pipeline in this project.",
            };
          }
          return { ...q, pipeline_name: r.pipeline_name, status: r.start_status, reason: r.start_reason };
        }),
      };
    },
  );

  // ---- single run ---------------------------------------------------------------------------

  app.post(
    `${base}/:pipeline_id/run`,
    {
      schema: {
        tags: ["runs"],
        summary: "Start a pipeline (RunPipeline)",
        description:
          "Only is_runtime variables may be overridden. Over a QUEUE concurrency limit the run is created and waits: " +
          "the answer is 409 DEVPIPE.00011169 with error.pipeline_run_id and error.queue_id, as in the cloud service.",
        params: pipelineParams,
        body: runBody,
        response: { 200: { type: "object", properties: { pipeline_run_id: { type: "string" } } } },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params as { project_id: string; pipeline_id: string };
      const executor = await executorOf(req, project_id, "operate");
      const p = await loadPipeline(ctx, project_id, pipeline_id);
      const body = (req.body ?? {}) as RunBody;
      const res = await scheduler.createRuns([{ pipelineId: p.id, options: body }], executor);
      if (res.replayed) throw new Error("unreachable: no idempotency key");
      const run = res.runs[0]!;
      return answerStarted(p, run);
    },
  );

  function answerStarted(p: PipelineRecord, run: RunRecord): { pipeline_run_id: string } {
    const extra = { pipeline_run_id: run.id, error: { pipeline_run_id: run.id, queue_id: run.id } };
    if (run.start_status === "START_FAILED") {
      if (p.banned)
        throw new PipewrightError("PIPELINE_BANNED", `${run.start_reason} (run ${run.id})`, { extra });
      throw new PipewrightError("RUN_ABORTED_BY_CONCURRENCY", `${run.start_reason} (run ${run.id})`, {
        extra,
      });
    }
    if (!run.admitted) {
      throw new PipewrightError(
        "RUN_QUEUED",
        `Concurrency limit of pipeline ${p.name} reached; run ${run.id} is queued.`,
        { extra },
      );
    }
    return { pipeline_run_id: run.id };
  }

  // ---- stop, retry, review, cancel-queuing ----------------------------------------------------

  app.post(
    `${base}/:pipeline_id/pipeline-runs/:pipeline_run_id/stop`,
    {
      schema: {
        tags: ["runs"],
        summary: "Stop a run (StopPipelineRun)",
        params: runParams,
        response: successOut,
      },
    },
    async (req) => {
      const { project_id, pipeline_id, pipeline_run_id } = req.params as Record<string, string>;
      const who = await executorOf(req, project_id!, "operate");
      await loadRun(project_id!, pipeline_id!, pipeline_run_id!);
      await scheduler.stopRun(pipeline_run_id!, who.name);
      return { success: true };
    },
  );

  app.post(
    `${base}/:pipeline_id/:pipeline_run_id/cancel-queuing/:queue_id`,
    {
      schema: {
        tags: ["runs"],
        summary: "Cancel a queued run",
        description: "queue_id is the run id (as given in DEVPIPE.00011169 answers and in run detail).",
        params: {
          ...runParams,
          required: [...runParams.required, "queue_id"],
          properties: { ...runParams.properties, queue_id: idSchema },
        },
        response: successOut,
      },
    },
    async (req) => {
      const { project_id, pipeline_id, pipeline_run_id, queue_id } = req.params as Record<string, string>;
      const who = await executorOf(req, project_id!, "operate");
      const run = await loadRun(project_id!, pipeline_id!, pipeline_run_id!);
      if (queue_id !== run.id || run.status !== "QUEUED") {
        throw new PipewrightError("RUN_NOT_STOPPABLE", `Run ${run.id} is not waiting in queue ${queue_id}.`);
      }
      await scheduler.stopRun(run.id, who.name);
      return { success: true };
    },
  );

  app.put(
    `${base}/:pipeline_id/pipeline-runs/:pipeline_run_id/retry`,
    {
      schema: {
        tags: ["runs"],
        summary: "Retry a failed or canceled run (RetryPipelineRun)",
        description:
          "Re-runs the failed, canceled and skipped jobs in the same run id; completed jobs keep their results.",
        params: runParams,
        response: successOut,
      },
    },
    async (req) => {
      const { project_id, pipeline_id, pipeline_run_id } = req.params as Record<string, string>;
      const who = await executorOf(req, project_id!, "operate");
      await loadRun(project_id!, pipeline_id!, pipeline_run_id!);
      await scheduler.retryRun(pipeline_run_id!, who.name);
      return { success: true };
    },
  );

  for (const decision of ["pass", "refuse"] as const) {
    app.post(
      `${base}/:pipeline_id/pipeline-runs/:pipeline_run_id/jobs/:job_run_id/steps/:step_run_id/${decision}`,
      {
        schema: {
          tags: ["runs"],
          summary:
            decision === "pass"
              ? "Pass a manual review (AcceptManualReview)"
              : "Refuse a manual review (RejectManualReview)",
          params: stepParams,
          response: successOut,
        },
      },
      async (req) => {
        const { project_id, pipeline_id, pipeline_run_id, job_run_id, step_run_id } = req.params as Record<
          string,
          string
        >;
        const who = await executorOf(req, project_id!, "operate");
        await loadRun(project_id!, pipeline_id!, pipeline_run_id!);
        await scheduler.review(pipeline_run_id!, job_run_id!, step_run_id!, decision, who);
        return { success: true };
      },
    );
  }

  // ---- status ---------------------------------------------------------------------------------

  app.get(
    `${base}/:pipeline_id/pipeline-runs/detail`,
    {
      schema: {
        tags: ["runs"],
        summary: "Run detail (ShowPipelineRunDetail); the latest run without pipeline_run_id",
        params: pipelineParams,
        querystring: { type: "object", properties: { pipeline_run_id: idSchema } },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params as { project_id: string; pipeline_id: string };
      await authorizeProject(ctx, req, project_id, "read");
      await loadPipeline(ctx, project_id, pipeline_id);
      const runId = (req.query as { pipeline_run_id?: string }).pipeline_run_id;
      let id = runId;
      if (id === undefined) {
        const latest = await store.getLatestRun(pipeline_id);
        if (!latest) throw new PipewrightError("NEVER_RUN", `Pipeline ${pipeline_id} has not run yet.`);
        id = latest.id;
      }
      const g = await store.getRunGraph(id);
      if (!g || g.run.pipeline_id !== pipeline_id)
        throw new PipewrightError("RUN_NOT_FOUND", `Pipeline ${pipeline_id} has no run ${id}.`);
      return runDetailView(g, now(), await queueOf(g));
    },
  );

  app.post(
    `${base}/:pipeline_id/pipeline-runs/list`,
    {
      schema: {
        tags: ["runs"],
        summary: "List runs of a pipeline (ListPipelineRuns)",
        description: `offset is a row offset; limit defaults to ${RUN_LIST_DEFAULT_LIMIT}, at most ${RUN_LIST_MAX_LIMIT}. Newest first by default.`,
        params: pipelineParams,
        body: {
          type: ["object", "null"],
          properties: {
            status: { type: "array", items: { type: "string", enum: RUN_STATUSES } },
            start_time: { type: ["string", "integer"] },
            end_time: { type: ["string", "integer"] },
            update_time: { type: ["string", "integer"] },
            offset: { type: "integer", minimum: 0 },
            limit: { type: "integer", minimum: 0, maximum: RUN_LIST_MAX_LIMIT },
            sort_key: { type: "string", enum: RUN_SORT_KEYS },
            sort_dir: { type: "string", enum: ["asc", "desc"] },
          },
        },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params as { project_id: string; pipeline_id: string };
      await authorizeProject(ctx, req, project_id, "read");
      await loadPipeline(ctx, project_id, pipeline_id);
      const b = (req.body ?? {}) as {
        status?: string[];
        start_time?: unknown;
        end_time?: unknown;
        update_time?: unknown;
        offset?: number;
        limit?: number;
        sort_key?: RunSortKey;
        sort_dir?: "asc" | "desc";
      };
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
      const stages = await store.getStagesOfRuns(page.items.map((r) => r.id));
      return {
        offset,
        limit,
        total: page.total,
        pipeline_runs: page.items.map((r) =>
          runSummaryView(
            r,
            stages.filter((s) => s.run_id === r.id),
            true,
          ),
        ),
      };
    },
  );

  app.post(
    `${base}/status`,
    {
      schema: {
        tags: ["runs"],
        summary: "Latest run of several pipelines (BatchShowPipelinesLatestStatus)",
        description:
          "Body and answer are bare JSON arrays. Pipelines that never ran, or are not in this project, are left out.",
        params: projectParams,
        body: { type: "array", maxItems: 1000, items: idSchema },
      },
    },
    async (req) => {
      const { project_id } = req.params as { project_id: string };
      await authorizeProject(ctx, req, project_id, "read");
      const ids = [...new Set(req.body as string[])];
      const runs = (await store.latestRuns(ids)).filter((r) => r.project_id === project_id);
      const stages = await store.getStagesOfRuns(runs.map((r) => r.id));
      const order = new Map(ids.map((id, i) => [id, i]));
      runs.sort((a, b) => order.get(a.pipeline_id)! - order.get(b.pipeline_id)!);
      return runs.map((r) =>
        runSummaryView(
          r,
          stages.filter((s) => s.run_id === r.id),
          false,
        ),
      );
    },
  );

  app.get(
    `${base}/:pipeline_id/pipeline-runs/:pipeline_run_id/steps/outputs`,
    {
      schema: {
        tags: ["runs"],
        summary: "Step outputs (ShowStepOutputs); empty until steps can declare outputs",
        params: runParams,
        querystring: { type: "object", properties: { step_run_ids: { type: "string" } } },
      },
    },
    async (req) => {
      const { project_id, pipeline_id, pipeline_run_id } = req.params as Record<string, string>;
      await authorizeProject(ctx, req, project_id!, "read");
      await loadRun(project_id!, pipeline_id!, pipeline_run_id!);
      const ids = ((req.query as { step_run_ids?: string }).step_run_ids ?? "").split(",").filter(Boolean);
      return {
        step_outputs: ids.map((id) => ({ step_run_id: id, output_result: [] })),
        current_system_time: now(),
      };
    },
  );

  app.get(
    `${base}/:pipeline_id/pipeline-runs/:pipeline_run_id/artifacts`,
    {
      schema: {
        tags: ["runs"],
        summary: "Run artifacts (ShowPipelineArtifacts); empty until artifacts are supported",
        params: runParams,
      },
    },
    async (req) => {
      const { project_id, pipeline_id, pipeline_run_id } = req.params as Record<string, string>;
      await authorizeProject(ctx, req, project_id!, "read");
      await loadRun(project_id!, pipeline_id!, pipeline_run_id!);
      return { artifacts: [] };
    },
  );

  app.get(
    `${base}/:pipeline_id/pipeline-runs/:pipeline_run_id/events`,
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
      const { project_id, pipeline_id, pipeline_run_id } = req.params as Record<string, string>;
      await authorizeProject(ctx, req, project_id!, "read");
      await loadRun(project_id!, pipeline_id!, pipeline_run_id!);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache",
        Connection: "keep-alive",
        "X-Accel-Buffering": "no",
        "X-Request-Id": req.id,
      });
      res.flushHeaders();
      let closed = false;
      let wake: (() => void) | undefined;
      const onRun = (id: string): void => {
        if (id === pipeline_run_id) wake?.();
      };
      scheduler.events.on("run", onRun);
      res.once("close", () => {
        closed = true;
        scheduler.events.off("run", onRun);
        wake?.();
      });
      let last = "";
      try {
        while (!closed) {
          const g = await store.getRunGraph(pipeline_run_id!);
          if (!g) break;
          const queue = await queueOf(g);
          const { current_system_time: _t, pause_time: _p, ...stable } = runDetailView(g, now(), queue);
          const body = JSON.stringify(stable);
          if (body !== last) {
            last = body;
            res.write(`event: run\ndata: ${JSON.stringify(runDetailView(g, now(), queue))}\n\n`);
          }
          if (["COMPLETED", "FAILED", "CANCELED", "IGNORED"].includes(g.run.status)) break;
          // Woken by changes made in this process; the timeout catches those made elsewhere.
          await new Promise<void>((resolve) => {
            const t = setTimeout(done, 1000);
            function done(): void {
              clearTimeout(t);
              wake = undefined;
              resolve();
            }
            wake = done;
          });
          // Changes come in bursts (a step ends, the job ends, the next starts): send one event.
          await new Promise((r) => setTimeout(r, 50));
        }
      } catch (err) {
        req.log.error({ err }, "run event stream failed");
      }
      scheduler.events.off("run", onRun);
      if (!closed) {
        res.write("event: end\ndata: {}\n\n");
        res.end();
      }
      return reply;
    },
  );

  // ---- logs -----------------------------------------------------------------------------------

  async function loadStep(req: FastifyRequest) {
    const { project_id, pipeline_id, pipeline_run_id, job_run_id, step_run_id } = req.params as Record<
      string,
      string
    >;
    await authorizeProject(ctx, req, project_id!, "read");
    await loadRun(project_id!, pipeline_id!, pipeline_run_id!);
    const g = await store.getRunGraph(pipeline_run_id!);
    const step = g?.steps.find((s) => s.id === step_run_id && s.job_id === job_run_id);
    if (!step)
      throw new PipewrightError(
        "JOB_NOT_FOUND",
        `No step ${step_run_id} of job ${job_run_id} in run ${pipeline_run_id}.`,
      );
    return step;
  }

  app.post(
    `${base}/:pipeline_id/pipeline-runs/:pipeline_run_id/jobs/:job_run_id/steps/:step_run_id/logs`,
    {
      schema: {
        tags: ["logs"],
        summary: "Step log (ShowPipelineLog)",
        description:
          "Offsets are byte offsets into the step's log, returned as strings. sort=asc: up to `limit` lines from start_offset; " +
          "feed end_offset back as the next start_offset. sort=desc: the last `limit` lines before end_offset (0 or absent = the end). " +
          "has_more is true while more text exists in that direction or the step is still running.",
        params: stepParams,
        body: {
          type: "object",
          required: ["limit", "sort"],
          properties: {
            start_offset: { type: ["integer", "string"] },
            end_offset: { type: ["integer", "string"] },
            limit: { type: "integer", minimum: 1, maximum: LOG_MAX_LINES },
            sort: { type: "string", enum: ["asc", "desc"] },
          },
        },
      },
    },
    async (req) => {
      const step = await loadStep(req);
      const b = req.body as {
        start_offset?: number | string;
        end_offset?: number | string;
        limit: number;
        sort: "asc" | "desc";
      };
      const start = offsetOf("start_offset", b.start_offset);
      const endReq = offsetOf("end_offset", b.end_offset);
      await logs.flush(step.id);
      const running = !["COMPLETED", "FAILED", "CANCELED", "SKIPPED", "UNSELECTED", "IGNORED"].includes(
        step.status,
      );
      if (b.sort === "asc") {
        const chunks = await store.readLog(step.id, start);
        const text = joinFrom(chunks, start);
        const cut = nthLineEnd(text, b.limit);
        const out = text.slice(0, cut);
        const end = start + Buffer.byteLength(out);
        return {
          step_run_id: step.id,
          start_offset: String(start),
          end_offset: String(end),
          has_more: cut < text.length || running,
          log: out,
        };
      }
      const chunks = await store.readLog(step.id, 0, endReq === 0 ? undefined : endReq);
      let text = joinFrom(chunks, 0);
      if (endReq > 0) text = Buffer.from(text).subarray(0, endReq).toString();
      const from = lastLinesStart(text, b.limit);
      const out = text.slice(from);
      const startOut = Buffer.byteLength(text.slice(0, from));
      return {
        step_run_id: step.id,
        start_offset: String(startOut),
        end_offset: String(startOut + Buffer.byteLength(out)),
        has_more: startOut > 0,
        log: out,
      };
    },
  );

  app.get(
    `${base}/:pipeline_id/pipeline-runs/:pipeline_run_id/jobs/:job_run_id/steps/:step_run_id/logs/stream`,
    {
      schema: {
        tags: ["logs"],
        summary: "Live step log (Server-Sent Events)",
        description:
          "text/event-stream: `log` events with data `{offset, text}` from ?offset (default 0), first what is stored, then live; " +
          "an `end` event when the step has finished.",
        params: stepParams,
        querystring: { type: "object", properties: { offset: { type: "string", pattern: "^\\d+$" } } },
      },
    },
    async (req, reply) => {
      const step = await loadStep(req);
      const from = Number((req.query as { offset?: string }).offset ?? "0");
      streamLog(req, reply, step.id, from);
      return reply;
    },
  );

  /**
   * Server-Sent Events of one step's log. Text this process sees (its own runner, or an agent
   * reporting here) is sent as it arrives; the store is polled as well, so the stream works
   * whichever replica the job reports to. Ends when the step has ended and all is sent.
   */
  function streamLog(req: FastifyRequest, reply: FastifyReply, stepId: string, from: number): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
      "X-Request-Id": req.id,
    });
    // Headers go out now, not with the first event: a quiet step would leave clients without an
    // answer (and EventSource without `open`) until it printed something or the keep-alive.
    res.flushHeaders();
    let sentTo = from;
    let closed = false;
    let wake: (() => void) | undefined;
    const send = (offset: number, text: string): void => {
      // Only contiguous text: what overlaps is trimmed, what would leave a gap waits for the store.
      const buf = Buffer.from(text);
      if (offset > sentTo) {
        wake?.();
        return;
      }
      const skip = sentTo - offset;
      if (skip >= buf.length) return;
      const part = buf.subarray(skip).toString();
      res.write(`event: log\ndata: ${JSON.stringify({ offset: sentTo, text: part })}\n\n`);
      sentTo = offset + buf.length;
    };
    const unsubscribe = logs.subscribe(
      stepId,
      (e) => send(e.offset, e.text),
      () => wake?.(),
    );
    const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 15000);
    const stopStream = (): void => {
      closed = true;
      unsubscribe();
      clearInterval(keepAlive);
      wake?.();
    };
    res.once("close", stopStream);
    const pause = (ms: number): Promise<void> =>
      new Promise((resolve) => {
        const t = setTimeout(done, ms);
        function done(): void {
          clearTimeout(t);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    void (async () => {
      while (!closed) {
        await logs.flush(stepId);
        const step = await store.getStep(stepId);
        const chunks = await store.readLog(stepId, sentTo);
        if (chunks.length > 0) send(sentTo, joinFrom(chunks, sentTo));
        // A step sent back to the queue (its runner was lost) starts a new log: this one is over.
        const restarted = step !== undefined && step.log_bytes < sentTo && step.status === "INIT";
        if (
          !step ||
          restarted ||
          (TERMINAL_STEP.has(step.status) && !logs.isOpen(stepId) && sentTo >= step.log_bytes)
        )
          break;
        await pause(POLL_MS);
      }
      if (!closed) {
        res.write("event: end\ndata: {}\n\n");
        res.end();
      }
      stopStream();
    })().catch((err: unknown) => {
      req.log.error({ err }, "log stream failed");
      stopStream();
      res.end();
    });
  }
}

/** Steps in these states write no more log. */
const TERMINAL_STEP: ReadonlySet<string> = new Set([
  "COMPLETED",
  "FAILED",
  "CANCELED",
  "SKIPPED",
  "UNSELECTED",
  "IGNORED",
]);
/** How often a live log stream looks at the store for text this process did not see. */
const POLL_MS = 250;

function offsetOf(field: string, v: number | string | undefined): number {
  if (v === undefined || v === "") return 0;
  const n = typeof v === "number" ? v : /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(field, "must be a non-negative integer");
  return n;
}

/** The stored text from byte offset `from` on, given chunks that cover it. */
function joinFrom(chunks: readonly { start_offset: number; text: string }[], from: number): string {
  if (chunks.length === 0) return "";
  const first = chunks[0]!;
  const all = Buffer.from(chunks.map((c) => c.text).join(""));
  return all.subarray(Math.max(0, from - first.start_offset)).toString();
}

/** Index just after the n-th newline (or the end). */
function nthLineEnd(text: string, n: number): number {
  let i = -1;
  for (let k = 0; k < n; k++) {
    i = text.indexOf("\n", i + 1);
    if (i < 0) return text.length;
  }
  return i + 1;
}

/** Index where the last n lines of text begin. */
function lastLinesStart(text: string, n: number): number {
  let i = text.endsWith("\n") ? text.length - 1 : text.length;
  for (let k = 0; k < n; k++) {
    i = text.lastIndexOf("\n", i - 1);
    if (i < 0) return 0;
  }
  return i + 1;
}
