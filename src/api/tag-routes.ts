// Pipeline tags, as CodeArts's pipeline-tag API has them (the Terraform provider and the SDK
// use these paths and fields): create, list, update, delete, and set the tags of pipelines.
// The list of pipelines filters by tag (`tag_ids`, ours).

import type { FastifyInstance } from "fastify";
import { PipewrightError } from "../errors.js";
import { LIMITS } from "../pipeline/limits.js";
import { DuplicateKey } from "../store/store.js";
import { successSchema } from "../wire/schemas.js";
import { authorizeProject, type RouteContext } from "./context.js";
import { loadPipeline, requireProjectExists } from "./lookups.js";
import { requireOperation } from "./pipeline-access.js";
import { idSchema, projectParams } from "./schemas.js";
import { typed } from "./type-provider.js";

const nameSchema = { type: "string", minLength: 1, maxLength: LIMITS.nameLength } as const;
/** A colour as the console picks it: `#rrggbb`. */
const colorSchema = { type: "string", pattern: "^#[0-9A-Fa-f]{6}$" } as const;
const tagView = {
  type: "object",
  required: ["tag_id", "name", "color", "project_id", "project_name"],
  additionalProperties: false,
  properties: {
    tag_id: { type: "string" },
    name: { type: "string" },
    color: { type: "string" },
    project_id: { type: "string" },
    project_name: { type: "string" },
  },
} as const;

export function registerTagRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;
  const api = typed(app);
  const base = "/v5/:project_id/api/pipeline-tag";
  const taken = (name: string) =>
    new PipewrightError("TAG_NAME_TAKEN", `The project has a tag named "${name}".`);

  async function list(projectId: string) {
    const project = await store.getProject(projectId);
    return (await store.listTags(projectId)).map((t) => ({
      tag_id: t.id,
      name: t.name,
      color: t.color,
      project_id: t.project_id,
      project_name: project?.name ?? "",
    }));
  }
  for (const method of ["get", "post"] as const) {
    api[method](
      `${base}/list`,
      {
        schema: {
          tags: ["tags"],
          summary: "The project's pipeline tags (ListPipelineTags); a bare JSON array",
          params: projectParams,
          querystring: { type: "object", properties: { proj_id: idSchema } },
          response: { 200: { type: "array", items: tagView } },
        },
      },
      async (req) => {
        const { project_id } = req.params;
        await authorizeProject(ctx, req, project_id, "read");
        await requireProjectExists(store, project_id);
        return list(project_id);
      },
    );
  }

  api.post(
    `${base}/create`,
    {
      schema: {
        tags: ["tags"],
        summary: "Create a pipeline tag (CreatePipelineTag)",
        params: projectParams,
        body: {
          type: "object",
          required: ["name", "color"],
          additionalProperties: false,
          properties: { name: nameSchema, color: colorSchema },
        },
        response: { 200: successSchema },
      },
    },
    async (req) => {
      const { project_id } = req.params;
      await authorizeProject(ctx, req, project_id, "manage");
      await requireProjectExists(store, project_id);
      try {
        await store.createTag({
          id: ctx.newId(),
          project_id,
          name: req.body.name,
          color: req.body.color,
          create_time: ctx.clock.now(),
        });
      } catch (err) {
        if (err instanceof DuplicateKey) throw taken(req.body.name);
        throw err;
      }
      return { success: true };
    },
  );

  api.post(
    `${base}/update`,
    {
      schema: {
        tags: ["tags"],
        summary: "Rename or recolour a pipeline tag (UpdatePipelineTag)",
        params: projectParams,
        body: {
          type: "object",
          required: ["tagId", "name", "color"],
          additionalProperties: false,
          properties: { tagId: idSchema, name: nameSchema, color: colorSchema },
        },
        response: { 200: successSchema },
      },
    },
    async (req) => {
      const { project_id } = req.params;
      await authorizeProject(ctx, req, project_id, "manage");
      let found: boolean;
      try {
        found = await store.updateTag(project_id, req.body.tagId, req.body.name, req.body.color);
      } catch (err) {
        if (err instanceof DuplicateKey) throw taken(req.body.name);
        throw err;
      }
      if (!found) throw new PipewrightError("TAG_NOT_FOUND", `The project has no tag ${req.body.tagId}.`);
      return { success: true };
    },
  );

  api.delete(
    `${base}/delete`,
    {
      schema: {
        tags: ["tags"],
        summary: "Delete a pipeline tag (DeletePipelineTag); pipelines lose it",
        params: projectParams,
        querystring: { type: "object", required: ["tagId"], properties: { tagId: idSchema } },
        response: { 200: successSchema },
      },
    },
    async (req) => {
      const { project_id } = req.params;
      await authorizeProject(ctx, req, project_id, "manage");
      if (!(await store.deleteTag(project_id, req.query.tagId)))
        throw new PipewrightError("TAG_NOT_FOUND", `The project has no tag ${req.query.tagId}.`);
      return { success: true };
    },
  );

  api.post(
    `${base}/set-tags`,
    {
      schema: {
        tags: ["tags"],
        summary: "Set the tags of pipelines: each carries exactly tagList afterwards (BatchSetPipelineTag)",
        params: projectParams,
        body: {
          type: "object",
          required: ["pipelineList", "tagList"],
          additionalProperties: false,
          properties: {
            pipelineList: { type: "array", items: idSchema, minItems: 1, maxItems: LIMITS.queryEntries },
            tagList: { type: "array", items: idSchema, maxItems: 100 },
          },
        },
        response: { 200: successSchema },
      },
    },
    async (req) => {
      const { project_id } = req.params;
      const who = await authorizeProject(ctx, req, project_id, "read");
      const pipelines = [];
      for (const id of new Set(req.body.pipelineList))
        pipelines.push(await loadPipeline(store, project_id, id));
      // Tagging a pipeline changes it: each must be one the caller may update.
      await requireOperation(ctx, who, pipelines, "update");
      const known = new Set((await store.listTags(project_id)).map((t) => t.id));
      const unknown = req.body.tagList.find((id) => !known.has(id));
      if (unknown) throw new PipewrightError("TAG_NOT_FOUND", `tagList: the project has no tag ${unknown}.`);
      await store.setPipelineTags([...new Set(req.body.pipelineList)], [...new Set(req.body.tagList)]);
      return { success: true };
    },
  );
}
