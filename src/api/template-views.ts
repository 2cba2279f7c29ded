// How templates look on the wire: built-in and project templates alike, as the SDK's
// PipelineTemplateSimpleVO (list) and ShowPipelineTemplateDetailResponse (detail) have them.

import { BUILT_IN_AUTHOR, BUILT_IN_TIME, type BuiltInTemplate } from "../pipeline/built-in-templates.js";
import type { TemplateRecord } from "../store/store.js";
import type { TemplateDetail, TemplateListItem } from "../wire/templates.js";
import { maskVariables } from "./pipeline-views.js";

export type Template =
  | { readonly kind: "built-in"; readonly t: BuiltInTemplate }
  | { readonly kind: "project"; readonly t: TemplateRecord };

/** What list and detail share; `domain_id` is the owning project (the tenant), or Pipewright's. */
function commonView(x: Template) {
  const { t } = x;
  const own = x.kind === "project" ? x.t : undefined;
  return {
    id: t.id,
    name: t.name,
    icon: x.kind === "built-in" ? x.t.icon : t.language,
    manifest_version: "3.0",
    language: t.language,
    description: t.description,
    is_system: x.kind === "built-in",
    region: "local",
    domain_id: own?.project_id ?? BUILT_IN_AUTHOR.id,
    creator_id: own?.creator_id ?? BUILT_IN_AUTHOR.id,
    updater_id: own?.updater_id ?? BUILT_IN_AUTHOR.id,
    create_time: own?.create_time ?? BUILT_IN_TIME,
    update_time: own?.update_time ?? BUILT_IN_TIME,
    is_show_source: t.is_show_source,
  };
}

/** The stages of a stored (so valid) definition, by name and sequence, for the list. */
function stagesOf(definition: string): { name: string; sequence: number }[] {
  const stages = (JSON.parse(definition) as { stages?: { name: string; sequence?: number }[] }).stages ?? [];
  return stages
    .map((s, i) => ({ name: s.name, sequence: typeof s.sequence === "number" ? s.sequence : i }))
    .sort((a, b) => a.sequence - b.sequence);
}

export function templateListItemView(x: Template, favorite: boolean): TemplateListItem {
  return {
    ...commonView(x),
    creator_name: x.kind === "project" ? x.t.creator_name : BUILT_IN_AUTHOR.name,
    is_collect: favorite,
    stages: stagesOf(x.t.definition),
  };
}

export function templateDetailView(x: Template, favorite: boolean): TemplateDetail {
  return {
    ...commonView(x),
    variables: maskVariables(x.t.variables),
    is_collect: favorite ? "true" : "false",
    definition: x.t.definition,
  };
}

/** Templates with the fields the list sorts by. */
export function templatesOf(...groups: readonly Template[][]) {
  return groups.flat().map((template) => ({ template, view: commonView(template) }));
}
