// Pipeline templates, as CodeArts's pipeline-templates API has them (the SDK's and the Terraform
// provider's paths and fields): list, create, show, update, delete, favourite, and create a
// pipeline from one. `tenant_id` names the Pipewright project that owns a template
// (docs/decisions.md); built-in templates are read-only and seen from every project.

import type { FastifyInstance } from "fastify";
import type { FromSchema } from "json-schema-to-ts";
import { yieldToEventLoop } from "../clock.js";
import { invalid, PipewrightError } from "../errors.js";
import { BUILT_IN_TEMPLATES, builtInTemplate, TEMPLATE_LANGUAGES } from "../pipeline/built-in-templates.js";
import { parseDefinitionAsync } from "../pipeline/definition.js";
import { LIMITS } from "../pipeline/limits.js";
import type { Variable } from "../pipeline/types.js";
import { parseVariables, restoreMaskedSecrets } from "../pipeline/variables.js";
import { DuplicateKey, type TemplateRecord } from "../store/store.js";
import { pipelineIdSchema, pipelineRequestSchema, successSchema } from "../wire/schemas.js";
import { templateDetailSchema, templateIdSchema, templateListSchema } from "../wire/templates.js";
import { authorize, type Principal } from "./auth.js";
import { authorizeProject, type RouteContext } from "./context.js";
import { requireProjectExists } from "./lookups.js";
import { createPipelineFrom } from "./pipeline-routes.js";
import { idSchema } from "./schemas.js";
import { type Template, templateDetailView, templateListItemView, templatesOf } from "./template-views.js";
import { typed } from "./type-provider.js";

export const TEMPLATE_LIST_DEFAULT_LIMIT = 10;

const tenantParams = {
  type: "object",
  required: ["tenant_id"],
  properties: { tenant_id: idSchema },
} as const;
const templateParams = {
  type: "object",
  required: ["tenant_id", "template_id"],
  properties: { tenant_id: idSchema, template_id: idSchema },
} as const;

/** PipelineTemplateDTO: what create and update take (update replaces the whole template). */
const templateBody = {
  type: "object",
  required: ["name", "language", "definition"],
  additionalProperties: false,
  properties: {
    name: { type: "string", minLength: 1, maxLength: LIMITS.nameLength },
    description: { type: "string", maxLength: LIMITS.descriptionLength },
    language: { type: "string", enum: TEMPLATE_LANGUAGES },
    variables: { type: ["array", "null"], items: { type: "object" }, maxItems: LIMITS.variables },
    definition: { type: "string" },
    is_system: { type: "boolean" },
    domain_id: { type: "string", maxLength: 64 },
    is_show_source: { type: "boolean" },
  },
} as const;

/** PipelineByTemplateDTO; a variable given here replaces the template's of that name. */
const byTemplateBody = {
  type: "object",
  required: ["name"],
  additionalProperties: false,
  properties: {
    name: pipelineRequestSchema.properties.name,
    description: pipelineRequestSchema.properties.description,
    is_publish: { type: "boolean" },
    sources: pipelineRequestSchema.properties.sources,
    variables: { type: ["array", "null"], items: { type: "object" }, maxItems: LIMITS.variables },
  },
} as const;

type TemplateBody = FromSchema<typeof templateBody>;
/** What a create/update body sets. */
type TemplateFields = Pick<
  TemplateRecord,
  "name" | "description" | "language" | "definition" | "variables" | "is_show_source"
>;

const CONTROL = /\p{Cc}/u;

const notFound = (id: string): PipewrightError =>
  new PipewrightError("TEMPLATE_NOT_FOUND", `Pipeline template ${id} does not exist.`);

export function registerTemplateRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;
  const api = typed(app);
  const base = "/v5/:tenant_id/api/pipeline-templates";

  /** A template as the tenant's path sees it: a built-in, or one of the tenant's own. */
  async function loadTemplate(tenantId: string, templateId: string): Promise<Template> {
    const builtIn = builtInTemplate(templateId);
    if (builtIn) return { kind: "built-in", t: builtIn };
    const t = await store.getTemplate(templateId);
    if (!t || t.project_id !== tenantId) throw notFound(templateId);
    return { kind: "project", t };
  }

  /** Validates a create/update body into what is stored; every problem names its field. */
  async function checkBody(
    tenantId: string,
    body: TemplateBody,
    previous: readonly Variable[],
  ): Promise<TemplateFields> {
    const name = body.name;
    if (name.trim() !== name || CONTROL.test(name))
      throw invalid("name", "must not start or end with spaces, nor hold control characters");
    if (body.is_system === true)
      throw invalid("is_system", "only the built-in templates are system templates: send false");
    if (body.domain_id !== undefined && body.domain_id !== "" && body.domain_id !== tenantId)
      throw invalid("domain_id", "must be the tenant_id of the path (the template's project), or empty");
    const clash = BUILT_IN_TEMPLATES.find((b) => b.name.toLowerCase() === name.toLowerCase());
    if (clash)
      throw new PipewrightError(
        "TEMPLATE_NAME_TAKEN",
        `name: "${clash.name}" is a built-in template's name.`,
      );
    // A template must be a pipeline that could run as it is: the pipeline definition's rules.
    await parseDefinitionAsync(body.definition, yieldToEventLoop);
    return {
      name,
      description: body.description ?? "",
      language: body.language,
      definition: body.definition,
      variables: parseVariables(restoreMaskedSecrets(body.variables ?? [], previous)),
      is_show_source: body.is_show_source ?? false,
    };
  }
  const taken = (name: string) =>
    new PipewrightError("TEMPLATE_NAME_TAKEN", `name: the project has a template named "${name}".`);

  api.post(
    `${base}/list`,
    {
      schema: {
        tags: ["templates"],
        summary: "List pipeline templates: the built-in ones and the tenant's (ListPipelineTemplates)",
        description: `offset is a row offset; limit defaults to ${TEMPLATE_LIST_DEFAULT_LIMIT}, at most ${LIMITS.pageSize}. Sorted by name unless sort_key says otherwise.`,
        params: tenantParams,
        body: {
          type: ["object", "null"],
          // Every field of the SDK's ListPipelineTemplatesQuery; anything else is refused, named.
          additionalProperties: false,
          properties: {
            language: { type: "string", maxLength: LIMITS.nameLength },
            is_system: { type: "boolean" },
            name: { type: "string", maxLength: LIMITS.nameLength },
            offset: { type: "integer", minimum: 0, maximum: LIMITS.listOffset },
            limit: { type: "integer", minimum: 0, maximum: LIMITS.pageSize },
            sort_key: { type: "string", enum: ["name", "create_time"] },
            sort_dir: { type: "string", enum: ["asc", "desc"] },
          },
        },
        response: { 200: templateListSchema },
      },
    },
    async (request) => {
      const { tenant_id } = request.params;
      const who = await authorizeProject(ctx, request, tenant_id, "read");
      await requireProjectExists(store, tenant_id);
      const b = request.body ?? {};
      const nameFilter = b.name?.toLowerCase() ?? "";
      const builtIns =
        b.is_system === false
          ? []
          : BUILT_IN_TEMPLATES.filter(
              (t) =>
                (b.language === undefined || t.language === b.language) &&
                t.name.toLowerCase().includes(nameFilter),
            ).map((t): Template => ({ kind: "built-in", t }));
      const own =
        b.is_system === true
          ? []
          : (await store.listTemplates(tenant_id, { name: b.name, language: b.language })).map(
              (t): Template => ({ kind: "project", t }),
            );
      const key = b.sort_key ?? "name";
      const dir = b.sort_dir === "desc" ? -1 : 1;
      const all = templatesOf(builtIns, own).sort((x, y) => {
        const c =
          key === "name"
            ? x.view.name.localeCompare(y.view.name)
            : x.view.create_time - y.view.create_time || x.view.name.localeCompare(y.view.name);
        return c * dir;
      });
      const limit = b.limit ? b.limit : TEMPLATE_LIST_DEFAULT_LIMIT;
      const offset = b.offset ?? 0;
      const page = all.slice(offset, offset + limit);
      const favorites = await store.favoriteTemplates(
        who.id,
        page.map((x) => x.view.id),
      );
      return {
        offset,
        limit,
        total: all.length,
        templates: page.map((x) => templateListItemView(x.template, favorites.has(x.view.id))),
      };
    },
  );

  api.post(
    base,
    {
      schema: {
        tags: ["templates"],
        summary: "Create a pipeline template in the tenant (CreatePipelineTemplate)",
        description: "The definition must be a valid pipeline definition; it is checked as one.",
        params: tenantParams,
        body: templateBody,
        response: { 200: templateIdSchema },
      },
    },
    async (request) => {
      const { tenant_id } = request.params;
      const who = await authorizeProject(ctx, request, tenant_id, "manage");
      await requireProjectExists(store, tenant_id);
      const fields = await checkBody(tenant_id, request.body, []);
      const id = ctx.newId();
      const t = ctx.clock.now();
      try {
        await store.createTemplate({
          id,
          project_id: tenant_id,
          ...fields,
          creator_id: who.id,
          creator_name: who.name,
          updater_id: who.id,
          create_time: t,
          update_time: t,
        });
      } catch (err) {
        if (err instanceof DuplicateKey) throw taken(fields.name);
        throw err;
      }
      return { templateId: id };
    },
  );

  api.get(
    `${base}/:template_id`,
    {
      schema: {
        tags: ["templates"],
        summary: "Pipeline template detail (ShowPipelineTemplateDetail); secret values masked",
        params: templateParams,
        response: { 200: templateDetailSchema },
      },
    },
    async (request) => {
      const { tenant_id, template_id } = request.params;
      const who = await authorizeProject(ctx, request, tenant_id, "read");
      const template = await loadTemplate(tenant_id, template_id);
      const favorite = (await store.favoriteTemplates(who.id, [template_id])).has(template_id);
      return templateDetailView(template, favorite);
    },
  );

  api.put(
    `${base}/:template_id`,
    {
      schema: {
        tags: ["templates"],
        summary: "Replace a pipeline template (UpdatePipelineTemplate); built-in ones are read-only",
        params: templateParams,
        body: templateBody,
        response: { 200: templateIdSchema },
      },
    },
    async (request) => {
      const { tenant_id, template_id } = request.params;
      const who = await authorizeProject(ctx, request, tenant_id, "manage");
      const current = await loadTemplate(tenant_id, template_id);
      if (current.kind === "built-in") throw readOnly(current.t.name);
      const fields = await checkBody(tenant_id, request.body, current.t.variables);
      let found: boolean;
      try {
        found = await store.updateTemplate(tenant_id, template_id, {
          ...fields,
          updater_id: who.id,
          update_time: ctx.clock.now(),
        });
      } catch (err) {
        if (err instanceof DuplicateKey) throw taken(fields.name);
        throw err;
      }
      if (!found) throw notFound(template_id);
      return { templateId: template_id };
    },
  );

  api.delete(
    `${base}/:template_id`,
    {
      schema: {
        tags: ["templates"],
        summary: "Delete a pipeline template (DeletePipelineTemplate); pipelines made from it stay",
        params: templateParams,
        response: { 200: templateIdSchema },
      },
    },
    async (request) => {
      const { tenant_id, template_id } = request.params;
      await authorizeProject(ctx, request, tenant_id, "manage");
      const current = await loadTemplate(tenant_id, template_id);
      if (current.kind === "built-in") throw readOnly(current.t.name);
      if (!(await store.deleteTemplate(tenant_id, template_id))) throw notFound(template_id);
      return { templateId: template_id };
    },
  );

  api.post(
    `${base}/:template_id/favorite`,
    {
      schema: {
        tags: ["templates"],
        summary: "Mark or unmark a template as the caller's favourite (is_collect)",
        description: "`flag=true` marks, `flag=false` unmarks; each caller has their own marks.",
        params: templateParams,
        querystring: {
          type: "object",
          required: ["flag"],
          properties: { flag: { type: "string", enum: ["true", "false"] } },
        },
        response: { 200: successSchema },
      },
    },
    async (request) => {
      const { tenant_id, template_id } = request.params;
      const who = await authorizeProject(ctx, request, tenant_id, "read");
      await loadTemplate(tenant_id, template_id);
      await store.setTemplateFavorite(template_id, who.id, request.query.flag === "true");
      return { success: true };
    },
  );

  api.post(
    "/v5/:project_id/api/pipeline-templates/:template_id/create-pipeline",
    {
      schema: {
        tags: ["templates"],
        summary: "Create a pipeline from a template (CreatePipelineByTemplateId)",
        description:
          "The template's definition and variables, with the body's name, sources and variables (by name), through the same checks as creating a pipeline. The template is a built-in one or one of a project the caller can read.",
        params: {
          type: "object",
          required: ["project_id", "template_id"],
          properties: { project_id: idSchema, template_id: idSchema },
        },
        querystring: {
          type: "object",
          properties: { component_id: { type: "string" }, componentId: { type: "string" } },
        },
        body: byTemplateBody,
        response: { 200: pipelineIdSchema },
      },
    },
    async (request) => {
      const { project_id, template_id } = request.params;
      const who = await authorizeProject(ctx, request, project_id, "manage");
      await requireProjectExists(store, project_id);
      const template = await visibleTemplate(who, template_id);
      const b = request.body;
      const pipelineId = await createPipelineFrom(
        ctx,
        who,
        project_id,
        {
          name: b.name,
          description: b.description ?? template.t.description,
          is_publish: b.is_publish ?? false,
          definition: template.t.definition,
          manifest_version: "3.0",
          sources: b.sources ?? [],
          variables: withOverrides(template.t.variables, b.variables ?? []),
        },
        request.query.component_id ?? request.query.componentId ?? "",
      );
      return { pipeline_id: pipelineId };
    },
  );

  /** A template the caller may build from: a built-in, or one of a project they can read. */
  async function visibleTemplate(who: Principal, templateId: string): Promise<Template> {
    const builtIn = builtInTemplate(templateId);
    if (builtIn) return { kind: "built-in", t: builtIn };
    const t = await store.getTemplate(templateId);
    if (!t) throw notFound(templateId);
    try {
      authorize(who, t.project_id, "read");
    } catch {
      // As for projects: a template the caller cannot see answers like a missing one.
      throw notFound(templateId);
    }
    return { kind: "project", t };
  }
}

const readOnly = (name: string): PipewrightError =>
  new PipewrightError("TEMPLATE_BUILT_IN", `"${name}" is a built-in template: it is read-only.`);

/**
 * The template's variables with the request's laid over them by name (the fields it sends
 * replace the template's), and the request's new names after them, numbered on.
 */
function withOverrides(base: readonly Variable[], given: readonly unknown[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = base.map((v) => ({ ...v }));
  for (const raw of given) {
    const v = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>) : {};
    const at = out.findIndex((o) => o.name === v.name);
    if (at >= 0) out[at] = { ...out[at], ...v, sequence: out[at]!.sequence };
    else out.push({ ...v, sequence: out.length + 1 });
  }
  return out;
}
