// What every query module of the SQL store shares: the connection (or the transaction it runs
// in), the backend's capabilities, its bulk writer, the definition cache, and the two helpers
// every writer needs: one transaction at a time, and the fence that keeps a late runner out.

import crypto from "node:crypto";
import type { Kysely } from "kysely";
import type { Definition } from "../../pipeline/types.js";
import type { JobFence } from "../run-records.js";
import type { Database } from "../schema.js";
import type { Sealer } from "../sealer.js";
import type { StoreCapabilities } from "../store.js";

/** Rows per multi-row INSERT/IN list: well below SQLite's 32766 bound variables. */
export const CHUNK = 500;

/**
 * Writes many rows of one table. The default builds multi-row INSERTs with Kysely; a backend may
 * bring a faster path (SQLite reuses one prepared statement per table, PostgreSQL sends arrays).
 */
export interface BulkWriter {
  insert(db: Kysely<Database>, table: BulkTable, rows: readonly object[]): Promise<void>;
  /**
   * Updates rows by id, each with its own columns (booleans already 0/1, JSON already text).
   * With bumpVersion (pipeline_runs), each row's version goes up by one and the new versions are
   * answered; rows whose id is not there are absent from the answer.
   */
  update(
    db: Kysely<Database>,
    table: BulkTable,
    rows: readonly BulkUpdateRow[],
    opts?: { readonly bumpVersion?: boolean },
  ): Promise<Map<string, number>>;
}
export type BulkUpdateRow = { readonly id: string } & Readonly<Record<string, unknown>>;

/** Rows grouped by the columns they set (one statement per group where a backend can). */
export function byColumns(
  rows: readonly BulkUpdateRow[],
): Map<string, { cols: string[]; rows: BulkUpdateRow[] }> {
  const groups = new Map<string, { cols: string[]; rows: BulkUpdateRow[] }>();
  for (const r of rows) {
    const cols = Object.keys(r)
      .filter((k) => k !== "id" && r[k] !== undefined)
      .sort();
    const key = cols.join(",");
    const g = groups.get(key);
    if (g) g.rows.push(r);
    else groups.set(key, { cols, rows: [r] });
  }
  return groups;
}
export type BulkTable = "pipeline_runs" | "stage_runs" | "job_runs" | "step_runs";

export const kyselyBulkWriter: BulkWriter = {
  async insert(db, table, rows) {
    if (rows.length === 0) return;
    const cols = Object.keys(rows[0]!).length;
    const per = Math.max(1, Math.floor(30000 / cols));
    for (let i = 0; i < rows.length; i += per) {
      await db
        .insertInto(table)
        // biome-ignore lint/suspicious/noExplicitAny: rows are built by the typed *Row functions of rows.ts
        .values(rows.slice(i, i + per) as any)
        .execute();
    }
  },
  async update(db, table, rows, opts) {
    const out = new Map<string, number>();
    for (const { id, ...patch } of rows) {
      const set = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
      if (opts?.bumpVersion) {
        const r = await db
          .updateTable(table as "pipeline_runs")
          .set((eb) => ({ ...set, version: eb("version", "+", 1) }))
          .where("id", "=", id)
          .returning("version")
          .executeTakeFirst();
        if (r) out.set(id, Number(r.version));
      } else if (Object.keys(set).length > 0) {
        await db.updateTable(table).set(set).where("id", "=", id).execute();
      }
    }
    return out;
  },
};

/**
 * Definition snapshots of runs are stored once per distinct definition (runs of one pipeline
 * share theirs), keyed by a hash of their JSON; this cache spares re-reading and re-hashing them.
 */
export class DefinitionCache {
  private readonly byHash = new Map<string, Definition>();
  private readonly hashOf = new WeakMap<Definition, string>();
  /** Hashes known to be stored already. */
  readonly stored = new Set<string>();

  hash(def: Definition): { hash: string; json: string | undefined } {
    const known = this.hashOf.get(def);
    if (known) return { hash: known, json: undefined };
    const json = JSON.stringify(def);
    const hash = crypto.createHash("sha256").update(json).digest("hex");
    this.hashOf.set(def, hash);
    this.put(hash, def);
    return { hash, json };
  }

  get(hash: string): Definition | undefined {
    return this.byHash.get(hash);
  }

  put(hash: string, def: Definition): void {
    if (this.byHash.size >= 5000) {
      this.byHash.clear();
      this.stored.clear();
    }
    this.byHash.set(hash, def);
  }
}

export interface SqlContext {
  readonly db: Kysely<Database>;
  readonly capabilities: StoreCapabilities;
  readonly bulk: BulkWriter;
  readonly definitions: DefinitionCache;
  /** Seals secrets on their way in and opens them on their way out. */
  readonly sealer: Sealer;
}

/** Rows one synchronous stretch of work may handle before the event loop gets a turn. */
export const ROWS_PER_TURN = 2000;

/**
 * Lets the event loop run what waits (other requests, timers) in the middle of long work on a
 * large run: better-sqlite3 is synchronous, so reading or writing tens of thousands of rows
 * would otherwise hold the whole server for as long.
 */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs fn in one transaction, or inside the one already open. */
export async function inTransaction<T>(ctx: SqlContext, fn: (tx: SqlContext) => Promise<T>): Promise<T> {
  if (ctx.db.isTransaction) return fn(ctx);
  try {
    return await ctx.db.transaction().execute((trx) => fn({ ...ctx, db: trx }));
  } catch (err) {
    // Definitions marked stored inside the failed transaction were rolled back with it.
    ctx.definitions.stored.clear();
    throw err;
  }
}

/**
 * Whether the fenced attempt still holds its job (its attempt, still running). Writers check it
 * in the transaction of their write, so a runner that lost its job cannot overwrite its successor.
 */
/**
 * Whether the attempt may still add to the job's logs: it is the job's latest attempt on that
 * runner, running or just ended (a stopped job's last lines arrive after its stop).
 */
export async function ownsJobLog(db: Kysely<Database>, fence: JobFence): Promise<boolean> {
  const job = await db
    .selectFrom("job_runs")
    .select(["attempt", "runner_id"])
    .where("id", "=", fence.jobId)
    .executeTakeFirst();
  return (
    job !== undefined &&
    Number(job.attempt) === fence.attempt &&
    (fence.runnerId === undefined || job.runner_id === fence.runnerId)
  );
}

export async function holdsJob(db: Kysely<Database>, fence: JobFence): Promise<boolean> {
  const job = await db
    .selectFrom("job_runs")
    .select(["attempt", "status", "runner_id"])
    .where("id", "=", fence.jobId)
    .executeTakeFirst();
  return (
    job !== undefined &&
    Number(job.attempt) === fence.attempt &&
    job.status === "RUNNING" &&
    (fence.runnerId === undefined || job.runner_id === fence.runnerId)
  );
}
