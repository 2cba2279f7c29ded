// (d) Run detail and run list with 100,000 finished runs in the store against 100, and the
// server's memory. The runs are written through the store while the server is stopped (executing
// 100,000 runs would take far too long); the reads go over HTTP to a freshly started server.

import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import SqliteDatabase from "better-sqlite3";
import { buildRunGraph } from "../src/engine/create-runs.js";
import { newId } from "../src/ids.js";
import { parseDefinition } from "../src/pipeline/definition.js";
import type { RunGraph } from "../src/store/run-records.js";
import { createSealer, parseKeyring } from "../src/store/sealer.js";
import { openSqliteStore } from "../src/store/sqlite/open.js";
import {
  type BenchResult,
  type BenchServer,
  type Client,
  client,
  createPipelines,
  median,
  ms,
  percentile,
  progress,
  ratio,
  removeDir,
  rssMb,
  setupProject,
  startServer,
  tempDir,
} from "./harness.js";

const PIPELINES = 1000;
const SMALL = { pipelines: 10, runsEach: 10 }; // 100 runs: a full page of 10 for every list call
const LARGE_RUNS_EACH = 100; // × 1000 pipelines = 100,000 runs
const CALLS = 200;
/** Batch-runs calls of all the pipelines on each store, after the reads: how writes scale (no target). */
const BATCHES = 5;
const DB_FILE = "pipewright.db";
const WARMUP = 50;
const TARGET_RATIO = 1.5;
const TARGET_RSS_MB = 300;

interface RunRef {
  readonly pipelineId: string;
  readonly runId: string;
}

let clock = Date.now() - 200 * 24 * 3600_000;
const STEP_MS = 60_000;

/**
 * Adds `count` finished (COMPLETED) runs to each pipeline. The first run of each is created the
 * engine's way (allocateRunNumbers, buildRunGraph, insertRunGraphs, one transaction), so the rows
 * have whatever shape the store writes today; the other count − 1 are copies of it made by SQL
 * inside SQLite (new ids, next run numbers, later times), which takes seconds where 100,000
 * insertRunGraphs graphs take most of a minute. pipelines.run_counter is advanced to match.
 */
async function seedRuns(dbFile: string, pipelineIds: readonly string[], count: number): Promise<RunRef[]> {
  const refs: RunRef[] = [];
  // The data dir's own key (the server generated it at its first start), so the server reads these.
  const keys = fs.readFileSync(path.join(path.dirname(dbFile), "secret.key"), "utf8");
  const store = await openSqliteStore(dbFile, { sealer: createSealer(parseKeyring(keys, "secret.key")) });
  try {
    await store.transaction(async (tx) => {
      const pipelines = await tx.allocateRunNumbers(pipelineIds);
      const graphs: RunGraph[] = pipelines.map((p) => {
        clock += count * STEP_MS;
        const start = clock;
        const g = buildRunGraph({
          pipeline: p,
          definition: parseDefinition(p.definition),
          runId: newId(),
          runNumber: p.run_counter,
          options: {},
          variables: [],
          executor: { id: "bench", name: "bench" },
          now: start,
          queueSeq: start * 1000,
          start: { kind: "admitted" },
          newId,
        });
        const done = { status: "COMPLETED" as const, start_time: start, end_time: start + 3_000 };
        return {
          run: { ...g.run, ...done, update_time: done.end_time },
          stages: g.stages.map((x) => ({ ...x, ...done })),
          jobs: g.jobs.map((x) => ({ ...x, ...done, attempt: 1, runner_id: "bench" })),
          steps: g.steps.map((x) => ({ ...x, ...done })),
        };
      });
      await tx.insertRunGraphs(graphs);
      refs.push(...graphs.map((g) => ({ pipelineId: g.run.pipeline_id, runId: g.run.id })));
    });
  } finally {
    await store.close();
  }

  const db = new SqliteDatabase(dbFile);
  try {
    db.pragma("journal_mode = WAL");
    const columns = (table: string): string[] =>
      (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
    const TIMES = new Set(["start_time", "end_time", "create_time", "update_time"]);
    /** INSERT … SELECT copying every column of `table` but those given, times shifted by k steps. */
    const copy = (table: string, from: string, overrides: Record<string, string>): void => {
      const cols = columns(table);
      const exprs = cols.map((c) =>
        c in overrides ? overrides[c]! : TIMES.has(c) ? `src.${c} + m.k * ${STEP_MS}` : `src.${c}`,
      );
      db.exec(`INSERT INTO ${table} (${cols.join(", ")}) SELECT ${exprs.join(", ")} FROM ${from}`);
    };
    const newHex = "lower(hex(randomblob(16)))";
    db.transaction(() => {
      db.exec("CREATE TEMP TABLE seed_template (run_id TEXT PRIMARY KEY)");
      const addTemplate = db.prepare("INSERT INTO seed_template VALUES (?)");
      for (const r of refs) addTemplate.run(r.runId);
      db.exec(`CREATE TEMP TABLE seed_k (k INTEGER PRIMARY KEY)`);
      const addK = db.prepare("INSERT INTO seed_k VALUES (?)");
      for (let k = 1; k < count; k++) addK.run(k);
      db.exec(`CREATE TEMP TABLE seed_run AS
        SELECT t.run_id AS old_run, ${newHex} AS new_run, k.k AS k FROM seed_template t CROSS JOIN seed_k k`);
      db.exec(`CREATE TEMP TABLE seed_job AS
        SELECT j.id AS old_job, ${newHex} AS new_job, m.new_run AS new_run, m.k AS k
        FROM job_runs j JOIN seed_run m ON j.run_id = m.old_run`);
      copy("pipeline_runs", "pipeline_runs src JOIN seed_run m ON m.old_run = src.id", {
        id: "m.new_run",
        run_number: "src.run_number + m.k",
        queue_seq: "src.queue_seq + m.k",
      });
      copy("stage_runs", "stage_runs src JOIN seed_run m ON m.old_run = src.run_id", {
        id: newHex,
        run_id: "m.new_run",
      });
      copy("job_runs", "job_runs src JOIN seed_job m ON m.old_job = src.id", {
        id: "m.new_job",
        run_id: "m.new_run",
      });
      copy("step_runs", "step_runs src JOIN seed_job m ON m.old_job = src.job_id", {
        id: newHex,
        run_id: "m.new_run",
        job_id: "m.new_job",
      });
      db.exec(`UPDATE pipelines SET run_counter = run_counter + ${count - 1}
        WHERE id IN (SELECT pipeline_id FROM pipeline_runs WHERE id IN (SELECT run_id FROM seed_template))`);
      const copies = db
        .prepare(`SELECT src.pipeline_id AS pipelineId, m.new_run AS runId
          FROM seed_run m JOIN pipeline_runs src ON src.id = m.old_run`)
        .all() as RunRef[];
      refs.push(...copies);
      for (const t of ["seed_job", "seed_run", "seed_k", "seed_template"]) db.exec(`DROP TABLE temp.${t}`);
    })();
    return refs;
  } finally {
    db.close();
  }
}

interface StoreUnderTest {
  readonly dir: string;
  readonly runs: readonly RunRef[];
  /** Pipelines with at least 10 runs, so every list call answers a full page. */
  readonly listable: readonly string[];
}

interface Phase {
  readonly runs: number;
  readonly detail: number[];
  readonly list: number[];
  readonly batch: number[];
  readonly rss: number;
}

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

/**
 * Starts one server per store and measures them side by side: calls alternate between the two,
 * so load from anything else on the machine hits both alike.
 */
async function measure(
  token: string,
  projectId: string,
  stores: readonly StoreUnderTest[],
  batchIds: readonly string[],
): Promise<Phase[]> {
  const servers: BenchServer[] = [];
  const apis: Client[] = [];
  try {
    for (const s of stores) {
      const server = await startServer(s.dir, ["--no-local-runner"]);
      servers.push(server);
      apis.push(client(server.url, token));
    }
    const base = `/v5/${projectId}/api/pipelines`;
    const detail = async (i: number): Promise<number> => {
      const ref = pick(stores[i]!.runs);
      const t0 = performance.now();
      const d = await apis[i]!.get(
        `${base}/${ref.pipelineId}/pipeline-runs/detail?pipeline_run_id=${ref.runId}`,
      );
      const t = performance.now() - t0;
      if (d.body.id !== ref.runId) throw new Error("detail answered another run");
      return t;
    };
    const list = async (i: number): Promise<number> => {
      const t0 = performance.now();
      const l = await apis[i]!.post(`${base}/${pick(stores[i]!.listable)}/pipeline-runs/list`, { limit: 10 });
      const t = performance.now() - t0;
      if (l.body.pipeline_runs.length !== 10) throw new Error(`list answered ${l.body.pipeline_runs.length}`);
      return t;
    };
    const phases = stores.map((s) => ({
      runs: s.runs.length,
      detail: [] as number[],
      list: [] as number[],
      batch: [] as number[],
    }));
    for (let n = 0; n < WARMUP + CALLS; n++) {
      for (const [i, ph] of phases.entries()) {
        const t = await detail(i);
        if (n >= WARMUP) ph.detail.push(t);
      }
    }
    for (let n = 0; n < WARMUP + CALLS; n++) {
      for (const [i, ph] of phases.entries()) {
        const t = await list(i);
        if (n >= WARMUP) ph.list.push(t);
      }
    }
    const rss = servers.map((s) => rssMb(s.pid));
    // Writes last, so the reads above saw exactly the seeded runs.
    for (let n = 0; n <= BATCHES; n++) {
      for (const [i, ph] of phases.entries()) {
        const t0 = performance.now();
        await apis[i]!.post(`${base}/batch-runs`, { pipeline_ids: batchIds });
        if (n > 0) ph.batch.push(performance.now() - t0); // the first one warms up
      }
    }
    return phases.map((ph, i) => ({ ...ph, rss: rss[i]! }));
  } finally {
    for (const a of apis) a.close();
    await Promise.all(servers.map((s) => s.stop()));
  }
}

export async function largeStore(): Promise<BenchResult> {
  const smallDir = tempDir("pipewright-bench-d-small-");
  const largeDir = tempDir("pipewright-bench-d-large-");
  try {
    const server = await startServer(smallDir, ["--no-local-runner"]);
    let projectId: string;
    let token: string;
    let ids: string[];
    try {
      const setup = await setupProject(server.url);
      projectId = setup.projectId;
      token = setup.api.token;
      progress(`creating ${PIPELINES} pipelines`);
      ids = await createPipelines(setup.api, projectId, PIPELINES, "true", "store");
      setup.api.close();
    } finally {
      await server.stop();
    }
    // The same project, token and pipelines in both stores; only the number of runs differs.
    fs.cpSync(smallDir, largeDir, { recursive: true });

    const small = ids.slice(0, SMALL.pipelines);
    progress(`seeding ${SMALL.pipelines * SMALL.runsEach} runs into one store`);
    const smallRuns = await seedRuns(path.join(smallDir, DB_FILE), small, SMALL.runsEach);
    progress(`seeding ${PIPELINES * LARGE_RUNS_EACH} runs into the other`);
    const s0 = performance.now();
    const largeRuns = await seedRuns(path.join(largeDir, DB_FILE), ids, LARGE_RUNS_EACH);
    const seedMs = performance.now() - s0;
    const dbMb = fs.statSync(path.join(largeDir, DB_FILE)).size / 2 ** 20;

    progress("measuring both stores side by side");
    const [before, after] = (await measure(
      token,
      projectId,
      [
        { dir: smallDir, runs: smallRuns, listable: small },
        { dir: largeDir, runs: largeRuns, listable: ids },
      ],
      ids,
    )) as [Phase, Phase];

    const detailRatio = median(after.detail) / median(before.detail);
    const listRatio = median(after.list) / median(before.list);
    const lat = (xs: number[]): string => `median ${ms(median(xs))} · p99 ${ms(percentile(xs, 99))}`;
    return {
      title: `(d) run detail and list with ${after.runs.toLocaleString("en")} runs vs ${before.runs} in the store`,
      rows: [
        [`detail, ${before.runs} runs`, lat(before.detail)],
        [`detail, ${after.runs} runs`, lat(after.detail)],
        ["detail ratio (large / small, medians)", ratio(detailRatio)],
        [`list limit 10, ${before.runs} runs`, lat(before.list)],
        [`list limit 10, ${after.runs} runs`, lat(after.list)],
        ["list ratio (large / small, medians)", ratio(listRatio)],
        [`server RSS, ${before.runs} runs`, `${before.rss.toFixed(0)} MB`],
        [`server RSS, ${after.runs} runs`, `${after.rss.toFixed(0)} MB`],
        [
          `batch-runs of ${PIPELINES}, median of ${BATCHES}: ${before.runs} → ${after.runs} runs`,
          `${ms(median(before.batch))} → ${ms(median(after.batch))} (${ratio(median(after.batch) / median(before.batch))}, no target)`,
        ],
        ["database file, large store", `${dbMb.toFixed(0)} MB`],
        [`seeding ${after.runs.toLocaleString("en")} runs (store + SQL copies)`, ms(seedMs)],
      ],
      targets: [
        {
          label: "detail latency ratio",
          value: ratio(detailRatio),
          goal: `≤ ${TARGET_RATIO}×`,
          met: detailRatio <= TARGET_RATIO,
        },
        {
          label: "list latency ratio",
          value: ratio(listRatio),
          goal: `≤ ${TARGET_RATIO}×`,
          met: listRatio <= TARGET_RATIO,
        },
        {
          label: `server RSS with ${after.runs.toLocaleString("en")} runs`,
          value: `${after.rss.toFixed(0)} MB`,
          goal: `< ${TARGET_RSS_MB} MB`,
          met: after.rss < TARGET_RSS_MB,
        },
      ],
      notes: [
        `one server per store, both up at once; ${CALLS} calls each on random runs / pipelines, alternating between the two, after ${WARMUP} warm-up calls`,
      ],
    };
  } finally {
    removeDir(smallDir);
    removeDir(largeDir);
  }
}
