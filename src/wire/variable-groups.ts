// The answers of the parameter-group API (CodeArts's variable groups) and of the variable queries
// (list-runtime-vars, list-system-vars, run-variables), with the fields of the SDK models and of
// the Terraform provider's reads. Secret values are always the mask.

import type { FromSchema } from "json-schema-to-ts";

const str = { type: "string" } as const;
const int = { type: "integer" } as const;
const bool = { type: "boolean" } as const;
const strOrNull = { type: ["string", "null"] } as const;

function record<const P extends Record<string, object>>(properties: P) {
  return {
    type: "object",
    additionalProperties: false,
    required: Object.keys(properties) as (keyof P & string)[],
    properties,
  } as const;
}

/** QueryVariableGroupDetailRespVariables. */
export const groupVariableSchema = record({
  name: str,
  sequence: int,
  type: str,
  value: str,
  is_secret: bool,
  description: str,
});

/** ShowVariableGroupDetailResponse, and each of ListVariableGroupsResponse.pipeline_variable_groups. */
export const variableGroupSchema = record({
  id: str,
  project_id: str,
  domain_id: str,
  name: str,
  description: str,
  variables: { type: "array", items: groupVariableSchema },
  related_pipelines: { type: "array", items: record({ id: str, name: str }) },
  creator_id: str,
  updater_id: str,
  creator_name: str,
  updater_name: str,
  create_time: int,
  update_time: int,
});

/** ListVariableGroupsResponse. */
export const variableGroupListSchema = record({
  pipeline_variable_groups: { type: "array", items: variableGroupSchema },
  offset: int,
  limit: int,
  total: int,
});

/** One of list-system-vars' answer (ListPipelineSystemVarsResp). */
export const systemVariableSchema = record({
  name: str,
  value: strOrNull,
  type: str,
  description: str,
  isShow: bool,
  ordinal: int,
  isAlias: bool,
  kind: str,
  contextName: str,
  sourceIdentifier: strOrNull,
});

/** One of run-variables' answer (ListRunVariablesResp, typed as the Terraform provider reads it). */
export const runVariableSchema = record({
  name: str,
  sequence: int,
  type: str,
  value: str,
  is_secret: bool,
  description: str,
  is_runtime: bool,
  is_reset: bool,
  latest_value: str,
  limits: { type: "array", items: str },
  required: bool,
  variableGroupName: strOrNull,
});

export type VariableGroupView = FromSchema<typeof variableGroupSchema>;
export type VariableGroupList = FromSchema<typeof variableGroupListSchema>;
export type SystemVariableView = FromSchema<typeof systemVariableSchema>;
export type RunVariableView = FromSchema<typeof runVariableSchema>;
