// Batch runs (spec §4.1, §4.2): start many pipelines in one call, and read how each start went.
// The contract itself (all-or-nothing ids, one transaction, idempotency) is the engine's.

import type { FastifyInstance } from "fastify";
import { batchResultSchema, batchRunSchema } from "../wire/schemas.js";
import type { BatchResultAnswer, BatchRunAnswer } from "../wire/types.js";
import { authorize } from "./auth.js";
import { authorizeProject, principalOf, type RouteContext } from "./context.js";
import { hiddenFrom, requireOperation } from "./pipeline-access.js";
import { batchResultBody, batchRunBody, idempotencyHeaders } from "./run-schemas.js";
import { projectParams } from "./schemas.js";
import { typed } from "./type-provider.js";

const BASE = "/v5/:project_id/api/pipelines";

export function registerBatchRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store, engine } = ctx;
  const api = typed(app);

  api.post(
    `${BASE}/batch-runs`,
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
        headers: idempotencyHeaders,
        body: batchRunBody,
        response: { 200: batchRunSchema },
      },
    },
    async (req, reply): Promise<BatchRunAnswer> => {
      const { project_id } = req.params;
      const who = await principalOf(ctx, req);
      authorize(who, project_id, "read");
      // Unknown and foreign ids are the engine's to reject (all named); the rest must be runnable.
      const owners = await store.getPipelineProjects(req.body.pipeline_ids);
      const here = [...new Set(req.body.pipeline_ids)].filter((id) => owners.get(id) === project_id);
      await requireOperation(
        ctx,
        who,
        here.map((id) => ({ id })),
        "execute",
      );
      const res = await engine.batchRun({
        projectId: project_id,
        pipelineIds: req.body.pipeline_ids,
        executor: { id: who.id, name: who.name },
        idempotencyKey: req.headers["idempotency-key"],
      });
      if (res.replayed) reply.header("Idempotent-Replayed", "true");
      return { result: res.runs.map((r) => ({ pipeline_id: r.pipelineId, pipeline_run_id: r.runId })) };
    },
  );

  api.post(
    `${BASE}/batch-runs/result`,
    {
      schema: {
        tags: ["runs"],
        summary: "Start results of batch-started runs",
        params: projectParams,
        body: batchResultBody,
        response: { 200: batchResultSchema },
      },
    },
    async (req): Promise<BatchResultAnswer> => {
      const { project_id } = req.params;
      const who = await authorizeProject(ctx, req, project_id, "read");
      const query = req.body.query;
      const runs = new Map((await store.getRuns(query.map((q) => q.pipeline_run_id))).map((r) => [r.id, r]));
      // A run of a pipeline the caller may not see is answered like a missing one.
      const hidden = await hiddenFrom(ctx, who, [...new Set([...runs.values()].map((r) => r.pipeline_id))]);
      return {
        result: query.map((q) => {
          const r = runs.get(q.pipeline_run_id);
          const ids = { pipeline_id: q.pipeline_id, pipeline_run_id: q.pipeline_run_id };
          if (
            !r ||
            r.pipeline_id !== q.pipeline_id ||
            r.project_id !== project_id ||
            hidden.has(r.pipeline_id)
          ) {
            return {
              ...ids,
              pipeline_name: null,
              status: "START_FAILED",
              reason: "No such run of this pipeline in this project.",
            };
          }
          return { ...ids, pipeline_name: r.pipeline_name, status: r.start_status, reason: r.start_reason };
        }),
      };
    },
  );
}
