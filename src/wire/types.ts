// The API's answer shapes as types, derived from the schemas the server answers with (schemas.ts),
// so the server's views, the CLI and the UI read one contract. Types only: importing this module
// brings no code (and no schema) into a bundle.

import type { FromSchema, JSONSchema } from "json-schema-to-ts";
import type { PipelineBody } from "../pipeline/yaml-form.js";
import type {
  batchResultSchema,
  batchRunSchema,
  errorBodySchema,
  jobAttemptSchema,
  jobRunSchema,
  logPageSchema,
  pipelineDetailSchema,
  pipelineListItemSchema,
  pipelineListSchema,
  pipelineRequestSchema,
  projectRunListSchema,
  runDetailSchema,
  runListSchema,
  runStartedSchema,
  runSummarySchema,
  stageRunSchema,
  stageStatusSchema,
  stepRunSchema,
  variableSchema,
} from "./schemas.js";

/** Answers are read, never changed: arrays and fields are readonly all the way down. */
export type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The type of the answers a schema describes. */
export type Answer<S extends JSONSchema> = DeepReadonly<FromSchema<S>>;

/** Every error answer: `{error_code: "DEVPIPE.…", error_msg}`, some with more fields. */
export type ErrorBody = Answer<typeof errorBodySchema>;

export type StepRun = Answer<typeof stepRunSchema>;
export type JobRun = Answer<typeof jobRunSchema>;
export type JobAttempt = Answer<typeof jobAttemptSchema>;
export type StageRun = Answer<typeof stageRunSchema>;
export type RunDetail = Answer<typeof runDetailSchema>;
export type StageStatus = Answer<typeof stageStatusSchema>;
export type RunSummary = Answer<typeof runSummarySchema>;
export type RunList = Answer<typeof runListSchema>;
export type ProjectRunList = Answer<typeof projectRunListSchema>;
export type RunStarted = Answer<typeof runStartedSchema>;
export type BatchRunAnswer = Answer<typeof batchRunSchema>;
export type BatchResultAnswer = Answer<typeof batchResultSchema>;
export type BatchResultItem = BatchResultAnswer["result"][number];
export type LogPage = Answer<typeof logPageSchema>;

export type PipelineVariable = Answer<typeof variableSchema>;
export type PipelineDetail = Answer<typeof pipelineDetailSchema>;
export type PipelineListItem = Answer<typeof pipelineListItemSchema>;
export type PipelineList = Answer<typeof pipelineListSchema>;

/** A pipeline create or update body. */
export type PipelineRequest = Answer<typeof pipelineRequestSchema>;

/** Fails to compile unless T is true. */
type Assert<T extends true> = T;

/**
 * What the CLI sends (a pipeline file as pipeline/yaml-form reads it) uses only fields the API
 * takes, with the types the API takes for its scalars (the server validates the rest).
 */
export type FileBodyFitsRequest = Assert<
  keyof PipelineBody extends keyof PipelineRequest
    ? Pick<PipelineBody, "name" | "is_publish" | "definition" | "description"> extends Pick<
        PipelineRequest,
        "name" | "is_publish" | "definition" | "description"
      >
      ? true
      : false
    : false
>;

/**
 * CodeArts's code for a run that waits over a QUEUE concurrency limit. It is not an error: the
 * run exists, and RunPipeline answers 200 with it beside the run's id (docs/decisions.md).
 */
export const RUN_QUEUED_CODE = "DEVPIPE.00011169";
