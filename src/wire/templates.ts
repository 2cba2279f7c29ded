// The answer shapes of the pipeline-templates API, as the SDK's models have them:
// PipelineTemplateSimpleVO (list items), ShowPipelineTemplateDetailResponse (detail, whose
// `is_collect` the models type as a string) and the `templateId` answers of create/update/delete.

import type { Answer } from "./types.js";

const str = { type: "string" } as const;
const int = { type: "integer" } as const;
const bool = { type: "boolean" } as const;

function record<const P extends Record<string, object>>(properties: P) {
  return {
    type: "object",
    additionalProperties: false,
    required: Object.keys(properties) as (keyof P & string)[],
    properties,
  } as const;
}

/** CustomVariable as a template carries it (no pipeline_id: a template is not a pipeline). */
export const templateVariableSchema = record({
  name: str,
  sequence: int,
  type: { type: "string", enum: ["string", "enum", "autoIncrement"] },
  value: str,
  is_secret: bool,
  description: str,
  is_runtime: bool,
  limits: { type: "array", items: str },
  is_reset: bool,
  latest_value: str,
});

const common = {
  id: str,
  name: str,
  icon: str,
  manifest_version: str,
  language: str,
  description: str,
  is_system: bool,
  region: str,
  domain_id: str,
  creator_id: str,
  updater_id: str,
  create_time: int,
  update_time: int,
  is_show_source: bool,
} as const;

export const templateListItemSchema = record({
  ...common,
  creator_name: str,
  is_collect: bool,
  stages: { type: "array", items: record({ name: str, sequence: int }) },
});

export const templateListSchema = record({
  offset: int,
  limit: int,
  total: int,
  templates: { type: "array", items: templateListItemSchema },
});

export const templateDetailSchema = record({
  ...common,
  variables: { type: "array", items: templateVariableSchema },
  /** "true" or "false": the SDK's ShowPipelineTemplateDetailResponse types it as a string. */
  is_collect: { type: "string", enum: ["true", "false"] },
  definition: str,
});

export const templateIdSchema = record({ templateId: str });

export type TemplateListItem = Answer<typeof templateListItemSchema>;
export type TemplateList = Answer<typeof templateListSchema>;
export type TemplateDetail = Answer<typeof templateDetailSchema>;
