// Opens the scale-out store: PostgreSQL through a pg pool, migrated to the latest schema.

import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Database } from "../schema.js";
import type { Sealer } from "../sealer.js";
import type { BulkTable, BulkWriter } from "../sql/context.js";
import { migrateToLatest } from "../sql/migrate.js";
import { createSqlStore, type SqlStore } from "../sql/sql-store.js";
import { POSTGRES_MIGRATIONS } from "./migrations.js";

export interface PostgresStoreOptions {
  readonly sealer: Sealer;
  readonly poolSize?: number;
}

export async function openPostgresStore(url: string, opts: PostgresStoreOptions): Promise<SqlStore> {
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10 });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  await migrateToLatest(db, POSTGRES_MIGRATIONS);
  return createSqlStore({
    db,
    capabilities: { supportsSkipLocked: true, dialect: "postgres" },
    bulk: unnestBulkWriter,
    sealer: opts.sealer,
  });
}

/** The numeric columns of the bulk-written tables; every other column is text. */
const NUMERIC: Readonly<Record<BulkTable, ReadonlySet<string>>> = {
  pipeline_runs: new Set([
    "run_number",
    "start_time",
    "end_time",
    "pause_time",
    "paused_since",
    "admitted",
    "queue_seq",
    "stop_requested",
    "create_time",
    "update_time",
    "version",
  ]),
  stage_runs: new Set(["idx", "is_select", "start_time", "end_time"]),
  job_runs: new Set([
    "stage_idx",
    "idx",
    "is_select",
    "next_step",
    "ready_seq",
    "attempt",
    "run_attempt",
    "lease_expires",
    "pgid",
    "lost",
    "heartbeat_time",
    "start_time",
    "end_time",
  ]),
  step_runs: new Set(["idx", "deadline", "log_bytes", "start_time", "end_time"]),
};

/**
 * One `INSERT … SELECT * FROM unnest($1::text[], $2::bigint[], …)` per table: a parameter per
 * column rather than per value, so a thousand-run batch is four short statements that PostgreSQL
 * parses at once, instead of statements with tens of thousands of placeholders.
 */
const unnestBulkWriter: BulkWriter = {
  async insert(db, table, rows) {
    if (rows.length === 0) return;
    const cols = Object.keys(rows[0]!);
    const arrays = cols.map(
      (c) =>
        sql`${rows.map((r) => (r as Record<string, unknown>)[c] ?? null)}::${sql.raw(NUMERIC[table].has(c) ? "bigint" : "text")}[]`,
    );
    await sql`INSERT INTO ${sql.table(table)} (${sql.join(cols.map((c) => sql.ref(c)))})
      SELECT * FROM unnest(${sql.join(arrays)})`.execute(db);
  },
};
