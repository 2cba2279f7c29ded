// The job stream's slot count: the server pushes a runner no more jobs than it has slots, also when
// a report with an older count (built before jobs the runner has since received) lands after a
// newer one, as it can beside a stream that reopened or with two report requests in flight.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSseParser } from "../src/wire/sse.js";
import {
  ADMIN_TOKEN,
  call,
  createPipeline,
  createProject,
  createTestApp,
  issueToken,
  type TestApp,
} from "./helpers/app.js";

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
    const token = await issueToken(t.app, "runner", []);
    const reg = await call(t.app, "POST", "/runner/v1/register", { token, body: { name: "r", slots: 2 } });
    const runnerId = reg.body.runner_id as string;
    const p = await createProject(t.app);
    for (let i = 0; i < 4; i++) {
      const pl = await createPipeline(t.app, p);
      const run = await call(t.app, "POST", `/v5/${p}/api/pipelines/${pl}/run`, {
        token: ADMIN_TOKEN,
        body: {},
      });
      expect(run.status).toBe(200);
    }

    const url = await t.app.listen({ host: "127.0.0.1", port: 0 });
    stream = new AbortController();
    const res = await fetch(`${url}/runner/v1/stream`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-auth-token": token },
      body: JSON.stringify({ runner_id: runnerId, free: 2, received: 0 }),
      signal: stream.signal,
    });
    expect(res.status).toBe(200);
    const pushed: { jobRunId: string; attempt: number }[] = [];
    let arrived: () => void = () => {};
    const parse = createSseParser((e) => {
      if (e.event !== "jobs") return;
      pushed.push(...(JSON.parse(e.data).jobs as { jobRunId: string; attempt: number }[]));
      arrived();
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
        // aborted at the end of the test
      }
    })();
    const until = (n: number): Promise<void> =>
      new Promise((resolve) => {
        arrived = () => {
          if (pushed.length >= n) resolve();
        };
        arrived();
      });
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
