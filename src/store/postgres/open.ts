// Opens the scale-out store: PostgreSQL through a pg pool, migrated to the latest schema.

import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Database } from "../schema.js";
import type { Sealer } from "../sealer.js";
import { type BulkTable, type BulkWriter, byColumns, CHUNK } from "../sql/context.js";
import { migrateToLatest } from "../sql/migrate.js";
import { createSqlStore, type SqlStore } from "../sql/sql-store.js";
import { POSTGRES_MIGRATIONS } from "./migrations.js";
import { createPostgresReadySignal } from "./ready-signal.js";

export interface PostgresStoreOptions {
  readonly sealer: Sealer;
  readonly poolSize?: number;
  /** Told of a connection that broke (the database restarted, a backend was killed). */
  readonly onConnectionError?: (err: Error) => void;
  /** How long the first connection may take to open (a black-holed host would take minutes). */
  readonly connectTimeoutMs?: number;
  /** Told of a drop of the connection that listens for other replicas' wakeups (it reconnects). */
  readonly onListenerError?: (err: Error) => void;
  /** Told when that connection listens (again, after a drop). */
  readonly onListening?: (again: boolean) => void;
}

/**
 * Connects, migrates and answers the store; a failure (the database unreachable, a wrong
 * password, a failed migration) leaves nothing open, so a start that waits for the database can
 * try again.
 */
export async function openPostgresStore(url: string, opts: PostgresStoreOptions): Promise<SqlStore> {
  // One connection first, with a time limit: the pool's own connects have none (a query waits
  // for a connection as long as the pool is busy), and a start must learn soon that the host is
  // not there.
  const probe = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
  });
  probe.on("error", () => {}); // a probe that broke after connecting is ended below anyway
  try {
    await probe.connect();
  } finally {
    await probe.end().catch(() => {});
  }
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10, Client: PreparingClient });
  // A connection that breaks emits 'error' — on the pool while idle, on the client while checked
  // out — and an 'error' with no listener ends the process. Each is listened to: the query under
  // way fails (answered 5xx), the pool drops the broken client, the next query connects anew.
  const onError = (err: Error): void => opts.onConnectionError?.(err);
  pool.on("error", onError);
  pool.on("connect", (client) => {
    client.on("error", onError);
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  await migrateToLatest(db, POSTGRES_MIGRATIONS);
  const ready = createPostgresReadySignal({
    url,
    send: async (channel, payload) => {
      await pool.query("SELECT pg_notify($1, $2)", [channel, payload]);
    },
    onConnectionError: opts.onListenerError,
    onListening: opts.onListening,
  });
  return createSqlStore({
    db,
    capabilities: { supportsSkipLocked: true, dialect: "postgres" },
    bulk: unnestBulkWriter,
    sealer: opts.sealer,
    ready,
    async onClose() {
      await ready.close();
      await db.destroy();
    },
  });
}

/** Statements a connection keeps prepared at most; later new texts run unprepared. */
const PREPARED_PER_CONNECTION = 300;
/** Statements with more parameters than this vary with their lists: not worth a name. */
const PREPARED_MAX_PARAMS = 24;

/**
 * A pg client that runs the store's statements as named prepared statements: PostgreSQL then
 * parses and plans each text once per connection instead of at every execution, which was
 * most of its CPU per job (a job is a dozen short statements). Texts with long IN lists, and
 * any beyond a connection's budget, run unnamed as before. A statement whose cached plan no
 * longer fits the schema (another replica migrated it) is prepared anew next time, and runs
 * again at once when no transaction is open (inside one, that transaction fails as any error
 * fails it).
 */
class PreparingClient extends pg.Client {
  private readonly names = new Map<string, string>();
  private named = 0;

  // biome-ignore lint/suspicious/noExplicitAny: pg's query() is a set of overloads
  override query(config: any, values?: any, callback?: any): any {
    if (typeof config !== "string" || !Array.isArray(values) || typeof callback === "function") {
      return super.query(config, values, callback);
    }
    let name = this.names.get(config);
    if (name === undefined && values.length <= PREPARED_MAX_PARAMS && this.named < PREPARED_PER_CONNECTION) {
      name = `pw${this.named++}`;
      this.names.set(config, name);
    }
    if (name === undefined) return super.query(config, values);
    return (super.query({ name, text: config, values }) as Promise<pg.QueryResult>).catch((err: unknown) => {
      if ((err as { code?: string }).code !== "0A000") throw err;
      this.names.delete(config);
      return super.query(config, values);
    });
  }
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
  // One `UPDATE … FROM unnest(…)` per column set: a batch of reports on many jobs becomes a few
  // statements instead of one per row, and PostgreSQL's cost is per statement.
  async update(db, table, rows, opts) {
    const out = new Map<string, number>();
    const bump = opts?.bumpVersion === true;
    const type = (c: string): string => (NUMERIC[table].has(c) ? "bigint" : "text");
    for (const { cols, rows: group } of byColumns(rows).values()) {
      if (cols.length === 0 && !bump) continue;
      for (let i = 0; i < group.length; i += CHUNK) {
        const part = group.slice(i, i + CHUNK);
        const arrays = [
          sql`${part.map((r) => r.id)}::text[]`,
          ...cols.map((c) => sql`${part.map((r) => r[c] ?? null)}::${sql.raw(type(c))}[]`),
        ];
        const set = [
          ...cols.map((c) => sql`${sql.ref(c)} = v.${sql.ref(c)}`),
          ...(bump ? [sql`version = t.version + 1`] : []),
        ];
        const res = await sql<{ id: string; version: number }>`UPDATE ${sql.table(table)} AS t
          SET ${sql.join(set)}
          FROM unnest(${sql.join(arrays)}) AS v(id${sql.raw(cols.map((c) => `, ${c}`).join(""))})
          WHERE t.id = v.id${bump ? sql` RETURNING t.id, t.version` : sql``}`.execute(db);
        if (bump) for (const r of res.rows) out.set(r.id, Number(r.version));
      }
    }
    return out;
  },
};
