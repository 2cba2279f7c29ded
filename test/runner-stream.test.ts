// The job stream. Its slot count: the server pushes a runner no more jobs than it has slots, also
// when a report with an older count (built before jobs the runner has since received) lands after a
// newer one, as it can beside a stream that reopened or with two report requests in flight. And the
// jobs pushed before a stream broke: a step runs before its start is confirmed, so those jobs stay
// the runner's until its next stream says which of them it holds; only the others are queued again.

import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAgent } from "../src/runner/agent.js";
import { createSseParser } from "../src/wire/sse.js";
import {
  ADMIN_TOKEN,
  call,
  createPipeline,
  createProject,
  createTestApp,
  issueToken,
  shellDefinition,
  type TestApp,
  tempDir,
} from "./helpers/app.js";
import { waitFor } from "./helpers/server.js";

/** Jobs pushed on a job stream opened with `body`, as they arrive. */
async function openStream(url: string, token: string, body: unknown, signal: AbortSignal) {
  const res = await fetch(`${url}/runner/v1/stream`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-auth-token": token },
    body: JSON.stringify(body),
    signal,
  });
  expect(res.status).toBe(200);
  const pushed: { jobRunId: string; attempt: number }[] = [];
  const parse = createSseParser((e) => {
    if (e.event === "jobs")
      pushed.push(...(JSON.parse(e.data).jobs as { jobRunId: string; attempt: number }[]));
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        parse(value);
      }
    } catch {
      // aborted
    }
  })();
  return pushed;
}

/**
 * The network between an agent and the server (the world, faked): it passes everything, holds
 * report batches while `hold` is on, and can break the job streams open through it.
 */
async function flakyNetwork(target: string) {
  const held: (() => void)[] = [];
  const streams = new Set<http.ServerResponse>();
  let hold = false;
  let reportsSeen = 0;
  const srv = http.createServer((req, res) => {
    const pass = (): void => {
      const up = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      up.on("error", () => res.destroy());
      res.on("close", () => up.destroy());
      req.pipe(up);
    };
    if (req.url === "/runner/v1/stream") streams.add(res);
    if (req.url === "/runner/v1/reports") {
      reportsSeen++;
      if (hold) {
        held.push(pass);
        return;
      }
    }
    pass();
  });
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get heldReports() {
      return held.length;
    },
    get reportsSeen() {
      return reportsSeen;
    },
    holdReports() {
      hold = true;
    },
    release() {
      hold = false;
      for (const pass of held.splice(0)) pass();
    },
    breakStreams() {
      for (const res of streams) res.destroy();
      streams.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  };
}

/** A registered runner of `slots` slots (its token and id), and `runs` one-job runs queued for it. */
async function runnerWithRuns(t: TestApp, slots: number, runs: number) {
  const token = await issueToken(t.app, "runner", []);
  const reg = await call(t.app, "POST", "/runner/v1/register", { token, body: { name: "r", slots } });
  const p = await createProject(t.app);
  for (let i = 0; i < runs; i++) {
    const pl = await createPipeline(t.app, p);
    const run = await call(t.app, "POST", `/v5/${p}/api/pipelines/${pl}/run`, {
      token: ADMIN_TOKEN,
      body: {},
    });
    expect(run.status).toBe(200);
  }
  return { token, runnerId: reg.body.runner_id as string };
}

describe("a runner's job stream", () => {
  let t: TestApp;
  let stream: AbortController | undefined;

  beforeEach(async () => {
    t = await createTestApp({ localRunner: false });
  });
  afterEach(async () => {
    stream?.abort();
    await t.close();
  });

  it("pushes no more jobs than the runner's slots when an older count arrives after a newer one", async () => {
    const { token, runnerId } = await runnerWithRuns(t, 2, 4);

    const url = await t.app.listen({ host: "127.0.0.1", port: 0 });
    stream = new AbortController();
    const pushed = await openStream(url, token, { runner_id: runnerId, free: 2, received: 0 }, stream.signal);
    const until = (n: number): Promise<unknown> =>
      waitFor(async () => pushed.length >= n, 10_000, `${n} jobs pushed`);
    await until(2);
    expect(pushed).toHaveLength(2);

    const job = pushed[0]!;
    const report = (free: number, received: number) =>
      call(t.app, "POST", "/runner/v1/reports", {
        token,
        body: {
          runner_id: runnerId,
          free,
          received,
          reports: [{ type: "heartbeat", job_id: job.jobRunId, attempt: job.attempt }],
        },
      });
    // The newer count (both jobs received, no slot free), then an older one (nothing received yet).
    expect((await report(0, 2)).body.held).toEqual([true]);
    expect((await report(2, 0)).body.held).toEqual([true]);
    // One slot frees: exactly one job more. With the older count taken, two would have come
    // already, right after it.
    expect((await report(1, 2)).body.held).toEqual([true]);
    await until(3);
    await new Promise((r) => setTimeout(r, 300));
    expect(pushed).toHaveLength(3);
    const running = await t.store.listRunningJobsOf(runnerId);
    expect(running).toHaveLength(3);
  });
});

describe("jobs pushed before a job stream broke", () => {
  let t: TestApp;
  const stops: (() => Promise<void> | void)[] = [];

  beforeEach(async () => {
    t = await createTestApp({ localRunner: false });
  });
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    await t.close();
  });

  it("stay the runner's while its next stream names them; the others go back to the queue, not counted as lost", async () => {
    const { token, runnerId } = await runnerWithRuns(t, 2, 2);
    const url = await t.app.listen({ host: "127.0.0.1", port: 0 });
    const first = new AbortController();
    const pushed = await openStream(url, token, { runner_id: runnerId, free: 2, received: 0 }, first.signal);
    await waitFor(async () => pushed.length === 2, 10_000, "two jobs pushed");
    first.abort();
    // Time for the server to see the stream go (a release then would take a few ms): the jobs
    // stay claimed.
    await new Promise((r) => setTimeout(r, 500));
    expect((await t.store.listRunningJobsOf(runnerId)).map((j) => j.id).sort()).toEqual(
      pushed.map((j) => j.jobRunId).sort(),
    );

    const [kept, dropped] = pushed as [
      { jobRunId: string; attempt: number },
      { jobRunId: string; attempt: number },
    ];
    const second = new AbortController();
    stops.push(() => second.abort());
    await openStream(
      url,
      token,
      {
        runner_id: runnerId,
        free: 0,
        received: 2,
        holding: [{ job_id: kept.jobRunId, attempt: kept.attempt }],
      },
      second.signal,
    );
    const back = await waitFor(
      async () => {
        const j = await t.store.getJob(dropped.jobRunId);
        return j && j.status !== "RUNNING" ? j : undefined;
      },
      10_000,
      "the job not held to go back to the queue",
    );
    expect(back).toMatchObject({ status: "QUEUED", runner_id: null, lost: 0, attempt: dropped.attempt });
    const still = await t.store.getJob(kept.jobRunId);
    expect(still).toMatchObject({ status: "RUNNING", runner_id: runnerId });
    const beat = await call(t.app, "POST", "/runner/v1/reports", {
      token,
      body: {
        runner_id: runnerId,
        reports: [{ type: "heartbeat", job_id: kept.jobRunId, attempt: kept.attempt }],
      },
    });
    expect(beat.body.held).toEqual([true]);
  });

  it("a step runs before its start is answered, and its job is not run again when the stream breaks meanwhile", async () => {
    const url = await t.app.listen({ host: "127.0.0.1", port: 0 });
    const net = await flakyNetwork(url);
    stops.push(() => net.close());
    const token = await issueToken(t.app, "runner", []);
    const files = tempDir("pipewright-unconfirmed-");
    const marks = path.join(files, "marks");
    const agent = createAgent({
      server: net.url,
      token,
      slots: 2,
      labels: [],
      name: "unconfirmed",
      workRoot: path.join(files, "work"),
      hostEnv: { PATH: process.env.PATH },
      version: "test",
      log: () => {},
      maxBackoffMs: 100,
    });
    const running = agent.run();
    stops.push(async () => {
      net.release();
      await agent.drain();
      await running;
      fs.rmSync(files, { recursive: true, force: true });
    });
    await waitFor(
      async () => (await t.store.listRunners()).length === 1 || undefined,
      10_000,
      "the agent registered",
    );

    net.holdReports();
    const p = await createProject(t.app);
    const pl = await createPipeline(t.app, p, { definition: shellDefinition(`echo ran >> ${marks}`) });
    const run = await call(t.app, "POST", `/v5/${p}/api/pipelines/${pl}/run`, {
      token: ADMIN_TOKEN,
      body: {},
    });
    expect(run.status).toBe(200);
    // Its start, its end and the job's end are all held on the way: the step ran anyway.
    await waitFor(async () => fs.existsSync(marks), 15_000, "the step to run with its start unanswered");
    await waitFor(async () => net.heldReports > 0 || undefined, 10_000, "its reports on the way");
    const job = (await t.store.listRunningJobsOf((await t.store.listRunners())[0]!.id))[0]!;
    expect(job.heartbeat_time).toBeNull();

    // The stream breaks before anything of the job was answered; the agent opens another.
    net.breakStreams();
    await new Promise((r) => setTimeout(r, 500));
    expect(await t.store.getJob(job.id)).toMatchObject({ status: "RUNNING", attempt: job.attempt });

    net.release();
    const runId = run.body.pipeline_run_id as string;
    const done = await waitFor(
      async () => {
        const r = await t.store.getRun(runId);
        return r && (r.status === "COMPLETED" || r.status === "FAILED") ? r : undefined;
      },
      20_000,
      "the run to end",
    );
    expect(done.status).toBe("COMPLETED");
    expect(fs.readFileSync(marks, "utf8")).toBe("ran\n");
    expect(await t.store.getJob(job.id)).toMatchObject({
      status: "COMPLETED",
      attempt: job.attempt,
      lost: 0,
    });
  });
});
