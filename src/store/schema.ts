// Table shapes shared by both backends. Booleans are stored as 0/1 integers and structured values
// as JSON text in both SQLite and PostgreSQL, so one set of queries serves both.

export interface MetaTable {
  key: string;
  value: string;
}

export interface ProjectTable {
  id: string;
  name: string;
  create_time: number;
}

export interface TokenTable {
  id: string;
  name: string;
  token_hash: string;
  role: string;
  /** JSON array of project ids. */
  project_ids: string;
  create_time: number;
  revoked_time: number | null;
}

export interface AccessKeyTable {
  ak: string;
  /** Sealed (sealer.ts); opened to verify HMAC signatures, it never leaves the server again. */
  sk: string;
  name: string;
  role: string;
  project_ids: string;
  create_time: number;
  revoked_time: number | null;
}

export interface PipelineTable {
  id: string;
  project_id: string;
  name: string;
  description: string;
  is_publish: number;
  banned: number;
  manifest_version: string;
  /** The definition JSON text exactly as the client sent it. */
  definition: string;
  /** JSON: sources, variables, schedules, triggers, concurrency_control, group_id, component_id, … */
  spec: string;
  creator_id: string;
  creator_name: string;
  updater_id: string;
  create_time: number;
  update_time: number;
  /** Last run_number handed out. */
  run_counter: number;
  /** The spec's component_id, as a column for the list's filter. */
  component_id: string;
  /** The pipeline group it sits in; NULL: ungrouped. The truth for the spec's group_id. */
  group_id: string | null;
}

export interface RunTable {
  id: string;
  pipeline_id: string;
  project_id: string;
  pipeline_name: string;
  run_number: number;
  status: string;
  trigger_type: string;
  description: string;
  executor_id: string;
  executor_name: string;
  start_time: number;
  end_time: number;
  pause_time: number;
  paused_since: number | null;
  /** 1 once concurrency control let the run in (it counts against concurrency_number). */
  admitted: number;
  /** Global FIFO order of runs waiting for admission. */
  queue_seq: number;
  stop_requested: number;
  start_status: string;
  start_reason: string | null;
  message: string | null;
  /** JSON of the RunContext without its definition: variable values, sources. */
  context: string;
  /** The definition snapshot, in the definitions table. */
  definition_hash: string;
  /** The sub-pipeline step that started the run (all null otherwise). */
  parent_run_id: string | null;
  parent_pipeline_id: string | null;
  parent_job_id: string | null;
  parent_step_id: string | null;
  create_time: number;
  update_time: number;
  /** Bumped by every change of the run's records (see RunRecord.version). */
  version: number;
}

export interface StageRunTable {
  id: string;
  run_id: string;
  idx: number;
  identifier: string;
  name: string;
  status: string;
  is_select: number;
  start_time: number;
  end_time: number;
}

export interface JobRunTable {
  id: string;
  run_id: string;
  project_id: string;
  stage_idx: number;
  idx: number;
  identifier: string;
  name: string;
  status: string;
  message: string | null;
  is_select: number;
  /** Index of the step to execute next (a job resumes after a manual review). */
  next_step: number;
  /** Order in which the job became ready; FIFO within a project. */
  ready_seq: number;
  /** Dispatch attempt, also the fencing token of the runner holding it. */
  attempt: number;
  /** Which execution of the job this is: 1, and one more for each retry that reran it. */
  run_attempt: number;
  runner_id: string | null;
  lease_expires: number | null;
  /** JSON array of runner labels the job asks for. */
  labels: string;
  /** Process group of the step process running now (embedded runner), for restart clean-up. */
  pgid: number | null;
  /** Times the job's runner was lost (lease expired) since it was last reset. */
  lost: number;
  /** Last lease renewal of the current attempt; null until its runner first confirms it. */
  heartbeat_time: number | null;
  start_time: number;
  end_time: number;
}

export interface StepRunTable {
  id: string;
  run_id: string;
  job_id: string;
  idx: number;
  identifier: string;
  name: string;
  task: string;
  status: string;
  message: string | null;
  /** Manual review: when its timeout applies (epoch ms). */
  deadline: number | null;
  log_bytes: number;
  start_time: number;
  end_time: number;
  /** JSON: [{key, value}]. */
  outputs: string;
  /** JSON: a manual review's decisions so far ([{approver, decision, description, time}]). */
  approvals: string;
}

/** An earlier execution of a job, kept when a retry reran it. */
export interface JobAttemptTable {
  id: string;
  run_id: string;
  job_id: string;
  attempt: number;
  status: string;
  message: string | null;
  start_time: number;
  end_time: number;
}

/** A step of a kept job attempt; its log is stored under this row's id. */
export interface StepAttemptTable {
  id: string;
  run_id: string;
  job_attempt_id: string;
  step_id: string;
  idx: number;
  status: string;
  message: string | null;
  start_time: number;
  end_time: number;
  log_bytes: number;
}

export interface StepLogTable {
  step_id: string;
  start_offset: number;
  text: string;
}

export interface ProjectDispatchTable {
  project_id: string;
  /** When a job of the project was last claimed (fairness: least recently served goes first). */
  last_claim: number;
}

export interface RunnerTable {
  id: string;
  credential_id: string;
  name: string;
  /** JSON array. */
  labels: string;
  slots: number;
  version: string;
  create_time: number;
  last_seen: number;
}

export interface DefinitionTable {
  hash: string;
  body: string;
}

export interface BatchTable {
  project_id: string;
  idempotency_key: string;
  body_hash: string;
  /** JSON array of the run ids the batch created, in request order. */
  run_ids: string;
  create_time: number;
}

/** One schedule of a pipeline and when it fires next (kept with the pipeline's spec). */
export interface ScheduleTable {
  pipeline_id: string;
  uuid: string;
  project_id: string;
  /** The schedule entry as stored in the pipeline's spec (JSON): a change of it starts afresh. */
  body: string;
  /** The next tick not yet fired (epoch ms); null when it has none (disabled). */
  next_due: number | null;
  last_fired: number | null;
  /** Ticks that were not fired (no server ran near their time), and the latest of them. */
  missed: number;
  last_missed: number | null;
}

/** A repository a pipeline polls (its triggers with `poll_interval`), with what was seen there. */
export interface TriggerPollTable {
  pipeline_id: string;
  git_url: string;
  project_id: string;
  /** The shortest `poll_interval` of the pipeline's triggers of this repository. */
  interval_ms: number;
  next_due: number;
  /** The remote's branches and tags at the last poll (JSON RemoteRefs); null before the first. */
  refs: string | null;
  last_poll: number | null;
  /** Why the last poll failed; null when it did not. */
  last_error: string | null;
}

/** An artifact a job of a run kept: its bytes are the blob of that hash (see blobs.ts). */
export interface ArtifactTable {
  run_id: string;
  name: string;
  project_id: string;
  pipeline_id: string;
  job_run_id: string;
  job_identifier: string;
  sha256: string;
  size: number;
  create_time: number;
}

/** A cache entry: the files a pipeline's job kept under a key, for its runs at a branch. */
export interface CacheTable {
  pipeline_id: string;
  /** The branch the runs build ("" when they build none). */
  scope: string;
  key: string;
  project_id: string;
  sha256: string;
  size: number;
  create_time: number;
  last_used: number;
}

/** A project's pipeline tag. */
export interface TagTable {
  id: string;
  project_id: string;
  name: string;
  color: string;
  create_time: number;
}

/** A project's pipeline group: a node of a tree at most three levels deep. */
export interface PipelineGroupTable {
  id: string;
  project_id: string;
  /** '' for a group at the root (CodeArts answers it so). */
  parent_id: string;
  /** The ids from the root down to this group, joined by '.'. */
  path_id: string;
  name: string;
  /** Place among its siblings, from 1. */
  ordinal: number;
  creator: string;
  updater: string | null;
  create_time: number;
  update_time: number | null;
}

/** A tag a pipeline carries. */
export interface PipelineTagTable {
  pipeline_id: string;
  tag_id: string;
}

/** Whether a pipeline's own permissions are on (a row: on or off; no row: off, the default). */
export interface PipelinePermissionSwitchTable {
  pipeline_id: string;
  enabled: number;
  update_time: number;
}

/** One row of a pipeline's permission matrix: a project role's or one credential's operations. */
export interface PipelinePermissionTable {
  pipeline_id: string;
  /** role (subject_id: admin, operator, viewer) or user (subject_id: a token id or an AK). */
  subject_kind: string;
  subject_id: string;
  op_query: number;
  op_execute: number;
  op_update: number;
  op_delete: number;
  op_authorize: number;
  update_time: number;
}

/** A project's pipeline template (built-in ones live in code, not here). */
export interface TemplateTable {
  id: string;
  project_id: string;
  name: string;
  description: string;
  language: string;
  definition: string;
  /** JSON of the template's variables, secret values sealed. */
  variables: string;
  is_show_source: number;
  creator_id: string;
  creator_name: string;
  updater_id: string;
  create_time: number;
  update_time: number;
}

/** A template a caller (token, access key or admin) marked as a favourite; built-ins too. */
export interface TemplateFavoriteTable {
  template_id: string;
  principal_id: string;
}

/** A project's parameter group (CodeArts "variable group"). */
export interface VariableGroupTable {
  id: string;
  project_id: string;
  name: string;
  description: string;
  /** GroupVariable[] as JSON, each secret value sealed (sealer.ts). */
  variables: string;
  creator_id: string;
  creator_name: string;
  updater_id: string;
  updater_name: string;
  create_time: number;
  update_time: number;
}

/** A parameter group related to a pipeline; `seq` is its place in the pipeline's order of groups. */
export interface PipelineVariableGroupTable {
  pipeline_id: string;
  group_id: string;
  seq: number;
}

/** A project's webhook secret (sealed at rest: HMAC checks need it in clear). */
export interface WebhookSecretTable {
  project_id: string;
  secret: string;
  create_time: number;
}

/** One code-event delivery and what came of it. */
export interface DeliveryTable {
  id: string;
  project_id: string;
  forge: string;
  delivery_id: string;
  event: string;
  /** accepted (runs started), ignored (no trigger matched), rejected (signature, format). */
  status: string;
  reason: string | null;
  repository: string;
  ref: string;
  commit_id: string;
  /** JSON: [{pipeline_id, pipeline_run_id}] started; [{pipeline_id, reason}] not. */
  started: string;
  skipped: string;
  create_time: number;
}

/** A pipeline's notification target (CodeArts's third-party notice): where which events go. */
export interface NoticeTargetTable {
  id: string;
  project_id: string;
  pipeline_id: string;
  /** webhook, feishu, dingtalk, wecom, slack, email (pipeline/notices.ts). */
  kind: string;
  enabled: number;
  /** Sealed: chat URLs carry their credential. '' for email. */
  url: string;
  /** Sealed HMAC secret; '' for none. */
  secret: string;
  /** JSON string arrays: the events, CodeArts's notice_contents, the addressees (email). */
  events: string;
  contents: string;
  users: string;
  sort_index: number;
  create_time: number;
  update_time: number;
}

/** One notice to send (the outbox) and what came of each attempt. */
export interface NoticeDeliveryTable {
  id: string;
  project_id: string;
  pipeline_id: string;
  target_id: string;
  run_id: string;
  event: string;
  /** JSON NoticeMessage: the run as it was when its status changed. */
  message: string;
  /** PENDING (due at next_attempt), SUCCEEDED, FAILED (attempts used up, or undeliverable). */
  status: string;
  attempts: number;
  next_attempt: number;
  /** While a sender holds it: until when, and its claim (fences a late sender's result). */
  lease_until: number | null;
  claim: string | null;
  last_error: string | null;
  /** JSON [{time, outcome, status_code, error}] of every attempt. */
  history: string;
  create_time: number;
  update_time: number;
}

export interface Database {
  meta: MetaTable;
  projects: ProjectTable;
  tokens: TokenTable;
  access_keys: AccessKeyTable;
  pipelines: PipelineTable;
  pipeline_runs: RunTable;
  stage_runs: StageRunTable;
  job_runs: JobRunTable;
  step_runs: StepRunTable;
  step_logs: StepLogTable;
  job_attempts: JobAttemptTable;
  step_attempts: StepAttemptTable;
  batches: BatchTable;
  definitions: DefinitionTable;
  runners: RunnerTable;
  project_dispatch: ProjectDispatchTable;
  schedules: ScheduleTable;
  trigger_polls: TriggerPollTable;
  artifacts: ArtifactTable;
  caches: CacheTable;
  tags: TagTable;
  pipeline_tags: PipelineTagTable;
  variable_groups: VariableGroupTable;
  pipeline_variable_groups: PipelineVariableGroupTable;
  pipeline_permission_switch: PipelinePermissionSwitchTable;
  pipeline_permissions: PipelinePermissionTable;
  templates: TemplateTable;
  template_favorites: TemplateFavoriteTable;
  pipeline_groups: PipelineGroupTable;
  webhook_secrets: WebhookSecretTable;
  deliveries: DeliveryTable;
  notice_targets: NoticeTargetTable;
  notice_deliveries: NoticeDeliveryTable;
}
