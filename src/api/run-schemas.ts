// The request schemas of the run routes (spec §4.1–4.13). Their answers' schemas are the wire
// contract's (src/wire/schemas.ts).

import { LIMITS } from "../pipeline/limits.js";
import { RUN_STATUSES } from "../pipeline/vocabulary.js";
import { RUN_SORT_KEYS } from "../store/run-records.js";
import { sourceSchema } from "../wire/schemas.js";
import { idSchema } from "./schemas.js";

export const RUN_LIST_DEFAULT_LIMIT = 10;
export const RUN_LIST_MAX_LIMIT = LIMITS.pageSize;
export const LOG_MAX_LINES = LIMITS.logLines;

/** RunPipeline's body: runtime variables, stage/job selection and the code sources of the run. */
export const runBody = {
  type: ["object", "null"],
  properties: {
    description: { type: "string", maxLength: LIMITS.descriptionLength },
    variables: {
      type: "array",
      maxItems: LIMITS.variables,
      items: {
        type: "object",
        required: ["name", "value"],
        properties: {
          name: { type: "string", minLength: 1, maxLength: LIMITS.nameLength },
          value: { type: "string", maxLength: LIMITS.variableValueLength },
        },
      },
    },
    choose_jobs: { type: "array", items: { type: "string" }, maxItems: LIMITS.chooseEntries },
    choose_stages: { type: "array", items: { type: "string" }, maxItems: LIMITS.chooseEntries },
    sources: {
      type: "array",
      maxItems: LIMITS.sources,
      items: sourceSchema({
        alias: { type: "string", maxLength: LIMITS.nameLength },
        build_params: {
          type: "object",
          properties: {
            build_type: { type: "string", enum: ["branch", "tag"] },
            target_branch: { type: "string", maxLength: LIMITS.refLength },
            tag: { type: "string", maxLength: LIMITS.refLength },
            event_type: {
              type: "string",
              enum: ["Manual", "Scheduler", "MR", "Push", "CreateTag", "Issue", "Note"],
            },
          },
        },
      }),
    },
  },
} as const;

export const batchRunBody = {
  type: "object",
  required: ["pipeline_ids"],
  properties: { pipeline_ids: { type: "array", items: { type: "string" } } },
} as const;

export const idempotencyHeaders = {
  type: "object",
  properties: { "idempotency-key": { type: "string", minLength: 1, maxLength: LIMITS.idempotencyKeyLength } },
} as const;

export const batchResultBody = {
  type: "object",
  required: ["query"],
  properties: {
    query: {
      type: "array",
      maxItems: LIMITS.queryEntries,
      items: {
        type: "object",
        required: ["pipeline_id", "pipeline_run_id"],
        properties: { pipeline_id: idSchema, pipeline_run_id: idSchema },
      },
    },
  },
} as const;

export const runListBody = {
  type: ["object", "null"],
  properties: {
    status: { type: "array", items: { type: "string", enum: RUN_STATUSES } },
    start_time: { type: ["string", "integer"], maxLength: 19, minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    end_time: { type: ["string", "integer"], maxLength: 19, minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    update_time: { type: ["string", "integer"], maxLength: 19, minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    offset: { type: "integer", minimum: 0, maximum: LIMITS.listOffset },
    limit: { type: "integer", minimum: 0, maximum: RUN_LIST_MAX_LIMIT },
    sort_key: { type: "string", enum: RUN_SORT_KEYS },
    sort_dir: { type: "string", enum: ["asc", "desc"] },
  },
} as const;

export const latestStatusBody = { type: "array", maxItems: LIMITS.queryEntries, items: idSchema } as const;

export const logBody = {
  type: "object",
  required: ["limit", "sort"],
  properties: {
    start_offset: {
      type: ["integer", "string"],
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      maxLength: 16,
    },
    end_offset: { type: ["integer", "string"], minimum: 0, maximum: Number.MAX_SAFE_INTEGER, maxLength: 16 },
    limit: { type: "integer", minimum: 1, maximum: LOG_MAX_LINES },
    sort: { type: "string", enum: ["asc", "desc"] },
    /** Ours: the log of an earlier execution of the step (the job's `previous_attempts`). */
    attempt: { type: "integer", minimum: 1, maximum: 1_000_000 },
  },
} as const;

export const logStreamQuery = {
  type: "object",
  // A byte offset: at most 15 digits, so it stays an exact integer.
  properties: {
    offset: { type: "string", pattern: "^\\d{1,15}$" },
    /** Ours: the log of an earlier execution of the step. */
    attempt: { type: "string", pattern: "^[1-9]\\d{0,6}$" },
  },
} as const;
