// Pipeline definitions (spec §4.14–4.19): create, detail, update (full replace), delete, list,
// ban/unban. Validation of the definition itself lives in the pure pipeline/ layer.

import type { FastifyInstance } from "fastify";
import { yieldToEventLoop } from "../clock.js";
import { invalid, PipewrightError } from "../errors.js";
import { parseDefinitionAsync } from "../pipeline/definition.js";
import { type RunPolicy, sourcesProblem } from "../pipeline/environment.js";
import { LIMITS } from "../pipeline/limits.js";
import { parseSchedule } from "../pipeline/schedules.js";
import { checkTrigger } from "../pipeline/triggers.js";
import { parseConcurrencyControl, parseVariables, restoreMaskedSecrets } from "../pipeline/variables.js";
import { RUN_STATUSES } from "../pipeline/vocabulary.js";
import { PIPELINE_SORT_KEYS, type PipelineSpec } from "../store/store.js";
import {
  pipelineRequestSchema as pipelineBody,
  pipelineDetailSchema,
  pipelineIdSchema,
  pipelineListSchema,
} from "../wire/schemas.js";
import type { PipelineDetail, PipelineList, PipelineRequest } from "../wire/types.js";
import type { Principal } from "./auth.js";
import { authorizeProject, type RouteContext } from "./context.js";
import { listGroupFilter, loadGroup } from "./group-routes.js";
import { requireProjectExists } from "./lookups.js";
import { authorizePipeline, visibleTo } from "./pipeline-access.js";
import { pipelineDetailView, pipelineListItemView, TRIGGER_VIEW_FIELDS } from "./pipeline-views.js";
import { runSummaryView } from "./run-views.js";
import { idSchema, pageOfQuery, pageQueryFields, pipelineParams, projectParams } from "./schemas.js";
import { typed } from "./type-provider.js";

export const PIPELINE_LIST_DEFAULT_LIMIT = 10;
export const PIPELINE_LIST_MAX_LIMIT = LIMITS.pageSize;

const NAME_PATTERN = "^[\\p{Script=Han}A-Za-z0-9_-]{1,128}$";

const componentQuery = {
  type: "object",
  properties: { component_id: { type: "string" }, componentId: { type: "string" } },
} as const;

/**
 * Validates a create/update body into the stored shape. A secret variable's values sent back as
 * the mask keep their stored values (restoreMaskedSecrets), so the detail round-trips through PUT.
 */
async function buildSpec(
  body: PipelineRequest,
  componentId: string,
  previous: PipelineSpec | undefined,
  policy: RunPolicy,
  newId: () => string,
): Promise<PipelineSpec> {
  if (!new RegExp(NAME_PATTERN, "u").test(body.name)) {
    throw new PipewrightError(
      "INVALID_REQUEST",
      "name: must be 1-128 characters of CJK, letters, digits, '-' or '_'",
    );
  }
  await parseDefinitionAsync(body.definition, yieldToEventLoop);
  const source = sourcesProblem(body.sources ?? [], policy.allowLocalClone);
  if (source) throw invalid(source.path, source.problem);
  const variables = parseVariables(restoreMaskedSecrets(body.variables ?? [], previous?.variables ?? []));
  return {
    sources: body.sources ?? [],
    variables,
    schedules: withScheduleIds(body.schedules ?? [], newId),
    triggers: (body.triggers ?? []).map((raw, i) => {
      checkTrigger(raw, `triggers[${i}]`);
      // What the detail adds to a polled trigger (its polling state) is not part of it.
      const t = Object.fromEntries(
        Object.entries(raw as Record<string, unknown>).filter(
          ([k]) => !(TRIGGER_VIEW_FIELDS as readonly string[]).includes(k),
        ),
      );
      return t;
    }),
    concurrency_control: parseConcurrencyControl(body.concurrency_control ?? null),
    // Absent: an update keeps the pipeline's group; '' or null: none (docs/decisions.md).
    group_id: body.group_id === undefined ? (previous?.group_id ?? null) : body.group_id || null,
    component_id: componentId,
    project_name: body.project_name ?? "",
  };
}

const SCHEDULE_UUID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Gives each schedule entry its `uuid` (read-only: kept when the entry comes back with it, made
 * when it has none) and checks it (spec §5.3; pipeline/schedules.ts). An entry sent back
 * unchanged keeps its place in time: its next tick and what it fired.
 */
function withScheduleIds(entries: readonly unknown[], newId: () => string): Record<string, unknown>[] {
  const seen = new Set<string>();
  return entries.map((raw, i) => {
    const path = `schedules[${i}]`;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw))
      throw invalid(path, "must be an object");
    const given = (raw as { uuid?: unknown }).uuid;
    if (given !== undefined && given !== null && (typeof given !== "string" || !SCHEDULE_UUID.test(given)))
      throw invalid(`${path}.uuid`, "must be 1-64 letters, digits, '-' or '_' (or absent)");
    const uuid = typeof given === "string" ? given : newId();
    if (seen.has(uuid)) throw invalid(`${path}.uuid`, `"${uuid}" is used by an earlier schedule`);
    seen.add(uuid);
    // What the detail adds to each entry (where it stands in time) is not part of it.
    const {
      next_time: _n,
      last_fire_time: _f,
      missed_count: _m,
      last_missed_time: _l,
      ...given_
    } = raw as Record<string, unknown>;
    const entry = { ...given_, uuid };
    parseSchedule(entry, path);
    return entry;
  });
}

const componentOf = (q: { component_id?: string; componentId?: string }): string | undefined =>
  q.component_id ?? q.componentId;

const nameTaken = (name: string): PipewrightError =>
  new PipewrightError("PIPELINE_NAME_TAKEN", `name: a pipeline named "${name}" exists in this project.`);

const batchDeleteSchema = {
  type: "object",
  required: ["result"],
  additionalProperties: false,
  properties: {
    result: {
      type: "array",
      items: {
        type: "object",
        required: ["pipeline_id", "pipeline_name", "status", "reason"],
        additionalProperties: false,
        properties: {
          pipeline_id: { type: "string" },
          pipeline_name: { type: ["string", "null"] },
          status: { type: "string", enum: ["DELETE_SUCCESS", "DELETE_FAILED"] },
          reason: { type: ["string", "null"] },
        },
      },
    },
  },
} as const;

const queuedPipelinesSchema = {
  type: "object",
  required: ["offset", "limit", "total", "queuedPipelines"],
  additionalProperties: false,
  properties: {
    offset: { type: "integer" },
    limit: { type: "integer" },
    total: { type: "integer" },
    queuedPipelines: {
      type: "array",
      items: {
        type: "object",
        required: [
          "id",
          "pipeline_id",
          "pipeline_run_id",
          "region",
          "enqueue_time",
          "trigger_type",
          "creator_id",
          "creator_name",
          "status",
        ],
        additionalProperties: false,
        properties: {
          id: { type: "integer" },
          pipeline_id: { type: "string" },
          pipeline_run_id: { type: "string" },
          region: { type: ["string", "null"] },
          enqueue_time: { type: "integer" },
          trigger_type: { type: "string" },
          creator_id: { type: "string" },
          creator_name: { type: "string" },
          status: { type: "string" },
        },
      },
    },
  },
} as const;
/**
 * Validates a create body and stores the pipeline: the one way a pipeline comes to be, for
 * POST …/pipelines and for a pipeline made from a template. The caller has checked the project
 * and the caller's right to create in it. Answers the new pipeline's id.
 */
export async function createPipelineFrom(
  ctx: RouteContext,
  who: Principal,
  projectId: string,
  body: PipelineRequest,
  componentId: string,
): Promise<string> {
  const { store } = ctx;
  const spec = await buildSpec(body, componentId, undefined, ctx.policy, ctx.newId);
  if (spec.group_id) await loadGroup(store, projectId, spec.group_id, "group_id");
  if (await store.findPipelineByName(projectId, body.name)) throw nameTaken(body.name);
  const t = ctx.clock.now();
  const id = ctx.newId();
  await store.createPipeline({
    id,
    project_id: projectId,
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
  return id;
}

export function registerPipelineRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store, clock, engine } = ctx;
  const now = (): number => clock.now();
  const api = typed(app);
  const base = "/v5/:project_id/api/pipelines";
  const idOut = { 200: pipelineIdSchema } as const;

  api.post(
    base,
    {
      schema: {
        tags: ["pipelines"],
        summary: "Create a pipeline (CreatePipelineNew)",
        params: projectParams,
        querystring: componentQuery,
        body: pipelineBody,
        response: idOut,
      },
    },
    async (req) => {
      const { project_id } = req.params;
      const who = await authorizeProject(ctx, req, project_id, "manage");
      await requireProjectExists(store, project_id);
      return {
        pipeline_id: await createPipelineFrom(ctx, who, project_id, req.body, componentOf(req.query) ?? ""),
      };
    },
  );

  api.get(
    `${base}/:pipeline_id`,
    {
      schema: {
        tags: ["pipelines"],
        summary: "Pipeline detail (ShowPipelineDetail)",
        params: pipelineParams,
        response: { 200: pipelineDetailSchema },
      },
    },
    async (req): Promise<PipelineDetail> => {
      const { project_id, pipeline_id } = req.params;
      const { pipeline: p } = await authorizePipeline(ctx, req, project_id, pipeline_id, "query");
      const [schedules, polls] = await Promise.all([store.listSchedulesOf(p.id), store.listPollsOf(p.id)]);
      return pipelineDetailView(p, schedules, polls);
    },
  );

  api.put(
    `${base}/:pipeline_id`,
    {
      schema: {
        tags: ["pipelines"],
        summary: "Replace a pipeline (UpdatePipelineInfo)",
        params: pipelineParams,
        querystring: componentQuery,
        body: pipelineBody,
        response: idOut,
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params;
      const { who, pipeline: current } = await authorizePipeline(ctx, req, project_id, pipeline_id, "update");
      if (current.banned) {
        throw new PipewrightError(
          "PIPELINE_BANNED",
          `Pipeline ${pipeline_id} is disabled; unban it before updating.`,
        );
      }
      const body = req.body;
      const spec = await buildSpec(
        body,
        componentOf(req.query) ?? current.spec.component_id,
        current.spec,
        ctx.policy,
        ctx.newId,
      );
      if (spec.group_id) await loadGroup(store, project_id, spec.group_id, "group_id");
      const other = await store.findPipelineByName(project_id, body.name);
      if (other && other.id !== pipeline_id) throw nameTaken(body.name);
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

  api.delete(
    `${base}/:pipeline_id`,
    {
      schema: {
        tags: ["pipelines"],
        summary: "Delete a pipeline (DeletePipeline)",
        description: "Its unfinished runs are stopped first, so none of their processes outlives it.",
        params: pipelineParams,
        response: idOut,
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params;
      const { who } = await authorizePipeline(ctx, req, project_id, pipeline_id, "delete");
      await engine.deletePipeline(pipeline_id, who.name);
      return { pipeline_id };
    },
  );

  api.post(
    `${base}/batch-delete`,
    {
      schema: {
        tags: ["pipelines"],
        summary: "Delete pipelines in batches (BatchDeletePipeline): a result per pipeline",
        description:
          "Each pipeline is deleted on its own (its unfinished runs stopped first), in request order. One that does " +
          "not exist, is in another project or that the caller may not delete is DELETE_FAILED with a reason; the others go.",
        params: projectParams,
        body: {
          type: "object",
          required: ["pipeline_ids"],
          additionalProperties: false,
          properties: {
            pipeline_ids: { type: "array", items: idSchema, minItems: 1, maxItems: LIMITS.queryEntries },
          },
        },
        response: { 200: batchDeleteSchema },
      },
    },
    async (req) => {
      const { project_id } = req.params;
      const who = await authorizeProject(ctx, req, project_id, "read");
      const result: {
        pipeline_id: string;
        pipeline_name: string | null;
        status: "DELETE_SUCCESS" | "DELETE_FAILED";
        reason: string | null;
      }[] = [];
      for (const id of new Set(req.body.pipeline_ids)) {
        try {
          const { pipeline } = await authorizePipeline(ctx, req, project_id, id, "delete");
          await engine.deletePipeline(id, who.name);
          result.push({
            pipeline_id: id,
            pipeline_name: pipeline.name,
            status: "DELETE_SUCCESS",
            reason: null,
          });
        } catch (err) {
          if (!(err instanceof PipewrightError) || err.status >= 500) throw err;
          result.push({ pipeline_id: id, pipeline_name: null, status: "DELETE_FAILED", reason: err.message });
        }
      }
      return { result };
    },
  );

  api.get(
    `${base}/:pipeline_id/queued-pipeline`,
    {
      schema: {
        tags: ["runs"],
        summary:
          "The pipeline's queue (ListPipelineQueue): its runs waiting behind its concurrency limit, first first",
        description:
          "id is the queued run's number; cancel one with …/{pipeline_run_id}/cancel-queuing/{queue_id}, where queue_id " +
          "is the run id (as a queued start answers it) or this id.",
        params: pipelineParams,
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: pageQueryFields,
        },
        response: { 200: queuedPipelinesSchema },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params;
      await authorizePipeline(ctx, req, project_id, pipeline_id, "query");
      const { offset, limit } = pageOfQuery(req.query, 10);
      const page = await store.listRuns({
        pipeline_id,
        statuses: ["QUEUED"],
        admitted: false,
        offset,
        limit,
        sort_key: "start_time",
        sort_dir: "asc",
      });
      return {
        offset,
        limit,
        total: page.total,
        queuedPipelines: page.items.map((r) => ({
          id: r.run_number,
          pipeline_id,
          pipeline_run_id: r.id,
          // A self-hosted installation has no cloud regions (the cloud's own example answers null).
          region: null,
          enqueue_time: r.create_time,
          trigger_type: r.trigger_type,
          creator_id: r.executor_id,
          creator_name: r.executor_name,
          status: r.status,
        })),
      };
    },
  );

  for (const action of ["ban", "unban"] as const) {
    api.put(
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
        const { project_id, pipeline_id } = req.params;
        await authorizePipeline(ctx, req, project_id, pipeline_id, "update");
        await store.setPipelineBanned(pipeline_id, action === "ban", now());
        return true;
      },
    );
  }

  api.post(
    `${base}/list`,
    {
      schema: {
        tags: ["pipelines"],
        summary: "List pipelines (ListPipelines)",
        description: `offset is a row offset; limit defaults to ${PIPELINE_LIST_DEFAULT_LIMIT}, at most ${PIPELINE_LIST_MAX_LIMIT}.`,
        params: projectParams,
        body: {
          type: ["object", "null"],
          // Every field the SDK's ListPipelineQuery has; anything else is refused, named.
          additionalProperties: false,
          properties: {
            project_id: idSchema,
            project_ids: { type: "array", items: idSchema, maxItems: LIMITS.queryEntries },
            component_id: { type: "string", maxLength: LIMITS.nameLength },
            name: { type: "string", maxLength: LIMITS.nameLength },
            status: {
              type: "array",
              items: { type: "string", enum: RUN_STATUSES },
              maxItems: RUN_STATUSES.length,
            },
            is_publish: { type: "boolean" },
            creator_id: { type: "string", maxLength: LIMITS.nameLength },
            creator_ids: {
              type: "array",
              items: { type: "string", maxLength: LIMITS.nameLength },
              maxItems: LIMITS.queryEntries,
            },
            executor_ids: {
              type: "array",
              items: { type: "string", maxLength: LIMITS.nameLength },
              maxItems: LIMITS.queryEntries,
            },
            start_time: { type: "string", maxLength: 64 },
            end_time: { type: "string", maxLength: 64 },
            offset: { type: "integer", minimum: 0, maximum: LIMITS.listOffset },
            limit: { type: "integer", minimum: 0, maximum: PIPELINE_LIST_MAX_LIMIT },
            sort_key: { type: "string", enum: PIPELINE_SORT_KEYS },
            sort_dir: { type: "string", enum: ["asc", "desc"] },
            group_path_id: { type: "string", maxLength: 128 },
            by_group: { type: "boolean" },
            is_banned: { type: "boolean" },
            query_new: { type: "boolean" },
            security_level_list: {
              type: "array",
              items: { type: "integer", minimum: 0, maximum: 100 },
              maxItems: 100,
            },
            // Ours: pipelines carrying one of these tags (the pipeline-tag API's ids).
            tag_ids: { type: "array", items: idSchema, maxItems: 100 },
          },
        },
        response: { 200: pipelineListSchema },
      },
    },
    async (req): Promise<PipelineList> => {
      const { project_id } = req.params;
      const who = await authorizeProject(ctx, req, project_id, "read");
      await requireProjectExists(store, project_id);
      const b = req.body ?? {};
      if (b.project_id !== undefined && b.project_id !== project_id)
        throw invalid("project_id", "must be the project of the path (list several with project_ids)");
      const group = await listGroupFilter(store, project_id, b.group_path_id, b.by_group);
      // Each project listed must be one the caller may read.
      for (const id of b.project_ids ?? []) {
        await authorizeProject(ctx, req, id, "read");
        await requireProjectExists(store, id);
      }
      // limit 0 means "the default", as the cloud service documents no meaning for it.
      const limit = b.limit ? b.limit : PIPELINE_LIST_DEFAULT_LIMIT;
      const offset = b.offset ?? 0;
      const creators = [...(b.creator_id !== undefined ? [b.creator_id] : []), ...(b.creator_ids ?? [])];
      const from =
        b.start_time !== undefined && b.start_time !== "" ? timeOf(b.start_time, "start_time") : undefined;
      const to = b.end_time !== undefined && b.end_time !== "" ? timeOf(b.end_time, "end_time") : undefined;
      // No pipeline has a security level (0: none set): a list without 0 matches none.
      const levelless =
        b.security_level_list === undefined ||
        b.security_level_list.length === 0 ||
        b.security_level_list.includes(0);
      const page = levelless
        ? await store.listPipelines({
            project_id,
            project_ids: b.project_ids && b.project_ids.length > 0 ? b.project_ids : undefined,
            // Pipelines whose own permissions hide them from the caller are not listed.
            visible_to: visibleTo(who),
            name: b.name,
            // is_banned: whether disabled pipelines are included (the SDK's meaning); absent: they are.
            banned: b.is_banned === false ? false : undefined,
            is_publish: b.is_publish,
            component_id: b.component_id !== undefined && b.component_id !== "" ? b.component_id : undefined,
            creator_ids: creators.length > 0 ? creators : undefined,
            tag_ids: b.tag_ids && b.tag_ids.length > 0 ? b.tag_ids : undefined,
            group,
            latest:
              b.status?.length || b.executor_ids?.length || from !== undefined || to !== undefined
                ? {
                    statuses: b.status?.length ? b.status : undefined,
                    executor_ids: b.executor_ids?.length ? b.executor_ids : undefined,
                    started_from: from,
                    started_to: to,
                  }
                : undefined,
            offset,
            limit,
            sort_key: b.sort_key ?? "create_time",
            sort_dir: b.sort_dir ?? "desc",
          })
        : { total: 0, items: [] };
      // Each pipeline's latest run (what started it, how it went), for the page in two queries.
      const latest = await store.latestRuns(page.items.map((p) => p.id));
      const stages = await store.getStagesOfRuns(latest.map((r) => r.id));
      const byPipeline = new Map(
        latest.map((r) => [
          r.pipeline_id,
          runSummaryView(
            r,
            stages.filter((st) => st.run_id === r.id),
            false,
          ),
        ]),
      );
      return {
        offset,
        limit,
        total: page.total,
        pipelines: page.items.map((p) => pipelineListItemView(p, byPipeline.get(p.id) ?? null)),
      };
    },
  );
}

/**
 * A time filter of the list: epoch milliseconds, or an ISO 8601 date-time (`2026-12-01T08:00:00Z`,
 * or `2026-12-01 08:00:00`, read as UTC when it names no zone); a 400 naming the field otherwise.
 */
export function timeOf(text: string, field: string): number {
  if (/^\d{1,15}$/.test(text)) return Number(text);
  const m = /^(\d{4}-\d\d-\d\d)(?:[T ](\d\d:\d\d(?::\d\d(?:\.\d+)?)?))?(Z|[+-]\d\d:?\d\d)?$/i.exec(text);
  const ms = m ? Date.parse(`${m[1]}T${m[2] ?? "00:00:00"}${m[3] ?? "Z"}`) : Number.NaN;
  if (Number.isNaN(ms))
    throw invalid(field, "must be epoch milliseconds or a date-time such as 2026-12-01 08:00:00 (UTC)");
  return ms;
}
