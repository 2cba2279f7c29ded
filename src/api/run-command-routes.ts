// What callers do to runs (spec §4.3–4.7): start one pipeline, stop, cancel a queued run, retry,
// pass or refuse a manual review. Each route checks the caller and the path, then calls the
// engine's use case.

import type { FastifyInstance } from "fastify";
import { PipewrightError } from "../errors.js";
import { LIMITS } from "../pipeline/limits.js";
import type { RunRecord } from "../store/run-records.js";
import type { PipelineRecord } from "../store/store.js";
import { runStartedSchema, successSchema } from "../wire/schemas.js";
import { RUN_QUEUED_CODE, type RunStarted } from "../wire/types.js";
import type { RouteContext } from "./context.js";
import { loadPipeline, loadRun } from "./lookups.js";
import { authorizePipeline } from "./pipeline-access.js";
import { runBody } from "./run-schemas.js";
import { idSchema, pipelineParams, runParams, stepParams } from "./schemas.js";
import { typed } from "./type-provider.js";

const BASE = "/v5/:project_id/api/pipelines";
/** A run's number as a path segment. */
const RUN_NUMBER = { type: "string", pattern: "^[1-9]\\d{0,14}$" } as const;
const success = { 200: successSchema } as const;

/**
 * How RunPipeline answers a run that did not start at once, as the cloud service does: an error
 * that still carries the run's id (a disabled pipeline, an ABORT limit, or a queued run).
 */
function answerStarted(p: PipelineRecord, run: RunRecord): RunStarted {
  const extra = { pipeline_run_id: run.id, error: { pipeline_run_id: run.id, queue_id: run.id } };
  if (run.start_status === "START_FAILED") {
    if (p.banned)
      throw new PipewrightError("PIPELINE_BANNED", `${run.start_reason} (run ${run.id})`, { extra });
    throw new PipewrightError("RUN_ABORTED_BY_CONCURRENCY", `${run.start_reason} (run ${run.id})`, { extra });
  }
  if (!run.admitted) {
    // 200, as the cloud answers it: clients (the SDKs, Terraform) read the run id of the body.
    return {
      pipeline_run_id: run.id,
      error_code: RUN_QUEUED_CODE,
      error_msg: `Concurrency limit of pipeline ${p.name} reached; run ${run.id} is queued.`,
      error: { pipeline_run_id: run.id, queue_id: run.id },
    };
  }
  return { pipeline_run_id: run.id };
}

export function registerRunCommandRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store, engine } = ctx;
  const api = typed(app);

  api.post(
    `${BASE}/:pipeline_id/run`,
    {
      schema: {
        tags: ["runs"],
        summary: "Start a pipeline (RunPipeline)",
        description:
          "Only is_runtime variables may be overridden. Over a QUEUE concurrency limit the run is created and waits: " +
          "the answer is 200 with the run's pipeline_run_id and CodeArts's queuing code: error_code DEVPIPE.00011169, " +
          "error.pipeline_run_id and error.queue_id, as in the cloud service.",
        params: pipelineParams,
        body: runBody,
        response: { 200: runStartedSchema },
      },
    },
    async (req): Promise<RunStarted> => {
      const { project_id, pipeline_id } = req.params;
      const { who } = await authorizePipeline(ctx, req, project_id, pipeline_id, "execute");
      const p = await loadPipeline(store, project_id, pipeline_id);
      const run = await engine.runOne({
        pipelineId: p.id,
        options: req.body ?? {},
        executor: { id: who.id, name: who.name },
      });
      return answerStarted(p, run);
    },
  );

  api.post(
    `${BASE}/:pipeline_id/pipeline-runs/:pipeline_run_id/stop`,
    {
      schema: {
        tags: ["runs"],
        summary: "Stop a run (StopPipelineRun)",
        params: runParams,
        response: success,
      },
    },
    async (req) => {
      const { who } = await authorizePipeline(
        ctx,
        req,
        req.params.project_id,
        req.params.pipeline_id,
        "execute",
      );
      await loadRun(store, req.params);
      await engine.stopRun(req.params.pipeline_run_id, who.name);
      return { success: true };
    },
  );

  api.post(
    `${BASE}/:pipeline_id/:pipeline_run_id/cancel-queuing/:queue_id`,
    {
      schema: {
        tags: ["runs"],
        summary: "Cancel a queued run",
        description:
          "queue_id is the run id (as a queued start's error.queue_id gives it) or the id of its queuing record " +
          "(GET …/queued-pipeline: the run's number).",
        params: {
          ...runParams,
          required: [...runParams.required, "queue_id"],
          properties: { ...runParams.properties, queue_id: { anyOf: [idSchema, RUN_NUMBER] } },
        },
        response: success,
      },
    },
    async (req) => {
      const { who } = await authorizePipeline(
        ctx,
        req,
        req.params.project_id,
        req.params.pipeline_id,
        "execute",
      );
      const run = await loadRun(store, req.params);
      const q = req.params.queue_id;
      if ((q !== run.id && q !== String(run.run_number)) || run.status !== "QUEUED") {
        throw new PipewrightError(
          "RUN_NOT_STOPPABLE",
          `Run ${run.id} is not waiting in queue ${req.params.queue_id}.`,
        );
      }
      await engine.stopRun(run.id, who.name);
      return { success: true };
    },
  );

  api.put(
    `${BASE}/:pipeline_id/pipeline-runs/:pipeline_run_id/retry`,
    {
      schema: {
        tags: ["runs"],
        summary: "Retry a failed or canceled run (RetryPipelineRun)",
        description:
          "Re-runs the failed, canceled and skipped jobs in the same run id; completed jobs keep their results.",
        params: runParams,
        response: success,
      },
    },
    async (req) => {
      const { who } = await authorizePipeline(
        ctx,
        req,
        req.params.project_id,
        req.params.pipeline_id,
        "execute",
      );
      await loadRun(store, req.params);
      await engine.retryRun(req.params.pipeline_run_id, who.name);
      return { success: true };
    },
  );

  for (const decision of ["pass", "refuse"] as const) {
    api.post(
      `${BASE}/:pipeline_id/pipeline-runs/:pipeline_run_id/jobs/:job_run_id/steps/:step_run_id/${decision}`,
      {
        schema: {
          tags: ["runs"],
          summary:
            decision === "pass"
              ? "Pass a manual review (AcceptManualReview)"
              : "Refuse a manual review (RejectManualReview)",
          params: stepParams,
          // CodeArts's reviewer remark; it goes into the step's message.
          body: {
            type: ["object", "null"],
            properties: { approval_description: { type: "string", maxLength: LIMITS.descriptionLength } },
          },
          response: success,
        },
      },
      async (req) => {
        const { who } = await authorizePipeline(
          ctx,
          req,
          req.params.project_id,
          req.params.pipeline_id,
          "execute",
        );
        await loadRun(store, req.params);
        await engine.review({
          runId: req.params.pipeline_run_id,
          jobRunId: req.params.job_run_id,
          stepRunId: req.params.step_run_id,
          decision,
          who: { id: who.id, name: who.name },
          description: req.body?.approval_description,
        });
        return { success: true };
      },
    );
  }
}
