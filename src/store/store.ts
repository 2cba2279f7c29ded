// The persistence ports: what the api and engine layers may ask of a database, one interface per
// role so a caller can depend on only what it uses. Both backends implement them through the same
// Kysely queries (sql/); their differences are capability flags, never dialect checks in callers.

import type { OperationSet, PipelinePermissions } from "../pipeline/permissions.js";
import type { ConcurrencyControl, Variable } from "../pipeline/types.js";
import type { GroupVariable } from "../pipeline/variable-groups.js";
import type {
  BatchRecord,
  ClaimedJob,
  ClaimRequest,
  JobAttemptRecord,
  JobFence,
  JobRunRecord,
  LogChunk,
  ProjectRunQuery,
  RunChanges,
  RunGraph,
  RunnerRecord,
  RunQuery,
  RunRecord,
  StageRunRecord,
  StepRunRecord,
} from "./run-records.js";

/**
 * A write met a record with the same unique key made by someone else in the meantime (a batch's
 * idempotency key, an accepted delivery's id): the caller reads theirs instead.
 */
export class DuplicateKey extends Error {
  constructor(readonly what: string) {
    super(`another ${what} with the same key was recorded first`);
    this.name = "DuplicateKey";
  }
}

/**
 * Roles of a credential in its projects: viewer reads; operator also runs, stops, retries and
 * reviews; admin does everything. `runner` is for runner agents: it sees no project and may only
 * take and report jobs (issued by the bootstrap admin, with no projects).
 */
export const ROLES = ["viewer", "operator", "admin", "runner"] as const;
export type Role = (typeof ROLES)[number];

export interface StoreCapabilities {
  /** PostgreSQL: claims use `FOR UPDATE SKIP LOCKED`; SQLite has one writer and needs none. */
  readonly supportsSkipLocked: boolean;
  readonly dialect: "sqlite" | "postgres";
}

export interface ProjectRecord {
  readonly id: string;
  readonly name: string;
  readonly create_time: number;
}

export interface CredentialRecord {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly project_ids: readonly string[];
  readonly create_time: number;
  readonly revoked_time: number | null;
}

export interface AccessKeyRecord extends CredentialRecord {
  /** `id` is the AK. */
  readonly sk: string;
}

/** Everything of a pipeline besides its columns, kept as one JSON document. */
export interface PipelineSpec {
  readonly sources: readonly unknown[];
  readonly variables: readonly Variable[];
  readonly schedules: readonly unknown[];
  readonly triggers: readonly unknown[];
  readonly concurrency_control: ConcurrencyControl | null;
  readonly group_id: string | null;
  readonly component_id: string;
  readonly project_name: string;
}

export interface PipelineRecord {
  readonly id: string;
  readonly project_id: string;
  readonly name: string;
  readonly description: string;
  readonly is_publish: boolean;
  readonly banned: boolean;
  readonly manifest_version: string;
  readonly definition: string;
  readonly spec: PipelineSpec;
  readonly creator_id: string;
  readonly creator_name: string;
  readonly updater_id: string;
  readonly create_time: number;
  readonly update_time: number;
  readonly run_counter: number;
}

export type NewPipeline = Omit<PipelineRecord, "run_counter" | "banned">;

export const PIPELINE_SORT_KEYS = ["name", "create_time", "update_time"] as const;
export type PipelineSortKey = (typeof PIPELINE_SORT_KEYS)[number];

export interface PipelineQuery {
  readonly project_id: string;
  /** The projects to list instead of `project_id` (the caller may read each). */
  readonly project_ids?: readonly string[] | undefined;
  readonly name?: string | undefined;
  /** Only disabled (true) or only enabled (false) pipelines; undefined: both. */
  readonly banned?: boolean | undefined;
  readonly is_publish?: boolean | undefined;
  readonly component_id?: string | undefined;
  readonly creator_ids?: readonly string[] | undefined;
  /** Only pipelines this credential may query (its per-pipeline permissions); unset: no such filter. */
  readonly visible_to?: { readonly role: string; readonly credential_id: string } | undefined;
  /** Pipelines carrying one of these tags (ours). */
  readonly tag_ids?: readonly string[] | undefined;
  /**
   * Pipelines by group: in the group of this path or any group below it (`subgroups`), only in
   * that group itself, or (path null) in none.
   */
  readonly group?: { readonly path_id: string | null; readonly subgroups: boolean } | undefined;
  /** Filters on each pipeline's latest run (a pipeline that never ran matches none of them). */
  readonly latest?:
    | {
        readonly statuses?: readonly string[] | undefined;
        readonly executor_ids?: readonly string[] | undefined;
        readonly started_from?: number | undefined;
        readonly started_to?: number | undefined;
      }
    | undefined;
  readonly offset: number;
  readonly limit: number;
  readonly sort_key: PipelineSortKey;
  readonly sort_dir: "asc" | "desc";
}

export interface Page<T> {
  readonly total: number;
  readonly items: readonly T[];
}

/** Small values of the server itself (the admin token's hash). */
export interface MetaStore {
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  /** Sets the value only when the key is absent; answers the value that is stored afterwards. */
  putMetaIfAbsent(key: string, value: string): Promise<string>;
}

export interface ProjectStore {
  createProject(p: ProjectRecord): Promise<void>;
  getProject(id: string): Promise<ProjectRecord | undefined>;
  findProjectByName(name: string): Promise<ProjectRecord | undefined>;
  listProjects(): Promise<ProjectRecord[]>;
}

/** X-Auth-Tokens (stored by hash) and AK/SK access keys. */
export interface CredentialStore {
  createToken(t: CredentialRecord, tokenHash: string): Promise<void>;
  findTokenByHash(tokenHash: string): Promise<CredentialRecord | undefined>;
  listTokens(): Promise<CredentialRecord[]>;
  /** Answers false when no such unrevoked token exists. */
  revokeToken(id: string, now: number): Promise<boolean>;

  createAccessKey(k: AccessKeyRecord): Promise<void>;
  findAccessKey(ak: string): Promise<AccessKeyRecord | undefined>;
  listAccessKeys(): Promise<AccessKeyRecord[]>;
  revokeAccessKey(ak: string, now: number): Promise<boolean>;
}

export type PipelineFields = Pick<
  PipelineRecord,
  | "name"
  | "description"
  | "is_publish"
  | "manifest_version"
  | "definition"
  | "spec"
  | "updater_id"
  | "update_time"
>;

export interface PipelineStore {
  createPipeline(p: NewPipeline): Promise<void>;
  getPipeline(id: string): Promise<PipelineRecord | undefined>;
  getPipelines(ids: readonly string[]): Promise<PipelineRecord[]>;
  /** The project of each existing pipeline among `ids` (a cheap existence and ownership check). */
  getPipelineProjects(ids: readonly string[]): Promise<Map<string, string>>;
  findPipelineByName(projectId: string, name: string): Promise<PipelineRecord | undefined>;
  /** Full replace of the user-editable fields; answers false when the pipeline is gone. */
  updatePipeline(id: string, fields: PipelineFields): Promise<boolean>;
  /** Deletes the pipeline with its runs and their logs. */
  deletePipeline(id: string): Promise<boolean>;
  setPipelineBanned(id: string, banned: boolean, now: number): Promise<boolean>;
  listPipelines(q: PipelineQuery): Promise<Page<PipelineRecord>>;
  updatePipelineSpec(id: string, spec: PipelineSpec): Promise<void>;
  /** Next run number of each pipeline; answers the pipelines with run_counter = that number. */
  allocateRunNumbers(pipelineIds: readonly string[]): Promise<PipelineRecord[]>;
}

/** Runs and their stage, job and step records. */
export interface RunStore {
  countActiveRuns(
    pipelineIds: readonly string[],
  ): Promise<Map<string, { admitted: number; waiting: number }>>;
  insertRunGraphs(graphs: readonly RunGraph[]): Promise<void>;
  getRun(id: string): Promise<RunRecord | undefined>;
  getRuns(ids: readonly string[]): Promise<RunRecord[]>;
  getLatestRun(pipelineId: string): Promise<RunRecord | undefined>;
  /** The pipeline's run of that number (the SDK's pipeline_run_number). */
  getRunByNumber(pipelineId: string, runNumber: number): Promise<RunRecord | undefined>;
  getRunGraph(id: string): Promise<RunGraph | undefined>;
  /** The kept earlier executions of the run's jobs (see RunChanges.keepAttempts), oldest first. */
  getJobAttempts(runId: string): Promise<JobAttemptRecord[]>;
  getStagesOfRuns(runIds: readonly string[]): Promise<StageRunRecord[]>;
  getJob(id: string): Promise<JobRunRecord | undefined>;
  getStep(id: string): Promise<StepRunRecord | undefined>;
  /** A job's steps in order. */
  getStepsOfJob(runId: string, jobId: string): Promise<StepRunRecord[]>;
  /**
   * Applies changes to one run and bumps its version; answers the new version. With a fence,
   * they apply only while that attempt still holds the job (answers undefined, nothing written,
   * when it does not, or when the run is gone).
   */
  applyRunChanges(runId: string, changes: RunChanges, fence?: JobFence): Promise<number | undefined>;
  /**
   * applyRunChanges for many runs in one transaction, a few statements per table rather than one
   * per row; answers the new version of each run that is still there.
   */
  applyManyRunChanges(
    items: readonly { readonly runId: string; readonly changes: RunChanges }[],
  ): Promise<Map<string, number>>;
  /**
   * Ends an unfinished run as FAILED with `message`, and every unfinished stage, job and step of
   * it, without reading its records (for a run that cannot be planned). Answers false when the run
   * had already ended.
   */
  failRun(runId: string, message: string, now: number): Promise<boolean>;
  /**
   * The run's version, locking the run until the surrounding transaction ends (PostgreSQL: FOR
   * UPDATE; SQLite's single writer serialises anyway); undefined when the run is gone.
   */
  lockRun(id: string): Promise<number | undefined>;
  /** lockRun for many runs in one statement, locked in id order; runs that are gone are absent. */
  lockRuns(ids: readonly string[]): Promise<Map<string, number>>;
  /** Ids of unfinished runs (of one pipeline, or of all), oldest first. */
  listActiveRunIds(pipelineId?: string): Promise<string[]>;
  listWaitingRuns(limit: number): Promise<RunRecord[]>;
  countWaitingBefore(pipelineId: string, queueSeq: number): Promise<number>;
  nextReviewDeadline(): Promise<{ step_id: string; run_id: string; deadline: number } | undefined>;
  /** The runs that sub-pipeline steps of this run started, oldest first. */
  childRunsOf(runId: string): Promise<RunRecord[]>;
  /** The run this sub-pipeline step started, if it started one. */
  childRunOfStep(stepId: string): Promise<RunRecord | undefined>;
  /** Sub-pipeline steps under way (RUNNING): each waits for its child run. */
  listRunningSteps(task: string): Promise<{ run_id: string; job_id: string; step_id: string }[]>;
  listRuns(q: RunQuery): Promise<Page<RunRecord>>;
  listProjectRuns(q: ProjectRunQuery): Promise<Page<RunRecord>>;
  latestRuns(pipelineIds: readonly string[]): Promise<RunRecord[]>;
}

/**
 * Wakeups between the processes on one database (the replicas of the scale-out shape): one that
 * made jobs ready tells the others, whose job streams then look at once instead of at their next
 * poll. PostgreSQL's LISTEN/NOTIFY; none on SQLite (one process).
 */
export interface ReadySignal {
  /** Jobs may be ready: tells the others (coalesced, at most one message on its way; never throws). */
  notify(): void;
  /**
   * Calls `onReady` when another process told (at most once an event-loop turn), and when the
   * listening connection is back after a drop (what was told meanwhile is lost); answers the
   * unsubscribe. The first subscriber opens the listening connection.
   */
  subscribe(onReady: () => void): () => void;
}

/** The queue of ready jobs, the runners that claim them, and their leases. */
export interface JobQueueStore {
  /** Claims ready jobs; each claimed job's run version is bumped (`run_version`: the new one). */
  claimJobs(req: ClaimRequest): Promise<ClaimedJob[]>;
  /**
   * Renews a job's lease while its attempt (on that runner, when named) still holds it; answers
   * false when it no longer does.
   */
  renewLease(jobId: string, attempt: number, until: number, runnerId?: string): Promise<boolean>;
  /** renewLease for many jobs of one runner in one transaction; answers per job. */
  renewLeases(
    jobs: readonly { id: string; attempt: number }[],
    until: number,
    runnerId: string,
  ): Promise<boolean[]>;
  /** Running jobs of the runner end their lease now (it is known to be gone); answers how many. */
  expireLeasesOf(runnerId: string, now: number): Promise<number>;
  /** Running jobs whose lease ran out before `now`. */
  listExpiredLeases(now: number): Promise<JobRunRecord[]>;
  /** Extends every running job's lease to at least `until`. */
  graceLeases(until: number): Promise<void>;
  /**
   * Puts claimed jobs back in the queue (their claim never reached the runner); with
   * unconfirmedOnly, only those the runner has not confirmed by a heartbeat.
   */
  releaseJobs(
    jobs: readonly { id: string; attempt: number }[],
    opts?: { readonly unconfirmedOnly?: boolean },
  ): Promise<void>;
  listRunningJobsOf(runnerId: string): Promise<JobRunRecord[]>;
  upsertRunner(r: RunnerRecord): Promise<void>;
  getRunner(id: string): Promise<RunnerRecord | undefined>;
  touchRunner(id: string, now: number): Promise<boolean>;
  listRunners(): Promise<RunnerRecord[]>;
}

export interface LogStore {
  /**
   * Appends a chunk at its byte offset; a chunk already stored there is left alone (a resend).
   * With a fence, nothing is written unless that attempt still holds the job (answers false).
   */
  appendLog(stepId: string, startOffset: number, text: string, fence?: JobFence): Promise<boolean>;
  /**
   * appendLog for many chunks in one transaction. A chunk is kept while its attempt is the job's
   * latest on that runner, running or just ended (a stopped step's last lines); answers per chunk.
   */
  appendLogs(chunks: readonly LogAppend[]): Promise<boolean[]>;
  /** Chunks overlapping [from, to) in offset order; `to` undefined means to the end. */
  readLog(stepId: string, from: number, to?: number): Promise<LogChunk[]>;
}

/** A chunk of a step's log as a runner sends it. */
export interface LogAppend {
  readonly stepId: string;
  readonly offset: number;
  readonly text: string;
  readonly fence: JobFence;
}

/** Idempotency records of batch runs. */
export interface BatchStore {
  findBatch(projectId: string, key: string): Promise<BatchRecord | undefined>;
  insertBatch(b: BatchRecord): Promise<void>;
}

/** A pipeline's schedule as the scheduler sees it (see ScheduleTable). */
export interface ScheduleRecord {
  readonly pipeline_id: string;
  readonly uuid: string;
  readonly project_id: string;
  readonly body: string;
  readonly next_due: number | null;
  readonly last_fired: number | null;
  readonly missed: number;
  readonly last_missed: number | null;
}

/** What firing (or missing) ticks changes on a schedule. */
export interface ScheduleAdvance {
  readonly next_due: number | null;
  readonly fired?: number | undefined;
  readonly missed?: number | undefined;
  readonly last_missed?: number | undefined;
}

/**
 * The schedules of pipelines. A pipeline's create and update write its schedules in the same
 * transaction (the store computes each new entry's first tick from the write's time).
 */
export interface ScheduleStore {
  listSchedulesOf(pipelineId: string): Promise<ScheduleRecord[]>;
  /** Schedules whose next tick is at or before `now`, earliest first. */
  listDueSchedules(now: number, limit: number): Promise<ScheduleRecord[]>;
  /** Moves a schedule on from the tick `due`; false when someone else did so first. */
  advanceSchedule(pipelineId: string, uuid: string, due: number, to: ScheduleAdvance): Promise<boolean>;
}

/** A repository a pipeline polls (see TriggerPollTable). */
export interface PollRecord {
  readonly pipeline_id: string;
  readonly git_url: string;
  readonly project_id: string;
  readonly interval_ms: number;
  readonly next_due: number;
  readonly refs: Readonly<Record<string, string>> | null;
  readonly last_poll: number | null;
  readonly last_error: string | null;
}

/**
 * The repositories pipelines poll. A pipeline's create and update write them in the same
 * transaction (a new one is due at once: its first poll records what the remote has).
 */
export interface PollStore {
  listPollsOf(pipelineId: string): Promise<PollRecord[]>;
  /** Polls due at or before `now`, earliest first. */
  listDuePolls(now: number, limit: number): Promise<PollRecord[]>;
  /** Takes the poll due at `due` by moving it to `next`; false when another replica took it. */
  claimPoll(pipelineId: string, gitUrl: string, due: number, next: number): Promise<boolean>;
  /** Records a poll made at `at` (refs seen, or why it failed), unless a later one is recorded. */
  finishPoll(
    pipelineId: string,
    gitUrl: string,
    at: number,
    seen: { readonly refs: Readonly<Record<string, string>> } | { readonly error: string },
  ): Promise<void>;
}

/** An artifact a job of a run kept (see ArtifactTable). */
export interface ArtifactRecord {
  readonly run_id: string;
  readonly name: string;
  readonly project_id: string;
  readonly pipeline_id: string;
  readonly job_run_id: string;
  readonly job_identifier: string;
  readonly sha256: string;
  readonly size: number;
  readonly create_time: number;
}

/** What jobs kept. A job that runs again (a retry) keeps its artifacts anew: the record is replaced. */
export interface ArtifactStore {
  putArtifact(a: ArtifactRecord): Promise<void>;
  listArtifacts(runId: string): Promise<ArtifactRecord[]>;
  getArtifact(runId: string, name: string): Promise<ArtifactRecord | undefined>;
}

export interface TagRecord {
  readonly id: string;
  readonly project_id: string;
  readonly name: string;
  readonly color: string;
  readonly create_time: number;
}

/** A project's pipeline tags, and which of its pipelines carry them. */
export interface TagStore {
  /** Throws DuplicateKey when the project has a tag of that name. */
  createTag(t: TagRecord): Promise<void>;
  listTags(projectId: string): Promise<TagRecord[]>;
  /** False when the project has no such tag; DuplicateKey when the new name is another tag's. */
  updateTag(projectId: string, id: string, name: string, color: string): Promise<boolean>;
  /** False when the project has no such tag; pipelines lose it. */
  deleteTag(projectId: string, id: string): Promise<boolean>;
  /** Each pipeline carries exactly these tags afterwards (one transaction). */
  setPipelineTags(pipelineIds: readonly string[], tagIds: readonly string[]): Promise<void>;
  /** The tags of each pipeline (by id), for a page of the list. */
  tagsOfPipelines(pipelineIds: readonly string[]): Promise<Map<string, TagRecord[]>>;
}

/** One row of a pipeline's permission matrix (see PipelinePermissionTable). */
export interface PermissionRow {
  readonly pipeline_id: string;
  readonly subject_kind: "role" | "user";
  readonly subject_id: string;
  readonly operations: OperationSet;
  readonly update_time: number;
}

/** Per-pipeline permissions: a switch and a matrix per pipeline (src/pipeline/permissions.ts). */
export interface PermissionStore {
  /** The settings of each pipeline among `ids` that has any; the others follow the project. */
  permissionsOf(pipelineIds: readonly string[]): Promise<Map<string, PipelinePermissions>>;
  setPermissionSwitch(pipelineId: string, enabled: boolean, now: number): Promise<void>;
  /** Writes the rows (insert or replace), in one transaction. */
  setPermissions(rows: readonly PermissionRow[]): Promise<void>;
}

/** A project's pipeline template (see TemplateTable); variables in clear. */
export interface TemplateRecord {
  readonly id: string;
  readonly project_id: string;
  readonly name: string;
  readonly description: string;
  readonly language: string;
  readonly definition: string;
  readonly variables: readonly Variable[];
  readonly is_show_source: boolean;
  readonly creator_id: string;
  readonly creator_name: string;
  readonly updater_id: string;
  readonly create_time: number;
  readonly update_time: number;
}

export type TemplateChange = Pick<
  TemplateRecord,
  | "name"
  | "description"
  | "language"
  | "definition"
  | "variables"
  | "is_show_source"
  | "updater_id"
  | "update_time"
>;

/** A project's pipeline templates, and which templates each caller marked as favourites. */
export interface TemplateStore {
  /** Throws DuplicateKey when the project has a template of that name. */
  createTemplate(t: TemplateRecord): Promise<void>;
  getTemplate(id: string): Promise<TemplateRecord | undefined>;
  /** The project's templates, by name; `name` matches anywhere in the name (case-insensitive). */
  listTemplates(
    projectId: string,
    filter: { readonly name?: string | undefined; readonly language?: string | undefined },
  ): Promise<TemplateRecord[]>;
  /** False when the project has no such template; DuplicateKey when the new name is another's. */
  updateTemplate(projectId: string, id: string, change: TemplateChange): Promise<boolean>;
  /** False when the project has no such template; its favourite marks go with it. */
  deleteTemplate(projectId: string, id: string): Promise<boolean>;
  setTemplateFavorite(templateId: string, principalId: string, favorite: boolean): Promise<void>;
  /** Which of these templates the principal marked as favourites. */
  favoriteTemplates(principalId: string, templateIds: readonly string[]): Promise<Set<string>>;
}

export interface GroupRecord {
  readonly id: string;
  readonly project_id: string;
  /** '' at the root. */
  readonly parent_id: string;
  /** Ids from the root down to this group, joined by '.'. */
  readonly path_id: string;
  readonly name: string;
  readonly ordinal: number;
  readonly creator: string;
  readonly updater: string | null;
  readonly create_time: number;
  readonly update_time: number | null;
}

/** A project's pipeline groups (a tree), and which group each pipeline sits in. */
export interface GroupStore {
  /**
   * Adds the group as the last of its siblings (its ordinal is set here); DuplicateKey when a
   * sibling has its name.
   */
  createGroup(g: Omit<GroupRecord, "ordinal">): Promise<GroupRecord>;
  listGroups(projectId: string): Promise<GroupRecord[]>;
  getGroup(projectId: string, id: string): Promise<GroupRecord | undefined>;
  /** False when the project has no such group; DuplicateKey when a sibling has the new name. */
  renameGroup(projectId: string, id: string, name: string, updater: string, now: number): Promise<boolean>;
  /**
   * Deletes the group and every group below it (one transaction); their pipelines become
   * ungrouped. Answers the number of groups deleted (0: no such group).
   */
  deleteGroup(projectId: string, id: string): Promise<number>;
  /** Exchanges the ordinals of two groups (one transaction). */
  swapGroups(a: GroupRecord, b: GroupRecord, updater: string, now: number): Promise<void>;
  /** Puts the pipelines in the group (null: ungrouped), wherever they were. */
  movePipelinesToGroup(pipelineIds: readonly string[], groupId: string | null): Promise<void>;
  /** The ids of the pipelines in the group of this path and below it, by name, at most `limit`. */
  pipelineIdsInGroup(projectId: string, pathId: string, limit: number): Promise<string[]>;
  /** How many pipelines sit directly in each group of the project, and (key null) in none. */
  countPipelinesByGroup(projectId: string): Promise<Map<string | null, number>>;
}

export interface VariableGroupRecord {
  readonly id: string;
  readonly project_id: string;
  readonly name: string;
  readonly description: string;
  /** In clear here; sealed at rest. */
  readonly variables: readonly GroupVariable[];
  readonly creator_id: string;
  readonly creator_name: string;
  readonly updater_id: string;
  readonly updater_name: string;
  readonly create_time: number;
  readonly update_time: number;
}

/** A project's parameter groups, and the pipelines they are related to. */
export interface VariableGroupStore {
  /** Throws DuplicateKey when the project has a group of that name. */
  createVariableGroup(g: VariableGroupRecord): Promise<void>;
  /** Name, description, variables and updater; false when the project has no such group; DuplicateKey on a taken name. */
  updateVariableGroup(g: VariableGroupRecord): Promise<boolean>;
  getVariableGroup(projectId: string, id: string): Promise<VariableGroupRecord | undefined>;
  /** By name; `name` filters by a part of it (case-insensitive). */
  listVariableGroups(
    projectId: string,
    q: { readonly name?: string | undefined; readonly offset: number; readonly limit: number },
  ): Promise<Page<VariableGroupRecord>>;
  /** False when the project has no such group; its relations go with it. */
  deleteVariableGroup(projectId: string, id: string): Promise<boolean>;
  /** The pipeline is related to exactly these groups afterwards, in this order (one transaction). */
  setPipelineVariableGroups(pipelineId: string, groupIds: readonly string[]): Promise<void>;
  /** The groups of each pipeline (by id), in the order they were related. */
  variableGroupsOfPipelines(pipelineIds: readonly string[]): Promise<Map<string, VariableGroupRecord[]>>;
  /** The pipelines each group is related to (by group id), by name. */
  pipelinesOfVariableGroups(
    groupIds: readonly string[],
  ): Promise<Map<string, { readonly id: string; readonly name: string }[]>>;
}

/** A cache entry (see CacheTable). */
export interface CacheRecord {
  readonly pipeline_id: string;
  readonly scope: string;
  readonly key: string;
  readonly project_id: string;
  readonly sha256: string;
  readonly size: number;
  readonly create_time: number;
  readonly last_used: number;
}

/** Cache entries. An entry is immutable: saving a key that is there keeps the first. */
export interface CacheStore {
  /** The entry, its last use moved to `now`; undefined on a miss. */
  useCache(pipelineId: string, scope: string, key: string, now: number): Promise<CacheRecord | undefined>;
  /** Stores the entry unless its key is there; answers whether it was stored. */
  putCache(c: CacheRecord): Promise<boolean>;
  /** The project's entries, least recently used first, and their bytes in all. */
  projectCaches(projectId: string): Promise<{ readonly items: CacheRecord[]; readonly bytes: number }>;
  deleteCache(pipelineId: string, scope: string, key: string): Promise<void>;
  /** Deletes up to `limit` entries unused since the time; answers how many and their blobs. */
  expireCaches(
    unusedSince: number,
    limit: number,
  ): Promise<{ readonly removed: number; readonly blobs: string[] }>;
}

/** What a project keeps (the admin's usage view). */
export interface ProjectUsage {
  readonly project_id: string;
  readonly name: string;
  readonly runs: number;
  /** Bytes of step logs kept. */
  readonly log_bytes: number;
  readonly artifacts: number;
  /** Bytes of its artifacts (a blob two artifacts share counts for each). */
  readonly artifact_bytes: number;
  readonly caches: number;
  readonly cache_bytes: number;
}

/**
 * What retention removes, a batch at a time (each call one short transaction at most): runs that
 * ended before a time or more than a number of run numbers behind their pipeline's latest, logs of runs that ended before a time,
 * artifacts and idempotency records older than a time. Unfinished runs are never touched.
 */
export interface RetentionStore {
  expiredRuns(q: {
    readonly endedBefore?: number | undefined;
    readonly keepPerPipeline?: number | undefined;
    readonly limit: number;
  }): Promise<string[]>;
  /** Deletes the runs (if still ended) with their nodes, logs and artifact records; answers the blobs those referenced. */
  deleteRuns(ids: readonly string[]): Promise<string[]>;
  /** Drops the logs of up to `limit` steps of runs that ended before the time; answers how many. */
  dropLogs(endedBefore: number, limit: number): Promise<number>;
  /** Deletes up to `limit` artifact records made before the time; answers how many and their blobs. */
  expireArtifacts(
    before: number,
    limit: number,
  ): Promise<{ readonly removed: number; readonly blobs: string[] }>;
  /** Those of the blobs no artifact record nor cache entry references any more. */
  unreferencedBlobs(shas: readonly string[]): Promise<string[]>;
  /** Deletes batch records and deliveries made before the time (up to `limit` of each). */
  expireIdempotency(before: number, limit: number): Promise<number>;
  usage(): Promise<ProjectUsage[]>;
}

export interface DeliveryRecord {
  readonly id: string;
  readonly project_id: string;
  readonly forge: string;
  readonly delivery_id: string;
  readonly event: string;
  readonly status: "accepted" | "ignored" | "rejected";
  readonly reason: string | null;
  readonly repository: string;
  readonly ref: string;
  readonly commit_id: string;
  readonly started: readonly { readonly pipeline_id: string; readonly pipeline_run_id: string }[];
  readonly skipped: readonly { readonly pipeline_id: string; readonly reason: string }[];
  readonly create_time: number;
}

/** Webhook secrets and the record of deliveries. */
export interface WebhookStore {
  /** The project's webhook secret, made (from `fresh`) if it has none yet. */
  webhookSecret(projectId: string, fresh: () => string, now: number): Promise<string>;
  /** The accepted delivery with this forge id, if one was recorded. */
  findAcceptedDelivery(
    projectId: string,
    forge: string,
    deliveryId: string,
  ): Promise<DeliveryRecord | undefined>;
  /**
   * Records a delivery; with `keep`, only the newest `keep` of the project's deliveries of its
   * status stay (an unauthenticated flood of rejected ones cannot fill the database).
   */
  insertDelivery(d: DeliveryRecord, keep?: number): Promise<void>;
  /** Newest first; `pipelineId` keeps those that started or skipped that pipeline. */
  listDeliveries(q: {
    readonly projectId: string;
    readonly pipelineId?: string | undefined;
    readonly statuses?: readonly string[] | undefined;
    readonly limit: number;
    readonly offset: number;
  }): Promise<Page<DeliveryRecord>>;
}

/** A pipeline's notification target, secrets in clear (sealed at rest). */
export interface NoticeTargetRecord {
  readonly id: string;
  readonly project_id: string;
  readonly pipeline_id: string;
  readonly kind: string;
  readonly enabled: boolean;
  readonly url: string;
  readonly secret: string;
  readonly events: readonly string[];
  readonly contents: readonly string[];
  readonly users: readonly string[];
  readonly sort_index: number;
  readonly create_time: number;
  readonly update_time: number;
}

/** One attempt at a delivery. */
export interface NoticeAttempt {
  readonly time: number;
  readonly outcome: "sent" | "failed";
  /** The HTTP status the target answered; null when none (timeout, refused, email). */
  readonly status_code: number | null;
  readonly error: string | null;
}

export type NoticeDeliveryStatus = "PENDING" | "SUCCEEDED" | "FAILED";

export interface NoticeDeliveryRecord {
  readonly id: string;
  readonly project_id: string;
  readonly pipeline_id: string;
  readonly target_id: string;
  readonly run_id: string;
  readonly event: string;
  /** JSON of the NoticeMessage (pipeline/notices.ts). */
  readonly message: string;
  readonly status: NoticeDeliveryStatus;
  readonly attempts: number;
  readonly next_attempt: number;
  readonly last_error: string | null;
  readonly history: readonly NoticeAttempt[];
  readonly create_time: number;
  readonly update_time: number;
}

/** Pipelines' notification targets and the outbox of their deliveries. */
export interface NoticeStore {
  /** The pipeline's targets by sort_index, then creation. */
  listNoticeTargets(pipelineId: string): Promise<NoticeTargetRecord[]>;
  /** The targets of each of these pipelines that has any (one query for a batch of runs). */
  listNoticeTargetsOf(pipelineIds: readonly string[]): Promise<Map<string, NoticeTargetRecord[]>>;
  /** Inserts the target, or replaces the one of that id (of the same pipeline). */
  putNoticeTarget(t: NoticeTargetRecord): Promise<void>;
  /** False when the pipeline has no such target; its deliveries go with it. */
  deleteNoticeTarget(pipelineId: string, id: string): Promise<boolean>;
  /** Writes deliveries to send (in the caller's transaction, beside the run change causing them). */
  enqueueNoticeDeliveries(rows: readonly NoticeDeliveryRecord[]): Promise<void>;
  /** The pipeline's deliveries, newest first. */
  listNoticeDeliveries(
    pipelineId: string,
    page: { limit: number; offset: number },
  ): Promise<Page<NoticeDeliveryRecord>>;
  /** Ids of pending deliveries due by `now` that no sender holds, oldest first. */
  dueNoticeDeliveries(now: number, limit: number): Promise<string[]>;
  /**
   * Takes a due delivery for one attempt until `leaseUntil` under `claim`: one atomic conditional
   * update, so of two replicas racing for it one wins. Undefined when it is not due or is held.
   */
  claimNoticeDelivery(
    id: string,
    now: number,
    leaseUntil: number,
    claim: string,
  ): Promise<NoticeDeliveryRecord | undefined>;
  /** Records an attempt's outcome; false (nothing written) when `claim` no longer holds it. */
  finishNoticeAttempt(
    id: string,
    claim: string,
    patch: {
      readonly status: NoticeDeliveryStatus;
      readonly attempts: number;
      readonly next_attempt: number;
      readonly last_error: string | null;
      readonly history: readonly NoticeAttempt[];
      readonly update_time: number;
    },
  ): Promise<boolean>;
}

export interface ResealCounts {
  readonly pipelines: number;
  readonly runs: number;
  readonly access_keys: number;
  readonly variable_groups: number;
  readonly notice_targets: number;
}

/** Secrets at rest (sealer.ts): bringing every stored secret under the active key. */
export interface SecretStore {
  /** Reseals what is not sealed with the active key; safe beside live traffic. Answers rows changed. */
  resealSecrets(): Promise<ResealCounts>;
}

/** Every role, on one database, with transactions over all of them. */
export interface Store
  extends MetaStore,
    ProjectStore,
    CredentialStore,
    PipelineStore,
    RunStore,
    JobQueueStore,
    LogStore,
    BatchStore,
    ScheduleStore,
    PollStore,
    ArtifactStore,
    RetentionStore,
    CacheStore,
    TagStore,
    VariableGroupStore,
    PermissionStore,
    TemplateStore,
    GroupStore,
    WebhookStore,
    NoticeStore,
    SecretStore {
  readonly capabilities: StoreCapabilities;
  /** How this process tells the others on the database of ready jobs; undefined: it is alone. */
  readonly ready?: ReadySignal | undefined;
  close(): Promise<void>;
  /** Runs fn in one transaction; the store it gets writes inside that transaction. */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
}
