// Pipeline notifications end to end: targets managed through CodeArts's pipeline-notices API
// (AK/SK-signed, answers held against the fields of ShowPipelineThirdPartyNotice), runs whose
// status changes notify a real HTTP receiver and a real SMTP server, in the bodies and with the
// signatures each platform expects; failed attempts retried with backoff on a test clock; the
// SSRF guard; and a delivery left pending by a stopped server sent by the next one.

import crypto from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTestClock, type TestClock } from "../src/clock.js";
import { feishuSign } from "../src/pipeline/notices.js";
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
import { type Receiver, startReceiver } from "./helpers/receiver.js";
import { signRequest } from "./helpers/sdk-signer.js";
import { type SmtpSink, startSmtpSink } from "./helpers/smtp.js";

const ALLOW = ["--allow-private-notice-targets"];

/** A run that stops at a manual review at once: it notifies without any runner. */
const REVIEW_DEFINITION = JSON.stringify({
  stages: [
    {
      name: "Gate",
      identifier: "stage_gate",
      sequence: 0,
      jobs: [
        {
          name: "approve",
          identifier: "job_approve",
          sequence: 0,
          steps: [
            {
              name: "review",
              identifier: "step_review",
              task: "official_devcloud_checkpoint",
              sequence: 0,
              inputs: [
                { key: "approvers", value: "" },
                { key: "check_strategy", value: "all" },
                { key: "timeout", value: 3600 },
                { key: "timeout_strategy", value: "reject" },
                { key: "comment", value: "" },
              ],
            },
          ],
        },
      ],
    },
  ],
});

const TARGET_FIELDS = {
  notice_id: "string",
  pipeline_id: "string",
  notice_type: "string",
  notice_status: "boolean",
  send_url: "string",
  notice_events: "object",
  notice_contents: "object",
  notice_users: "object",
  secret_info: "string",
  sort_index: "number",
} as const;
function holds(value: Record<string, unknown>, fields: Record<string, string>) {
  expect(Object.keys(value).sort()).toEqual(Object.keys(fields).sort());
  for (const [k, type] of Object.entries(fields)) expect(typeof value[k], k).toBe(type);
}

const hmacHex = (secret: string, body: string) =>
  crypto.createHmac("sha256", secret).update(body).digest("hex");

/** A client of one server, AK/SK-signed as the SDKs sign. */
async function sdkClient(t: TestApp, pid: string) {
  const res = await call(t.app, "POST", "/admin/v1/access-keys", {
    token: ADMIN_TOKEN,
    body: { role: "admin", project_ids: [pid] },
  });
  const { ak, sk } = res.body;
  return (method: string, path: string, body?: unknown, query?: Record<string, string>) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers = signRequest({
      ak,
      sk,
      method,
      host: "localhost:80",
      path,
      ...(query ? { query } : {}),
      ...(text === undefined ? {} : { body: text }),
      projectId: pid,
    });
    const qs = query ? `?${new URLSearchParams(query).toString()}` : "";
    return call(t.app, method, path + qs, { headers, ...(text === undefined ? {} : { rawBody: text }) });
  };
}

const noticeBase = (pid: string, pl: string) => `/v5/${pid}/api/pipeline-notices/${pl}/notice`;

async function startRun(t: TestApp, pid: string, pl: string): Promise<string> {
  const res = await call(t.app, "POST", `/v5/${pid}/api/pipelines/${pl}/run`, {
    token: ADMIN_TOKEN,
    body: {},
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.pipeline_run_id;
}

async function deliveries(t: TestApp, pid: string, pl: string) {
  const res = await call(t.app, "GET", `${noticeBase(pid, pl)}/deliveries`, { token: ADMIN_TOKEN });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.deliveries as {
    delivery_id: string;
    event: string;
    status: string;
    attempts: number;
    last_error: string | null;
    history: { outcome: string; status_code: number | null; error: string | null }[];
  }[];
}

/** Moves a test clock on, then lets what the sweep began end (the network answers in real time). */
async function tick(t: TestApp, clock: TestClock, ms: number): Promise<void> {
  await clock.advance(ms);
  await t.server.engine.settled();
}
/** As a machine that slept: each timer fires once (one sweep), however long the jump. */
async function leap(t: TestApp, clock: TestClock, ms: number): Promise<void> {
  await clock.jump(ms);
  await t.server.engine.settled();
}

/** Polls (in real time) until `check` holds; fails with `what` after a while. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
});
afterEach(() => {
  receiver.reset();
});

describe("notification targets (CodeArts's third-party notices)", () => {
  let t: TestApp;
  let pid: string;
  let pl: string;
  let signed: Awaited<ReturnType<typeof sdkClient>>;
  beforeAll(async () => {
    t = await createTestApp({ localRunner: false, extraArgs: ALLOW });
    pid = await createProject(t.app);
    pl = await createPipeline(t.app, pid);
    signed = await sdkClient(t, pid);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("add, list (URL and secret masked), change keeping the masked values, switch off by type, remove", async () => {
    const base = noticeBase(pid, pl);
    const slackUrl = "https://hooks.slack.com/services/T0001/B0002/very-secret-token";
    const add = await signed("POST", `${base}/message`, {
      notice_type: "slack",
      notice_status: true,
      send_url: slackUrl,
      secret_info: "hmac-secret",
      notice_events: ["pipelineRun.failed", "pipelineRun.succeed"],
      notice_contents: ["projectName"],
      notice_users: [],
      sort_index: 0,
    });
    expect(add.status, JSON.stringify(add.body)).toBe(200);
    expect(add.body.status).toBe("success");
    const id = add.body.notice_id as string;
    expect(id).toMatch(/^[0-9a-f]{32}$/);

    const listed = await signed("GET", `${base}/message`);
    expect(listed.status).toBe(200);
    expect(listed.body).toHaveLength(1);
    holds(listed.body[0], TARGET_FIELDS);
    expect(listed.body[0]).toEqual({
      notice_id: id,
      pipeline_id: pl,
      notice_type: "slack",
      notice_status: true,
      send_url: "https://hooks.slack.com/******",
      notice_events: ["pipelineRun.failed", "pipelineRun.succeed"],
      notice_contents: ["projectName"],
      notice_users: [],
      secret_info: "******",
      sort_index: 0,
    });
    expect(JSON.stringify(listed.body)).not.toContain("very-secret-token");
    expect(JSON.stringify(listed.body)).not.toContain("hmac-secret");

    // Sent back as listed (the masks), the URL and the secret stay what they were.
    const change = await signed("POST", `${base}/message`, {
      ...listed.body[0],
      notice_events: ["pipelineRun.failed"],
    });
    expect(change.status, JSON.stringify(change.body)).toBe(200);
    const [stored] = await t.store.listNoticeTargets(pl);
    expect(stored).toMatchObject({ url: slackUrl, secret: "hmac-secret", events: ["pipelineRun.failed"] });

    const off = await signed("POST", `${base}/all`, { notice_type: "slack", notice_switch: false });
    expect(off.status, JSON.stringify(off.body)).toBe(200);
    expect((await signed("GET", `${base}/message`)).body[0].notice_status).toBe(false);

    const removed = await signed("DELETE", `${base}/message/${id}`);
    expect(removed.status).toBe(200);
    expect((await signed("GET", `${base}/message`)).body).toEqual([]);
    const again = await signed("DELETE", `${base}/message/${id}`);
    expect(again.status).toBe(404);
    expect(again.body.error_code).toBe("DEVPIPE.00020180");
  });

  it("bad input is refused naming the field, and changes nothing", async () => {
    const pl = await createPipeline(t.app, pid);
    const base = noticeBase(pid, pl);
    const good = {
      notice_type: "webhook",
      notice_status: true,
      send_url: "https://example.com/hook",
      notice_events: ["pipelineRun.failed"],
    };
    const cases: [unknown, number, string, string][] = [
      [{ ...good, notice_type: "pager" }, 400, "DEVPIPE.00020100", "notice_type"],
      [{ ...good, notice_events: ["pipeline.exploded"] }, 400, "DEVPIPE.00020100", "notice_events[0]"],
      [{ ...good, send_url: "ftp://example.com/x" }, 400, "DEVPIPE.00020181", "send_url"],
      [{ ...good, send_url: "https://user:pw@example.com/x" }, 400, "DEVPIPE.00020181", "send_url"],
      [
        { ...good, notice_type: "email", send_url: "", notice_users: ["not-an-address"] },
        400,
        "DEVPIPE.00020181",
        "notice_users[0]",
      ],
      [{ ...good, notice_type: "email", send_url: "" }, 400, "DEVPIPE.00020181", "notice_users"],
      [{ ...good, notice_id: "f".repeat(32) }, 404, "DEVPIPE.00020180", "notice_id"],
      [{ ...good, surprise: 1 }, 400, "DEVPIPE.00020100", "surprise"],
      [{ ...good, pipeline_id: "e".repeat(32) }, 400, "DEVPIPE.00020181", "pipeline_id"],
    ];
    for (const [body, status, code, field] of cases) {
      const res = await signed("POST", `${base}/message`, body);
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      expect(res.body.error_code).toBe(code);
      expect(res.body.error_msg).toContain(field);
    }
    expect(await t.store.listNoticeTargets(pl)).toEqual([]);
  });

  it("viewers read but may not change targets; another project's caller sees nothing", async () => {
    const pl = await createPipeline(t.app, pid);
    const base = noticeBase(pid, pl);
    const viewer = await issueToken(t.app, "viewer", [pid]);
    expect((await call(t.app, "GET", `${base}/message`, { token: viewer })).status).toBe(200);
    const body = {
      notice_type: "webhook",
      notice_status: true,
      send_url: "https://example.com/hook",
      notice_events: ["pipelineRun.failed"],
    };
    const refused = await call(t.app, "POST", `${base}/message`, { token: viewer, body });
    expect(refused.status).toBe(403);
    const other = await createProject(t.app);
    const stranger = await issueToken(t.app, "admin", [other]);
    for (const [method, path] of [
      ["GET", `${base}/message`],
      ["GET", `${base}/deliveries`],
    ] as const) {
      const res = await call(t.app, method, path, { token: stranger });
      expect(res.status).toBe(404);
    }
    // The other project's path with this pipeline: no pipeline there.
    const cross = await call(t.app, "GET", `${noticeBase(other, pl)}/message`, { token: stranger });
    expect([400, 404]).toContain(cross.status);
    expect(await t.store.listNoticeTargets(pl)).toEqual([]);
  });
});

describe("deliveries of real runs", () => {
  let t: TestApp;
  let pid: string;
  let signed: Awaited<ReturnType<typeof sdkClient>>;
  beforeAll(async () => {
    t = await createTestApp({ extraArgs: [...ALLOW, "--public-url", "https://ci.example.com"] });
    pid = await createProject(t.app);
    signed = await sdkClient(t, pid);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("a generic webhook gets started and succeeded, signed; a failing run notifies failed; all listed as sent", async () => {
    const ok = await createPipeline(t.app, pid, { name: "app-ok" });
    const bad = await createPipeline(t.app, pid, { name: "app-bad", definition: shellDefinition("exit 3") });
    for (const pl of [ok, bad]) {
      const res = await signed("POST", `${noticeBase(pid, pl)}/message`, {
        notice_type: "webhook",
        notice_status: true,
        send_url: `${receiver.url}/generic/${pl}`,
        secret_info: "generic-secret",
        notice_events: ["pipelineRun.start", "pipelineRun.succeed", "pipelineRun.failed"],
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    const okRun = await startRun(t, pid, ok);
    const badRun = await startRun(t, pid, bad);
    const got = await receiver.waitFor(4);
    const of = (pl: string) =>
      got.filter((r) => r.url === `/generic/${pl}`).map((r) => ({ ...r, json: JSON.parse(r.body) }));
    const okEvents = of(ok)
      .map((r) => r.json.event)
      .sort();
    expect(okEvents).toEqual(["pipelineRun.start", "pipelineRun.succeed"]);
    expect(
      of(bad)
        .map((r) => r.json.event)
        .sort(),
    ).toEqual(["pipelineRun.failed", "pipelineRun.start"]);
    for (const r of got) {
      expect(r.method).toBe("POST");
      expect(r.headers["x-pipewright-signature"]).toBe(`sha256=${hmacHex("generic-secret", r.body)}`);
      expect(r.headers["x-pipewright-event"]).toBe(JSON.parse(r.body).event);
    }
    const done = of(ok).find((r) => r.json.event === "pipelineRun.succeed")!;
    expect(done.json).toMatchObject({
      event: "pipelineRun.succeed",
      pipeline: { id: ok, name: "app-ok", project_id: pid },
      run: { id: okRun, number: 1, status: "COMPLETED", trigger_type: "Manual" },
      status: "COMPLETED",
      link: `https://ci.example.com/ui/#/p/${pid}/pipelines/${ok}/runs/${okRun}`,
    });
    expect(done.json.times.end_time).toBeGreaterThanOrEqual(done.json.times.start_time);
    expect(done.headers["x-pipewright-delivery"]).toBe(done.json.delivery_id);
    const failed = of(bad).find((r) => r.json.event === "pipelineRun.failed")!;
    expect(failed.json.run).toMatchObject({ id: badRun, status: "FAILED" });

    const listed = await eventually("the deliveries to be recorded as sent", async () => {
      const ds = await deliveries(t, pid, ok);
      return ds.length === 2 && ds.every((d) => d.status === "SUCCEEDED") ? ds : undefined;
    });
    for (const d of listed) {
      expect(d.attempts).toBe(1);
      expect(d.history).toEqual([
        expect.objectContaining({ outcome: "sent", status_code: 200, error: null }),
      ]);
    }
  });

  it("Feishu, DingTalk, WeCom and Slack get the bodies and signatures each expects", async () => {
    const pl = await createPipeline(t.app, pid, { name: "chatty", definition: shellDefinition("exit 1") });
    const kinds = ["feishu", "dingtalk", "wecom", "slack"] as const;
    for (const kind of kinds) {
      const path = kind === "dingtalk" ? `/${kind}/robot/send?access_token=tok123` : `/${kind}/hook/tok123`;
      const res = await signed("POST", `${noticeBase(pid, pl)}/message`, {
        notice_type: kind,
        notice_status: true,
        send_url: `${receiver.url}${path}`,
        secret_info: kind === "wecom" ? "" : `${kind}-secret`,
        notice_events: ["pipelineRun.failed"],
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    // Feishu and DingTalk answer errors in a 200 body; theirs say "ok".
    await startRun(t, pid, pl);
    const got = await receiver.waitFor(4);
    const by = (kind: string) => got.find((r) => r.url.startsWith(`/${kind}/`))!;

    const feishu = by("feishu");
    const fb = JSON.parse(feishu.body);
    expect(fb.msg_type).toBe("text");
    expect(fb.content.text).toContain('Pipeline "chatty" run #1 failed');
    expect(fb.sign).toBe(feishuSign(Number(fb.timestamp), "feishu-secret"));
    // The algorithm as Feishu documents it, independently: HMAC keyed by `${timestamp}\n${secret}` over "".
    expect(fb.sign).toBe(
      crypto.createHmac("sha256", `${fb.timestamp}\nfeishu-secret`).update("").digest("base64"),
    );

    const ding = by("dingtalk");
    const du = new URL(ding.url, receiver.url);
    expect(du.searchParams.get("access_token")).toBe("tok123");
    const ts = du.searchParams.get("timestamp")!;
    expect(du.searchParams.get("sign")).toBe(
      crypto.createHmac("sha256", "dingtalk-secret").update(`${ts}\ndingtalk-secret`).digest("base64"),
    );
    const db = JSON.parse(ding.body);
    expect(db.msgtype).toBe("markdown");
    expect(db.markdown.title).toContain("failed");
    expect(db.markdown.text).toContain("Status: FAILED");

    const wecom = JSON.parse(by("wecom").body);
    expect(wecom.msgtype).toBe("markdown");
    expect(wecom.markdown.content).toContain('Pipeline "chatty" run #1 failed');
    expect(by("wecom").headers["x-pipewright-signature"]).toBeUndefined();

    const slack = by("slack");
    const sb = JSON.parse(slack.body);
    expect(sb.text).toContain("failed");
    expect(sb.blocks[0]).toMatchObject({ type: "section", text: { type: "mrkdwn" } });
    expect(slack.headers["x-pipewright-signature"]).toBe(`sha256=${hmacHex("slack-secret", slack.body)}`);
  });
});

describe("retries, refusals and restarts (test clock, no runner)", () => {
  const apps: TestApp[] = [];
  afterEach(async () => {
    for (const a of apps.splice(0)) await a.close();
  });
  async function server(clock: TestClock, args: string[] = ALLOW, dir?: string): Promise<TestApp> {
    const t = await createTestApp({ clock, localRunner: false, extraArgs: args, ...(dir ? { dir } : {}) });
    apps.push(t);
    return t;
  }
  async function reviewPipelineWithTarget(t: TestApp, url: string, events: string[]) {
    const pid = await createProject(t.app);
    const pl = await createPipeline(t.app, pid, { definition: REVIEW_DEFINITION });
    const res = await call(t.app, "POST", `${noticeBase(pid, pl)}/message`, {
      token: ADMIN_TOKEN,
      body: { notice_type: "webhook", notice_status: true, send_url: url, notice_events: events },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return { pid, pl };
  }
  /** Starts a run and waits (real time) until its status change has written `n` deliveries. */
  async function runAndWait(t: TestApp, pid: string, pl: string, n = 1): Promise<string> {
    const run = await startRun(t, pid, pl);
    await eventually(`${n} deliveries`, async () =>
      (await deliveries(t, pid, pl)).length >= n ? true : undefined,
    );
    return run;
  }

  it("a run waiting for review notifies; a failing target is tried again with backoff until it answers", async () => {
    const clock = createTestClock();
    const t = await server(clock);
    const { pid, pl } = await reviewPipelineWithTarget(t, `${receiver.url}/flaky`, ["pipelineRun.pause"]);
    receiver.answer([500, "down"], [503, "still down"]);
    await runAndWait(t, pid, pl);
    await tick(t, clock, 1000);
    expect(receiver.requests).toHaveLength(1);
    let [d] = await deliveries(t, pid, pl);
    expect(d).toMatchObject({
      event: "pipelineRun.pause",
      status: "PENDING",
      attempts: 1,
      last_error: "HTTP 500: down",
    });
    // The next attempt is due 10 s later, not before.
    await tick(t, clock, 9000);
    expect(receiver.requests).toHaveLength(1);
    await tick(t, clock, 1500);
    expect(receiver.requests).toHaveLength(2);
    // Then 20 s.
    await tick(t, clock, 15_000);
    expect(receiver.requests).toHaveLength(2);
    await tick(t, clock, 6000);
    expect(receiver.requests).toHaveLength(3);
    [d] = await deliveries(t, pid, pl);
    expect(d!.status).toBe("SUCCEEDED");
    expect(d!.history.map((a) => [a.outcome, a.status_code])).toEqual([
      ["failed", 500],
      ["failed", 503],
      ["sent", 200],
    ]);
    // Every attempt carried the same delivery id (the receiver can tell a retry).
    const ids = new Set(receiver.requests.map((r) => r.headers["x-pipewright-delivery"]));
    expect(ids.size).toBe(1);
  });

  it("a target refusing the request (4xx) fails at once; attempts stop at the maximum", async () => {
    const clock = createTestClock();
    const t = await server(clock);
    const { pid, pl } = await reviewPipelineWithTarget(t, `${receiver.url}/gone`, ["pipelineRun.pause"]);
    receiver.answer([404, "no such hook"]);
    await runAndWait(t, pid, pl);
    await tick(t, clock, 1000);
    await leap(t, clock, 3_600_000);
    expect(receiver.requests).toHaveLength(1);
    const [d] = await deliveries(t, pid, pl);
    expect(d).toMatchObject({ status: "FAILED", attempts: 1, last_error: "HTTP 404: no such hook" });

    const second = await reviewPipelineWithTarget(t, `${receiver.url}/broken`, ["pipelineRun.pause"]);
    receiver.requests.length = 0;
    receiver.answer(...Array.from({ length: 10 }, () => [500, "x"] as [number, string]));
    await runAndWait(t, second.pid, second.pl);
    for (let i = 0; i < 12; i++) await leap(t, clock, 400_000);
    expect(receiver.requests).toHaveLength(6);
    const [e] = await deliveries(t, second.pid, second.pl);
    expect(e).toMatchObject({ status: "FAILED", attempts: 6 });
  });

  it("without --allow-private-notice-targets a loopback target is refused, and not tried again", async () => {
    const clock = createTestClock();
    const t = await server(clock, []);
    const { pid, pl } = await reviewPipelineWithTarget(t, `${receiver.url}/private`, ["pipelineRun.pause"]);
    const byName = await reviewPipelineWithTarget(
      t,
      `http://localhost:${new URL(receiver.url).port}/by-name`,
      ["pipelineRun.pause"],
    );
    await runAndWait(t, pid, pl);
    await runAndWait(t, byName.pid, byName.pl);
    await tick(t, clock, 1000);
    await leap(t, clock, 600_000);
    expect(receiver.requests).toHaveLength(0);
    for (const [p, l] of [
      [pid, pl],
      [byName.pid, byName.pl],
    ] as const) {
      const [d] = await deliveries(t, p, l);
      expect(d!.status).toBe("FAILED");
      expect(d!.attempts).toBe(1);
      expect(d!.last_error).toMatch(/loopback, private or reserved/);
    }
  });

  it("a delivery pending when the server stops is sent by the next server over the same data", async () => {
    const dir = tempDir();
    const first = await server(createTestClock(), ALLOW, dir);
    const { pid, pl } = await reviewPipelineWithTarget(first, `${receiver.url}/durable`, [
      "pipelineRun.pause",
    ]);
    await startRun(first, pid, pl);
    // No sweep ran on the first server's clock: the delivery waits in the database.
    await eventually("the run to wait for review", async () => {
      const ds = await deliveries(first, pid, pl);
      return ds.length === 1 ? ds : undefined;
    });
    expect((await deliveries(first, pid, pl))[0]).toMatchObject({ status: "PENDING", attempts: 0 });
    await first.close();
    apps.splice(apps.indexOf(first), 1);
    expect(receiver.requests).toHaveLength(0);

    const clock = createTestClock(Date.UTC(2026, 0, 2));
    const second = await server(clock, ALLOW, dir);
    await tick(second, clock, 1000);
    expect(receiver.requests).toHaveLength(1);
    expect(JSON.parse(receiver.requests[0]!.body)).toMatchObject({
      event: "pipelineRun.pause",
      status: "PAUSED",
    });
    expect((await deliveries(second, pid, pl))[0]).toMatchObject({ status: "SUCCEEDED", attempts: 1 });
  });

  it("stopping a run notifies canceled", async () => {
    const clock = createTestClock();
    const t = await server(clock);
    const { pid, pl } = await reviewPipelineWithTarget(t, `${receiver.url}/cancel`, [
      "pipelineRun.start",
      "pipelineRun.cancel",
    ]);
    const run = await runAndWait(t, pid, pl);
    const stop = await call(t.app, "POST", `/v5/${pid}/api/pipelines/${pl}/pipeline-runs/${run}/stop`, {
      token: ADMIN_TOKEN,
    });
    expect(stop.status, JSON.stringify(stop.body)).toBe(200);
    await tick(t, clock, 1000);
    const events = receiver.requests.map((r) => JSON.parse(r.body).event).sort();
    expect(events).toEqual(["pipelineRun.cancel", "pipelineRun.start"]);
    const cancel = receiver.requests
      .map((r) => JSON.parse(r.body))
      .find((b) => b.event === "pipelineRun.cancel");
    expect(cancel.run.message).toContain("stopped by");
  });
});

describe("email over SMTP", () => {
  let smtp: SmtpSink;
  let t: TestApp;
  beforeAll(async () => {
    smtp = await startSmtpSink();
    t = await createTestApp({
      localRunner: false,
      extraArgs: [
        "--smtp-url",
        smtp.url,
        "--smtp-from",
        "CI <ci@example.com>",
        "--public-url",
        "https://ci.example.com",
      ],
    });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });

  it("an email target gets a mail naming the pipeline, the run and its status", async () => {
    const pid = await createProject(t.app);
    const pl = await createPipeline(t.app, pid, { name: "mailer", definition: REVIEW_DEFINITION });
    const add = await call(t.app, "POST", `${noticeBase(pid, pl)}/message`, {
      token: ADMIN_TOKEN,
      body: {
        notice_type: "email",
        notice_status: true,
        send_url: "",
        notice_users: ["dev@example.com", "ops@example.com"],
        notice_events: ["pipelineRun.pause"],
      },
    });
    expect(add.status, JSON.stringify(add.body)).toBe(200);
    const run = await startRun(t, pid, pl);
    const [mail] = await smtp.waitFor(1);
    expect([...mail!.to].sort()).toEqual(["dev@example.com", "ops@example.com"]);
    expect(mail!.from).toBe("ci@example.com");
    expect(mail!.subject).toBe('[Pipewright] Pipeline "mailer" run #1 is waiting for review');
    expect(mail!.text).toContain("Status: PAUSED");
    expect(mail!.text).toContain(`https://ci.example.com/ui/#/p/${pid}/pipelines/${pl}/runs/${run}`);
    expect(smtp.logins).toEqual([{ user: "notices", password: "mail-pass" }]);
    const ds = await eventually("the mail to be recorded as sent", async () => {
      const list = await deliveries(t, pid, pl);
      return list[0]?.status === "SUCCEEDED" ? list : undefined;
    });
    expect(ds[0]!.history[0]).toMatchObject({ outcome: "sent", status_code: null });
  });
});
