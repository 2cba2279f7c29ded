// Per-pipeline permissions, as CodeArts's pipeline-permissions API has them (its API reference
// and the Terraform provider give the paths and fields): the role matrix, the user matrix, the
// switch that turns them on, and the batch form. The rule itself is src/pipeline/permissions.ts;
// pipeline-access.ts enforces it on every route that acts on a pipeline.

import type { FastifyInstance } from "fastify";
import { invalid, PipewrightError } from "../errors.js";
import { LIMITS } from "../pipeline/limits.js";
import {
  isMatrixRole,
  MATRIX_ROLES,
  type MatrixRole,
  NO_OPERATIONS,
  type OperationSet,
  PIPELINE_OPERATIONS,
  ROLE_DEFAULTS,
  ROLE_IDS,
  roleOfId,
} from "../pipeline/permissions.js";
import type { CredentialRecord, PermissionRow } from "../store/store.js";
import { authorize, type Principal } from "./auth.js";
import { principalOf, type RouteContext } from "./context.js";
import { loadPipeline } from "./lookups.js";
import { authorizePipeline, operationsOf, requireOperation } from "./pipeline-access.js";
import { idSchema, pageOfQuery, pageQueryFields, pipelineParams, projectParams } from "./schemas.js";
import { typed } from "./type-provider.js";

const bool = { type: "boolean" } as const;
const operationFields = {
  operation_query: bool,
  operation_execute: bool,
  operation_update: bool,
  operation_delete: bool,
  operation_authorize: bool,
} as const;
const OPERATION_KEYS = Object.keys(operationFields) as (keyof typeof operationFields)[];
/** A token id or an AK. */
const userIdSchema = { type: "string", minLength: 1, maxLength: 64 } as const;
const statusSchema = {
  type: "object",
  required: ["status"],
  additionalProperties: false,
  properties: { status: { type: "string" } },
} as const;

const rowFields = {
  pipeline_id: { type: "string" },
  role_id: { type: "integer" },
  role_name: { type: "string" },
  ...operationFields,
} as const;
const roleView = {
  type: "object",
  required: [
    "pipeline_id",
    "role_id",
    "role_name",
    "operation_query",
    "operation_execute",
    "operation_update",
    "operation_delete",
    "operation_authorize",
  ],
  additionalProperties: false,
  properties: rowFields,
} as const;
const userView = {
  type: "object",
  required: [
    "user_id",
    "user_name",
    "pipeline_id",
    "role_id",
    "role_name",
    "operation_query",
    "operation_execute",
    "operation_update",
    "operation_delete",
    "operation_authorize",
  ],
  additionalProperties: false,
  properties: { user_id: { type: "string" }, user_name: { type: "string" }, ...rowFields },
} as const;

const rightsSchema = {
  type: "object",
  required: ["query", "update", "execute", "delete", "banned", "copy", "authorize", "tag"],
  additionalProperties: false,
  properties: {
    query: bool,
    update: bool,
    execute: bool,
    delete: bool,
    banned: bool,
    copy: bool,
    authorize: bool,
    tag: bool,
  },
} as const;

/** Copying a pipeline creates one: the project role must allow creating pipelines. */
const ALLOWED_TO_CREATE = (who: Principal): boolean => who.superuser || who.role === "admin";

const wireOf = (ops: OperationSet) => ({
  operation_query: ops.query,
  operation_execute: ops.execute,
  operation_update: ops.update,
  operation_delete: ops.delete,
  operation_authorize: ops.authorize,
});
type OperationBody = Record<(typeof OPERATION_KEYS)[number], boolean>;
const opsOf = (b: OperationBody): OperationSet => ({
  query: b.operation_query,
  execute: b.operation_execute,
  update: b.operation_update,
  delete: b.operation_delete,
  authorize: b.operation_authorize,
});

/** A role id of the body, one that a matrix may change (the admin role keeps everything). */
function changeableRole(id: number, field: string): Exclude<MatrixRole, "admin"> {
  const role = roleOfId(id);
  if (!role)
    throw invalid(field, `no such role (${MATRIX_ROLES.map((r) => `${ROLE_IDS[r]}: ${r}`).join(", ")})`);
  if (role === "admin") throw invalid(field, "the admin role keeps every permission on every pipeline");
  return role;
}

/** A pipeline's query ability is what every other one rests on: without it, none is kept. */
function consistent(ops: OperationSet, field: string): OperationSet {
  if (!ops.query && PIPELINE_OPERATIONS.some((op) => ops[op]))
    throw invalid(field, "operation_query must be true when any other operation is");
  return ops;
}

/** The project's members: unrevoked tokens and access keys whose projects include it. */
async function membersOf(ctx: RouteContext, projectId: string): Promise<CredentialRecord[]> {
  const [tokens, keys] = await Promise.all([ctx.store.listTokens(), ctx.store.listAccessKeys()]);
  return [...tokens, ...keys.map(({ sk: _sk, ...k }) => k)]
    .filter((c) => c.revoked_time === null && isMatrixRole(c.role) && c.project_ids.includes(projectId))
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

export function registerPermissionRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store, clock } = ctx;
  const api = typed(app);
  const base = "/v5/:project_id/api/pipeline-permissions";

  api.get(
    `${base}/:pipeline_id/role-permission`,
    {
      schema: {
        tags: ["permissions"],
        summary: "What each project role may do with the pipeline (ShowPipelineRolePermission)",
        params: pipelineParams,
        response: {
          200: {
            type: "object",
            required: ["roles"],
            additionalProperties: false,
            properties: { roles: { type: "array", items: roleView } },
          },
        },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params;
      await authorizePipeline(ctx, req, project_id, pipeline_id, "query");
      const own = (await store.permissionsOf([pipeline_id])).get(pipeline_id);
      return {
        roles: MATRIX_ROLES.map((role) => ({
          pipeline_id,
          role_id: ROLE_IDS[role],
          role_name: role,
          ...wireOf(role === "admin" ? ROLE_DEFAULTS.admin : (own?.roles.get(role) ?? ROLE_DEFAULTS[role])),
        })),
      };
    },
  );

  api.get(
    `${base}/:pipeline_id/user-permission`,
    {
      schema: {
        tags: ["permissions"],
        summary:
          "What each project member (token or access key) may do with the pipeline (ShowPipelineUserPermission)",
        params: pipelineParams,
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { subject: { type: "string", maxLength: LIMITS.nameLength }, ...pageQueryFields },
        },
        response: {
          200: {
            type: "object",
            required: ["offset", "limit", "total", "users"],
            additionalProperties: false,
            properties: {
              offset: { type: "integer" },
              limit: { type: "integer" },
              total: { type: "integer" },
              users: { type: "array", items: userView },
            },
          },
        },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params;
      await authorizePipeline(ctx, req, project_id, pipeline_id, "query");
      const own = (await store.permissionsOf([pipeline_id])).get(pipeline_id);
      const subject = (req.query.subject ?? "").toLowerCase();
      const members = (await membersOf(ctx, project_id)).filter((m) =>
        m.name.toLowerCase().includes(subject),
      );
      // limit 0 means "the default", as elsewhere in the API.
      const { offset, limit } = pageOfQuery(req.query, 10);
      return {
        offset,
        limit,
        total: members.length,
        users: members.slice(offset, offset + limit).map((m) => {
          const role = m.role as MatrixRole;
          // The row shows what this member may do, whether the switch is on or not.
          const ops =
            role === "admin"
              ? ROLE_DEFAULTS.admin
              : (own?.users.get(m.id) ?? own?.roles.get(role) ?? ROLE_DEFAULTS[role]);
          return {
            user_id: m.id,
            user_name: m.name,
            pipeline_id,
            role_id: ROLE_IDS[role],
            role_name: role,
            ...wireOf(ops),
          };
        }),
      };
    },
  );

  const updateBody = (subject: "role_id" | "user_id") =>
    ({
      type: "object",
      required: [subject, ...OPERATION_KEYS],
      additionalProperties: false,
      properties: {
        // CodeArts's example sends it as null; the path names the pipeline.
        pipeline_id: { anyOf: [idSchema, { type: "null" }] },
        ...operationFields,
        ...(subject === "role_id" ? { role_id: { type: "integer" } } : { user_id: userIdSchema }),
      },
    }) as const;

  api.post(
    `${base}/:pipeline_id/update-role-permission`,
    {
      schema: {
        tags: ["permissions"],
        summary: "Set what a project role may do with the pipeline (UpdatePipelineRolePermission)",
        params: pipelineParams,
        body: updateBody("role_id"),
        response: { 200: statusSchema },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params;
      const b = req.body as OperationBody & { pipeline_id?: string | null; role_id: number };
      if (b.pipeline_id && b.pipeline_id !== pipeline_id)
        throw invalid("pipeline_id", "must be the pipeline of the path");
      await authorizePipeline(ctx, req, project_id, pipeline_id, "authorize");
      const role = changeableRole(b.role_id, "role_id");
      await store.setPermissions([
        {
          pipeline_id,
          subject_kind: "role",
          subject_id: role,
          operations: consistent(opsOf(b), "operation_query"),
          update_time: clock.now(),
        },
      ]);
      return { status: "success" };
    },
  );

  api.post(
    `${base}/:pipeline_id/update-user-permission`,
    {
      schema: {
        tags: ["permissions"],
        summary: "Set what one project member may do with the pipeline (UpdatePipelineUserPermission)",
        params: pipelineParams,
        body: updateBody("user_id"),
        response: { 200: statusSchema },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params;
      const b = req.body as OperationBody & { pipeline_id?: string | null; user_id: string };
      if (b.pipeline_id && b.pipeline_id !== pipeline_id)
        throw invalid("pipeline_id", "must be the pipeline of the path");
      await authorizePipeline(ctx, req, project_id, pipeline_id, "authorize");
      const member = (await membersOf(ctx, project_id)).find((m) => m.id === b.user_id);
      if (!member)
        throw new PipewrightError(
          "MEMBER_NOT_FOUND",
          `user_id: project ${project_id} has no member ${b.user_id}.`,
        );
      if (member.role === "admin")
        throw invalid(
          "user_id",
          "the member is a project admin, who keeps every permission on every pipeline",
        );
      await store.setPermissions([
        {
          pipeline_id,
          subject_kind: "user",
          subject_id: member.id,
          operations: consistent(opsOf(b), "operation_query"),
          update_time: clock.now(),
        },
      ]);
      return { status: "success" };
    },
  );

  api.get(
    `${base}/:pipeline_id/permission-switch`,
    {
      schema: {
        tags: ["permissions"],
        summary:
          "Whether the pipeline follows the project's roles (is_use_devuc) or its own permissions, and whether the caller may change them (ShowPipelinePermissionSwitch)",
        params: pipelineParams,
        response: {
          200: {
            type: "object",
            required: ["is_use_devuc", "is_allow_edit"],
            additionalProperties: false,
            properties: { is_use_devuc: bool, is_allow_edit: bool },
          },
        },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params;
      const { who } = await authorizePipeline(ctx, req, project_id, pipeline_id, "query");
      const own = (await store.permissionsOf([pipeline_id])).get(pipeline_id);
      return { is_use_devuc: !own?.enabled, is_allow_edit: operationsOf(who, own).authorize };
    },
  );

  api.put(
    `${base}/:pipeline_id/update-permission-switch`,
    {
      schema: {
        tags: ["permissions"],
        summary:
          "Turn the pipeline's own permissions on (flag=true) or off (SwitchPipelinePermission); off keeps its rows for later",
        params: pipelineParams,
        querystring: {
          type: "object",
          required: ["flag"],
          additionalProperties: false,
          properties: { flag: { type: "string", enum: ["true", "false"] } },
        },
        response: { 200: statusSchema },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params;
      await authorizePipeline(ctx, req, project_id, pipeline_id, "authorize");
      await store.setPermissionSwitch(pipeline_id, req.query.flag === "true", clock.now());
      return { status: "success" };
    },
  );

  api.post(
    "/v5/:tenant_id/api/pipelines/check-rights",
    {
      schema: {
        tags: ["permissions"],
        summary:
          "What the caller may do with each pipeline (GetPipelinePermission); tenant_id is the project, as for templates",
        description:
          "An array in request order, one `{<pipeline id>: rights}` object per id. An id that names no pipeline of the " +
          "project the caller may see answers every right false (a check, not a lookup: nothing is revealed).",
        params: { type: "object", required: ["tenant_id"], properties: { tenant_id: idSchema } },
        body: {
          type: "object",
          additionalProperties: false,
          properties: {
            // The API reference spells them both ways.
            resource_ids: { type: "array", items: idSchema, maxItems: LIMITS.queryEntries },
            resourceIds: { type: "array", items: idSchema, maxItems: LIMITS.queryEntries },
            resource_type: { type: "string", maxLength: 64 },
            resourceType: { type: "string", maxLength: 64 },
          },
        },
        response: {
          200: { type: "array", items: { type: "object", additionalProperties: rightsSchema } },
        },
      },
    },
    async (req) => {
      const projectId = req.params.tenant_id;
      const who = await principalOf(ctx, req);
      authorize(who, projectId, "read");
      const ids = [...(req.body.resource_ids ?? []), ...(req.body.resourceIds ?? [])];
      const owners = await store.getPipelineProjects(ids);
      const settings = await store.permissionsOf(ids.filter((id) => owners.get(id) === projectId));
      return ids.map((id) => {
        const o = owners.get(id) === projectId ? operationsOf(who, settings.get(id)) : NO_OPERATIONS;
        const seen = o.query;
        return {
          [id]: {
            query: seen,
            update: seen && o.update,
            execute: seen && o.execute,
            delete: seen && o.delete,
            // Disabling and tagging change the pipeline; copying reads it and creates one.
            banned: seen && o.update,
            copy: seen && ALLOWED_TO_CREATE(who),
            authorize: seen && o.authorize,
            tag: seen && o.update,
          },
        };
      });
    },
  );

  api.post(
    `${base}/pipeline/batch-role-permission`,
    {
      schema: {
        tags: ["permissions"],
        summary:
          "Set the role matrix of several pipelines at once (BatchUpdatePipelinePermission); is_project_switch=true leaves them following the project's roles",
        params: projectParams,
        body: {
          type: "object",
          required: ["pipeline_ids", "is_project_switch", "roles"],
          additionalProperties: false,
          properties: {
            pipeline_ids: {
              type: "array",
              items: idSchema,
              minItems: 1,
              maxItems: LIMITS.queryEntries,
            },
            is_project_switch: bool,
            roles: {
              type: "array",
              maxItems: MATRIX_ROLES.length,
              items: {
                type: "object",
                required: ["role_id", ...OPERATION_KEYS],
                additionalProperties: false,
                properties: { role_id: { type: "integer" }, ...operationFields },
              },
            },
          },
        },
        response: { 200: statusSchema },
      },
    },
    async (req) => {
      const { project_id } = req.params;
      const who: Principal = await principalOf(ctx, req);
      authorize(who, project_id, "read");
      const b = req.body;
      const ids = [...new Set(b.pipeline_ids)];
      const pipelines = [];
      for (const id of ids) pipelines.push(await loadPipeline(store, project_id, id));
      await requireOperation(ctx, who, pipelines, "authorize");
      const now = clock.now();
      const seen = new Set<string>();
      const roles = b.roles.map((r, i) => {
        const role = changeableRole(r.role_id, `roles[${i}].role_id`);
        if (seen.has(role)) throw invalid(`roles[${i}].role_id`, `role ${r.role_id} is named twice`);
        seen.add(role);
        return { role, ops: consistent(opsOf(r), `roles[${i}].operation_query`) };
      });
      const rows: PermissionRow[] = ids.flatMap((pipeline_id) =>
        roles.map(({ role, ops }) => ({
          pipeline_id,
          subject_kind: "role" as const,
          subject_id: role,
          operations: ops,
          update_time: now,
        })),
      );
      await store.transaction(async (tx) => {
        await tx.setPermissions(rows);
        for (const id of ids) await tx.setPermissionSwitch(id, !b.is_project_switch, now);
      });
      return { status: "success" };
    },
  );
}
