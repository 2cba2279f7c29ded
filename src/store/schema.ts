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
  /** Needed in clear to verify HMAC signatures (the SK never leaves the server again). */
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
  latest_run_id: string | null;
}

export interface Database {
  meta: MetaTable;
  projects: ProjectTable;
  tokens: TokenTable;
  access_keys: AccessKeyTable;
  pipelines: PipelineTable;
}
