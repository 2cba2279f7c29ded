// Numbered PostgreSQL migrations, applied in order at start (Kysely's migrator takes a lock, so
// replicas starting together apply each once). Never edit a landed migration: add one.
// Times, offsets and sequences are BIGINT (epoch ms exceeds int4); names sort bytewise
// (COLLATE "C") as they do in SQLite.

import { type Kysely, type Migration, sql } from "kysely";

export const POSTGRES_MIGRATIONS: Record<string, Migration> = {
  "001_core": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`.execute(db);
      await sql`CREATE TABLE projects (
        id TEXT PRIMARY KEY, name TEXT COLLATE "C" NOT NULL UNIQUE, create_time BIGINT NOT NULL)`.execute(db);
      await sql`CREATE TABLE tokens (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
        project_ids TEXT NOT NULL, create_time BIGINT NOT NULL, revoked_time BIGINT)`.execute(db);
      await sql`CREATE TABLE access_keys (
        ak TEXT PRIMARY KEY, sk TEXT NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL,
        project_ids TEXT NOT NULL, create_time BIGINT NOT NULL, revoked_time BIGINT)`.execute(db);
      await sql`CREATE TABLE pipelines (
        id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id), name TEXT COLLATE "C" NOT NULL,
        description TEXT NOT NULL, is_publish INTEGER NOT NULL, banned INTEGER NOT NULL,
        manifest_version TEXT NOT NULL, definition TEXT NOT NULL, spec TEXT NOT NULL,
        creator_id TEXT NOT NULL, creator_name TEXT NOT NULL, updater_id TEXT NOT NULL,
        create_time BIGINT NOT NULL, update_time BIGINT NOT NULL,
        run_counter INTEGER NOT NULL,
        UNIQUE (project_id, name))`.execute(db);
      await sql`CREATE INDEX pipelines_project_create ON pipelines (project_id, create_time)`.execute(db);
    },
  },
  "002_runs": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE pipeline_runs (
        id TEXT PRIMARY KEY, pipeline_id TEXT NOT NULL, project_id TEXT NOT NULL, pipeline_name TEXT NOT NULL,
        run_number INTEGER NOT NULL, status TEXT NOT NULL, trigger_type TEXT NOT NULL, description TEXT NOT NULL,
        executor_id TEXT NOT NULL, executor_name TEXT NOT NULL,
        start_time BIGINT NOT NULL, end_time BIGINT NOT NULL, pause_time BIGINT NOT NULL, paused_since BIGINT,
        admitted INTEGER NOT NULL, queue_seq BIGINT NOT NULL, stop_requested INTEGER NOT NULL,
        start_status TEXT NOT NULL, start_reason TEXT, message TEXT,
        context TEXT NOT NULL, definition_hash TEXT NOT NULL,
        create_time BIGINT NOT NULL, update_time BIGINT NOT NULL)`.execute(db);
      await sql`CREATE TABLE definitions (hash TEXT PRIMARY KEY, body TEXT NOT NULL)`.execute(db);
      await sql`CREATE UNIQUE INDEX runs_pipeline_number ON pipeline_runs (pipeline_id, run_number)`.execute(
        db,
      );
      await sql`CREATE INDEX runs_active ON pipeline_runs (status)
        WHERE status IN ('RUNNING','PAUSED','QUEUED','SUSPEND')`.execute(db);
      await sql`CREATE TABLE stage_runs (
        id TEXT PRIMARY KEY, run_id TEXT NOT NULL REFERENCES pipeline_runs(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL, identifier TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
        is_select INTEGER NOT NULL, start_time BIGINT NOT NULL, end_time BIGINT NOT NULL)`.execute(db);
      await sql`CREATE INDEX stage_runs_run ON stage_runs (run_id, idx)`.execute(db);
      await sql`CREATE TABLE job_runs (
        id TEXT PRIMARY KEY, run_id TEXT NOT NULL REFERENCES pipeline_runs(id) ON DELETE CASCADE,
        project_id TEXT NOT NULL, stage_idx INTEGER NOT NULL, idx INTEGER NOT NULL,
        identifier TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL, message TEXT,
        is_select INTEGER NOT NULL, next_step INTEGER NOT NULL, ready_seq BIGINT NOT NULL,
        attempt INTEGER NOT NULL, runner_id TEXT, lease_expires BIGINT, labels TEXT NOT NULL, pgid INTEGER, lost INTEGER NOT NULL, heartbeat_time BIGINT,
        start_time BIGINT NOT NULL, end_time BIGINT NOT NULL)`.execute(db);
      await sql`CREATE INDEX job_runs_run ON job_runs (run_id, stage_idx, idx)`.execute(db);
      await sql`CREATE INDEX job_runs_queued ON job_runs (ready_seq) WHERE status IN ('QUEUED', 'REDISPATCH')`.execute(
        db,
      );
      await sql`CREATE INDEX job_runs_running ON job_runs (status) WHERE status IN ('RUNNING','PAUSED')`.execute(
        db,
      );
      await sql`CREATE TABLE step_runs (
        id TEXT PRIMARY KEY, run_id TEXT NOT NULL REFERENCES pipeline_runs(id) ON DELETE CASCADE,
        job_id TEXT NOT NULL, idx INTEGER NOT NULL, identifier TEXT NOT NULL, name TEXT NOT NULL,
        task TEXT NOT NULL, status TEXT NOT NULL, message TEXT, deadline BIGINT,
        log_bytes BIGINT NOT NULL, start_time BIGINT NOT NULL, end_time BIGINT NOT NULL)`.execute(db);
      await sql`CREATE INDEX step_runs_run ON step_runs (run_id)`.execute(db);
      await sql`CREATE TABLE step_logs (
        step_id TEXT NOT NULL, start_offset BIGINT NOT NULL, text TEXT NOT NULL,
        PRIMARY KEY (step_id, start_offset))`.execute(db);
      await sql`CREATE TABLE project_dispatch (project_id TEXT PRIMARY KEY, last_claim BIGINT NOT NULL)`.execute(
        db,
      );
      await sql`CREATE TABLE runners (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, labels TEXT NOT NULL, slots INTEGER NOT NULL,
        version TEXT NOT NULL, create_time BIGINT NOT NULL, last_seen BIGINT NOT NULL)`.execute(db);
      await sql`CREATE TABLE batches (
        project_id TEXT NOT NULL, idempotency_key TEXT NOT NULL, body_hash TEXT NOT NULL,
        response TEXT NOT NULL, create_time BIGINT NOT NULL,
        PRIMARY KEY (project_id, idempotency_key))`.execute(db);
    },
  },
  // Idempotency records keep the runs a batch created, not the HTTP answer built from them.
  "003_batch_run_ids": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`ALTER TABLE batches ADD COLUMN run_ids TEXT NOT NULL DEFAULT '[]'`.execute(db);
      await sql`UPDATE batches SET run_ids = COALESCE((
        SELECT json_agg(e ->> 'pipeline_run_id' ORDER BY n)::text
        FROM jsonb_array_elements(response::jsonb -> 'result') WITH ORDINALITY AS t(e, n)), '[]')`.execute(
        db,
      );
      await sql`ALTER TABLE batches DROP COLUMN response`.execute(db);
    },
  },
  // Steps are read by run in job order (a run's graph) and by job (what a runner gets for a
  // claimed job): one index serves both.
  "004_step_runs_by_job": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`DROP INDEX step_runs_run`.execute(db);
      await sql`CREATE INDEX step_runs_run ON step_runs (run_id, job_id, idx)`.execute(db);
    },
  },
  // Every change of a run's records bumps its version, so a server that remembers a run's
  // records (the run writer's cache) knows whether they are still current.
  "005_run_version": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`ALTER TABLE pipeline_runs ADD COLUMN version BIGINT NOT NULL DEFAULT 0`.execute(db);
    },
  },
  // A runner belongs to the credential that registered it: its reports are taken from that one.
  "006_runner_credential": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`ALTER TABLE runners ADD COLUMN credential_id TEXT NOT NULL DEFAULT ''`.execute(db);
    },
  },
  // A retry makes a new attempt of each job it reruns; the earlier ones are kept, with their
  // steps (whose logs are re-keyed to the kept step's id).
  "007_attempts": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`ALTER TABLE job_runs ADD COLUMN run_attempt INTEGER NOT NULL DEFAULT 1`.execute(db);
      await sql`CREATE TABLE job_attempts (
        id TEXT PRIMARY KEY, run_id TEXT NOT NULL REFERENCES pipeline_runs(id) ON DELETE CASCADE,
        job_id TEXT NOT NULL, attempt INTEGER NOT NULL, status TEXT NOT NULL, message TEXT,
        start_time BIGINT NOT NULL, end_time BIGINT NOT NULL)`.execute(db);
      await sql`CREATE INDEX job_attempts_run ON job_attempts (run_id, job_id, attempt)`.execute(db);
      await sql`CREATE TABLE step_attempts (
        id TEXT PRIMARY KEY, run_id TEXT NOT NULL REFERENCES pipeline_runs(id) ON DELETE CASCADE,
        job_attempt_id TEXT NOT NULL, step_id TEXT NOT NULL, idx INTEGER NOT NULL,
        status TEXT NOT NULL, message TEXT, start_time BIGINT NOT NULL, end_time BIGINT NOT NULL,
        log_bytes BIGINT NOT NULL)`.execute(db);
      await sql`CREATE INDEX step_attempts_run ON step_attempts (run_id)`.execute(db);
    },
  },
  // Admission looks for the oldest waiting runs after every run's end: the active runs' index
  // holds them in that order (it held only their status, and admission sorted them all).
  "008_runs_active_by_queue": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`DROP INDEX runs_active`.execute(db);
      await sql`CREATE INDEX runs_active ON pipeline_runs (admitted, queue_seq)
        WHERE status IN ('RUNNING','PAUSED','QUEUED','SUSPEND')`.execute(db);
    },
  },
  // A claim takes the first queued jobs of each project in turn: this index gives each project's
  // queue in order, so a claim reads a few jobs per waiting project instead of every queued job.
  "009_job_queue_by_project": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE INDEX job_runs_queue_by_project ON job_runs (project_id, ready_seq)
        WHERE status IN ('QUEUED', 'REDISPATCH')`.execute(db);
    },
  },
  // Schedules fire from this table: each pipeline's schedule entries with their next tick, kept
  // in step with the pipeline's spec when it is written.
  "010_schedules": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE schedules (
        pipeline_id TEXT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
        uuid TEXT NOT NULL, project_id TEXT NOT NULL, body TEXT NOT NULL,
        next_due BIGINT, last_fired BIGINT, missed INTEGER NOT NULL DEFAULT 0, last_missed BIGINT,
        PRIMARY KEY (pipeline_id, uuid))`.execute(db);
      await sql`CREATE INDEX schedules_due ON schedules (next_due) WHERE next_due IS NOT NULL`.execute(db);
    },
  },
  // Code events: each project's webhook secret, and every delivery with what came of it (keyed by
  // the forge's delivery id, so a redelivery starts nothing twice).
  "011_webhooks": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE webhook_secrets (
        project_id TEXT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
        secret TEXT NOT NULL, create_time BIGINT NOT NULL)`.execute(db);
      await sql`CREATE TABLE deliveries (
        id TEXT PRIMARY KEY, project_id TEXT NOT NULL, forge TEXT NOT NULL, delivery_id TEXT NOT NULL,
        event TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, repository TEXT NOT NULL,
        ref TEXT NOT NULL, commit_id TEXT NOT NULL, started TEXT NOT NULL, skipped TEXT NOT NULL,
        create_time BIGINT NOT NULL)`.execute(db);
      await sql`CREATE UNIQUE INDEX deliveries_once ON deliveries (project_id, forge, delivery_id)
        WHERE status = 'accepted'`.execute(db);
      await sql`CREATE INDEX deliveries_by_time ON deliveries (project_id, create_time)`.execute(db);
    },
  },
  // Polling: each pipeline's polled repositories, the branches and tags last seen there and when
  // the next poll is due (kept in step with the pipeline's triggers when it is written).
  "012_trigger_polls": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE trigger_polls (
        pipeline_id TEXT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
        git_url TEXT NOT NULL, project_id TEXT NOT NULL, interval_ms BIGINT NOT NULL,
        next_due BIGINT NOT NULL, refs TEXT, last_poll BIGINT, last_error TEXT,
        PRIMARY KEY (pipeline_id, git_url))`.execute(db);
      await sql`CREATE INDEX trigger_polls_due ON trigger_polls (next_due)`.execute(db);
    },
  },
  // Step outputs: what each step wrote to its outputs file, read by later jobs' expressions.
  "013_step_outputs": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`ALTER TABLE step_runs ADD COLUMN outputs TEXT NOT NULL DEFAULT '[]'`.execute(db);
    },
  },
  // Artifacts: what each job of a run kept (its blob's hash and size), one per run and name.
  "014_artifacts": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE artifacts (
        run_id TEXT NOT NULL REFERENCES pipeline_runs(id) ON DELETE CASCADE,
        name TEXT NOT NULL, project_id TEXT NOT NULL, pipeline_id TEXT NOT NULL,
        job_run_id TEXT NOT NULL, job_identifier TEXT NOT NULL, sha256 TEXT NOT NULL,
        size BIGINT NOT NULL, create_time BIGINT NOT NULL,
        PRIMARY KEY (run_id, name))`.execute(db);
      await sql`CREATE INDEX artifacts_by_blob ON artifacts (sha256)`.execute(db);
    },
  },
  // Caches: files kept between runs of a pipeline (and branch) under a key, newest use first out last.
  "015_caches": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE caches (
        pipeline_id TEXT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
        scope TEXT NOT NULL, key TEXT NOT NULL, project_id TEXT NOT NULL, sha256 TEXT NOT NULL,
        size BIGINT NOT NULL, create_time BIGINT NOT NULL, last_used BIGINT NOT NULL,
        PRIMARY KEY (pipeline_id, scope, key))`.execute(db);
      await sql`CREATE INDEX caches_by_use ON caches (project_id, last_used)`.execute(db);
      await sql`CREATE INDEX caches_by_blob ON caches (sha256)`.execute(db);
    },
  },
  // The list filters by micro-service: component_id as a column (it was only in the spec JSON).
  "016_pipeline_component": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`ALTER TABLE pipelines ADD COLUMN component_id TEXT NOT NULL DEFAULT ''`.execute(db);
      await sql`UPDATE pipelines SET component_id = COALESCE(spec::json->>'component_id', '')`.execute(db);
      await sql`CREATE INDEX pipelines_by_component ON pipelines (project_id, component_id)`.execute(db);
    },
  },
  // Pipeline tags (CodeArts's pipeline-tag API): a project's tags, and which pipelines carry them.
  "017_tags": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE tags (
        id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name TEXT NOT NULL, color TEXT NOT NULL, create_time BIGINT NOT NULL)`.execute(db);
      await sql`CREATE UNIQUE INDEX tags_name ON tags (project_id, name)`.execute(db);
      await sql`CREATE TABLE pipeline_tags (
        pipeline_id TEXT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
        tag_id TEXT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
        PRIMARY KEY (pipeline_id, tag_id))`.execute(db);
      await sql`CREATE INDEX pipeline_tags_by_tag ON pipeline_tags (tag_id)`.execute(db);
    },
  },
  // Pipeline templates (CodeArts's pipeline-templates API): a project's own templates, and who
  // marked which template (built-in ones included, so no foreign key) as a favourite.
  "018_templates": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE templates (
        id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name TEXT NOT NULL, description TEXT NOT NULL, language TEXT NOT NULL, definition TEXT NOT NULL,
        variables TEXT NOT NULL, is_show_source INTEGER NOT NULL,
        creator_id TEXT NOT NULL, creator_name TEXT NOT NULL, updater_id TEXT NOT NULL,
        create_time BIGINT NOT NULL, update_time BIGINT NOT NULL)`.execute(db);
      await sql`CREATE UNIQUE INDEX templates_name ON templates (project_id, name)`.execute(db);
      await sql`CREATE TABLE template_favorites (
        template_id TEXT NOT NULL, principal_id TEXT NOT NULL,
        PRIMARY KEY (principal_id, template_id))`.execute(db);
      await sql`CREATE INDEX template_favorites_by_template ON template_favorites (template_id)`.execute(db);
    },
  },
  // Pipeline groups (CodeArts's pipeline-group API): a project's tree of groups (at most three
  // levels, a root group's parent_id is ''), and the group each pipeline sits in (NULL: ungrouped).
  "019_pipeline_groups": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE pipeline_groups (
        id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        parent_id TEXT NOT NULL, path_id TEXT NOT NULL, name TEXT NOT NULL, ordinal INTEGER NOT NULL,
        creator TEXT NOT NULL, updater TEXT, create_time BIGINT NOT NULL, update_time BIGINT)`.execute(db);
      await sql`CREATE UNIQUE INDEX pipeline_groups_name ON pipeline_groups (project_id, parent_id, name)`.execute(
        db,
      );
      await sql`ALTER TABLE pipelines ADD COLUMN group_id TEXT`.execute(db);
      await sql`CREATE INDEX pipelines_by_group ON pipelines (project_id, group_id)`.execute(db);
    },
  },
  // Parameter groups (CodeArts's variable groups): a project's shared variables, secret values
  // sealed in `variables`, and the groups related to each pipeline in order.
  "020_variable_groups": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE variable_groups (
        id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name TEXT NOT NULL, description TEXT NOT NULL, variables TEXT NOT NULL,
        creator_id TEXT NOT NULL, creator_name TEXT NOT NULL, updater_id TEXT NOT NULL,
        updater_name TEXT NOT NULL, create_time BIGINT NOT NULL, update_time BIGINT NOT NULL)`.execute(db);
      await sql`CREATE UNIQUE INDEX variable_groups_name ON variable_groups (project_id, name)`.execute(db);
      await sql`CREATE TABLE pipeline_variable_groups (
        pipeline_id TEXT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
        group_id TEXT NOT NULL REFERENCES variable_groups(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        PRIMARY KEY (pipeline_id, group_id))`.execute(db);
      await sql`CREATE INDEX pipeline_variable_groups_by_group ON pipeline_variable_groups (group_id)`.execute(
        db,
      );
    },
  },
  // Per-pipeline permissions (CodeArts's pipeline-permissions API): the switch and the matrix.
  "021_pipeline_permissions": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE pipeline_permission_switch (
        pipeline_id TEXT PRIMARY KEY REFERENCES pipelines(id) ON DELETE CASCADE,
        enabled INTEGER NOT NULL, update_time BIGINT NOT NULL)`.execute(db);
      await sql`CREATE TABLE pipeline_permissions (
        pipeline_id TEXT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
        subject_kind TEXT NOT NULL, subject_id TEXT NOT NULL,
        op_query INTEGER NOT NULL, op_execute INTEGER NOT NULL, op_update INTEGER NOT NULL,
        op_delete INTEGER NOT NULL, op_authorize INTEGER NOT NULL, update_time BIGINT NOT NULL,
        PRIMARY KEY (pipeline_id, subject_kind, subject_id))`.execute(db);
    },
  },
  // Sub-pipelines, delays and reviews by several approvers: a run knows the step that started
  // it (one child per step, by a unique index: a crash between creating a child and noting it
  // cannot make a second one), and a review step keeps each approver's decision.
  "022_subpipelines_delays": {
    async up(db: Kysely<unknown>): Promise<void> {
      for (const col of ["parent_run_id", "parent_pipeline_id", "parent_job_id", "parent_step_id"]) {
        await sql`ALTER TABLE pipeline_runs ADD COLUMN ${sql.raw(col)} TEXT`.execute(db);
      }
      await sql`CREATE UNIQUE INDEX pipeline_runs_parent_step ON pipeline_runs (parent_step_id)`.execute(db);
      await sql`CREATE INDEX pipeline_runs_parent_run ON pipeline_runs (parent_run_id)`.execute(db);
      await sql`ALTER TABLE step_runs ADD COLUMN approvals TEXT NOT NULL DEFAULT '[]'`.execute(db);
      // The engine looks for sub-pipeline steps under way every sweep: few rows, found by index.
      await sql`CREATE INDEX step_runs_running_task ON step_runs (task) WHERE status = 'RUNNING'`.execute(db);
    },
  },
  // Pipeline notifications (CodeArts's pipeline-notices API): each pipeline's targets (URL and
  // secret sealed), and the outbox of deliveries, written in the transaction of the run change
  // that causes them and sent by whichever replica claims them first.
  "023_notifications": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE notice_targets (
        id TEXT PRIMARY KEY, project_id TEXT NOT NULL,
        pipeline_id TEXT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
        kind TEXT NOT NULL, enabled INTEGER NOT NULL, url TEXT NOT NULL, secret TEXT NOT NULL,
        events TEXT NOT NULL, contents TEXT NOT NULL, users TEXT NOT NULL, sort_index INTEGER NOT NULL,
        create_time BIGINT NOT NULL, update_time BIGINT NOT NULL)`.execute(db);
      await sql`CREATE INDEX notice_targets_by_pipeline ON notice_targets (pipeline_id)`.execute(db);
      await sql`CREATE TABLE notice_deliveries (
        id TEXT PRIMARY KEY, project_id TEXT NOT NULL,
        pipeline_id TEXT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
        target_id TEXT NOT NULL REFERENCES notice_targets(id) ON DELETE CASCADE,
        run_id TEXT NOT NULL, event TEXT NOT NULL, message TEXT NOT NULL, status TEXT NOT NULL,
        attempts INTEGER NOT NULL, next_attempt BIGINT NOT NULL, lease_until BIGINT, claim TEXT,
        last_error TEXT, history TEXT NOT NULL,
        create_time BIGINT NOT NULL, update_time BIGINT NOT NULL)`.execute(db);
      await sql`CREATE INDEX notice_deliveries_due ON notice_deliveries (status, next_attempt)`.execute(db);
      await sql`CREATE INDEX notice_deliveries_by_pipeline ON notice_deliveries (pipeline_id, create_time)`.execute(
        db,
      );
      await sql`CREATE INDEX notice_deliveries_by_target ON notice_deliveries (target_id)`.execute(db);
    },
  },
  // The project's run list (ours): a project's runs by creation time, newest first.
  "024_runs_by_project": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE INDEX runs_by_project ON pipeline_runs (project_id, create_time)`.execute(db);
    },
  },
};
