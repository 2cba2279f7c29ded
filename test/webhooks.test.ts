// Code-event webhooks over HTTP: payloads shaped as GitHub, GitLab and Gitee document them,
// signed the way each signs, and our generic form; filters; redeliveries; the records. The
// server runs without a runner: what is tested is which runs a delivery starts, and with what.

import crypto from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DELIVERIES_KEPT } from "../src/engine/code-events.js";
import {
  ADMIN_TOKEN,
  call,
  createPipeline,
  createProject,
  createTestApp,
  type TestApp,
} from "./helpers/app.js";

let t: TestApp;
let pid: string;
let secret: string;
beforeEach(async () => {
  t = await createTestApp({ localRunner: false });
  pid = await createProject(t.app);
});
afterEach(async () => {
  await t.close();
});

const REPO = "https://github.com/acme/app.git";
const hmac = (body: string, key = secret) => crypto.createHmac("sha256", key).update(body).digest("hex");

async function deliver(
  headers: Record<string, string>,
  payload: unknown,
  sign?: (body: string) => Record<string, string>,
) {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  return t.app.inject({
    method: "POST",
    url: `/hooks/v1/${pid}`,
    headers: { "content-type": "application/json", ...headers, ...(sign ? sign(body) : {}) },
    payload: body,
  });
}
const github = (event: string, id: string) => (body: string) => ({
  "x-github-event": event,
  "x-github-delivery": id,
  "x-hub-signature-256": `sha256=${hmac(body)}`,
});
const githubPush = (ref: string, opts: { message?: string; paths?: string[]; sha?: string } = {}) => ({
  ref,
  before: "0".repeat(40),
  after: opts.sha ?? "a".repeat(40),
  repository: {
    clone_url: REPO,
    ssh_url: "git@github.com:acme/app.git",
    html_url: "https://github.com/acme/app",
  },
  pusher: { name: "alice" },
  head_commit: {
    id: opts.sha ?? "a".repeat(40),
    message: opts.message ?? "fix the thing",
    author: { name: "Alice" },
  },
  commits: [
    {
      id: opts.sha ?? "a".repeat(40),
      message: opts.message ?? "fix the thing",
      added: opts.paths ?? ["src/a.ts"],
      modified: [],
      removed: [],
    },
  ],
});

async function runsOf(pipelineId: string) {
  const res = await call(t.app, "POST", `/v5/${pid}/api/pipelines/${pipelineId}/pipeline-runs/list`, {
    token: ADMIN_TOKEN,
    body: { limit: 100, offset: 0 },
  });
  return res.body.pipeline_runs as {
    pipeline_run_id: string;
    trigger_type: string;
    build_params: Record<string, string | null>;
  }[];
}

async function setupPipelines() {
  const hook = await call(
    t.app,
    "GET",
    `/v5/${pid}/api/pipelines/${await createPipeline(t.app, pid)}/webhook`,
    {
      token: ADMIN_TOKEN,
    },
  );
  expect(hook.status).toBe(200);
  expect(hook.body.callback_url).toMatch(new RegExp(`/hooks/v1/${pid}$`));
  secret = hook.body.security_token;
  expect(secret.length).toBeGreaterThanOrEqual(24);
  const main = await createPipeline(t.app, pid, {
    triggers: [
      {
        git_url: "git@github.com:acme/app.git",
        git_type: "github",
        events: [
          { type: "push", enable: true },
          { type: "tag_push", enable: true },
          { type: "merge_request", enable: true },
        ],
        branches: ["main", "release/*"],
        tags: ["v*"],
      },
    ],
  });
  const docs = await createPipeline(t.app, pid, {
    triggers: [
      {
        git_url: "https://github.com/acme/app",
        events: [{ type: "push", enable: true }],
        paths: ["docs/**"],
      },
    ],
  });
  const other = await createPipeline(t.app, pid, {
    triggers: [{ git_url: "https://github.com/acme/other.git" }],
  });
  return { main, docs, other };
}

describe("code-event webhooks", () => {
  it("starts the pipelines a GitHub push matches, with the commit, once per delivery", async () => {
    const p = await setupPipelines();
    const res = await deliver({}, githubPush("refs/heads/main"), github("push", "d-1"));
    expect(res.statusCode).toBe(200);
    const out = res.json();
    expect(out).toMatchObject({
      status: "accepted",
      replayed: false,
      event: "push",
      commit_id: "a".repeat(40),
    });
    expect(out.pipeline_runs.map((r: { pipeline_id: string }) => r.pipeline_id)).toEqual([p.main]);
    expect(out.skipped).toEqual([{ pipeline_id: p.docs, reason: "no changed path matches" }]);
    const [run] = await runsOf(p.main);
    expect(run!.trigger_type).toBe("Push");
    expect(run!.build_params).toMatchObject({
      build_type: "branch",
      target_branch: "main",
      commit_id: "a".repeat(40),
      event_type: "Push",
      message: "fix the thing",
      author: "alice",
    });
    expect(await runsOf(p.docs)).toEqual([]);
    expect(await runsOf(p.other)).toEqual([]);
    // The pipeline list says what started each pipeline's latest run.
    const listed = await call(t.app, "POST", `/v5/${pid}/api/pipelines/list`, {
      token: ADMIN_TOKEN,
      body: { limit: 100 },
    });
    const latest = new Map(
      listed.body.pipelines.map((x: { pipeline_id: string; latest_run: unknown }) => [
        x.pipeline_id,
        x.latest_run,
      ]),
    );
    expect(latest.get(p.main)).toMatchObject({
      pipeline_run_id: run!.pipeline_run_id,
      trigger_type: "Push",
      build_params: { commit_id: "a".repeat(40) },
    });
    expect(latest.get(p.docs)).toBeNull();
    // The run's source is the repository at that branch.
    const detail = await call(t.app, "GET", `/v5/${pid}/api/pipelines/${p.main}/pipeline-runs/detail`, {
      token: ADMIN_TOKEN,
    });
    expect(detail.body.sources[0].params).toMatchObject({
      git_url: REPO,
      build_params: { target_branch: "main" },
    });
    // GitHub redelivers: the same runs, none more.
    const again = await deliver({}, githubPush("refs/heads/main"), github("push", "d-1"));
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ replayed: true, pipeline_runs: out.pipeline_runs });
    expect(await runsOf(p.main)).toHaveLength(1);
    // A docs change starts the docs pipeline too; a tag starts main as CreateTag.
    const both = await deliver(
      {},
      githubPush("refs/heads/main", { paths: ["docs/guide.md"], sha: "b".repeat(40) }),
      github("push", "d-2"),
    );
    expect(both.json().pipeline_runs).toHaveLength(2);
    const tag = await deliver(
      {},
      githubPush("refs/tags/v1.2.0", { sha: "c".repeat(40) }),
      github("push", "d-3"),
    );
    expect(tag.statusCode).toBe(200);
    expect((await runsOf(p.main)).map((r) => r.trigger_type).sort()).toEqual(["CreateTag", "Push", "Push"]);
  });

  it("refuses a wrong signature (401) and a payload not in the forge's format (400), recording both", async () => {
    const p = await setupPipelines();
    const wrong = await deliver({}, githubPush("refs/heads/main"), (body) => ({
      ...github("push", "d-x")(body),
      "x-hub-signature-256": `sha256=${hmac(body, "not-the-secret")}`,
    }));
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error_code).toBe("DEVPIPE.00020001");
    const unsigned = await deliver({ "x-github-event": "push" }, githubPush("refs/heads/main"));
    expect(unsigned.statusCode).toBe(401);
    const shapeless = await deliver({}, { ref: "main", repository: {} }, github("push", "d-y"));
    expect(shapeless.statusCode).toBe(400);
    expect(shapeless.json().error_msg).toMatch(/not a github push payload/);
    expect(await runsOf(p.main)).toEqual([]);
    // An unknown project answers as a wrong secret does.
    const elsewhere = await t.app.inject({
      method: "POST",
      url: `/hooks/v1/${"f".repeat(32)}`,
      headers: { "content-type": "application/json", "x-github-event": "push" },
      payload: "{}",
    });
    expect(elsewhere.statusCode).toBe(401);
    const failed = await call(
      t.app,
      "GET",
      `/v5/${pid}/api/pipelines/${p.main}/trigger-failed-record?limit=10`,
      {
        token: ADMIN_TOKEN,
      },
    );
    expect(failed.status, JSON.stringify(failed.body)).toBe(200);
    expect(failed.body.total).toBe(3);
    expect(failed.body.records.map((r: { status: string }) => r.status)).toEqual([
      "rejected",
      "rejected",
      "rejected",
    ]);
    expect(failed.body.records.map((r: { reason: string }) => r.reason)).toContain(
      "the signature or token does not match the project's secret",
    );
  });

  it("keeps only the newest rejected deliveries of a flood, and every accepted one", async () => {
    const p = await setupPipelines();
    const ok = await deliver({}, githubPush("refs/heads/main"), github("push", "kept"));
    expect(ok.statusCode).toBe(200);
    const flood = DELIVERIES_KEPT + 20;
    for (let i = 0; i < flood; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, flood - i) }, (_, k) =>
          deliver(
            { "x-github-event": "push", "x-github-delivery": `bad-${i + k}` },
            githubPush("refs/heads/main"),
          ),
        ),
      );
    }
    const count = async (status: string) => {
      const res = await call(t.app, "GET", `/v5/${pid}/api/webhook-deliveries?status=${status}&limit=1`, {
        token: ADMIN_TOKEN,
      });
      return res.body.total as number;
    };
    expect(await count("rejected")).toBe(DELIVERIES_KEPT);
    expect(await count("accepted")).toBe(1);
    // The newest stayed: the last of the flood is there, the first is not.
    const all = await t.store.listDeliveries({
      projectId: pid,
      statuses: ["rejected"],
      limit: 2000,
      offset: 0,
    });
    const ids = new Set(all.items.map((d) => d.delivery_id));
    expect(ids.has(`bad-${flood - 1}`)).toBe(true);
    expect(ids.has("bad-0")).toBe(false);
    // The accepted one still makes its redelivery start nothing.
    const again = await deliver({}, githubPush("refs/heads/main"), github("push", "kept"));
    expect(again.json().replayed).toBe(true);
    expect(await runsOf(p.main)).toHaveLength(1);
  });

  it("reads GitLab and Gitee deliveries with their tokens, and the generic form with its HMAC", async () => {
    const p = await setupPipelines();
    const gitlabPush = {
      object_kind: "push",
      ref: "refs/heads/release/2.0",
      checkout_sha: "d".repeat(40),
      after: "d".repeat(40),
      user_username: "bob",
      project: {
        git_http_url: "https://github.com/acme/app.git",
        git_ssh_url: "git@github.com:acme/app.git",
      },
      commits: [{ id: "d".repeat(40), message: "release", added: [], modified: ["src/b.ts"], removed: [] }],
    };
    const gl = await deliver(
      { "x-gitlab-event": "Push Hook", "x-gitlab-token": secret, "x-gitlab-event-uuid": "gl-1" },
      gitlabPush,
    );
    expect(gl.statusCode, gl.body).toBe(200);
    expect(gl.json().pipeline_runs.map((r: { pipeline_id: string }) => r.pipeline_id)).toEqual([p.main]);
    const glWrong = await deliver({ "x-gitlab-event": "Push Hook", "x-gitlab-token": "nope" }, gitlabPush);
    expect(glWrong.statusCode).toBe(401);
    // A branch the patterns do not name: recorded as ignored, 202.
    const feature = await deliver(
      { "x-gitlab-event": "Push Hook", "x-gitlab-token": secret, "x-gitlab-event-uuid": "gl-2" },
      { ...gitlabPush, ref: "refs/heads/feature/x" },
    );
    expect(feature.statusCode).toBe(202);
    expect(feature.json()).toMatchObject({ status: "ignored", reason: "no trigger matched" });
    // Gitee signs a timestamp with the secret.
    const ts = String(Date.now());
    const sign = crypto.createHmac("sha256", secret).update(`${ts}\n${secret}`).digest("base64");
    const gitee = await deliver(
      {
        "x-gitee-event": "Merge Request Hook",
        "x-gitee-token": sign,
        "x-gitee-timestamp": ts,
        "x-gitee-delivery": "ge-1",
      },
      {
        action: "open",
        pull_request: {
          number: 7,
          title: "Add it",
          head: { ref: "topic", sha: "e".repeat(40) },
          base: { ref: "main" },
        },
        repository: { clone_url: REPO },
        sender: { login: "carol" },
      },
    );
    expect(gitee.statusCode).toBe(200);
    const mr = (await runsOf(p.main)).find((r) => r.trigger_type === "MR");
    expect(mr!.build_params).toMatchObject({
      action: "open",
      source_branch: "topic",
      merge_id: "7",
      commit_id: "e".repeat(40),
    });
    // Generic: our JSON, signed as GitHub signs.
    const generic = await deliver(
      {},
      { event: "push", repository: REPO, ref: "refs/heads/main", commit: "f".repeat(40), delivery_id: "g-1" },
      (body) => ({
        "x-pipewright-signature": `sha256=${hmac(body)}`,
      }),
    );
    expect(generic.statusCode).toBe(200);
    const badGeneric = await deliver({}, { event: "deploy", repository: REPO }, (body) => ({
      "x-pipewright-signature": `sha256=${hmac(body)}`,
    }));
    expect(badGeneric.statusCode).toBe(400);
    expect(badGeneric.json().error_msg).toContain("event");
    // [skip ci] starts nothing.
    const skip = await deliver(
      {},
      githubPush("refs/heads/main", { message: "typo [skip ci]", sha: "9".repeat(40) }),
      github("push", "d-9"),
    );
    expect(skip.statusCode).toBe(202);
    expect(skip.json().skipped).toContainEqual({
      pipeline_id: p.main,
      reason: "[skip ci] in the commit message",
    });
    const list = await call(t.app, "GET", `/v5/${pid}/api/webhook-deliveries?limit=100`, {
      token: ADMIN_TOKEN,
    });
    expect(list.body.deliveries.map((d: { status: string }) => d.status).sort()).toEqual([
      "accepted",
      "accepted",
      "accepted",
      "ignored",
      "ignored",
      "rejected",
      "rejected",
    ]);
  });

  it("reads CodeArts Repo deliveries (GitLab's payloads) with the token its webhook's token type names", async () => {
    await setupPipelines();
    const host = "codehub.devcloud.cn-north-4.huaweicloud.com";
    const repo = await createPipeline(t.app, pid, {
      triggers: [
        {
          git_url: `https://${host}/acme00001/app.git`,
          git_type: "codehub",
          events: [
            { type: "push", enable: true },
            { type: "tag_push", enable: true },
            { type: "merge_request", enable: true },
          ],
          branches: ["master"],
        },
      ],
    });
    const project = {
      id: 2111589946,
      name: "app",
      web_url: `https://${host}/acme00001/app`,
      git_ssh_url: `git@${host}:acme00001/app.git`,
      git_http_url: `https://${host}/acme00001/app.git`,
      path_with_namespace: "acme00001/app",
    };
    const push = (ref: string, sha: string) => ({
      object_kind: ref.startsWith("refs/tags/") ? "tag_push" : "push",
      event_name: ref.startsWith("refs/tags/") ? "tag_push" : "push",
      before: "0".repeat(40),
      after: sha,
      ref,
      checkout_sha: sha,
      user_name: "Dora",
      user_username: "dora",
      project_id: project.id,
      project,
      commits: [
        {
          id: sha,
          message: "ship it",
          author: { name: "Dora" },
          added: [],
          modified: ["a.c"],
          removed: [],
        },
      ],
      total_commits_count: 1,
    });
    const hook = (event: string, token = secret) => ({ "x-devcloud-event": event, "x-repo-token": token });
    const res = await deliver(hook("Push Hook"), push("refs/heads/master", "1".repeat(40)));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().pipeline_runs.map((r: { pipeline_id: string }) => r.pipeline_id)).toEqual([repo]);
    const [run] = await runsOf(repo);
    expect(run!.trigger_type).toBe("Push");
    expect(run!.build_params).toMatchObject({
      build_type: "branch",
      target_branch: "master",
      commit_id: "1".repeat(40),
      event_type: "Push",
      message: "ship it",
      author: "dora",
    });
    // The token type X-Auth-Token: the hook reads it as the webhook's token, not as a caller's.
    const tag = await deliver(
      { "x-devcloud-event": "Tag Push Hook", "x-auth-token": secret },
      push("refs/tags/v2.0.0", "2".repeat(40)),
    );
    expect(tag.statusCode, tag.body).toBe(200);
    const mr = await deliver(hook("Merge Request Hook"), {
      object_kind: "merge_request",
      user: { name: "Erin", username: "erin" },
      project,
      object_attributes: {
        iid: 5,
        title: "Topic",
        source_branch: "topic",
        target_branch: "master",
        state: "opened",
        action: "open",
        last_commit: { id: "3".repeat(40), message: "topic" },
      },
    });
    expect(mr.statusCode, mr.body).toBe(200);
    const runs = await runsOf(repo);
    expect(runs.map((r) => r.trigger_type).sort()).toEqual(["CreateTag", "MR", "Push"]);
    expect(runs.find((r) => r.trigger_type === "CreateTag")!.build_params).toMatchObject({
      build_type: "tag",
      tag: "v2.0.0",
      commit_id: "2".repeat(40),
    });
    expect(runs.find((r) => r.trigger_type === "MR")!.build_params).toMatchObject({
      action: "open",
      source_branch: "topic",
      merge_target_branch: "master",
      merge_id: "5",
      commit_id: "3".repeat(40),
      author: "erin",
    });
    // A wrong token: 401, recorded as rejected, no run.
    const wrong = await deliver(
      hook("Push Hook", "not-the-secret"),
      push("refs/heads/master", "4".repeat(40)),
    );
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error_code).toBe("DEVPIPE.00020001");
    expect(await runsOf(repo)).toHaveLength(3);
    const rejected = await call(t.app, "GET", `/v5/${pid}/api/webhook-deliveries?status=rejected&limit=10`, {
      token: ADMIN_TOKEN,
    });
    expect(rejected.body.deliveries).toMatchObject([
      {
        forge: "codehub",
        event: "Push Hook",
        reason: "the signature or token does not match the project's secret",
      },
    ]);
  });

  it("starts every pipeline one push matches in one batch", async () => {
    await setupPipelines();
    const ids: string[] = [];
    for (let i = 0; i < 100; i++)
      ids.push(
        await createPipeline(t.app, pid, { triggers: [{ git_url: "https://github.com/acme/mono.git" }] }),
      );
    const push = {
      ...githubPush("refs/heads/main"),
      repository: { clone_url: "https://github.com/acme/mono.git" },
    };
    const res = await deliver({}, push, github("push", "mono-1"));
    expect(res.statusCode).toBe(200);
    expect(res.json().pipeline_runs).toHaveLength(100);
    const batches = await t.store.db
      .selectFrom("batches")
      .selectAll()
      .where("idempotency_key", "=", "hook:github:mono-1")
      .execute();
    expect(batches).toHaveLength(1);
    expect(JSON.parse(batches[0]!.run_ids)).toHaveLength(100);
  });

  it("refuses malformed triggers naming the field; the hook's secret only for those who manage", async () => {
    const res = await call(t.app, "POST", `/v5/${pid}/api/pipelines`, {
      token: ADMIN_TOKEN,
      body: {
        name: "bad",
        is_publish: false,
        definition: JSON.stringify({ stages: [] }),
        triggers: [{ git_url: REPO, branches: "main" }],
      },
    });
    expect(res.status).toBe(400);
    const pl = await createPipeline(t.app, pid);
    const viewer = await call(t.app, "POST", "/admin/v1/tokens", {
      token: ADMIN_TOKEN,
      body: { name: "v", role: "viewer", project_ids: [pid] },
    });
    const hook = await call(t.app, "GET", `/v5/${pid}/api/pipelines/${pl}/webhook`, {
      token: viewer.body.token,
    });
    expect(hook.status).toBe(403);
  });
});
