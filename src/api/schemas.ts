// JSON-schema pieces shared by the route modules, and the translation of validation paths into
// the field names users see (`pipeline_ids[3]`, `variables[0].name`).

import { ID_PATTERN } from "../pipeline/vocabulary.js";

export const idSchema = { type: "string", pattern: ID_PATTERN } as const;

export const projectParams = {
  type: "object",
  required: ["project_id"],
  properties: { project_id: idSchema },
} as const;

export const pipelineParams = {
  type: "object",
  required: ["project_id", "pipeline_id"],
  properties: { project_id: idSchema, pipeline_id: idSchema },
} as const;

export const runParams = {
  type: "object",
  required: ["project_id", "pipeline_id", "pipeline_run_id"],
  properties: { project_id: idSchema, pipeline_id: idSchema, pipeline_run_id: idSchema },
} as const;

export const stepParams = {
  type: "object",
  required: ["project_id", "pipeline_id", "pipeline_run_id", "job_run_id", "step_run_id"],
  properties: {
    project_id: idSchema,
    pipeline_id: idSchema,
    pipeline_run_id: idSchema,
    job_run_id: idSchema,
    step_run_id: idSchema,
  },
} as const;

export const errorSchema = {
  type: "object",
  properties: { error_code: { type: "string" }, error_msg: { type: "string" } },
} as const;

/** Turns an ajv instancePath (`/a/0/b`) into `a[0].b`; the body itself is called `body`. */
export function fieldPath(context: string, instancePath: string): string {
  const parts = instancePath.split("/").slice(1);
  if (parts.length === 0) return context;
  let out = "";
  for (const raw of parts) {
    const p = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    out += /^\d+$/.test(p) ? `[${p}]` : out === "" ? p : `.${p}`;
  }
  return out.startsWith("[") ? `${context}${out}` : out;
}

/** offset and limit as a query string carries them (text); limit 0 or absent: `defaultLimit`. */
export const pageQueryFields = {
  offset: { type: "string", pattern: "^\\d{1,9}$" },
  limit: { type: "string", pattern: "^(0|100|[1-9]\\d?)$" },
} as const;

export function pageOfQuery(
  q: { readonly offset?: string | undefined; readonly limit?: string | undefined },
  defaultLimit: number,
): { offset: number; limit: number } {
  const limit = Number(q.limit ?? "0");
  return { offset: Number(q.offset ?? "0"), limit: limit > 0 ? limit : defaultLimit };
}
