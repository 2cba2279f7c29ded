// Pipeline groups, as CodeArts's pipeline-group API has them (the SDK's models and the Terraform
// provider give the paths and fields): create, rename, delete, the tree, move pipelines into a
// group, and swap two groups' places. The pipeline list filters by group (pipeline-routes.ts)
// and a group starts as one batch (batch-routes.ts). Decisions: docs/decisions.md.

import type { FastifyInstance } from "fastify";
import { invalid, PipewrightError } from "../errors.js";
import { LIMITS } from "../pipeline/limits.js";
import { ID_PATTERN } from "../pipeline/vocabulary.js";
import { DuplicateKey, type GroupRecord, type GroupStore } from "../store/store.js";
import { successSchema } from "../wire/schemas.js";
import { authorizeProject, type RouteContext } from "./context.js";
import { loadPipeline, requireProjectExists } from "./lookups.js";
import { requireOperation } from "./pipeline-access.js";
import { idSchema, projectParams } from "./schemas.js";
import { typed } from "./type-provider.js";

/** 1–128 characters, not only blanks (the SDK's words). */
const nameSchema = {
  type: "string",
  minLength: 1,
  maxLength: LIMITS.nameLength,
  pattern: "\\S",
} as const;
/** A group id, or '' for "no group" (the root, as CodeArts writes it). */
const groupRefSchema = { anyOf: [idSchema, { type: "string", maxLength: 0 }] } as const;

const groupFields = {
  id: { type: "string" },
  domain_id: { type: "string" },
  project_id: { type: "string" },
  name: { type: "string" },
  parent_id: { type: "string" },
  path_id: { type: "string" },
  ordinal: { type: "integer" },
  creator: { type: "string" },
  updater: { type: ["string", "null"] },
  create_time: { type: "integer" },
  update_time: { type: ["integer", "null"] },
  pipeline_count: { type: "integer" },
  no_group_count: { type: "integer" },
} as const;
/** PipelineGroupVo; `children` nests the same shape (three levels at most). */
const groupView = (depth: number): object => ({
  type: "object",
  required: [...Object.keys(groupFields), "children"],
  additionalProperties: false,
  properties: {
    ...groupFields,
    children: depth > 1 ? { type: "array", items: groupView(depth - 1) } : { type: "array", maxItems: 0 },
  },
});
const treeSchema = { type: "array", items: groupView(LIMITS.groupDepth) } as const;
const moveAnswer = {
  type: "array",
  items: {
    type: "object",
    required: ["code", "pipeline_id", "pipeline_name"],
    additionalProperties: false,
    properties: {
      code: { type: "string" },
      pipeline_id: { type: "string" },
      pipeline_name: { type: "string" },
    },
  },
} as const;

export interface GroupView extends GroupRecord {
  readonly domain_id: string;
  readonly pipeline_count: number;
  readonly no_group_count: number;
  readonly children: GroupView[];
}

export const groupNotFound = (field: string, id: string): PipewrightError =>
  new PipewrightError("GROUP_NOT_FOUND", `${field}: the project has no pipeline group ${id}.`);

export async function loadGroup(
  store: GroupStore,
  projectId: string,
  id: string,
  field: string,
): Promise<GroupRecord> {
  const g = await store.getGroup(projectId, id);
  if (!g) throw groupNotFound(field, id);
  return g;
}

/**
 * The project's groups as a tree, siblings by ordinal. `pipeline_count` counts the pipelines of
 * the group and of every group below it; `no_group_count` is the project's ungrouped pipelines
 * (the console's "Ungrouped" node), the same on every node.
 */
export async function groupTree(store: GroupStore, projectId: string): Promise<GroupView[]> {
  const groups = await store.listGroups(projectId);
  const direct = await store.countPipelinesByGroup(projectId);
  const ungrouped = direct.get(null) ?? 0;
  const nodes = new Map<string, GroupView>(
    groups.map((g) => [
      g.id,
      { ...g, domain_id: "", pipeline_count: 0, no_group_count: ungrouped, children: [] },
    ]),
  );
  const roots: GroupView[] = [];
  for (const g of groups) {
    const node = nodes.get(g.id)!;
    const parent = g.parent_id === "" ? undefined : nodes.get(g.parent_id);
    (parent ? parent.children : roots).push(node);
    // Each pipeline counts in its group and in every group above it.
    const n = direct.get(g.id) ?? 0;
    for (const id of g.path_id.split(".")) {
      const above = nodes.get(id) as { pipeline_count: number } | undefined;
      if (above) above.pipeline_count += n;
    }
  }
  return roots;
}

/** Finds one node of the tree by id. */
export function findInTree(tree: readonly GroupView[], id: string): GroupView | undefined {
  for (const g of tree) {
    if (g.id === id) return g;
    const hit = findInTree(g.children, id);
    if (hit) return hit;
  }
  return undefined;
}

export function registerGroupRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;
  const api = typed(app);
  const base = "/v5/:project_id/api/pipeline-group";
  const taken = (name: string) =>
    new PipewrightError("GROUP_NAME_TAKEN", `name: a group of the same parent is named "${name}".`);

  api.post(
    `${base}/create`,
    {
      schema: {
        tags: ["groups"],
        summary: "Create a pipeline group (CreatePipelineGroup); answers the group",
        description: `parent_id '' or absent: a root group. Groups nest ${LIMITS.groupDepth} levels at most; names are unique among siblings.`,
        params: projectParams,
        body: {
          type: "object",
          required: ["name", "project_id"],
          additionalProperties: false,
          properties: { name: nameSchema, project_id: idSchema, parent_id: groupRefSchema },
        },
        response: { 200: groupView(LIMITS.groupDepth) },
      },
    },
    async (req) => {
      const { project_id } = req.params;
      const who = await authorizeProject(ctx, req, project_id, "manage");
      await requireProjectExists(store, project_id);
      if (req.body.project_id !== project_id) throw invalid("project_id", "must be the project of the path");
      const parentId = req.body.parent_id ?? "";
      const parent = parentId === "" ? undefined : await loadGroup(store, project_id, parentId, "parent_id");
      const level = parent ? parent.path_id.split(".").length + 1 : 1;
      if (level > LIMITS.groupDepth) {
        throw new PipewrightError(
          "GROUP_TOO_DEEP",
          `parent_id: a group under ${parentId} would be at level ${level}; groups nest ${LIMITS.groupDepth} levels at most.`,
        );
      }
      if ((await store.listGroups(project_id)).length >= LIMITS.groupsPerProject) {
        throw new PipewrightError(
          "GROUP_LIMIT_REACHED",
          `The project has ${LIMITS.groupsPerProject} pipeline groups, the most it may have (limit groupsPerProject).`,
        );
      }
      const id = ctx.newId();
      try {
        await store.createGroup({
          id,
          project_id,
          parent_id: parentId,
          path_id: parent ? `${parent.path_id}.${id}` : id,
          name: req.body.name,
          creator: who.id,
          updater: null,
          create_time: ctx.clock.now(),
          update_time: null,
        });
      } catch (err) {
        if (err instanceof DuplicateKey) throw taken(req.body.name);
        throw err;
      }
      return findInTree(await groupTree(store, project_id), id)!;
    },
  );

  api.post(
    `${base}/update`,
    {
      schema: {
        tags: ["groups"],
        summary: "Rename a pipeline group (UpdatePipelineGroup)",
        params: projectParams,
        body: {
          type: "object",
          required: ["name", "id"],
          additionalProperties: false,
          properties: { name: nameSchema, id: idSchema },
        },
        response: { 200: successSchema },
      },
    },
    async (req) => {
      const { project_id } = req.params;
      const who = await authorizeProject(ctx, req, project_id, "manage");
      let found: boolean;
      try {
        found = await store.renameGroup(project_id, req.body.id, req.body.name, who.id, ctx.clock.now());
      } catch (err) {
        if (err instanceof DuplicateKey) throw taken(req.body.name);
        throw err;
      }
      if (!found) throw groupNotFound("id", req.body.id);
      return { success: true };
    },
  );

  api.delete(
    `${base}/delete`,
    {
      schema: {
        tags: ["groups"],
        summary:
          "Delete a pipeline group and the groups below it (DeletePipelineGroup); their pipelines become ungrouped",
        params: projectParams,
        querystring: { type: "object", required: ["id"], properties: { id: idSchema } },
        response: { 200: successSchema },
      },
    },
    async (req) => {
      const { project_id } = req.params;
      await authorizeProject(ctx, req, project_id, "manage");
      if ((await store.deleteGroup(project_id, req.query.id)) === 0) throw groupNotFound("id", req.query.id);
      return { success: true };
    },
  );

  api.get(
    `${base}/tree`,
    {
      schema: {
        tags: ["groups"],
        summary: "The project's pipeline groups as a tree (ShowPipelineGroupTree); a bare JSON array",
        params: projectParams,
        response: { 200: treeSchema },
      },
    },
    async (req) => {
      const { project_id } = req.params;
      await authorizeProject(ctx, req, project_id, "read");
      await requireProjectExists(store, project_id);
      return groupTree(store, project_id);
    },
  );

  api.post(
    `${base}/pipeline/move`,
    {
      schema: {
        tags: ["groups"],
        summary: "Move pipelines into a group (BatchMovePipelineToGroup); group_id '' ungroups them",
        description:
          "All or nothing: an unknown pipeline (or one of another project) or group refuses the request and moves none. " +
          "A pipeline sits in one group: moving takes it out of the one it was in.",
        params: projectParams,
        body: {
          type: "object",
          required: ["group_id", "pipelines"],
          additionalProperties: false,
          properties: {
            group_id: groupRefSchema,
            pipelines: {
              type: "array",
              minItems: 1,
              maxItems: LIMITS.queryEntries,
              items: {
                type: "object",
                required: ["pipeline_id"],
                additionalProperties: false,
                // pipeline_name is the console's echo; the id decides.
                properties: { pipeline_id: idSchema, pipeline_name: { type: "string", maxLength: 1024 } },
              },
            },
          },
        },
        response: { 200: moveAnswer },
      },
    },
    async (req) => {
      const { project_id } = req.params;
      const who = await authorizeProject(ctx, req, project_id, "read");
      const groupId = req.body.group_id === "" ? null : req.body.group_id;
      if (groupId !== null) await loadGroup(store, project_id, groupId, "group_id");
      const ids = [...new Set(req.body.pipelines.map((p) => p.pipeline_id))];
      const pipelines = [];
      for (const id of ids) pipelines.push(await loadPipeline(store, project_id, id));
      // Moving a pipeline changes it: each must be one the caller may update.
      await requireOperation(ctx, who, pipelines, "update");
      await store.movePipelinesToGroup(ids, groupId);
      return pipelines.map((p) => ({ code: "success", pipeline_id: p.id, pipeline_name: p.name }));
    },
  );

  api.post(
    `${base}/swap`,
    {
      schema: {
        tags: ["groups"],
        summary: "Swap the places of two groups of the same parent (move up / down)",
        params: projectParams,
        querystring: {
          type: "object",
          required: ["groupId1", "groupId2"],
          properties: { groupId1: idSchema, groupId2: idSchema },
        },
        response: { 200: successSchema },
      },
    },
    async (req) => {
      const { project_id } = req.params;
      const who = await authorizeProject(ctx, req, project_id, "manage");
      const a = await loadGroup(store, project_id, req.query.groupId1, "groupId1");
      const b = await loadGroup(store, project_id, req.query.groupId2, "groupId2");
      if (a.id === b.id) throw invalid("groupId2", "must be another group than groupId1");
      if (a.parent_id !== b.parent_id) {
        throw new PipewrightError(
          "GROUPS_NOT_SIBLINGS",
          "groupId2: only groups of the same parent can swap places; these two have different parents.",
        );
      }
      await store.swapGroups(a, b, who.id, ctx.clock.now());
      return { success: true };
    },
  );
}

/**
 * The list's group filter (ListPipelineQuery's `group_path_id` and `by_group`): a group's id or
 * its path_id; its pipelines and those of the groups below it, or with `by_group` only its own;
 * `by_group` without a group: the ungrouped pipelines (the console's "Ungrouped").
 */
export async function listGroupFilter(
  store: GroupStore,
  projectId: string,
  pathId: string | undefined,
  byGroup: boolean | undefined,
): Promise<{ path_id: string | null; subgroups: boolean } | undefined> {
  if (pathId === undefined || pathId === "")
    return byGroup === true ? { path_id: null, subgroups: false } : undefined;
  const id = pathId.split(".").at(-1) ?? "";
  const g = new RegExp(ID_PATTERN).test(id) ? await store.getGroup(projectId, id) : undefined;
  if (!g || (pathId.includes(".") && pathId !== g.path_id)) throw groupNotFound("group_path_id", pathId);
  return { path_id: g.path_id, subgroups: byGroup !== true };
}
