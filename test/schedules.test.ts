// Schedules (spec §5.3) fire pipelines by themselves: each tick once, across restarts and across
// replicas, with time moved by a test clock. Servers run in this process without a runner (the
// runs they start stay queued: what is tested is that they are started, once).

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createTestClock, type TestClock } from "../src/clock.js";
import {
  ADMIN_TOKEN,
  call,
  createPipeline,
  createProject,
  createTestApp,
  shellDefinition,
  type TestApp,
  tempDir,
} from "./helpers/app.js";
import { POSTGRES_BIN, type PostgresCluster, startPostgres } from "./helpers/postgres.js";
import { waitFor } from "./helpers/server.js";

const apps: TestApp[] = [];
const dirs: string[] = [];
let cluster: PostgresCluster | undefined;
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  cluster?.stop();
  cluster = undefined;
});

/** 2026-12-01 (a Tuesday) 00:00:30 UTC. */
const T0 = Date.UTC(2026, 11, 1, 0, 0, 30);
const MIN = 60_000;
const HOUR = 60 * MIN;

async function server(clock: TestClock, opts: { dir?: string; args?: string[] } = {}): Promise<TestApp> {
  const t = await createTestApp({
    clock,
    localRunner: false,
    ...(opts.dir ? { dir: opts.dir } : {}),
    extraArgs: opts.args ?? [],
  });
  apps.push(t);
  return t;
}

interface RunItem {
  pipeline_run_id: string;
  trigger_type: string;
  executor_name: string;
}
async function runsOf(t: TestApp, pid: string, pipelineId: string): Promise<RunItem[]> {
  const res = await call(t.app, "POST", `/v5/${pid}/api/pipelines/${pipelineId}/pipeline-runs/list`, {
    token: ADMIN_TOKEN,
    body: { limit: 100, offset: 0 },
  });
  expect(res.status).toBe(200);
  return res.body.pipeline_runs as RunItem[];
}
async function detail(t: TestApp, pid: string, pipelineId: string) {
  const res = await call(t.app, "GET", `/v5/${pid}/api/pipelines/${pipelineId}`, { token: ADMIN_TOKEN });
  expect(res.status).toBe(200);
  return res.body as { schedules: Record<string, unknown>[] };
}

describe("schedules", () => {
  it("fires each tick once, as Scheduler; the detail says when it fires next", async () => {
    const clock = createTestClock(T0);
    const t = await server(clock);
    const pid = await createProject(t.app);
    const pl = await createPipeline(t.app, pid, {
      schedules: [
        { type: "cron", name: "hourly", cron: "0 * * * *", time_zone: "UTC" },
        // Tuesdays at 08:30 in Beijing (00:30 UTC); 3 = Tuesday.
        {
          type: "fixed",
          name: "tue",
          days_of_week: [3],
          start_time: "08:30",
          time_zone: "China Standard Time",
        },
        { type: "cron", name: "off", cron: "* * * * *", enable: false },
      ],
    });
    const d = await detail(t, pid, pl);
    expect(d.schedules.map((s) => typeof s.uuid)).toEqual(["string", "string", "string"]);
    expect(d.schedules.map((s) => s.next_time)).toEqual([
      T0 - 30_000 + HOUR,
      Date.UTC(2026, 11, 1, 0, 30),
      null,
    ]);
    await clock.advance(29 * MIN);
    expect(await runsOf(t, pid, pl)).toHaveLength(0);
    await clock.advance(MIN); // 00:30:30: the Tuesday tick
    let runs = await runsOf(t, pid, pl);
    expect(runs.map((r) => [r.trigger_type, r.executor_name])).toEqual([["Scheduler", "Scheduler"]]);
    await clock.advance(2 * MIN);
    expect(await runsOf(t, pid, pl)).toHaveLength(1);
    await clock.advance(28 * MIN); // past 01:00: the hourly tick
    runs = await runsOf(t, pid, pl);
    expect(runs).toHaveLength(2);
    const after = await detail(t, pid, pl);
    expect(after.schedules[0]).toMatchObject({ last_fire_time: Date.UTC(2026, 11, 1, 1), missed_count: 0 });
    expect(after.schedules[1]!.next_time).toBe(Date.UTC(2026, 11, 8, 0, 30));
  });

  it("keeps a schedule's place when the pipeline is saved back unchanged; a changed one starts afresh", async () => {
    const clock = createTestClock(T0);
    const t = await server(clock);
    const pid = await createProject(t.app);
    const pl = await createPipeline(t.app, pid, {
      name: "keep",
      schedules: [{ type: "cron", cron: "*/10 * * * *" }],
    });
    await clock.advance(10 * MIN);
    const d = await detail(t, pid, pl);
    const [s] = d.schedules;
    expect(s!.last_fire_time).toBe(Date.UTC(2026, 11, 1, 0, 10));
    // The detail's own fields come back with the entry: they are not part of it.
    const full = await call(t.app, "GET", `/v5/${pid}/api/pipelines/${pl}`, { token: ADMIN_TOKEN });
    const put = await call(t.app, "PUT", `/v5/${pid}/api/pipelines/${pl}`, {
      token: ADMIN_TOKEN,
      body: { ...full.body, schedules: d.schedules },
    });
    expect(put.status).toBe(200);
    expect((await detail(t, pid, pl)).schedules[0]).toMatchObject({
      uuid: s!.uuid,
      last_fire_time: s!.last_fire_time,
    });
    const changed = await call(t.app, "PUT", `/v5/${pid}/api/pipelines/${pl}`, {
      token: ADMIN_TOKEN,
      body: { ...full.body, schedules: [{ ...d.schedules[0], cron: "*/20 * * * *" }] },
    });
    expect(changed.status).toBe(200);
    expect((await detail(t, pid, pl)).schedules[0]).toMatchObject({
      uuid: s!.uuid,
      next_time: Date.UTC(2026, 11, 1, 0, 20),
    });
  });

  it("refuses impossible schedules naming the field, and stores nothing", async () => {
    const clock = createTestClock(T0);
    const t = await server(clock);
    const pid = await createProject(t.app);
    const cases: [unknown, string][] = [
      [
        { type: "fixed", days_of_week: [2], start_time: "08:30", time_zone: "Atlantis Standard Time" },
        "schedules[0].time_zone",
      ],
      [{ type: "fixed", days_of_week: [2], start_time: "24:10" }, "schedules[0].start_time"],
      [{ type: "fixed", days_of_week: [8], start_time: "08:00" }, "schedules[0].days_of_week[0]"],
      [
        { type: "periodic", days_of_week: [2], start_time: "09:00", end_time: "08:00", interval_time: 3600 },
        "schedules[0].end_time",
      ],
      [{ type: "cron", cron: "0 0 30 2 *" }, "schedules[0].cron"],
      [{ type: "weekly" }, "schedules[0].type"],
      [{ type: "cron", cron: "* * * * *", uuid: "../x" }, "schedules[0].uuid"],
    ];
    for (const [schedule, field] of cases) {
      const res = await call(t.app, "POST", `/v5/${pid}/api/pipelines`, {
        token: ADMIN_TOKEN,
        body: {
          name: "bad",
          is_publish: false,
          definition: shellDefinition(),
          schedules: [schedule],
        },
      });
      expect(res.status, field).toBe(400);
      expect(res.body.error_msg).toContain(field);
    }
    const list = await call(t.app, "POST", `/v5/${pid}/api/pipelines/list`, { token: ADMIN_TOKEN, body: {} });
    expect(list.body.total).toBe(0);
    expect(await t.store.db.selectFrom("schedules").selectAll().execute()).toEqual([]);
  });

  it("stops a stored schedule that no longer reads as one, instead of failing every sweep", async () => {
    const clock = createTestClock(T0);
    const t = await server(clock);
    const pid = await createProject(t.app);
    const pl = await createPipeline(t.app, pid, { schedules: [{ cron: "*/5 * * * *" }] });
    // Written by an older version, or by hand: a zone this one does not know.
    await t.store.db
      .updateTable("schedules")
      .set({ body: JSON.stringify({ uuid: "u", cron: "*/5 * * * *", time_zone: "Mars/Olympus" }) })
      .where("pipeline_id", "=", pl)
      .execute();
    await clock.advance(10 * MIN);
    expect(await runsOf(t, pid, pl)).toHaveLength(0);
    const [row] = await t.store.listSchedulesOf(pl);
    expect(row!.next_due).toBeNull();
  });

  it("fires a tick missed while no server ran once at start within the window; older ones are missed", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const first = await server(createTestClock(T0), { dir });
    const pid = await createProject(first.app);
    const hourly = await createPipeline(first.app, pid, { schedules: [{ cron: "0 * * * *" }] });
    await first.close();
    apps.splice(apps.indexOf(first), 1);
    // Down from 00:00:30 to 03:05: ticks at 01:00 and 02:00 are missed, 03:00 is 5 min late.
    const clock = createTestClock(Date.UTC(2026, 11, 1, 3, 5));
    const second = await server(clock, { dir });
    await clock.advance(2000);
    expect(await runsOf(second, pid, hourly)).toHaveLength(1);
    expect((await detail(second, pid, hourly)).schedules[0]).toMatchObject({
      last_fire_time: Date.UTC(2026, 11, 1, 3),
      missed_count: 2,
      last_missed_time: Date.UTC(2026, 11, 1, 2),
      next_time: Date.UTC(2026, 11, 1, 4),
    });
    await second.close();
    apps.splice(apps.indexOf(second), 1);
    // Down again until 04:20: the 04:00 tick is 20 minutes late, past the window: missed, no run.
    const late = createTestClock(Date.UTC(2026, 11, 1, 4, 20));
    const third = await server(late, { dir });
    await late.advance(2000);
    expect(await runsOf(third, pid, hourly)).toHaveLength(1);
    expect((await detail(third, pid, hourly)).schedules[0]).toMatchObject({
      missed_count: 3,
      next_time: Date.UTC(2026, 11, 1, 5),
    });
  });

  it.skipIf(!POSTGRES_BIN)("fires each tick once with two replicas on one PostgreSQL database", async () => {
    cluster = await startPostgres();
    const url = await cluster.createDatabase();
    // Replicas share the secret key (as operations.md says they must).
    const keyDir = tempDir();
    dirs.push(keyDir);
    const keyFile = path.join(keyDir, "secret.key");
    fs.writeFileSync(keyFile, crypto.randomBytes(32).toString("base64"), { mode: 0o600 });
    const clocks = [createTestClock(T0), createTestClock(T0)];
    const replicas: TestApp[] = [];
    for (const c of clocks)
      replicas.push(await server(c, { args: ["--database-url", url, "--secret-key-file", keyFile] }));
    const [a, b] = replicas as [TestApp, TestApp];
    const pid = await createProject(a.app);
    const pl = await createPipeline(a.app, pid, { schedules: [{ cron: "*/5 * * * *" }] });
    // Both replicas sweep through 30 minutes side by side: six ticks, each fired once.
    for (let i = 0; i < 30; i++) await Promise.all(clocks.map((c) => c.advance(MIN)));
    // A sweep may still be under way (the database answers in real time): until the 00:30 tick
    // is moved on, keep sweeping a second at a time.
    await waitFor(async () => {
      await Promise.all(clocks.map((c) => c.advance(1000)));
      const [row] = await a.store.listSchedulesOf(pl);
      return row!.next_due === Date.UTC(2026, 11, 1, 0, 35);
    });
    const runs = await runsOf(b, pid, pl);
    expect(runs).toHaveLength(6);
    const batches = await a.store.db.selectFrom("batches").select("idempotency_key").execute();
    expect(new Set(batches.map((r) => r.idempotency_key)).size).toBe(6);
  });
});
