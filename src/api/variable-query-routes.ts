// The variable queries of a pipeline and of a run, as CodeArts has them: the runtime variables a
// run may be given (ListRuntimeVars), the system variables steps get (ListPipelineSystemVars, from
// the one list the engine and the runner set them from), and the variables a run ran with
// (ListRunVariables: mode 0 the pipeline's, 1 the system's, 2 the parameter groups'). Secret
// values are the mask everywhere.

import type { FastifyInstance } from "fastify";
import { SYSTEM_VARIABLES, type SystemValueSource } from "../pipeline/system-variables.js";
import type { RunVariable } from "../pipeline/variable-groups.js";
import { SECRET_MASK } from "../pipeline/vocabulary.js";
import { variableSchema } from "../wire/schemas.js";
import { type RunVariableView, runVariableSchema, systemVariableSchema } from "../wire/variable-groups.js";
import type { RouteContext } from "./context.js";
import { loadRun } from "./lookups.js";
import { authorizePipeline } from "./pipeline-access.js";
import { maskVariables } from "./pipeline-views.js";
import { pipelineParams, runParams } from "./schemas.js";
import { typed } from "./type-provider.js";

const count = { type: "string", pattern: "^\\d{1,9}$" } as const;
/** list-runtime-vars pages: the default and the most per page. */
const RUNTIME_VARS_DEFAULT_LIMIT = 10;
const RUNTIME_VARS_MAX_LIMIT = 100;

/** ListRunVariables' modes. */
const RUN_VARIABLE_MODES = { custom: "0", system: "1", groups: "2" } as const;

function runVariableView(v: RunVariable, i: number): RunVariableView {
  const value = v.is_secret ? SECRET_MASK : v.value;
  return {
    name: v.name,
    sequence: v.sequence ?? i + 1,
    type: v.type ?? "string",
    value,
    is_secret: v.is_secret,
    description: v.description ?? "",
    is_runtime: v.is_runtime ?? false,
    is_reset: false,
    // The value this run used is the latest one as of this run.
    latest_value: value,
    limits: [...(v.limits ?? [])],
    // Pipewright's variables always have a value to fall back on, so a run never needs one given.
    required: false,
    variableGroupName: v.variable_group_name ?? null,
  };
}

export function registerVariableQueryRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;
  const api = typed(app);
  const base = "/v5/:project_id/api/pipelines/:pipeline_id";

  api.get(
    `${base}/list-runtime-vars`,
    {
      schema: {
        tags: ["variables"],
        summary: "The pipeline's variables a run may be given (is_runtime), a page of them (ListRuntimeVars)",
        params: pipelineParams,
        querystring: { type: "object", properties: { offset: count, limit: count } },
        response: {
          200: {
            type: "object",
            required: ["offset", "limit", "total", "variables"],
            additionalProperties: false,
            properties: {
              offset: { type: "integer" },
              limit: { type: "integer" },
              total: { type: "integer" },
              variables: { type: "array", items: variableSchema },
            },
          },
        },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params;
      const { pipeline: p } = await authorizePipeline(ctx, req, project_id, pipeline_id, "query");
      const offset = Number(req.query.offset ?? 0);
      const limit = Math.min(
        Number(req.query.limit ?? 0) || RUNTIME_VARS_DEFAULT_LIMIT,
        RUNTIME_VARS_MAX_LIMIT,
      );
      const runtime = maskVariables(p.spec.variables.filter((v) => v.is_runtime));
      return {
        offset,
        limit,
        total: runtime.length,
        variables: runtime.slice(offset, offset + limit).map((v) => ({ ...v, pipeline_id: p.id })),
      };
    },
  );

  api.get(
    `${base}/list-system-vars`,
    {
      schema: {
        tags: ["variables"],
        summary:
          "The system variables every step gets, with the value where the pipeline alone tells it (ListPipelineSystemVars); a bare array",
        params: pipelineParams,
        response: { 200: { type: "array", items: systemVariableSchema } },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params;
      const { pipeline: p } = await authorizePipeline(ctx, req, project_id, pipeline_id, "query");
      const source: SystemValueSource = { projectId: p.project_id, pipelineId: p.id, pipelineName: p.name };
      return SYSTEM_VARIABLES.map((v, i) => ({
        name: v.name,
        value: v.value?.(source) ?? null,
        type: "string",
        description: v.description,
        isShow: true,
        ordinal: i,
        isAlias: false,
        // What the value depends on (pipeline, run, job, step), and who sets it (engine, runner).
        kind: v.scope,
        contextName: v.setBy,
        // CodeArts names the code source of source-bound variables here; none of ours is.
        sourceIdentifier: null,
      }));
    },
  );

  api.get(
    `${base}/pipeline-runs/:pipeline_run_id/run-variables`,
    {
      schema: {
        tags: ["variables"],
        summary:
          "The variables a run ran with, as frozen at its creation (ListRunVariables): mode 0 the pipeline's, 1 the system's, 2 the parameter groups'; a bare array",
        params: runParams,
        querystring: {
          type: "object",
          required: ["mode"],
          properties: { mode: { type: "string", enum: Object.values(RUN_VARIABLE_MODES) } },
        },
        response: { 200: { type: "array", items: runVariableSchema } },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params;
      await authorizePipeline(ctx, req, project_id, pipeline_id, "query");
      const run = await loadRun(store, req.params);
      const vars = run.context.variables;
      switch (req.query.mode) {
        case RUN_VARIABLE_MODES.custom:
          return vars.filter((v) => v.variable_group_name === undefined).map(runVariableView);
        case RUN_VARIABLE_MODES.groups:
          return vars.filter((v) => v.variable_group_name !== undefined).map(runVariableView);
        default: {
          // The run's own values: what differs per job or step (JOB_ID, WORKSPACE, …) has no one value.
          const source: SystemValueSource = {
            projectId: run.project_id,
            pipelineId: run.pipeline_id,
            pipelineName: run.pipeline_name,
            run: { id: run.id, number: run.run_number, triggerType: run.trigger_type },
          };
          return SYSTEM_VARIABLES.flatMap((v) => {
            const value = v.value?.(source);
            return value === undefined
              ? []
              : [{ name: v.name, value, is_secret: false, description: v.description }];
          }).map(runVariableView);
        }
      }
    },
  );
}
