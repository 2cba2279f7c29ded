// The answer shapes of the API as JSON Schemas: the server validates its routes' answers against
// them (a view that drifts fails the type check, and fast-json-stringify writes what they list),
// the OpenAPI document shows them, and `types.ts` derives the types the CLI and the UI read.
// Field names and meanings are CodeArts's (spec §4), plus ours where marked.

import { LIMITS } from "../pipeline/limits.js";
import { NODE_STATUSES, RUN_STATUSES } from "../pipeline/vocabulary.js";

const str = { type: "string" } as const;
const int = { type: "integer" } as const;
const bool = { type: "boolean" } as const;
const nul = { type: "null" } as const;
const strOrNull = { type: ["string", "null"] } as const;
const intOrNull = { type: ["integer", "null"] } as const;
const strings = { type: "array", items: str } as const;
/** Values the client chose (sources, step input values): passed through as they were stored. */
const anything = {} as const;
const nodeStatus = { type: "string", enum: NODE_STATUSES } as const;
const runStatus = { type: "string", enum: RUN_STATUSES } as const;

/** An object whose every listed property is always present. */
function record<const P extends Record<string, object>>(properties: P) {
  return {
    type: "object",
    additionalProperties: false,
    required: Object.keys(properties) as (keyof P & string)[],
    properties,
  } as const;
}

export const errorBodySchema = {
  type: "object",
  required: ["error_code", "error_msg"],
  properties: { error_code: str, error_msg: str },
} as const;

export const successSchema = record({ success: bool });

// ---- runs --------------------------------------------------------------------------------------

export const stepRunSchema = record({
  id: str,
  name: str,
  task: str,
  business_type: str,
  inputs: { type: "array", items: record({ key: str, value: anything }) },
  sequence: int,
  official_task_version: strOrNull,
  identifier: str,
  multi_step_editable: int,
  endpoint_ids: strings,
  last_dispatch_id: nul,
  status: nodeStatus,
  message: strOrNull,
  start_time: int,
  end_time: int,
  daily_build_number: nul,
  /** Ours: bytes of log stored so far. */
  log_size: int,
  /** Ours: when a waiting manual review times out, or a delay ends (epoch ms). */
  review_deadline: intOrNull,
  /** Ours: the run a sub-pipeline step started (null for any other step, or before it started one). */
  sub_pipeline_run: {
    anyOf: [
      record({ pipeline_id: str, pipeline_run_id: str, pipeline_name: str, run_number: int, status: str }),
      nul,
    ],
  },
  /** Ours: a manual review's decisions so far, one per approver who decided. */
  approvals: {
    type: "array",
    items: record({
      approver: str,
      decision: { type: "string", enum: ["pass", "refuse"] },
      description: str,
      time: int,
    }),
  },
});

/** Ours: an earlier execution of a job, kept when a retry reran it. */
export const jobAttemptSchema = record({
  attempt: int,
  status: nodeStatus,
  message: strOrNull,
  start_time: int,
  end_time: int,
  steps: {
    type: "array",
    items: record({
      /** The kept step's id. */
      id: str,
      /** The run's step it was an execution of; its log: the step's logs with `attempt`. */
      step_id: str,
      status: nodeStatus,
      message: strOrNull,
      start_time: int,
      end_time: int,
      log_size: int,
    }),
  },
});

export const jobRunSchema = record({
  id: str,
  category: nul,
  sequence: int,
  async: str,
  name: str,
  identifier: str,
  depends_on: strings,
  condition: strOrNull,
  resource: str,
  is_select: bool,
  timeout: str,
  last_dispatch_id: strOrNull,
  status: nodeStatus,
  message: strOrNull,
  start_time: int,
  end_time: int,
  steps: { type: "array", items: stepRunSchema },
  exec_id: nul,
  /** Ours: which execution of the job this is (1, and one more for each retry that reran it). */
  attempt: int,
  /** Ours: the earlier executions, oldest first, with their results, times and (per step) logs. */
  previous_attempts: { type: "array", items: jobAttemptSchema },
});

export const stageRunSchema = record({
  id: str,
  category: nul,
  name: str,
  identifier: str,
  run_always: bool,
  parallel: nul,
  is_select: bool,
  sequence: int,
  depends_on: strings,
  condition: nul,
  status: nodeStatus,
  start_time: int,
  end_time: int,
  pause_time: int,
  pre: { type: "array", items: anything },
  post: { type: "array", items: anything },
  jobs: { type: "array", items: jobRunSchema },
});

/** ShowPipelineRunDetail (§4.8), and the data of the live run stream's `run` events. */
export const runDetailSchema = record({
  id: str,
  pipeline_id: str,
  manifest_version: str,
  name: str,
  description: str,
  is_publish: bool,
  executor_id: str,
  executor_name: str,
  status: runStatus,
  trigger_type: str,
  run_number: int,
  start_time: int,
  end_time: int,
  pause_time: int,
  stages: { type: "array", items: stageRunSchema },
  domain_id: str,
  project_id: str,
  region: str,
  component_id: str,
  language: str,
  sources: { type: "array", items: anything },
  artifacts: { type: "array", items: anything },
  subject_id: str,
  group_id: nul,
  group_name: nul,
  detail_url: nul,
  current_system_time: int,
  // Ours, beyond CodeArts's fields.
  message: strOrNull,
  start_status: { type: "string", enum: ["START_SUCCESS", "START_FAILED"] },
  /** A run waiting under concurrency control: its queue (the run id) and place in it. */
  queue_id: strOrNull,
  queue_position: intOrNull,
  variables: { type: "array", items: record({ name: str, value: str, is_secret: bool }) },
  /** A run a sub-pipeline step started: that step, its job and run; null for any other run. */
  parent_run: {
    anyOf: [record({ pipeline_id: str, pipeline_run_id: str, job_run_id: str, step_run_id: str }), nul],
  },
});

export const stageStatusSchema = {
  type: "object",
  additionalProperties: false,
  required: ["name", "sequence", "status", "start_time", "end_time"],
  properties: {
    name: str,
    sequence: int,
    status: nodeStatus,
    start_time: str,
    end_time: str,
    /** In run lists only. */
    id: str,
  },
} as const;

const buildParamNames = [
  "action",
  "build_type",
  "commit_id",
  "event_type",
  "merge_id",
  "message",
  "source_branch",
  "tag",
  "target_branch",
  "codehub_id",
  "git_url",
  "source_codehub_id",
  "source_codehub_url",
  "source_codehub_http_url",
] as const;

/** An item of ListPipelineRuns (§4.9) and of BatchShowPipelinesLatestStatus (§4.10). */
export const runSummarySchema = record({
  pipeline_id: str,
  pipeline_run_id: str,
  executor_id: str,
  executor_name: str,
  stage_status_list: { type: "array", items: stageStatusSchema },
  status: runStatus,
  run_number: int,
  trigger_type: str,
  build_params: {
    type: "object",
    required: buildParamNames,
    properties: Object.fromEntries(buildParamNames.map((n) => [n, strOrNull])) as Record<
      (typeof buildParamNames)[number],
      typeof strOrNull
    >,
    // A run's sources may carry more build parameters than CodeArts lists; they are shown too.
    additionalProperties: strOrNull,
  },
  artifact_params: record({ version: nul, branch_filter: nul, package_name: nul, organization: nul }),
  start_time: int,
  end_time: int,
  detail_url: str,
  modify_url: str,
});

export const runListSchema = record({
  offset: int,
  limit: int,
  total: int,
  pipeline_runs: { type: "array", items: runSummarySchema },
});

export const latestStatusSchema = { type: "array", items: runSummarySchema } as const;

/** A project's runs across its pipelines (ours): each run's summary and its pipeline's name. */
export const projectRunListSchema = record({
  offset: int,
  limit: int,
  total: int,
  pipeline_runs: {
    type: "array",
    items: {
      ...runSummarySchema,
      required: [...runSummarySchema.required, "pipeline_name"],
      properties: { ...runSummarySchema.properties, pipeline_name: str },
    },
  },
});

/**
 * A started run. A run that waits over a QUEUE concurrency limit is answered with 200 too, and
 * with CodeArts's queuing code beside its id (docs/decisions.md: what the cloud answers).
 */
export const runStartedSchema = {
  type: "object",
  additionalProperties: false,
  required: ["pipeline_run_id"],
  properties: {
    pipeline_run_id: str,
    error_code: str,
    error_msg: str,
    error: record({ pipeline_run_id: str, queue_id: str }),
  },
} as const;

export const batchRunSchema = record({
  result: { type: "array", items: record({ pipeline_id: str, pipeline_run_id: str }) },
});

export const batchResultSchema = record({
  result: {
    type: "array",
    items: record({
      pipeline_id: str,
      pipeline_run_id: str,
      pipeline_name: strOrNull,
      status: { type: "string", enum: ["START_SUCCESS", "START_FAILED"] },
      reason: strOrNull,
    }),
  },
});

/** ShowPipelineLog (§4.11): offsets are byte offsets, as strings. */
export const logPageSchema = record({
  step_run_id: str,
  start_offset: str,
  end_offset: str,
  has_more: bool,
  log: str,
});

export const stepOutputsSchema = record({
  step_outputs: {
    type: "array",
    items: record({
      step_run_id: str,
      output_result: { type: "array", items: record({ key: str, value: str }) },
    }),
  },
  current_system_time: int,
});

/** ShowPipelineArtifacts: the SDK's Artifact fields, plus ours (job_identifier, create_time). */
export const artifactSchema = record({
  project_id: str,
  name: str,
  artifact_version: str,
  upload_target: str,
  artifact_package_type: str,
  artifact_uri: str,
  artifact_download_url_with_id: str,
  artifact_type: str,
  hash_code: { type: "array", items: record({ hash_type: str, hash_value: str }) },
  job_id: str,
  build_no: int,
  daily_build_number: str,
  file_size: str,
  job_identifier: str,
  create_time: int,
});
export const artifactsSchema = record({ artifacts: { type: "array", items: artifactSchema } });

// ---- pipelines ---------------------------------------------------------------------------------

export const variableSchema = record({
  name: str,
  sequence: int,
  type: { type: "string", enum: ["string", "enum", "autoIncrement"] },
  value: str,
  is_secret: bool,
  description: str,
  is_runtime: bool,
  limits: strings,
  is_reset: bool,
  latest_value: str,
  pipeline_id: str,
});

/** ShowPipelineDetail (§4.16). Secret values are masked. */
export const pipelineDetailSchema = record({
  id: str,
  name: str,
  description: str,
  manifest_version: str,
  region: str,
  domain_id: str,
  project_id: str,
  component_id: str,
  is_publish: bool,
  creator_id: str,
  creator_name: str,
  updater_id: str,
  create_time: int,
  update_time: int,
  is_collect: bool,
  sources: { type: "array", items: anything },
  variables: { type: "array", items: variableSchema },
  schedules: { type: "array", items: anything },
  triggers: { type: "array", items: anything },
  group_id: strOrNull,
  definition: str,
  security_level: nul,
  banned: bool,
  concurrency_control: {
    anyOf: [
      record({
        concurrency_number: int,
        exceed_action: { type: "string", enum: ["ABORT", "QUEUE"] },
        enable: bool,
        supersede: bool,
        pipeline_id: str,
      }),
      nul,
    ],
  },
});

export const pipelineListItemSchema = record({
  pipeline_id: str,
  name: str,
  project_id: str,
  project_name: str,
  component_id: str,
  is_publish: bool,
  is_collect: bool,
  manifest_version: str,
  create_time: int,
  update_time: int,
  banned: bool,
  /** The pipeline's latest run, null when it never ran. */
  latest_run: { anyOf: [runSummarySchema, nul] },
  convert_sign: int,
  security_level: nul,
});

/** ListPipelines (§4.14). */
export const pipelineListSchema = record({
  offset: int,
  limit: int,
  total: int,
  pipelines: { type: "array", items: pipelineListItemSchema },
});

export const pipelineIdSchema = record({ pipeline_id: str });

/** The pipeline's webhook (CodeArts's trigger `callback_url` and `security_token`). */
export const webhookSchema = record({ callback_url: str, security_token: str, pipeline_id: str });

/** A code-event delivery and what came of it (ours). */
export const deliverySchema = record({
  id: str,
  /** The forge's id of the delivery (a redelivery carries the same one); "" when refused unread. */
  delivery_id: str,
  forge: { type: "string", enum: ["github", "gitlab", "gitee", "codehub", "generic", "poll"] },
  event: str,
  status: { type: "string", enum: ["accepted", "ignored", "rejected"] },
  reason: strOrNull,
  repository: str,
  ref: str,
  commit_id: str,
  pipeline_runs: { type: "array", items: record({ pipeline_id: str, pipeline_run_id: str }) },
  skipped: { type: "array", items: record({ pipeline_id: str, reason: str }) },
  create_time: int,
});

/** The answer to a delivery: its record, and whether an earlier one with its id started the runs. */
export const deliveryAnswerSchema = record({ ...deliverySchema.properties, replayed: bool });

export const deliveryListSchema = record({
  total: int,
  offset: int,
  limit: int,
  deliveries: { type: "array", items: deliverySchema },
});

/** ShowPipelineTriggerFailedRecord: rejected deliveries and those that started nothing here. */
export const triggerFailedRecordSchema = record({
  total: int,
  offset: int,
  limit: int,
  records: { type: "array", items: deliverySchema },
});

/** A code source (CodeArts `sources[]`, spec §5.3) as a pipeline or a run request names it. */
export function sourceSchema<const P extends Record<string, object>>(params: P) {
  return {
    type: "object",
    required: ["type"],
    properties: {
      type: { type: "string", enum: ["code", "artifact"] },
      params: {
        type: "object",
        properties: {
          git_type: { type: "string", enum: ["codehub", "gitee", "github", "gitcode", "gitlab"] },
          git_url: { type: "string", maxLength: LIMITS.gitUrlLength },
          default_branch: { type: "string", maxLength: LIMITS.refLength },
          ...params,
        },
      },
    },
  } as const;
}

/** CreatePipelineNew and UpdatePipelineInfo (§4.15, §4.17): the request, a full replace. */
export const pipelineRequestSchema = {
  type: "object",
  required: ["name", "is_publish", "definition"],
  properties: {
    name: { type: "string", minLength: 1, maxLength: LIMITS.nameLength },
    is_publish: { type: "boolean" },
    // No minLength: a JSON Schema length counts code points over the whole text (tens of
    // milliseconds for one near the size limit); parseDefinition refuses an empty one.
    definition: { type: "string" },
    description: { type: "string", maxLength: LIMITS.descriptionLength },
    manifest_version: { type: "string", maxLength: LIMITS.manifestVersionLength },
    sources: {
      type: "array",
      maxItems: 100,
      items: sourceSchema({
        alias: { type: "string", pattern: "^[A-Za-z0-9_]{0,128}$" },
        codehub_id: { type: "string" },
        endpoint_id: { type: "string" },
      }),
    },
    variables: { type: "array", items: { type: "object" }, maxItems: LIMITS.variables },
    schedules: { type: "array", items: { type: "object" }, maxItems: LIMITS.schedules },
    triggers: { type: "array", items: { type: "object" }, maxItems: LIMITS.triggers },
    concurrency_control: { type: ["object", "null"] },
    project_name: { type: "string" },
    group_id: { type: ["string", "null"] },
  },
} as const;
