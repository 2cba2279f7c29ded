// Parameter groups (CodeArts's variable groups), with the paths and fields the SDK and the
// Terraform provider use: create, update, delete, show, list, the groups of a pipeline, and
// relating groups to a pipeline. Secret values are sealed at rest and answered as the mask; runs
// take the groups' values when they are created (docs/decisions.md "Parameter groups").

import type { FastifyInstance } from "fastify";
import { invalid, PipewrightError } from "../errors.js";
import { LIMITS } from "../pipeline/limits.js";
import {
  maskGroupVariables,
  parseGroupVariables,
  restoreMaskedGroupSecrets,
} from "../pipeline/variable-groups.js";
import { DuplicateKey, type VariableGroupRecord } from "../store/store.js";
import { successSchema } from "../wire/schemas.js";
import {
  type VariableGroupView,
  variableGroupListSchema,
  variableGroupSchema,
} from "../wire/variable-groups.js";
import type { Principal } from "./auth.js";
import { authorizeProject, type RouteContext } from "./context.js";
import { requireProjectExists } from "./lookups.js";
import { authorizePipeline, hiddenFrom } from "./pipeline-access.js";
import { idSchema, projectParams } from "./schemas.js";
import { typed } from "./type-provider.js";

/** The most groups a project lists in one page, and a pipeline may be related to. */
export const VARIABLE_GROUP_PAGE_MAX = 100;
export const GROUPS_PER_PIPELINE_MAX = 100;
/** The most variables of one group. */
export const VARIABLES_PER_GROUP_MAX = 500;

const nameSchema = { type: "string", minLength: 1, maxLength: LIMITS.nameLength } as const;
const descriptionSchema = { type: "string", maxLength: LIMITS.descriptionLength } as const;
/** CreateVariableGroupReqVariables: closed, as the model is. */
const variableIn = {
  type: "object",
  additionalProperties: false,
  properties: {
    sequence: { type: "integer", minimum: 0, maximum: 2147483647 },
    name: { type: "string", maxLength: 128 },
    type: { type: "string", maxLength: 32 },
    value: { type: "string", maxLength: LIMITS.variableValueLength },
    description: descriptionSchema,
    is_secret: { type: "boolean" },
  },
} as const;
const variablesIn = {
  type: ["array", "null"],
  items: variableIn,
  maxItems: VARIABLES_PER_GROUP_MAX,
} as const;
/** The SDK's body, plus what the Terraform provider sends too (`project_id`, and `id` on update). */
const groupBody = {
  type: "object",
  required: ["name"],
  additionalProperties: false,
  properties: {
    name: nameSchema,
    description: { type: ["string", "null"], maxLength: LIMITS.descriptionLength },
    variables: variablesIn,
    project_id: idSchema,
    id: idSchema,
  },
} as const;

export function registerVariableGroupRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;
  const api = typed(app);
  const base = "/v5/:project_id/api/pipeline/variable/group";
  const taken = (name: string) =>
    new PipewrightError("VARIABLE_GROUP_NAME_TAKEN", `The project has a parameter group named "${name}".`);
  const notFound = (id: string, field = "id") =>
    new PipewrightError("VARIABLE_GROUP_NOT_FOUND", `${field}: the project has no parameter group ${id}.`);
  const sameProject = (bodyProject: string | undefined, projectId: string) => {
    if (bodyProject !== undefined && bodyProject !== projectId)
      throw invalid("project_id", "must be the project of the path");
  };

  /** The answer form of groups: secrets masked, the related pipelines filled. */
  async function views(groups: readonly VariableGroupRecord[], who: Principal): Promise<VariableGroupView[]> {
    const related = await store.pipelinesOfVariableGroups(groups.map((g) => g.id));
    // A pipeline whose own permissions hide it from the caller is not named here either.
    const hidden = await hiddenFrom(ctx, who, [...new Set([...related.values()].flat().map((p) => p.id))]);
    return groups.map((g) => ({
      id: g.id,
      project_id: g.project_id,
      // Pipewright has no tenants above projects.
      domain_id: "",
      name: g.name,
      description: g.description,
      variables: maskGroupVariables(g.variables),
      related_pipelines: (related.get(g.id) ?? []).filter((p) => !hidden.has(p.id)),
      creator_id: g.creator_id,
      updater_id: g.updater_id,
      creator_name: g.creator_name,
      updater_name: g.updater_name,
      create_time: g.create_time,
      update_time: g.update_time,
    }));
  }

  async function load(projectId: string, id: string, field = "id"): Promise<VariableGroupRecord> {
    const g = await store.getVariableGroup(projectId, id);
    if (!g) throw notFound(id, field);
    return g;
  }

  api.post(
    `${base}/create`,
    {
      schema: {
        tags: ["variable groups"],
        summary: "Create a parameter group (CreateVariableGroup)",
        params: projectParams,
        body: groupBody,
        response: {
          200: {
            type: "object",
            required: ["pipeline_variable_group_id"],
            additionalProperties: false,
            properties: { pipeline_variable_group_id: { type: "string" } },
          },
        },
      },
    },
    async (req) => {
      const { project_id } = req.params;
      const who = await authorizeProject(ctx, req, project_id, "manage");
      await requireProjectExists(store, project_id);
      const b = req.body;
      sameProject(b.project_id, project_id);
      const variables = parseGroupVariables(restoreMaskedGroupSecrets(b.variables, []));
      const now = ctx.clock.now();
      const id = ctx.newId();
      try {
        await store.createVariableGroup({
          id,
          project_id,
          name: b.name,
          description: b.description ?? "",
          variables,
          creator_id: who.id,
          creator_name: who.name,
          updater_id: who.id,
          updater_name: who.name,
          create_time: now,
          update_time: now,
        });
      } catch (err) {
        if (err instanceof DuplicateKey) throw taken(b.name);
        throw err;
      }
      return { pipeline_variable_group_id: id };
    },
  );

  api.put(
    `${base}/update`,
    {
      schema: {
        tags: ["variable groups"],
        summary:
          "Replace a parameter group's name, description and variables (UpdateVariableGroup); a secret sent as the mask keeps its value",
        params: projectParams,
        body: { ...groupBody, required: ["id", "name"] },
        response: { 200: successSchema },
      },
    },
    async (req) => {
      const { project_id } = req.params;
      const who = await authorizeProject(ctx, req, project_id, "manage");
      const b = req.body;
      sameProject(b.project_id, project_id);
      const current = await load(project_id, b.id!);
      const variables = parseGroupVariables(restoreMaskedGroupSecrets(b.variables, current.variables));
      let found: boolean;
      try {
        found = await store.updateVariableGroup({
          ...current,
          name: b.name,
          description: b.description ?? "",
          variables,
          updater_id: who.id,
          updater_name: who.name,
          update_time: ctx.clock.now(),
        });
      } catch (err) {
        if (err instanceof DuplicateKey) throw taken(b.name);
        throw err;
      }
      if (!found) throw notFound(b.id!);
      return { success: true };
    },
  );

  api.delete(
    `${base}/delete`,
    {
      schema: {
        tags: ["variable groups"],
        summary: "Delete a parameter group (DeleteVariableGroup); refused while pipelines are related to it",
        params: projectParams,
        querystring: { type: "object", required: ["id"], properties: { id: idSchema } },
        response: { 200: successSchema },
      },
    },
    async (req) => {
      const { project_id } = req.params;
      await authorizeProject(ctx, req, project_id, "manage");
      const g = await load(project_id, req.query.id);
      const related = (await store.pipelinesOfVariableGroups([g.id])).get(g.id) ?? [];
      if (related.length > 0) {
        throw new PipewrightError(
          "VARIABLE_GROUP_IN_USE",
          `Parameter group "${g.name}" is related to ${related.length} pipeline(s): ${related
            .map((p) => p.id)
            .join(", ")}; relate them to other groups first.`,
          { extra: { related_pipelines: related } },
        );
      }
      if (!(await store.deleteVariableGroup(project_id, g.id))) throw notFound(g.id);
      return { success: true };
    },
  );

  api.post(
    `${base}/list`,
    {
      schema: {
        tags: ["variable groups"],
        summary: "The project's parameter groups by name, a page of them (ListVariableGroups)",
        params: projectParams,
        body: {
          type: ["object", "null"],
          additionalProperties: false,
          properties: {
            offset: { type: "integer", minimum: 0, maximum: 2147483647 },
            limit: { type: "integer", minimum: 0, maximum: VARIABLE_GROUP_PAGE_MAX },
            name: { type: "string", maxLength: LIMITS.nameLength },
          },
        },
        response: { 200: variableGroupListSchema },
      },
    },
    async (req) => {
      const { project_id } = req.params;
      const who = await authorizeProject(ctx, req, project_id, "read");
      await requireProjectExists(store, project_id);
      const offset = req.body?.offset ?? 0;
      // 0 (or none) means the default page, as CodeArts's lists take it.
      const limit = req.body?.limit || 10;
      const page = await store.listVariableGroups(project_id, { name: req.body?.name, offset, limit });
      return { pipeline_variable_groups: await views(page.items, who), offset, limit, total: page.total };
    },
  );

  // Before `/:id`: a static path wins over the parameter, and is named here first for readers too.
  api.get(
    `${base}/pipeline`,
    {
      schema: {
        tags: ["variable groups"],
        summary:
          "The parameter groups related to a pipeline, in their order (ListPipelineVariableGroup); a bare array",
        params: projectParams,
        querystring: { type: "object", required: ["pipelineId"], properties: { pipelineId: idSchema } },
        response: { 200: { type: "array", items: variableGroupSchema } },
      },
    },
    async (req) => {
      const { project_id } = req.params;
      const { who, pipeline: p } = await authorizePipeline(
        ctx,
        req,
        project_id,
        req.query.pipelineId,
        "query",
      );
      return views((await store.variableGroupsOfPipelines([p.id])).get(p.id) ?? [], who);
    },
  );

  api.post(
    `${base}/relation`,
    {
      schema: {
        tags: ["variable groups"],
        summary:
          "Relate parameter groups to a pipeline: it has exactly these afterwards, in this order (BindVariableGroupToPipeline)",
        params: projectParams,
        body: {
          type: "object",
          required: ["pipeline_id", "pipeline_group_ids"],
          additionalProperties: false,
          properties: {
            pipeline_id: idSchema,
            pipeline_group_ids: { type: "array", items: idSchema, maxItems: GROUPS_PER_PIPELINE_MAX },
          },
        },
        response: { 200: successSchema },
      },
    },
    async (req) => {
      const { project_id } = req.params;
      // Relating groups changes what the pipeline's runs get: it needs update on the pipeline.
      const { pipeline: p } = await authorizePipeline(ctx, req, project_id, req.body.pipeline_id, "update");
      const ids = req.body.pipeline_group_ids;
      for (const [i, id] of ids.entries()) await load(project_id, id, `pipeline_group_ids[${i}]`);
      // A group named twice keeps its first place.
      await store.setPipelineVariableGroups(p.id, [...new Set(ids)]);
      return { success: true };
    },
  );

  api.get(
    `${base}/:id`,
    {
      schema: {
        tags: ["variable groups"],
        summary: "A parameter group, secret values masked (ShowVariableGroupDetail)",
        params: {
          type: "object",
          required: ["project_id", "id"],
          properties: { project_id: idSchema, id: idSchema },
        },
        response: { 200: variableGroupSchema },
      },
    },
    async (req) => {
      const { project_id, id } = req.params;
      const who = await authorizeProject(ctx, req, project_id, "read");
      const [view] = await views([await load(project_id, id)], who);
      return view!;
    },
  );
}
