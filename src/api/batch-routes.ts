// Batch runs (spec §4.1, §4.2): start many pipelines in one call, and read how each start went.
// The contract itself (all-or-nothing ids, one transaction, idempotency) is the engine's.

import type { FastifyInstance } from "fastify";
import { invalid } from "../errors.js";
import { batchResultSchema, batchRunSchema } from "../wire/schemas.js";
import type { BatchResultAnswer, BatchRunAnswer } from "../wire/types.js";
import { authorize } from "./auth.js";
import { authorizeProject, principalOf, type RouteContext } from "./context.js";
import { loadGroup } from "./group-routes.js";
import { hiddenFrom, requireOperation } from "./pipeline-access.js";
import { batchResultBody, batchRunBody, idempotencyHeaders } from "./run-schemas.js";
import { idSchema, projectParams } from "./schemas.js";
import { typed } from "./type-provider.js";

const BASE = "/v5/:project_id/api/pipelines";
/** The most --max-batch-size may be (config.ts): a group is read up to one past it. */
const BATCH_SIZE_CAP = 100_000;

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
          "(see batch-runs/result). An `Idempotency-Key` header makes a retried request start nothing new. " +
          "Ours: `group_id` instead of `pipeline_ids` starts every pipeline of a pipeline group and of the groups below it.",
        params: projectParams,
        headers: idempotencyHeaders,
        // pipeline_ids, or (ours) group_id: one of the two, checked below.
        body: {
          ...batchRunBody,
          required: [],
          properties: { ...batchRunBody.properties, group_id: idSchema },
        },
        response: { 200: batchRunSchema },
      },
    },
    async (req, reply): Promise<BatchRunAnswer> => {
      const { project_id } = req.params;
      const who = await principalOf(ctx, req);
      authorize(who, project_id, "read");
      const { pipeline_ids, group_id } = req.body;
      if (pipeline_ids !== undefined && group_id !== undefined)
        throw invalid("group_id", "names the pipelines itself: send pipeline_ids or group_id, not both");
      if (pipeline_ids === undefined && group_id === undefined)
        throw invalid("pipeline_ids", "is required (or group_id, to run a pipeline group)");
      const group =
        group_id === undefined ? undefined : await loadGroup(store, project_id, group_id, "group_id");
      // Every pipeline of the group and of the groups below it, by name; a disabled one too,
      // so its run says it is banned as in any batch. Past the batch limit it is refused whole.
      const pipelineIds = group
        ? await store.pipelineIdsInGroup(project_id, group.path_id, BATCH_SIZE_CAP + 1)
        : pipeline_ids!;
      // Unknown and foreign ids are the engine's to reject (all named); the rest must be runnable.
      // An admin may run all of them: no lookup on the batch path for it.
      if (!who.superuser && who.role !== "admin") {
        const owners = await store.getPipelineProjects(pipelineIds);
        const here = [...new Set(pipelineIds)].filter((id) => owners.get(id) === project_id);
        await requireOperation(
          ctx,
          who,
          here.map((id) => ({ id })),
          "execute",
        );
      }
      const res = await engine.batchRun({
        projectId: project_id,
        // Every pipeline of the group and of the groups below it, by name; a disabled one too,
        // so its run says it is banned as in any batch. Past the batch limit it is refused whole.
        pipelineIds,
        group,
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
