// (w) Code-event webhooks: 1,000 GitHub push deliveries, each to a repository one of 1,000
// pipelines of the project is triggered by, sent one after another; latency = delivery sent →
// answer (the answer comes after the run's transaction committed). Baseline in the same run:
// the same number of one-pipeline batch-runs calls, which create the same runs without a
// delivery to verify, read and match. Then one push to a repository 100 pipelines build: all 100
// start from the one delivery, in one batch (its batch record holds the 100 runs).
// The server runs without a runner: the runs stay queued, so what is measured is the control
// plane, not 1,000 runs executing beside it.

import crypto from "node:crypto";
import http from "node:http";
import path from "node:path";
import Database from "better-sqlite3";
import {
  type BenchResult,
  type Client,
  ms,
  percentile,
  progress,
  ratio,
  removeDir,
  setupProject,
  shellPipeline,
  startServer,
  tempDir,
} from "./harness.js";

const PIPELINES = 1000;
const DELIVERIES = 1000;
const WARMUP = 50;
const FAN_OUT = 100;
const TARGET_P99_MS = 50;

const repo = (i: number | string) => `https://github.com/bench/repo-${i}.git`;

/** Creates pipelines whose trigger names `repoOf(i)`, 8 requests at a time. */
async function pipelinesFor(
  api: Client,
  projectId: string,
  n: number,
  prefix: string,
  repoOf: (i: number) => string,
) {
  const definition = shellPipeline("true");
  let next = 0;
  const ids: string[] = new Array(n);
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      const res = await api.post(`/v5/${projectId}/api/pipelines`, {
        name: `${prefix}_${i}`,
        is_publish: false,
        definition,
        triggers: [{ git_url: repoOf(i), events: [{ type: "push", enable: true }], branches: ["main"] }],
      });
      ids[i] = res.body.pipeline_id;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return ids;
}

function githubPush(repository: string, sha: string) {
  return JSON.stringify({
    ref: "refs/heads/main",
    before: "0".repeat(40),
    after: sha,
    repository: { clone_url: repository, html_url: repository.replace(/\.git$/, "") },
    pusher: { name: "bench" },
    head_commit: { id: sha, message: "bench change", author: { name: "bench" } },
    commits: [{ id: sha, message: "bench change", added: ["src/a.ts"], modified: [], removed: [] }],
  });
}

/** Sends one signed delivery; answers the milliseconds to the answer and its body. */
function deliver(
  agent: http.Agent,
  url: URL,
  projectId: string,
  secret: string,
  body: string,
): Promise<{ ms: number; body: { pipeline_runs: unknown[] } }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: "POST",
        path: `/hooks/v1/${projectId}`,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          "x-github-event": "push",
          "x-github-delivery": crypto.randomUUID(),
          "x-hub-signature-256": `sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const elapsed = performance.now() - started;
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200) reject(new Error(`delivery: ${res.statusCode} ${text.slice(0, 300)}`));
          else resolve({ ms: elapsed, body: JSON.parse(text) });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

export async function webhooks(): Promise<BenchResult> {
  const dir = tempDir("pipewright-bench-w-");
  const server = await startServer(dir, ["--no-local-runner"]);
  try {
    const { projectId, api } = await setupProject(server.url);
    progress(`${PIPELINES} pipelines, one repository each, and ${FAN_OUT} of one repository`);
    const one = await pipelinesFor(api, projectId, PIPELINES, "hook", (i) => repo(i));
    const many = await pipelinesFor(api, projectId, FAN_OUT, "mono", () => repo("mono"));
    const secret = (await api.get(`/v5/${projectId}/api/pipelines/${one[0]}/webhook`)).body.security_token;
    const url = new URL(server.url);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sha = () => crypto.randomBytes(20).toString("hex");

    progress(`${WARMUP} warm-up deliveries and batch runs`);
    for (let i = 0; i < WARMUP; i++) {
      await deliver(agent, url, projectId, secret, githubPush(repo(i), sha()));
      await api.post(`/v5/${projectId}/api/pipelines/batch-runs`, { pipeline_ids: [one[i]] });
    }
    // Interleaved, so that both see the same store size and machine load.
    progress(`${DELIVERIES} deliveries and ${DELIVERIES} batch runs, interleaved`);
    const hook: number[] = [];
    const batch: number[] = [];
    for (let i = 0; i < DELIVERIES; i++) {
      const res = await deliver(agent, url, projectId, secret, githubPush(repo(i % PIPELINES), sha()));
      if (res.body.pipeline_runs.length !== 1)
        throw new Error(`delivery ${i} started ${res.body.pipeline_runs.length} runs`);
      hook.push(res.ms);
      const t0 = performance.now();
      await api.post(`/v5/${projectId}/api/pipelines/batch-runs`, { pipeline_ids: [one[i % PIPELINES]] });
      batch.push(performance.now() - t0);
    }

    progress(`one push to the repository ${FAN_OUT} pipelines build`);
    const fan = await deliver(agent, url, projectId, secret, githubPush(repo("mono"), sha()));
    const started = fan.body.pipeline_runs as { pipeline_id: string; pipeline_run_id: string }[];
    const db = new Database(path.join(server.dataDir, "pipewright.db"), {
      readonly: true,
      fileMustExist: true,
    });
    const batches = db
      .prepare("SELECT run_ids FROM batches WHERE project_id = ? AND idempotency_key LIKE 'hook:github:%'")
      .all(projectId) as { run_ids: string }[];
    db.close();
    const fanBatch =
      batches.map((b) => JSON.parse(b.run_ids) as string[]).find((ids) => ids.length > 1) ?? [];
    const allInOne =
      started.length === FAN_OUT &&
      new Set(started.map((s) => s.pipeline_id)).size === FAN_OUT &&
      many.every((id) => started.some((s) => s.pipeline_id === id)) &&
      started.every((s) => fanBatch.includes(s.pipeline_run_id));
    agent.destroy();
    api.close();

    const p99 = percentile(hook, 99);
    const row = (label: string, xs: number[]): [string, string] => [
      label,
      `p50 ${ms(percentile(xs, 50))} · p90 ${ms(percentile(xs, 90))} · p99 ${ms(percentile(xs, 99))} · max ${ms(Math.max(...xs))}`,
    ];
    return {
      title: `(w) webhooks: ${DELIVERIES} GitHub push deliveries to a project of ${PIPELINES + FAN_OUT} pipelines`,
      rows: [
        row("delivery → run created (answer)", hook),
        row("baseline: batch-runs of one pipeline", batch),
        ["delivery p50 / batch-runs p50", ratio(percentile(hook, 50) / percentile(batch, 50))],
        [
          `one push, ${FAN_OUT} pipelines of its repository`,
          `${started.length} runs started in ${ms(fan.ms)}, ${allInOne ? "all in one batch" : "NOT in one batch"}`,
        ],
      ],
      targets: [
        {
          label: "delivery → run p99",
          value: ms(p99),
          goal: `≤ ${TARGET_P99_MS} ms`,
          met: p99 <= TARGET_P99_MS,
        },
        {
          label: `one push → ${FAN_OUT} runs, one batch`,
          value: `${started.length} runs${allInOne ? ", one batch" : ""}`,
          goal: `${FAN_OUT} runs, one batch`,
          met: allInOne,
        },
      ],
      notes: ["each delivery is matched against every pipeline of the project (1,100 here)"],
    };
  } finally {
    await server.stop();
    removeDir(dir);
  }
}
