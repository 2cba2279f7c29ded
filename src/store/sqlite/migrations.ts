// Numbered SQLite migrations, applied in order at start. Never edit a landed migration: add one.

import { type Kysely, type Migration, sql } from "kysely";

export const SQLITE_MIGRATIONS: Record<string, Migration> = {
  "001_core": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`.execute(db);
      await sql`CREATE TABLE projects (
        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, create_time INTEGER NOT NULL)`.execute(db);
      await sql`CREATE TABLE tokens (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
        project_ids TEXT NOT NULL, create_time INTEGER NOT NULL, revoked_time INTEGER)`.execute(db);
      await sql`CREATE TABLE access_keys (
        ak TEXT PRIMARY KEY, sk TEXT NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL,
        project_ids TEXT NOT NULL, create_time INTEGER NOT NULL, revoked_time INTEGER)`.execute(db);
      await sql`CREATE TABLE pipelines (
        id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id), name TEXT NOT NULL,
        description TEXT NOT NULL, is_publish INTEGER NOT NULL, banned INTEGER NOT NULL,
        manifest_version TEXT NOT NULL, definition TEXT NOT NULL, spec TEXT NOT NULL,
        creator_id TEXT NOT NULL, creator_name TEXT NOT NULL, updater_id TEXT NOT NULL,
        create_time INTEGER NOT NULL, update_time INTEGER NOT NULL,
        run_counter INTEGER NOT NULL, latest_run_id TEXT,
        UNIQUE (project_id, name))`.execute(db);
      await sql`CREATE INDEX pipelines_project_create ON pipelines (project_id, create_time)`.execute(db);
    },
  },
};
