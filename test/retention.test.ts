// Retention with a test clock: ended runs past their age or past the number kept per pipeline go
// with their logs and artifact records, logs and artifacts of kept runs go at their own ages, a
// blob goes once no artifact refers to it, Idempotency-Key records expire; unfinished runs and
// runs started meanwhile stay. The admin's usage view says what is left.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createTestClock } from "../src/clock.js";
import { createDirBlobStore } from "../src/store/blob-dir.js";
import {
  ADMIN_TOKEN,
  call,
  createPipeline,
  createProject,
  createTestApp,
  type TestApp,
  tempDir,
} from "./helpers/app.js";
import { POSTGRES_BIN, type PostgresCluster, startPostgres } from "./helpers/postgres.js";

const apps: TestApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

const DAY = 24 * 3600 * 1000;
const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);

let cluster: PostgresCluster | undefined;
afterAll(() => cluster?.stop());

/** A server with the retention under test: SQLite, or a fresh PostgreSQL database. */
async function server(db: "sqlite" | "postgres" = "sqlite") {
  const clock = createTestClock(T0);
  const dbArgs: string[] = [];
  if (db === "postgres") {
    cluster ??= await startPostgres();
    const keyDir = tempDir();
    const keyFile = path.join(keyDir, "secret.key");
    fs.writeFileSync(keyFile, crypto.randomBytes(32).toString("base64"), { mode: 0o600 });
    dbArgs.push("--database-url", await cluster.createDatabase(), "--secret-key-file", keyFile);
  }
  const t = await createTestApp({
    clock,
    localRunner: false,
    extraArgs: [
      ...dbArgs,
      "--keep-runs-days",
      "30",
      "--keep-runs-per-pipeline",
      "3",
      "--keep-logs-days",
      "10",
      "--keep-artifacts-days",
      "7",
      "--keep-idempotency-days",
      "1",
    ],
  });
  apps.push(t);
  return { t, clock };
}

describe("retention", () => {
  it.each<"sqlite" | "postgres">(["sqlite", ...(POSTGRES_BIN ? (["postgres"] as const) : [])])(
    "on %s removes what is old, a kind at a time, and never what is unfinished or new",
    async (db) => {
      const { t, clock } = await server(db);
      const pid = await createProject(t.app);
      const pl = await createPipeline(t.app, pid);
      const other = await createPipeline(t.app, pid);
      const start = async (p: string) =>
        (await call(t.app, "POST", `/v5/${pid}/api/pipelines/${p}/run`, { token: ADMIN_TOKEN, body: {} }))
          .body.pipeline_run_id as string;
      const stop = async (p: string, run: string) =>
        expect(
          (
            await call(t.app, "POST", `/v5/${pid}/api/pipelines/${p}/pipeline-runs/${run}/stop`, {
              token: ADMIN_TOKEN,
              body: {},
            })
          ).status,
        ).toBe(200);
      const exists = async (p: string, run: string) =>
        (
          await call(
            t.app,
            "GET",
            `/v5/${pid}/api/pipelines/${p}/pipeline-runs/detail?pipeline_run_id=${run}`,
            { token: ADMIN_TOKEN },
          )
        ).status === 200;

      // Five ended runs and an unfinished one of `pl`; one ended run of `other`.
      const ended: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await start(pl);
        await stop(pl, r);
        ended.push(r);
      }
      const unfinished = await start(pl);
      const otherRun = await start(other);
      await stop(other, otherRun);

      // An artifact of the newest ended run and one of `other` share a blob; the oldest kept run has a log.
      const blobs = createDirBlobStore(path.join(t.dir, "artifacts"));
      const blob = await blobs.put(Readable.from([Buffer.from("shared bytes")]), 1000);
      for (const [run, p] of [
        [ended[4]!, pl],
        [otherRun, other],
      ] as const) {
        await t.store.putArtifact({
          run_id: run,
          name: "dist",
          project_id: pid,
          pipeline_id: p,
          job_run_id: "0".repeat(32),
          job_identifier: "job",
          sha256: blob.sha256,
          size: blob.size,
          create_time: T0,
        });
      }
      // A cache entry, last used now, with bytes of its own.
      const cacheBlob = await blobs.put(Readable.from([Buffer.from("cached bytes")]), 1000);
      await t.store.putCache({
        pipeline_id: pl,
        scope: "main",
        key: "deps",
        project_id: pid,
        sha256: cacheBlob.sha256,
        size: cacheBlob.size,
        create_time: T0,
        last_used: T0,
      });
      const graph = await t.store.getRunGraph(ended[3]!);
      const step = graph!.steps[0]!;
      await t.store.appendLog(step.id, 0, "an old log line\n");
      await t.store.db.updateTable("step_runs").set({ log_bytes: 16 }).where("id", "=", step.id).execute();
      // An Idempotency-Key record.
      const batch = (key: string) =>
        call(t.app, "POST", `/v5/${pid}/api/pipelines/batch-runs`, {
          token: ADMIN_TOKEN,
          body: { pipeline_ids: [other] },
          headers: { "Idempotency-Key": key },
        });
      const first = await batch("k1");
      expect(first.status).toBe(200);

      // Day 0: past the 3 newest runs of `pl` (numbers 6, 5 and 4; 6 is unfinished): 1, 2 and 3 go.
      const day0 = await t.server.engine.retention.pass();
      expect(day0.runs).toBe(3);
      for (const r of ended.slice(0, 3)) expect(await exists(pl, r)).toBe(false);
      for (const r of [ended[3]!, ended[4]!, unfinished]) expect(await exists(pl, r)).toBe(true);

      // Day 2: the Idempotency-Key record is gone, so the key starts new runs.
      // (A jump lets the engine's own sweep start a pass; settled() waits for it, pass() makes sure.)
      const later = async (ms: number) => {
        await clock.jump(ms);
        await t.server.engine.settled();
        await t.server.engine.retention.pass();
      };
      await later(2 * DAY);
      const again = await batch("k1");
      expect(again.status).toBe(200);
      expect(again.body.result[0].pipeline_run_id).not.toBe(first.body.result[0].pipeline_run_id);

      // Day 8: artifacts are 8 days old: both records go, then the blob nothing refers to.
      await later(6 * DAY);
      expect(await t.store.listArtifacts(ended[4]!)).toEqual([]);
      expect(await t.store.listArtifacts(otherRun)).toEqual([]);
      expect(await blobs.get(blob.sha256)).toBeUndefined();
      // The cache entry is 8 days unused, within --keep-caches-days (14 by default).
      expect((await t.store.projectCaches(pid)).items).toHaveLength(1);

      // Day 11: logs of runs that ended 11 days ago go; the run stays.
      await later(3 * DAY);
      expect(await t.store.readLog(step.id, 0)).toEqual([]);
      expect(await exists(pl, ended[3]!)).toBe(true);

      // Day 31, while runs start: every run that ended a month ago goes, not the unfinished one nor
      // those started meanwhile.
      await clock.jump(20 * DAY);
      const [, fresh] = await Promise.all([
        t.server.engine.retention.pass(),
        Promise.all(Array.from({ length: 5 }, () => start(pl))),
      ]);
      await t.server.engine.settled();
      for (const r of [ended[3]!, ended[4]!]) expect(await exists(pl, r)).toBe(false);
      expect(await exists(other, otherRun)).toBe(false);
      expect(await exists(pl, unfinished)).toBe(true);
      expect((await t.store.projectCaches(pid)).items).toEqual([]);
      expect(await blobs.get(cacheBlob.sha256)).toBeUndefined();
      for (const r of fresh) expect(await exists(pl, r)).toBe(true);

      const usage = await call(t.app, "GET", "/admin/v1/usage", { token: ADMIN_TOKEN });
      expect(usage.status).toBe(200);
      const mine = usage.body.projects.find((p: { project_id: string }) => p.project_id === pid);
      // Left: the unfinished run, the five started meanwhile, the two (queued) runs of the batches.
      expect(mine).toMatchObject({ runs: 1 + 5 + 2, artifacts: 0, artifact_bytes: 0 });
      expect(usage.body.artifact_store).toEqual({ kind: "dir", bytes: 0 });
    },
  );

  it("runs a pass by itself from the engine's sweep", async () => {
    const clock = createTestClock(T0);
    const t = await createTestApp({
      clock,
      localRunner: false,
      extraArgs: ["--keep-runs-per-pipeline", "1"],
    });
    apps.push(t);
    const pid = await createProject(t.app);
    const pl = await createPipeline(t.app, pid);
    const runs: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = (
        await call(t.app, "POST", `/v5/${pid}/api/pipelines/${pl}/run`, { token: ADMIN_TOKEN, body: {} })
      ).body.pipeline_run_id as string;
      await call(t.app, "POST", `/v5/${pid}/api/pipelines/${pl}/pipeline-runs/${r}/stop`, {
        token: ADMIN_TOKEN,
        body: {},
      });
      runs.push(r);
    }
    // The engine's sweep (every second) starts a retention pass within its interval.
    await clock.advance(11 * 60_000);
    await t.server.engine.settled();
    const left = await call(t.app, "POST", `/v5/${pid}/api/pipelines/${pl}/pipeline-runs/list`, {
      token: ADMIN_TOKEN,
      body: { limit: 100, offset: 0 },
    });
    expect(left.body.pipeline_runs.map((r: { pipeline_run_id: string }) => r.pipeline_run_id)).toEqual([
      runs[2],
    ]);
    expect(fs.existsSync(t.dir)).toBe(true);
  });
});
