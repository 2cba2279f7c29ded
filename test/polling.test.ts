// Polling (our `poll_interval` on a trigger): a pipeline whose remote sends no webhooks starts on
// a new commit of a matching branch or a new tag, found by `git ls-remote` of a real local bare
// repository at the trigger's interval, moved by a test clock. The servers run without a runner:
// what is tested is which runs polling starts, with what, and that each starts once (also with
// two PostgreSQL replicas polling side by side).

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
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
import { git } from "./helpers/git.js";
import { type PostgresCluster, startPostgres } from "./helpers/postgres.js";
import { waitFor } from "./helpers/server.js";

const apps: TestApp[] = [];
let cluster: PostgresCluster | undefined;
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  cluster?.stop();
  cluster = undefined;
});

let root: string;
beforeAll(() => {
  root = tempDir("pw-poll-");
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 11, 1, 8, 0, 0);

interface Repository {
  readonly url: string;
  /** Commits on `branch` (made from where the work tree is when new) and pushes; answers the commit. */
  commit(branch: string, msg: string): string;
  /** Tags the work tree's commit (annotated) and pushes the tag. */
  tag(name: string): void;
}

/** A bare repository with one commit on `main`, and a work tree that pushes to it. */
function repository(name: string): Repository {
  const bare = path.join(root, `${name}.git`);
  const work = path.join(root, `${name}-work`);
  git(root, "init", "--quiet", "--bare", "--initial-branch=main", bare);
  git(root, "init", "--quiet", "--initial-branch=main", work);
  const repo: Repository = {
    url: `file://${bare}`,
    commit(branch, msg) {
      const born = git(work, "rev-list", "--all") !== "";
      if (born)
        git(work, "checkout", "--quiet", ...(git(work, "branch", "--list", branch) ? [] : ["-b"]), branch);
      fs.appendFileSync(path.join(work, "log.txt"), `${msg}\n`);
      git(work, "add", "log.txt");
      git(work, "commit", "--quiet", "-m", msg);
      git(work, "push", "--quiet", bare, branch);
      return git(work, "rev-parse", "HEAD");
    },
    tag(tagName) {
      git(work, "tag", "-a", "-m", tagName, tagName);
      git(work, "push", "--quiet", bare, tagName);
    },
  };
  repo.commit("main", "first");
  return repo;
}

async function server(clock: TestClock, args: string[] = ["--allow-local-clone"]): Promise<TestApp> {
  const t = await createTestApp({ clock, localRunner: false, extraArgs: args });
  apps.push(t);
  return t;
}

interface RunItem {
  pipeline_run_id: string;
  trigger_type: string;
  executor_name: string;
  build_params: Record<string, string | null>;
}
async function runsOf(t: TestApp, pid: string, pipelineId: string): Promise<RunItem[]> {
  const res = await call(t.app, "POST", `/v5/${pid}/api/pipelines/${pipelineId}/pipeline-runs/list`, {
    token: ADMIN_TOKEN,
    body: { limit: 100, offset: 0 },
  });
  expect(res.status).toBe(200);
  return res.body.pipeline_runs as RunItem[];
}
async function triggersOf(t: TestApp, pid: string, pipelineId: string) {
  const res = await call(t.app, "GET", `/v5/${pid}/api/pipelines/${pipelineId}`, { token: ADMIN_TOKEN });
  expect(res.status).toBe(200);
  return res.body.triggers as Record<string, unknown>[];
}

/**
 * Moves time on by `ms`, then a second more after what that began has ended: a sweep that was
 * under way when a poll came due (the database answers in real time) is followed by one after it.
 */
async function tick(t: TestApp | TestApp[], clock: TestClock | TestClock[], ms: number): Promise<void> {
  const ts = Array.isArray(t) ? t : [t];
  const cs = Array.isArray(clock) ? clock : [clock];
  for (const step of [ms - 1000, 1000]) {
    await Promise.all(cs.map((c) => c.advance(step)));
    for (const a of ts) await a.server.engine.settled();
  }
}

describe("polling", () => {
  it("starts on a new commit of a matching branch and on a new tag, each once; the first poll only looks", async () => {
    const repo = repository("app");
    const clock = createTestClock(T0);
    const t = await server(clock);
    const pid = await createProject(t.app);
    const pl = await createPipeline(t.app, pid, {
      triggers: [
        {
          git_url: repo.url,
          poll_interval: 60,
          events: [
            { type: "push", enable: true },
            { type: "tag_push", enable: true },
          ],
          branches: ["main", "release/*"],
          tags: ["v*"],
        },
      ],
    });
    // The first poll records what is there: the commit made before starts nothing.
    await tick(t, clock, 1000);
    expect(await runsOf(t, pid, pl)).toEqual([]);
    const [trigger] = await triggersOf(t, pid, pl);
    expect(trigger).toMatchObject({ poll_interval: 60, last_poll_time: T0 + 1000, poll_error: null });
    expect(trigger!.next_poll_time).toBe(T0 + 1000 + 60_000);

    const second = repo.commit("main", "second");
    await tick(t, clock, 30_000); // not due yet
    expect(await runsOf(t, pid, pl)).toEqual([]);
    await tick(t, clock, 31_000);
    const [run] = await runsOf(t, pid, pl);
    expect(run).toMatchObject({ trigger_type: "Push", executor_name: "Poll" });
    expect(run!.build_params).toMatchObject({ commit_id: second, ref: "refs/heads/main" });

    // Nothing new: nothing more. A branch the trigger does not name: nothing.
    repo.commit("feature", "on a feature branch");
    await tick(t, clock, 61_000);
    expect(await runsOf(t, pid, pl)).toHaveLength(1);

    // A new tag (annotated: the run builds the commit it tags) and a release branch at once.
    const release = repo.commit("release/1", "release");
    repo.tag("v1.0");
    await tick(t, clock, 61_000);
    const runs = await runsOf(t, pid, pl);
    expect(runs).toHaveLength(3);
    const byRef = Object.fromEntries(runs.map((r) => [r.build_params.ref, r]));
    expect(byRef["refs/heads/release/1"]).toMatchObject({ trigger_type: "Push" });
    expect(byRef["refs/heads/release/1"]!.build_params.commit_id).toBe(release);
    expect(byRef["refs/tags/v1.0"]).toMatchObject({ trigger_type: "CreateTag" });
    expect(byRef["refs/tags/v1.0"]!.build_params.commit_id).toBe(release);

    // Each polled start is in the project's deliveries, as forge "poll".
    const res = await call(t.app, "GET", `/v5/${pid}/api/webhook-deliveries`, { token: ADMIN_TOKEN });
    expect(res.status).toBe(200);
    const polled = (res.body.deliveries as { forge: string; status: string; ref: string }[]).filter(
      (d) => d.forge === "poll",
    );
    expect(polled.map((d) => d.ref).sort()).toEqual([
      "refs/heads/main",
      "refs/heads/release/1",
      "refs/tags/v1.0",
    ]);
    expect(polled.every((d) => d.status === "accepted")).toBe(true);
  });

  it("says why a poll failed, and refuses a local repository unless the admin allows it", async () => {
    const repo = repository("local");
    const clock = createTestClock(T0);
    const t = await server(clock, []);
    const pid = await createProject(t.app);
    const pl = await createPipeline(t.app, pid, {
      triggers: [
        { git_url: repo.url, poll_interval: 60 },
        { git_url: "https://user:hunter2@127.0.0.1:9/none.git", poll_interval: 10 },
      ],
    });
    await tick(t, clock, 1000);
    const triggers = await triggersOf(t, pid, pl);
    expect(triggers[0]!.poll_error).toMatch(/local path/);
    // An unreachable remote: the error is kept, without the URL's credentials.
    await waitFor(async () => (await triggersOf(t, pid, pl))[1]!.poll_error, 20_000, "the failed poll");
    const error = String((await triggersOf(t, pid, pl))[1]!.poll_error);
    expect(error).not.toContain("hunter2");
    expect(await runsOf(t, pid, pl)).toEqual([]);
  });

  it("refuses a bad interval naming the field; an update keeps what was seen", async () => {
    const repo = repository("upd");
    const clock = createTestClock(T0);
    const t = await server(clock);
    const pid = await createProject(t.app);
    for (const poll_interval of [5, "60", 100_000]) {
      const res = await call(t.app, "POST", `/v5/${pid}/api/pipelines`, {
        token: ADMIN_TOKEN,
        body: {
          name: `p${crypto.randomUUID().slice(0, 8)}`,
          is_publish: false,
          definition: shellDefinition(),
          triggers: [{ git_url: repo.url, poll_interval }],
        },
      });
      expect(res.status).toBe(400);
      expect(res.body.error_msg).toContain("triggers[0].poll_interval");
    }
    const pl = await createPipeline(t.app, pid, { triggers: [{ git_url: repo.url, poll_interval: 60 }] });
    await tick(t, clock, 1000);
    // The detail sent back as it came (with its polling state) is accepted, and starts nothing.
    const detail = await call(t.app, "GET", `/v5/${pid}/api/pipelines/${pl}`, { token: ADMIN_TOKEN });
    const put = await call(t.app, "PUT", `/v5/${pid}/api/pipelines/${pl}`, {
      token: ADMIN_TOKEN,
      body: {
        name: detail.body.name,
        is_publish: false,
        definition: detail.body.definition,
        triggers: detail.body.triggers.map((tr: Record<string, unknown>) => ({ ...tr, poll_interval: 30 })),
      },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const stored = await t.store.getPipeline(pl);
    expect(stored!.spec.triggers[0]).toEqual({ git_url: repo.url, poll_interval: 30 });
    await tick(t, clock, 31_000);
    expect(await runsOf(t, pid, pl)).toEqual([]);
    repo.commit("main", "after the update");
    await tick(t, clock, 31_000);
    expect(await runsOf(t, pid, pl)).toHaveLength(1);
  });

  it("with two PostgreSQL replicas polling side by side, each new commit starts one run", async () => {
    const repo = repository("pg");
    cluster = await startPostgres();
    const url = await cluster.createDatabase();
    const keyFile = path.join(root, "secret.key");
    fs.writeFileSync(keyFile, crypto.randomBytes(32).toString("base64"), { mode: 0o600 });
    const clocks = [createTestClock(T0), createTestClock(T0)];
    const args = ["--allow-local-clone", "--database-url", url, "--secret-key-file", keyFile];
    const replicas = [await server(clocks[0]!, args), await server(clocks[1]!, args)];
    const pid = await createProject(replicas[0]!.app);
    const pl = await createPipeline(replicas[0]!.app, pid, {
      triggers: [{ git_url: repo.url, poll_interval: 10 }],
    });
    await tick(replicas, clocks, 1000);
    const commits: string[] = [];
    for (let i = 0; i < 4; i++) {
      commits.push(repo.commit("main", `change ${i}`));
      await tick(replicas, clocks, 11_000);
    }
    const runs = await runsOf(replicas[1]!, pid, pl);
    expect(runs.map((r) => r.build_params.commit_id).sort()).toEqual([...commits].sort());
  });
});
