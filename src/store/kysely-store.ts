// The Store port implemented once over Kysely. The queries here are plain SQL that SQLite and
// PostgreSQL both run; each backend folder only opens the connection and owns its migrations.

import crypto from "node:crypto";
import { type Kysely, sql } from "kysely";
import type { Definition } from "../pipeline/types.js";
import type {
  BatchRecord,
  ClaimRequest,
  JobFence,
  JobRunRecord,
  LogChunk,
  RunChanges,
  RunGraph,
  RunnerRecord,
  RunQuery,
  RunRecord,
  StageRunRecord,
  StepRunRecord,
} from "./run-records.js";
import type {
  Database,
  JobRunTable,
  PipelineTable,
  RunTable,
  StageRunTable,
  StepRunTable,
} from "./schema.js";
import type {
  AccessKeyRecord,
  CredentialRecord,
  NewPipeline,
  Page,
  PipelineQuery,
  PipelineRecord,
  ProjectRecord,
  Role,
  Store,
  StoreCapabilities,
} from "./store.js";

const bool = (b: boolean): number => (b ? 1 : 0);

function toPipeline(row: PipelineTable): PipelineRecord {
  return {
    id: row.id,
    project_id: row.project_id,
    name: row.name,
    description: row.description,
    is_publish: row.is_publish === 1,
    banned: row.banned === 1,
    manifest_version: row.manifest_version,
    definition: row.definition,
    spec: JSON.parse(row.spec),
    creator_id: row.creator_id,
    creator_name: row.creator_name,
    updater_id: row.updater_id,
    create_time: Number(row.create_time),
    update_time: Number(row.update_time),
    run_counter: Number(row.run_counter),
  };
}

interface CredentialRow {
  name: string;
  role: string;
  project_ids: string;
  create_time: number;
  revoked_time: number | null;
}

function toCredential(id: string, row: CredentialRow): CredentialRecord {
  return {
    id,
    name: row.name,
    role: row.role as Role,
    project_ids: JSON.parse(row.project_ids),
    create_time: Number(row.create_time),
    revoked_time: row.revoked_time === null ? null : Number(row.revoked_time),
  };
}

/** Escapes LIKE wildcards so a name filter matches literally. */
function likePattern(s: string): string {
  return `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * Definition snapshots of runs are stored once per distinct definition (runs of one pipeline
 * share theirs), keyed by a hash of their JSON; this cache spares re-reading and re-hashing them.
 */
class DefinitionCache {
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

/**
 * Writes many rows of one table. The default builds multi-row INSERTs with Kysely; a backend may
 * bring a faster path (SQLite reuses one prepared statement per table, which for the thousands of
 * rows of a large batch is several times faster than compiling huge statements).
 */
export interface BulkWriter {
  insert(db: Kysely<Database>, table: BulkTable, rows: readonly object[]): Promise<void>;
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
        // biome-ignore lint/suspicious/noExplicitAny: rows are built by the typed *Row functions below
        .values(rows.slice(i, i + per) as any)
        .execute();
    }
  },
};

export class KyselyStore implements Store {
  constructor(
    readonly db: Kysely<Database>,
    readonly capabilities: StoreCapabilities,
    private readonly onClose: () => Promise<void> = () => db.destroy(),
    private readonly bulk: BulkWriter = kyselyBulkWriter,
    private readonly definitions = new DefinitionCache(),
  ) {}

  /** Turns run rows into records, loading the definitions they refer to. */
  private async toRuns(rows: readonly RunTable[]): Promise<RunRecord[]> {
    const missing = [...new Set(rows.map((r) => r.definition_hash))].filter((h) => !this.definitions.get(h));
    if (missing.length > 0) {
      const defs = await this.db.selectFrom("definitions").selectAll().where("hash", "in", missing).execute();
      for (const d of defs) this.definitions.put(d.hash, JSON.parse(d.body));
    }
    return rows.map((r) => {
      const def = this.definitions.get(r.definition_hash);
      if (!def) throw new Error(`run ${r.id}: definition ${r.definition_hash} is missing`);
      return toRun(r, def);
    });
  }

  async close(): Promise<void> {
    await this.onClose();
  }

  /** Runs fn in one transaction; the store it gets writes inside that transaction. */
  async transaction<T>(fn: (tx: KyselyStore) => Promise<T>): Promise<T> {
    if (this.db.isTransaction) return fn(this);
    try {
      return await this.db
        .transaction()
        .execute((trx) =>
          fn(new KyselyStore(trx, this.capabilities, async () => {}, this.bulk, this.definitions)),
        );
    } catch (err) {
      // Definitions marked stored inside the failed transaction were rolled back with it.
      this.definitions.stored.clear();
      throw err;
    }
  }

  async getMeta(key: string): Promise<string | undefined> {
    const row = await this.db.selectFrom("meta").select("value").where("key", "=", key).executeTakeFirst();
    return row?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.db
      .insertInto("meta")
      .values({ key, value })
      .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
      .execute();
  }

  async putMetaIfAbsent(key: string, value: string): Promise<string> {
    await this.db
      .insertInto("meta")
      .values({ key, value })
      .onConflict((oc) => oc.column("key").doNothing())
      .execute();
    return (await this.getMeta(key))!;
  }

  async createProject(p: ProjectRecord): Promise<void> {
    await this.db.insertInto("projects").values(p).execute();
  }

  async getProject(id: string): Promise<ProjectRecord | undefined> {
    return this.db
      .selectFrom("projects")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst()
      .then(numProject);
  }

  async findProjectByName(name: string): Promise<ProjectRecord | undefined> {
    return this.db
      .selectFrom("projects")
      .selectAll()
      .where("name", "=", name)
      .executeTakeFirst()
      .then(numProject);
  }

  async listProjects(): Promise<ProjectRecord[]> {
    const rows = await this.db
      .selectFrom("projects")
      .selectAll()
      .orderBy("create_time")
      .orderBy("id")
      .execute();
    return rows.map((r) => numProject(r)!);
  }

  async createToken(t: CredentialRecord, tokenHash: string): Promise<void> {
    await this.db
      .insertInto("tokens")
      .values({
        id: t.id,
        name: t.name,
        token_hash: tokenHash,
        role: t.role,
        project_ids: JSON.stringify(t.project_ids),
        create_time: t.create_time,
        revoked_time: t.revoked_time,
      })
      .execute();
  }

  async findTokenByHash(tokenHash: string): Promise<CredentialRecord | undefined> {
    const row = await this.db
      .selectFrom("tokens")
      .selectAll()
      .where("token_hash", "=", tokenHash)
      .executeTakeFirst();
    return row && toCredential(row.id, row);
  }

  async listTokens(): Promise<CredentialRecord[]> {
    const rows = await this.db
      .selectFrom("tokens")
      .selectAll()
      .orderBy("create_time")
      .orderBy("id")
      .execute();
    return rows.map((r) => toCredential(r.id, r));
  }

  async revokeToken(id: string, now: number): Promise<boolean> {
    const res = await this.db
      .updateTable("tokens")
      .set({ revoked_time: now })
      .where("id", "=", id)
      .where("revoked_time", "is", null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async createAccessKey(k: AccessKeyRecord): Promise<void> {
    await this.db
      .insertInto("access_keys")
      .values({
        ak: k.id,
        sk: k.sk,
        name: k.name,
        role: k.role,
        project_ids: JSON.stringify(k.project_ids),
        create_time: k.create_time,
        revoked_time: k.revoked_time,
      })
      .execute();
  }

  async findAccessKey(ak: string): Promise<AccessKeyRecord | undefined> {
    const row = await this.db.selectFrom("access_keys").selectAll().where("ak", "=", ak).executeTakeFirst();
    return row && { ...toCredential(row.ak, row), sk: row.sk };
  }

  async listAccessKeys(): Promise<AccessKeyRecord[]> {
    const rows = await this.db
      .selectFrom("access_keys")
      .selectAll()
      .orderBy("create_time")
      .orderBy("ak")
      .execute();
    return rows.map((r) => ({ ...toCredential(r.ak, r), sk: r.sk }));
  }

  async revokeAccessKey(ak: string, now: number): Promise<boolean> {
    const res = await this.db
      .updateTable("access_keys")
      .set({ revoked_time: now })
      .where("ak", "=", ak)
      .where("revoked_time", "is", null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async createPipeline(p: NewPipeline): Promise<void> {
    await this.db
      .insertInto("pipelines")
      .values({
        ...p,
        is_publish: bool(p.is_publish),
        banned: 0,
        spec: JSON.stringify(p.spec),
        run_counter: 0,
      })
      .execute();
  }

  async getPipeline(id: string): Promise<PipelineRecord | undefined> {
    const row = await this.db.selectFrom("pipelines").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toPipeline(row);
  }

  async getPipelines(ids: readonly string[]): Promise<PipelineRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.selectFrom("pipelines").selectAll().where("id", "in", ids).execute();
    return rows.map(toPipeline);
  }

  async getPipelineProjects(ids: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const rows = await this.db
        .selectFrom("pipelines")
        .select(["id", "project_id"])
        .where("id", "in", ids.slice(i, i + CHUNK))
        .execute();
      for (const r of rows) out.set(r.id, r.project_id);
    }
    return out;
  }

  async findPipelineByName(projectId: string, name: string): Promise<PipelineRecord | undefined> {
    const row = await this.db
      .selectFrom("pipelines")
      .selectAll()
      .where("project_id", "=", projectId)
      .where("name", "=", name)
      .executeTakeFirst();
    return row && toPipeline(row);
  }

  async updatePipeline(
    id: string,
    f: Pick<
      PipelineRecord,
      | "name"
      | "description"
      | "is_publish"
      | "manifest_version"
      | "definition"
      | "spec"
      | "updater_id"
      | "update_time"
    >,
  ): Promise<boolean> {
    const res = await this.db
      .updateTable("pipelines")
      .set({ ...f, is_publish: bool(f.is_publish), spec: JSON.stringify(f.spec) })
      .where("id", "=", id)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async deletePipeline(id: string): Promise<boolean> {
    const res = await this.db.deleteFrom("pipelines").where("id", "=", id).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async setPipelineBanned(id: string, banned: boolean, now: number): Promise<boolean> {
    const res = await this.db
      .updateTable("pipelines")
      .set({ banned: bool(banned), update_time: now })
      .where("id", "=", id)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async listPipelines(q: PipelineQuery): Promise<Page<PipelineRecord>> {
    let base = this.db.selectFrom("pipelines").where("project_id", "=", q.project_id);
    // lower() on both sides: SQLite LIKE ignores ASCII case, PostgreSQL LIKE does not.
    if (q.name) base = base.where(sql<boolean>`lower(name) like lower(${likePattern(q.name)}) escape '\\'`);
    if (q.banned !== undefined) base = base.where("banned", "=", bool(q.banned));
    if (q.is_publish !== undefined) base = base.where("is_publish", "=", bool(q.is_publish));
    const [count, rows] = await Promise.all([
      base.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
      base
        .selectAll()
        .orderBy(q.sort_key, q.sort_dir)
        .orderBy("id", q.sort_dir)
        .limit(q.limit)
        .offset(q.offset)
        .execute(),
    ]);
    return { total: Number(count.n), items: rows.map(toPipeline) };
  }

  // ---- runs -------------------------------------------------------------------------------

  /**
   * Takes the next run number of each pipeline (ids must be distinct) in one statement, and
   * answers the pipelines as they are now, `run_counter` being the new run's number. In
   * PostgreSQL the row locks this takes also serialise concurrent starts of one pipeline.
   */
  async allocateRunNumbers(pipelineIds: readonly string[]): Promise<PipelineRecord[]> {
    const out: PipelineRecord[] = [];
    for (let i = 0; i < pipelineIds.length; i += CHUNK) {
      const rows = await this.db
        .updateTable("pipelines")
        .set((eb) => ({ run_counter: eb("run_counter", "+", 1) }))
        .where("id", "in", pipelineIds.slice(i, i + CHUNK))
        .returningAll()
        .execute();
      out.push(...rows.map(toPipeline));
    }
    return out;
  }

  /** Active (admitted, unfinished) and waiting runs per pipeline, for concurrency control. */
  async countActiveRuns(
    pipelineIds: readonly string[],
  ): Promise<Map<string, { admitted: number; waiting: number }>> {
    const out = new Map<string, { admitted: number; waiting: number }>();
    for (let i = 0; i < pipelineIds.length; i += CHUNK) {
      const rows = await this.db
        .selectFrom("pipeline_runs")
        .select(["pipeline_id", "admitted", (eb) => eb.fn.countAll<number>().as("n")])
        .where("pipeline_id", "in", pipelineIds.slice(i, i + CHUNK))
        .where("status", "in", ACTIVE_RUN_STATUSES)
        .groupBy(["pipeline_id", "admitted"])
        .execute();
      for (const r of rows) {
        const e = out.get(r.pipeline_id) ?? { admitted: 0, waiting: 0 };
        if (Number(r.admitted) === 1) e.admitted += Number(r.n);
        else e.waiting += Number(r.n);
        out.set(r.pipeline_id, e);
      }
    }
    return out;
  }

  async insertRunGraphs(graphs: readonly RunGraph[]): Promise<void> {
    const newDefs = new Map<string, string>();
    const runs = graphs.map((g) => {
      const { hash, json } = this.definitions.hash(g.run.context.definition);
      if (!this.definitions.stored.has(hash))
        newDefs.set(hash, json ?? JSON.stringify(g.run.context.definition));
      return runRow(g.run, hash);
    });
    if (newDefs.size > 0) {
      const rows = [...newDefs].map(([hash, body]) => ({ hash, body }));
      for (let i = 0; i < rows.length; i += CHUNK) {
        await this.db
          .insertInto("definitions")
          .values(rows.slice(i, i + CHUNK))
          .onConflict((oc) => oc.column("hash").doNothing())
          .execute();
      }
      // Marked before the commit: were the transaction rolled back, the next insert of such a
      // run would miss its definition, so a failed transaction clears the marks (see transaction()).
      for (const h of newDefs.keys()) this.definitions.stored.add(h);
    }
    await this.bulk.insert(this.db, "pipeline_runs", runs);
    await this.bulk.insert(
      this.db,
      "stage_runs",
      graphs.flatMap((g) => g.stages.map(stageRow)),
    );
    await this.bulk.insert(
      this.db,
      "job_runs",
      graphs.flatMap((g) => g.jobs.map(jobRow)),
    );
    await this.bulk.insert(
      this.db,
      "step_runs",
      graphs.flatMap((g) => g.steps.map(stepRow)),
    );
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = await this.db.selectFrom("pipeline_runs").selectAll().where("id", "=", id).executeTakeFirst();
    return row && (await this.toRuns([row]))[0];
  }

  async getRuns(ids: readonly string[]): Promise<RunRecord[]> {
    const out: RunRecord[] = [];
    for (let i = 0; i < ids.length; i += CHUNK) {
      const rows = await this.db
        .selectFrom("pipeline_runs")
        .selectAll()
        .where("id", "in", ids.slice(i, i + CHUNK))
        .execute();
      out.push(...(await this.toRuns(rows)));
    }
    return out;
  }

  async getLatestRun(pipelineId: string): Promise<RunRecord | undefined> {
    const row = await this.db
      .selectFrom("pipeline_runs")
      .selectAll()
      .where("pipeline_id", "=", pipelineId)
      .orderBy("run_number", "desc")
      .limit(1)
      .executeTakeFirst();
    return row && (await this.toRuns([row]))[0];
  }

  async getRunGraph(id: string): Promise<RunGraph | undefined> {
    const run = await this.getRun(id);
    if (!run) return undefined;
    const [stages, jobs, steps] = await Promise.all([
      this.db.selectFrom("stage_runs").selectAll().where("run_id", "=", id).orderBy("idx").execute(),
      this.db
        .selectFrom("job_runs")
        .selectAll()
        .where("run_id", "=", id)
        .orderBy("stage_idx")
        .orderBy("idx")
        .execute(),
      this.db
        .selectFrom("step_runs")
        .selectAll()
        .where("run_id", "=", id)
        .orderBy("job_id")
        .orderBy("idx")
        .execute(),
    ]);
    return { run, stages: stages.map(toStage), jobs: jobs.map(toJob), steps: steps.map(toStep) };
  }

  /**
   * Reads a run inside a transaction, locking it against concurrent changes until the transaction
   * ends (PostgreSQL: FOR UPDATE on the run row; SQLite's single writer serialises anyway).
   */
  async getRunGraphForUpdate(id: string): Promise<RunGraph | undefined> {
    if (this.capabilities.supportsSkipLocked) {
      await sql`SELECT id FROM pipeline_runs WHERE id = ${id} FOR UPDATE`.execute(this.db);
    }
    return this.getRunGraph(id);
  }

  async getStagesOfRuns(runIds: readonly string[]): Promise<StageRunRecord[]> {
    if (runIds.length === 0) return [];
    const rows = await this.db
      .selectFrom("stage_runs")
      .selectAll()
      .where("run_id", "in", runIds)
      .orderBy("idx")
      .execute();
    return rows.map(toStage);
  }

  /**
   * Applies changes to one run. With a fence, the job's changes apply only while it is still at
   * that attempt and running, so a runner that lost its job cannot overwrite its successor:
   * answers false (nothing written) when the fence does not hold.
   */
  async applyRunChanges(changes: RunChanges, fence?: JobFence): Promise<boolean> {
    return this.transaction(async (tx) => {
      if (fence) {
        const job = await tx.db
          .selectFrom("job_runs")
          .select(["attempt", "status"])
          .where("id", "=", fence.jobId)
          .executeTakeFirst();
        if (!job || Number(job.attempt) !== fence.attempt || job.status !== "RUNNING") return false;
      }
      const { run, stages = [], jobs = [], steps = [], clearLogsOf = [] } = changes;
      if (run) {
        const { id, ...patch } = run;
        if (Object.keys(patch).length > 0)
          await tx.db.updateTable("pipeline_runs").set(runPatch(patch)).where("id", "=", id).execute();
      }
      for (const { id, ...patch } of stages) {
        await tx.db.updateTable("stage_runs").set(boolPatch(patch)).where("id", "=", id).execute();
      }
      for (const { id, ...patch } of jobs) {
        const p = boolPatch(patch) as Record<string, unknown>;
        if (patch.labels) p.labels = JSON.stringify(patch.labels);
        await tx.db.updateTable("job_runs").set(p).where("id", "=", id).execute();
      }
      for (const { id, ...patch } of steps) {
        await tx.db.updateTable("step_runs").set(boolPatch(patch)).where("id", "=", id).execute();
      }
      if (clearLogsOf.length > 0) {
        await tx.db.deleteFrom("step_logs").where("step_id", "in", clearLogsOf).execute();
        await tx.db.updateTable("step_runs").set({ log_bytes: 0 }).where("id", "in", clearLogsOf).execute();
      }
      return true;
    });
  }

  /** Ids of runs that are not finished (what a scheduler must look after). */
  async listActiveRunIds(): Promise<string[]> {
    const rows = await this.db
      .selectFrom("pipeline_runs")
      .select("id")
      .where("status", "in", ACTIVE_RUN_STATUSES)
      .orderBy("queue_seq")
      .execute();
    return rows.map((r) => r.id);
  }

  /** Runs waiting for admission, oldest first. */
  async listWaitingRuns(limit: number): Promise<RunRecord[]> {
    const rows = await this.db
      .selectFrom("pipeline_runs")
      .selectAll()
      .where("status", "in", ACTIVE_RUN_STATUSES)
      .where("admitted", "=", 0)
      .orderBy("queue_seq")
      .limit(limit)
      .execute();
    return this.toRuns(rows);
  }

  /** How many runs of the pipeline wait for admission ahead of queue_seq. */
  async countWaitingBefore(pipelineId: string, queueSeq: number): Promise<number> {
    const row = await this.db
      .selectFrom("pipeline_runs")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("pipeline_id", "=", pipelineId)
      .where("status", "in", ACTIVE_RUN_STATUSES)
      .where("admitted", "=", 0)
      .where("queue_seq", "<", queueSeq)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * Claims up to `limit` queued jobs for a runner, round-robin across projects: the n-th queued
   * job of every project comes before the (n+1)-th of any, and among projects the one served
   * least recently goes first (so a project's thousand-job batch cannot starve another's single
   * job even when one slot frees at a time); FIFO within a project. PostgreSQL skips rows other
   * replicas are claiming; SQLite has a single writer and needs no skipping.
   */
  async claimJobs(req: ClaimRequest): Promise<JobRunRecord[]> {
    return this.transaction(async (tx) => {
      const lockClause = this.capabilities.supportsSkipLocked ? sql`FOR UPDATE SKIP LOCKED` : sql``;
      const candidates = await sql<{ id: string; labels: string }>`
        SELECT q.id, q.labels FROM (
          SELECT id, labels, project_id, ready_seq,
                 ROW_NUMBER() OVER (PARTITION BY project_id ORDER BY ready_seq) AS turn
          FROM job_runs WHERE status IN ('QUEUED', 'REDISPATCH')
        ) q LEFT JOIN project_dispatch d ON d.project_id = q.project_id
        ORDER BY q.turn, COALESCE(d.last_claim, 0), q.ready_seq LIMIT ${req.limit * 4 + 16}`.execute(tx.db);
      const have = new Set(req.labels);
      const ids = candidates.rows
        .filter((c) => (JSON.parse(c.labels) as string[]).every((l) => have.has(l)))
        .slice(0, req.limit)
        .map((c) => c.id);
      if (ids.length === 0) return [];
      // Re-check the status under the lock (PostgreSQL) so two replicas never take the same job.
      const locked = await sql<{ id: string }>`
        SELECT id FROM job_runs WHERE id IN (${sql.join(ids)}) AND status IN ('QUEUED', 'REDISPATCH') ${lockClause}`.execute(
        tx.db,
      );
      const lockedIds = locked.rows.map((r) => r.id);
      if (lockedIds.length === 0) return [];
      const rows = await tx.db
        .updateTable("job_runs")
        .set((eb) => ({
          status: "RUNNING",
          attempt: eb("attempt", "+", 1),
          runner_id: req.runnerId,
          lease_expires: req.now + req.leaseMs,
          heartbeat_time: null,
          start_time: eb.case().when("start_time", "=", 0).then(req.now).else(eb.ref("start_time")).end(),
          message: null,
        }))
        .where("id", "in", lockedIds)
        .returningAll()
        .execute();
      const claimed = rows.map(toJob).sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id));
      for (const [i, job] of claimed.entries()) {
        const last = req.now * 1000 + i;
        await tx.db
          .insertInto("project_dispatch")
          .values({ project_id: job.project_id, last_claim: last })
          .onConflict((oc) => oc.column("project_id").doUpdateSet({ last_claim: last }))
          .execute();
      }
      return claimed;
    });
  }

  /** Renews a job's lease while its attempt still holds it; answers false when it no longer does. */
  async renewLease(jobId: string, attempt: number, until: number): Promise<boolean> {
    const res = await this.db
      .updateTable("job_runs")
      .set({ lease_expires: until, heartbeat_time: until })
      .where("id", "=", jobId)
      .where("attempt", "=", attempt)
      .where("status", "=", "RUNNING")
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Puts claimed jobs back in the queue (their claim never reached the runner). */
  async releaseJobs(jobs: readonly { id: string; attempt: number }[]): Promise<void> {
    for (const j of jobs) {
      await this.db
        .updateTable("job_runs")
        .set((eb) => ({
          status: eb.case().when("lost", ">", 0).then("REDISPATCH").else("QUEUED").end(),
          runner_id: null,
          lease_expires: null,
        }))
        .where("id", "=", j.id)
        .where("attempt", "=", j.attempt)
        .where("status", "=", "RUNNING")
        .execute();
    }
  }

  /** Extends every running job's lease to at least `until` (a grace period after a server restart). */
  async graceLeases(until: number): Promise<void> {
    await this.db
      .updateTable("job_runs")
      .set({ lease_expires: until })
      .where("status", "=", "RUNNING")
      .where("lease_expires", "<", until)
      .execute();
  }

  /** Running jobs whose lease ran out before `now` (their runner is gone or cut off). */
  async listExpiredLeases(now: number): Promise<JobRunRecord[]> {
    const rows = await this.db
      .selectFrom("job_runs")
      .selectAll()
      .where("status", "=", "RUNNING")
      .where("lease_expires", "<", now)
      .limit(1000)
      .execute();
    return rows.map(toJob);
  }

  async upsertRunner(r: RunnerRecord): Promise<void> {
    const row = { ...r, labels: JSON.stringify(r.labels) };
    await this.db
      .insertInto("runners")
      .values(row)
      .onConflict((oc) =>
        oc.column("id").doUpdateSet({
          name: r.name,
          labels: row.labels,
          slots: r.slots,
          version: r.version,
          last_seen: r.last_seen,
        }),
      )
      .execute();
  }

  async touchRunner(id: string, now: number): Promise<boolean> {
    const res = await this.db
      .updateTable("runners")
      .set({ last_seen: now })
      .where("id", "=", id)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async listRunners(): Promise<RunnerRecord[]> {
    const rows = await this.db.selectFrom("runners").selectAll().orderBy("create_time").execute();
    return rows.map((r) => ({
      ...r,
      labels: JSON.parse(r.labels),
      slots: Number(r.slots),
      create_time: Number(r.create_time),
      last_seen: Number(r.last_seen),
    }));
  }

  /** Jobs RUNNING on the given runners (used at restart to find the work that died with us). */
  async listRunningJobsOf(runnerId: string): Promise<JobRunRecord[]> {
    const rows = await this.db
      .selectFrom("job_runs")
      .selectAll()
      .where("status", "=", "RUNNING")
      .where("runner_id", "=", runnerId)
      .execute();
    return rows.map(toJob);
  }

  /** The earliest manual-review deadline among waiting steps, if any. */
  async nextReviewDeadline(): Promise<{ step_id: string; run_id: string; deadline: number } | undefined> {
    const row = await this.db
      .selectFrom("step_runs")
      .select(["id", "run_id", "deadline"])
      .where("status", "=", "PAUSED")
      .where("deadline", "is not", null)
      .orderBy("deadline")
      .limit(1)
      .executeTakeFirst();
    return row && { step_id: row.id, run_id: row.run_id, deadline: Number(row.deadline) };
  }

  async listRuns(q: RunQuery): Promise<{ total: number; items: RunRecord[] }> {
    let base = this.db.selectFrom("pipeline_runs").where("pipeline_id", "=", q.pipeline_id);
    const filtered =
      (q.statuses?.length ?? 0) > 0 ||
      q.start_time !== undefined ||
      q.end_time !== undefined ||
      q.update_time !== undefined;
    if (q.statuses && q.statuses.length > 0) base = base.where("status", "in", q.statuses);
    if (q.start_time !== undefined) base = base.where("start_time", ">=", q.start_time);
    if (q.end_time !== undefined) base = base.where("start_time", "<=", q.end_time);
    if (q.update_time !== undefined) base = base.where("update_time", ">=", q.update_time);
    // Sorting by run_number stands in for start_time: both grow together and run_number is indexed.
    const order = q.sort_key === "start_time" ? "run_number" : "update_time";
    const rows = await base
      .selectAll()
      .orderBy(order, q.sort_dir)
      .orderBy("run_number", q.sort_dir)
      .limit(q.limit)
      .offset(q.offset)
      .execute();
    let total: number;
    if (filtered) {
      const c = await base.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      total = Number(c.n);
    } else {
      // Runs are only ever deleted with their pipeline, so the counter is the count: O(1) at any size.
      const p = await this.db
        .selectFrom("pipelines")
        .select("run_counter")
        .where("id", "=", q.pipeline_id)
        .executeTakeFirst();
      total = Number(p?.run_counter ?? 0);
    }
    return { total, items: await this.toRuns(rows) };
  }

  /** The latest run of each pipeline that has one. */
  async latestRuns(pipelineIds: readonly string[]): Promise<RunRecord[]> {
    if (pipelineIds.length === 0) return [];
    const rows = await this.db
      .selectFrom("pipeline_runs as r")
      .selectAll("r")
      .where("r.pipeline_id", "in", pipelineIds)
      .where((eb) =>
        eb(
          "r.run_number",
          "=",
          eb.selectFrom("pipelines as p").select("p.run_counter").whereRef("p.id", "=", "r.pipeline_id"),
        ),
      )
      .execute();
    return this.toRuns(rows);
  }

  async deleteRunsOfPipeline(pipelineId: string): Promise<void> {
    const ids = this.db
      .selectFrom("step_runs")
      .select("id")
      .where(
        "run_id",
        "in",
        this.db.selectFrom("pipeline_runs").select("id").where("pipeline_id", "=", pipelineId),
      );
    await this.db.deleteFrom("step_logs").where("step_id", "in", ids).execute();
    await this.db.deleteFrom("pipeline_runs").where("pipeline_id", "=", pipelineId).execute();
  }

  // ---- logs -------------------------------------------------------------------------------

  /**
   * Appends a chunk at its byte offset. A chunk already stored at that offset is left alone, so
   * a runner may resend a chunk whose answer it did not get. With a fence, nothing is written
   * unless that attempt still holds the job (answers false).
   */
  async appendLog(stepId: string, startOffset: number, text: string, fence?: JobFence): Promise<boolean> {
    const bytes = Buffer.byteLength(text);
    return this.transaction(async (tx) => {
      if (fence) {
        const job = await tx.db
          .selectFrom("job_runs")
          .select(["attempt", "status"])
          .where("id", "=", fence.jobId)
          .executeTakeFirst();
        if (!job || Number(job.attempt) !== fence.attempt || job.status !== "RUNNING") return false;
      }
      await tx.db
        .insertInto("step_logs")
        .values({ step_id: stepId, start_offset: startOffset, text })
        .onConflict((oc) => oc.columns(["step_id", "start_offset"]).doNothing())
        .execute();
      await tx.db
        .updateTable("step_runs")
        .set({ log_bytes: startOffset + bytes })
        .where("id", "=", stepId)
        .where("log_bytes", "<", startOffset + bytes)
        .execute();
      return true;
    });
  }

  async getStep(id: string): Promise<StepRunRecord | undefined> {
    const row = await this.db.selectFrom("step_runs").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toStep(row);
  }

  async getJob(id: string): Promise<JobRunRecord | undefined> {
    const row = await this.db.selectFrom("job_runs").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toJob(row);
  }

  /** Chunks overlapping [from, to) in offset order; `to` undefined means to the end. */
  async readLog(stepId: string, from: number, to?: number): Promise<LogChunk[]> {
    // The chunk that contains `from` starts at or before it: include the last such chunk.
    const first = await this.db
      .selectFrom("step_logs")
      .select("start_offset")
      .where("step_id", "=", stepId)
      .where("start_offset", "<=", from)
      .orderBy("start_offset", "desc")
      .limit(1)
      .executeTakeFirst();
    let q = this.db
      .selectFrom("step_logs")
      .select(["start_offset", "text"])
      .where("step_id", "=", stepId)
      .where("start_offset", ">=", first ? Number(first.start_offset) : 0);
    if (to !== undefined) q = q.where("start_offset", "<", to);
    const rows = await q.orderBy("start_offset").execute();
    return rows.map((r) => ({ start_offset: Number(r.start_offset), text: r.text }));
  }

  // ---- batches ----------------------------------------------------------------------------

  async findBatch(projectId: string, key: string): Promise<BatchRecord | undefined> {
    const row = await this.db
      .selectFrom("batches")
      .selectAll()
      .where("project_id", "=", projectId)
      .where("idempotency_key", "=", key)
      .executeTakeFirst();
    return row && { ...row, create_time: Number(row.create_time) };
  }

  async insertBatch(b: BatchRecord): Promise<void> {
    await this.db.insertInto("batches").values(b).execute();
  }

  async updatePipelineSpec(id: string, spec: PipelineRecord["spec"]): Promise<void> {
    await this.db
      .updateTable("pipelines")
      .set({ spec: JSON.stringify(spec) })
      .where("id", "=", id)
      .execute();
  }
}

function numProject(row: ProjectRecord | undefined): ProjectRecord | undefined {
  return row && { id: row.id, name: row.name, create_time: Number(row.create_time) };
}

const ACTIVE_RUN_STATUSES = ["RUNNING", "PAUSED", "QUEUED", "SUSPEND"];

/** Rows per multi-row INSERT/IN list: well below SQLite's 32766 bound variables. */
const CHUNK = 500;

function boolPatch<T extends object>(patch: T): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) out[k] = typeof v === "boolean" ? (v ? 1 : 0) : v;
  return out;
}

function runPatch(patch: Partial<RunRecord>): Record<string, unknown> {
  // A run's context (definition, variables, sources) is fixed at creation.
  const { context: _context, ...rest } = patch;
  return boolPatch(rest);
}

function runRow(r: RunRecord, definitionHash: string): RunTable {
  const { definition: _definition, ...context } = r.context;
  return {
    ...r,
    admitted: bool(r.admitted),
    stop_requested: bool(r.stop_requested),
    context: JSON.stringify(context),
    definition_hash: definitionHash,
  };
}

function stageRow(s: StageRunRecord): StageRunTable {
  return { ...s, is_select: bool(s.is_select) };
}

function jobRow(j: JobRunRecord): JobRunTable {
  return { ...j, is_select: bool(j.is_select), labels: JSON.stringify(j.labels) };
}

function stepRow(s: StepRunRecord): StepRunTable {
  return { ...s };
}

function toRun(row: RunTable, definition: Definition): RunRecord {
  const { definition_hash: _hash, ...r } = row;
  return {
    ...r,
    run_number: Number(r.run_number),
    status: r.status as RunRecord["status"],
    start_time: Number(r.start_time),
    end_time: Number(r.end_time),
    pause_time: Number(r.pause_time),
    paused_since: r.paused_since === null ? null : Number(r.paused_since),
    admitted: Number(r.admitted) === 1,
    queue_seq: Number(r.queue_seq),
    stop_requested: Number(r.stop_requested) === 1,
    start_status: r.start_status as RunRecord["start_status"],
    context: { ...JSON.parse(r.context), definition },
    create_time: Number(r.create_time),
    update_time: Number(r.update_time),
  };
}

function toStage(r: StageRunTable): StageRunRecord {
  return {
    ...r,
    idx: Number(r.idx),
    status: r.status as StageRunRecord["status"],
    is_select: Number(r.is_select) === 1,
    start_time: Number(r.start_time),
    end_time: Number(r.end_time),
  };
}

function toJob(r: JobRunTable): JobRunRecord {
  return {
    ...r,
    stage_idx: Number(r.stage_idx),
    idx: Number(r.idx),
    status: r.status as JobRunRecord["status"],
    is_select: Number(r.is_select) === 1,
    next_step: Number(r.next_step),
    ready_seq: Number(r.ready_seq),
    attempt: Number(r.attempt),
    lease_expires: r.lease_expires === null ? null : Number(r.lease_expires),
    pgid: r.pgid === null ? null : Number(r.pgid),
    lost: Number(r.lost),
    heartbeat_time: r.heartbeat_time === null ? null : Number(r.heartbeat_time),
    labels: JSON.parse(r.labels),
    start_time: Number(r.start_time),
    end_time: Number(r.end_time),
  };
}

function toStep(r: StepRunTable): StepRunRecord {
  return {
    ...r,
    idx: Number(r.idx),
    status: r.status as StepRunRecord["status"],
    deadline: r.deadline === null ? null : Number(r.deadline),
    log_bytes: Number(r.log_bytes),
    start_time: Number(r.start_time),
    end_time: Number(r.end_time),
  };
}
