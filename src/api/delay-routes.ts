// What callers do to a step the server holds (spec §4.7 and CodeArts's pipeline-action URLs, as
// the Terraform provider's actionHttpUrl lists them): a delayed execution's delay-pass,
// delay-refuse and delay (an hour more), a suspension's resume, and the manual-review form that
// names only the step (steps/{step_run_id}/manual/pass|refuse). Each needs execute permission on
// the pipeline; a review that names approvers also needs the caller to be one of them.

import type { FastifyInstance } from "fastify";
import { DELAY_ACTIONS } from "../engine/delays.js";
import { LIMITS } from "../pipeline/limits.js";
import { successSchema } from "../wire/schemas.js";
import type { RouteContext } from "./context.js";
import { loadRun } from "./lookups.js";
import { authorizePipeline } from "./pipeline-access.js";
import { idSchema, stepParams } from "./schemas.js";
import { typed } from "./type-provider.js";

const BASE = "/v5/:project_id/api/pipelines";
const SUMMARY: Record<(typeof DELAY_ACTIONS)[number], string> = {
  "delay-pass": "End a delayed execution now and go on (AcceptDelayJob)",
  "delay-refuse": "Refuse a delayed execution: the step and its job fail",
  delay: "Extend a delayed execution by an hour (ContinueDelayJob), at most delayExtensions times",
  resume: "Resume a suspended run at its suspension step (ResumePipeline)",
};
/** CodeArts documents an empty object as the body of these calls; nothing in it is read. */
const anyBody = { type: ["object", "null"] } as const;

export function registerDelayRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store, engine } = ctx;
  const api = typed(app);

  for (const action of DELAY_ACTIONS) {
    api.post(
      `${BASE}/:pipeline_id/pipeline-runs/:pipeline_run_id/jobs/:job_run_id/steps/:step_run_id/${action}`,
      {
        schema: {
          tags: ["runs"],
          summary: SUMMARY[action],
          params: stepParams,
          body: anyBody,
          response: { 200: successSchema },
        },
      },
      async (req) => {
        const { project_id, pipeline_id } = req.params;
        const { who } = await authorizePipeline(ctx, req, project_id, pipeline_id, "execute");
        await loadRun(store, req.params);
        await engine.delayAction({
          runId: req.params.pipeline_run_id,
          jobRunId: req.params.job_run_id,
          stepRunId: req.params.step_run_id,
          action,
          who: { id: who.id, name: who.name },
        });
        return { success: true };
      },
    );
  }

  for (const decision of ["pass", "refuse"] as const) {
    api.post(
      `${BASE}/:pipeline_id/pipeline-runs/:pipeline_run_id/steps/:step_run_id/manual/${decision}`,
      {
        schema: {
          tags: ["runs"],
          summary:
            decision === "pass" ? "Pass a manual review by its step" : "Refuse a manual review by its step",
          params: {
            type: "object",
            required: ["project_id", "pipeline_id", "pipeline_run_id", "step_run_id"],
            properties: {
              project_id: idSchema,
              pipeline_id: idSchema,
              pipeline_run_id: idSchema,
              step_run_id: idSchema,
            },
          },
          body: {
            type: ["object", "null"],
            properties: { approval_description: { type: "string", maxLength: LIMITS.descriptionLength } },
          },
          response: { 200: successSchema },
        },
      },
      async (req) => {
        const { project_id, pipeline_id } = req.params;
        const { who } = await authorizePipeline(ctx, req, project_id, pipeline_id, "execute");
        await loadRun(store, req.params);
        await engine.review({
          runId: req.params.pipeline_run_id,
          jobRunId: null,
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
