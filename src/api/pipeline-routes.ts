// Pipeline definitions (spec §4.14–4.19): create, detail, update (full replace), delete, list,
// ban/unban. Validation of the definition itself lives in the pure pipeline/ layer.

import type { FastifyInstance, FastifyRequest } from "fastify";
import { PipewrightError } from "../errors.js";
import { parseDefinition } from "../pipeline/definition.js";
import type { Variable } from "../pipeline/types.js";
import { parseConcurrencyControl, parseVariables } from "../pipeline/variables.js";
import {
  PIPELINE_SORT_KEYS,
  type PipelineRecord,
  type PipelineSortKey,
  type PipelineSpec,
} from "../store/store.js";
import { authorizeProject, newId, type RouteContext } from "./context.js";
import { pipelineParams, projectParams } from "./schemas.js";

export const SECRET_MASK = "******";
export const PIPELINE_LIST_DEFAULT_LIMIT = 10;
export const PIPELINE_LIST_MAX_LIMIT = 100;

const NAME_PATTERN = "^[\\p{Script=Han}A-Za-z0-9_-]{1,128}$";

const sourceSchema = {
  type: "object",
  required: ["type"],
  properties: {
    type: { type: "string", enum: ["code", "artifact"] },
    params: {
      type: "object",
      properties: {
        git_type: { type: "string", enum: ["codehub", "gitee", "github", "gitcode", "gitlab"] },
        git_url: { type: "string", maxLength: 2048 },
        alias: { type: "string", pattern: "^[A-Za-z0-9_]{0,128}$" },
        default_branch: { type: "string", maxLength: 256 },
        codehub_id: { type: "string" },
        endpoint_id: { type: "string" },
      },
    },
  },
} as const;

const pipelineBody = {
  type: "object",
  required: ["name", "is_publish", "definition"],
  properties: {
    name: { type: "string", minLength: 1, maxLength: 128 },
    is_publish: { type: "boolean" },
    definition: { type: "string", minLength: 1 },
    description: { type: "string", maxLength: 1024 },
    manifest_version: { type: "string", maxLength: 16 },
    sources: { type: "array", items: sourceSchema, maxItems: 100 },
    variables: { type: "array", items: { type: "object" }, maxItems: 500 },
    schedules: { type: "array", items: { type: "object" }, maxItems: 100 },
    triggers: { type: "array", items: { type: "object" }, maxItems: 100 },
    concurrency_control: { type: ["object", "null"] },
    project_name: { type: "string" },
    group_id: { type: ["string", "null"] },
  },
} as const;

const componentQuery = {
  type: "object",
  properties: { component_id: { type: "string" }, componentId: { type: "string" } },
} as const;

interface PipelineBody {
  name: string;
  is_publish: boolean;
  definition: string;
  description?: string;
  manifest_version?: string;
  sources?: unknown[];
  variables?: unknown[];
  schedules?: unknown[];
  triggers?: unknown[];
  concurrency_control?: unknown;
  project_name?: string;
  group_id?: string | null;
}

const pipelineIdOut = { 200: { type: "object", properties: { pipeline_id: { type: "string" } } } } as const;

/**
 * Validates a create/update body into the stored shape. A secret variable whose value comes back
 * as the mask keeps its stored value, so clients that round-trip the detail (Terraform) work.
 */
function buildSpec(
  body: PipelineBody,
  componentId: string,
  previous: PipelineSpec | undefined,
): PipelineSpec {
  if (!new RegExp(NAME_PATTERN, "u").test(body.name)) {
    throw new PipewrightError(
      "INVALID_REQUEST",
      "name: must be 1-128 characters of CJK, letters, digits, '-' or '_'",
    );
  }
  parseDefinition(body.definition);
  const parsed = parseVariables(body.variables ?? []);
  const variables: Variable[] = parsed.map((v) => {
    if (v.is_secret && v.value === SECRET_MASK) {
      const old = previous?.variables.find((o) => o.name === v.name);
      return { ...v, value: old?.value ?? "" };
    }
    return v;
  });
  return {
    sources: body.sources ?? [],
    variables,
    schedules: body.schedules ?? [],
    triggers: body.triggers ?? [],
    concurrency_control: parseConcurrencyControl(body.concurrency_control ?? null),
    group_id: body.group_id ?? null,
    component_id: componentId,
    project_name: body.project_name ?? "",
  };
}

function maskVariables(vars: readonly Variable[]): Variable[] {
  return vars.map((v) =>
    v.is_secret ? { ...v, value: SECRET_MASK, latest_value: v.latest_value ? SECRET_MASK : "" } : v,
  );
}

function toDetail(p: PipelineRecord): Record<string, unknown> {
  const cc = p.spec.concurrency_control;
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    manifest_version: p.manifest_version,
    region: "local",
    domain_id: "",
    project_id: p.project_id,
    component_id: p.spec.component_id,
    is_publish: p.is_publish,
    creator_id: p.creator_id,
    creator_name: p.creator_name,
    updater_id: p.updater_id,
    create_time: p.create_time,
    update_time: p.update_time,
    is_collect: false,
    sources: p.spec.sources,
    variables: maskVariables(p.spec.variables).map((v) => ({ ...v, pipeline_id: p.id })),
    schedules: p.spec.schedules,
    triggers: p.spec.triggers,
    group_id: p.spec.group_id,
    definition: p.definition,
    security_level: null,
    banned: p.banned,
    concurrency_control: cc && { ...cc, pipeline_id: p.id },
  };
}

/** Loads a pipeline of the path's project, with CodeArts's not-found and mismatch codes. */
export async function loadPipeline(
  ctx: RouteContext,
  projectId: string,
  pipelineId: string,
): Promise<PipelineRecord> {
  const p = await ctx.store.getPipeline(pipelineId);
  if (!p) throw new PipewrightError("PIPELINE_NOT_FOUND", `Pipeline ${pipelineId} does not exist.`);
  if (p.project_id !== projectId) {
    throw new PipewrightError(
      "PROJECT_PIPELINE_MISMATCH",
      `Pipeline ${pipelineId} does not belong to project ${projectId}.`,
    );
  }
  return p;
}

async function requireProjectExists(ctx: RouteContext, projectId: string): Promise<void> {
  if (!(await ctx.store.getProject(projectId))) {
    throw new PipewrightError(
      "PROJECT_NOT_FOUND",
      `Project ${projectId} does not exist or you are not a member of it.`,
    );
  }
}

function componentOf(req: FastifyRequest): string | undefined {
  const q = req.query as { component_id?: string; componentId?: string };
  return q.component_id ?? q.componentId;
}

export function registerPipelineRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store, now } = ctx;
  const base = "/v5/:project_id/api/pipelines";

  app.post(
    base,
    {
      schema: {
        tags: ["pipelines"],
        summary: "Create a pipeline (CreatePipelineNew)",
        params: projectParams,
        querystring: componentQuery,
        body: pipelineBody,
        response: pipelineIdOut,
      },
    },
    async (req) => {
      const { project_id } = req.params as { project_id: string };
      const who = await authorizeProject(ctx, req, project_id, "manage");
      await requireProjectExists(ctx, project_id);
      const body = req.body as PipelineBody;
      const spec = buildSpec(body, componentOf(req) ?? "", undefined);
      if (await store.findPipelineByName(project_id, body.name)) {
        throw new PipewrightError(
          "PIPELINE_NAME_TAKEN",
          `name: a pipeline named "${body.name}" exists in this project.`,
        );
      }
      const t = now();
      const id = newId();
      await store.createPipeline({
        id,
        project_id,
        name: body.name,
        description: body.description ?? "",
        is_publish: body.is_publish,
        manifest_version: body.manifest_version ?? "3.0",
        definition: body.definition,
        spec,
        creator_id: who.id,
        creator_name: who.name,
        updater_id: who.id,
        create_time: t,
        update_time: t,
      });
      return { pipeline_id: id };
    },
  );

  app.get(
    `${base}/:pipeline_id`,
    {
      schema: {
        tags: ["pipelines"],
        summary: "Pipeline detail (ShowPipelineDetail)",
        params: pipelineParams,
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params as { project_id: string; pipeline_id: string };
      await authorizeProject(ctx, req, project_id, "read");
      return toDetail(await loadPipeline(ctx, project_id, pipeline_id));
    },
  );

  app.put(
    `${base}/:pipeline_id`,
    {
      schema: {
        tags: ["pipelines"],
        summary: "Replace a pipeline (UpdatePipelineInfo)",
        params: pipelineParams,
        querystring: componentQuery,
        body: pipelineBody,
        response: pipelineIdOut,
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params as { project_id: string; pipeline_id: string };
      const who = await authorizeProject(ctx, req, project_id, "manage");
      const current = await loadPipeline(ctx, project_id, pipeline_id);
      if (current.banned) {
        throw new PipewrightError(
          "PIPELINE_BANNED",
          `Pipeline ${pipeline_id} is disabled; unban it before updating.`,
        );
      }
      const body = req.body as PipelineBody;
      const spec = buildSpec(body, componentOf(req) ?? current.spec.component_id, current.spec);
      const other = await store.findPipelineByName(project_id, body.name);
      if (other && other.id !== pipeline_id) {
        throw new PipewrightError(
          "PIPELINE_NAME_TAKEN",
          `name: a pipeline named "${body.name}" exists in this project.`,
        );
      }
      await store.updatePipeline(pipeline_id, {
        name: body.name,
        description: body.description ?? "",
        is_publish: body.is_publish,
        manifest_version: body.manifest_version ?? current.manifest_version,
        definition: body.definition,
        spec,
        updater_id: who.id,
        update_time: now(),
      });
      return { pipeline_id };
    },
  );

  app.delete(
    `${base}/:pipeline_id`,
    {
      schema: {
        tags: ["pipelines"],
        summary: "Delete a pipeline (DeletePipeline)",
        params: pipelineParams,
        response: pipelineIdOut,
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params as { project_id: string; pipeline_id: string };
      const who = await authorizeProject(ctx, req, project_id, "manage");
      await loadPipeline(ctx, project_id, pipeline_id);
      // Unfinished runs are stopped first, so none of their processes outlives the pipeline.
      const active = await store.listRuns({
        pipeline_id,
        statuses: ["RUNNING", "PAUSED", "QUEUED", "SUSPEND"],
        offset: 0,
        limit: 100_000,
        sort_key: "start_time",
        sort_dir: "asc",
      });
      for (const run of active.items) {
        await ctx.engine.scheduler.stopRun(run.id, who.name).catch((err: unknown) => {
          if (!(err instanceof PipewrightError && err.key === "RUN_NOT_STOPPABLE")) throw err;
        });
      }
      await store.transaction(async (tx) => {
        await tx.deleteRunsOfPipeline(pipeline_id);
        await tx.deletePipeline(pipeline_id);
      });
      return { pipeline_id };
    },
  );

  for (const action of ["ban", "unban"] as const) {
    app.put(
      `${base}/:pipeline_id/${action}`,
      {
        schema: {
          tags: ["pipelines"],
          summary: action === "ban" ? "Disable a pipeline" : "Enable a pipeline",
          description: "Answers a bare JSON `true`, as the cloud service does.",
          params: pipelineParams,
          response: { 200: { type: "boolean" } },
        },
      },
      async (req) => {
        const { project_id, pipeline_id } = req.params as { project_id: string; pipeline_id: string };
        await authorizeProject(ctx, req, project_id, "manage");
        await loadPipeline(ctx, project_id, pipeline_id);
        await store.setPipelineBanned(pipeline_id, action === "ban", now());
        return true;
      },
    );
  }

  app.post(
    `${base}/list`,
    {
      schema: {
        tags: ["pipelines"],
        summary: "List pipelines (ListPipelines)",
        description: `offset is a row offset; limit defaults to ${PIPELINE_LIST_DEFAULT_LIMIT}, at most ${PIPELINE_LIST_MAX_LIMIT}.`,
        params: projectParams,
        body: {
          type: ["object", "null"],
          properties: {
            name: { type: "string", maxLength: 128 },
            is_banned: { type: "boolean" },
            is_publish: { type: "boolean" },
            offset: { type: "integer", minimum: 0 },
            limit: { type: "integer", minimum: 0, maximum: PIPELINE_LIST_MAX_LIMIT },
            sort_key: { type: "string", enum: PIPELINE_SORT_KEYS },
            sort_dir: { type: "string", enum: ["asc", "desc"] },
          },
        },
      },
    },
    async (req) => {
      const { project_id } = req.params as { project_id: string };
      await authorizeProject(ctx, req, project_id, "read");
      await requireProjectExists(ctx, project_id);
      const b = (req.body ?? {}) as {
        name?: string;
        is_banned?: boolean;
        is_publish?: boolean;
        offset?: number;
        limit?: number;
        sort_key?: PipelineSortKey;
        sort_dir?: "asc" | "desc";
      };
      // limit 0 means "the default", as the cloud service documents no meaning for it.
      const limit = b.limit ? b.limit : PIPELINE_LIST_DEFAULT_LIMIT;
      const offset = b.offset ?? 0;
      const page = await store.listPipelines({
        project_id,
        name: b.name,
        banned: b.is_banned,
        is_publish: b.is_publish,
        offset,
        limit,
        sort_key: b.sort_key ?? "create_time",
        sort_dir: b.sort_dir ?? "desc",
      });
      return {
        offset,
        limit,
        total: page.total,
        pipelines: page.items.map((p) => ({
          pipeline_id: p.id,
          name: p.name,
          project_id: p.project_id,
          project_name: p.spec.project_name,
          component_id: p.spec.component_id,
          is_publish: p.is_publish,
          is_collect: false,
          manifest_version: p.manifest_version,
          create_time: p.create_time,
          update_time: p.update_time,
          banned: p.banned,
          latest_run: null,
          convert_sign: 0,
          security_level: null,
        })),
      };
    },
  );
}
