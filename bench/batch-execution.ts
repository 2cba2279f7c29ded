// (b) 200 one-step `true` pipelines started by one batch, until all are COMPLETED, against 200
// raw `bash -c true` spawns at the same parallelism as the server's runner slots.

import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import {
  type BenchResult,
  type Client,
  createPipelines,
  median,
  ms,
  progress,
  ratio,
  removeDir,
  setupProject,
  sleep,
  startServer,
  TERMINAL,
  tempDir,
} from "./harness.js";

const N = 200;
const SLOTS = 16;
const ROUNDS = 3;
const TARGET_RATIO = 2.0;

/** Spawns `bash -c true` n times with at most `parallel` in flight; answers the wall time in ms. */
async function rawSpawns(n: number, parallel: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      // Pipes like a runner that captures output; 'close' waits for the exit and both pipes.
      const child = spawn("bash", ["-c", "true"], { stdio: ["ignore", "pipe", "pipe"] });
      child.stdout.resume();
      child.stderr.resume();
      child.once("error", reject);
      child.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`bash exited ${code}`))));
    });
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return performance.now() - t0;
}

interface BatchTiming {
  /** Batch request sent → last run's end_time (server clock, same host). */
  readonly wallMs: number;
  /** Batch request sent → the poll that saw every run COMPLETED. */
  readonly polledMs: number;
  readonly answerMs: number;
}

async function batchUntilDone(api: Client, projectId: string, ids: readonly string[]): Promise<BatchTiming> {
  const base = `/v5/${projectId}/api/pipelines`;
  const wallStart = Date.now();
  const t0 = performance.now();
  const res = await api.post(`${base}/batch-runs`, { pipeline_ids: ids });
  const answerMs = performance.now() - t0;
  const runIds = new Set<string>(res.body.result.map((r: { pipeline_run_id: string }) => r.pipeline_run_id));
  const deadline = Date.now() + 120_000;
  for (;;) {
    // Coarse polling: the figure comes from end_time, and polls cost the server CPU it needs.
    await sleep(250);
    const st = await api.post(`${base}/status`, ids);
    const mine = (st.body as { pipeline_run_id: string; status: string; end_time: number }[]).filter((r) =>
      runIds.has(r.pipeline_run_id),
    );
    if (mine.length === ids.length && mine.every((r) => TERMINAL.has(r.status))) {
      const polledMs = performance.now() - t0;
      const failed = mine.filter((r) => r.status !== "COMPLETED");
      if (failed.length > 0) throw new Error(`${failed.length} runs did not complete: ${failed[0]!.status}`);
      const lastEnd = Math.max(...mine.map((r) => Number(r.end_time)));
      return { wallMs: lastEnd - wallStart, polledMs, answerMs };
    }
    if (Date.now() > deadline) throw new Error("runs did not finish within 120 s");
  }
}

export async function batchExecution(): Promise<BenchResult> {
  const dir = tempDir("pipewright-bench-b-");
  const server = await startServer(dir, ["--runner-slots", String(SLOTS)]);
  try {
    const { projectId, api } = await setupProject(server.url);
    progress(`creating ${N} pipelines`);
    const ids = await createPipelines(api, projectId, N, "true", "exec");

    progress("warming up (a batch of 50, 20 spawns)");
    await batchUntilDone(api, projectId, ids.slice(0, 50));
    await rawSpawns(20, SLOTS);

    const raws: number[] = [];
    const runs: BatchTiming[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      progress(`round ${i + 1}/${ROUNDS}`);
      raws.push(await rawSpawns(N, SLOTS));
      runs.push(await batchUntilDone(api, projectId, ids));
    }
    api.close();
    // Each round's pair runs back to back, so its ratio is the least disturbed by other load.
    const ratios = runs.map((r, i) => r.wallMs / raws[i]!);
    const overhead = median(ratios);
    const raw = median(raws);
    const wall = median(runs.map((r) => r.wallMs));
    return {
      title: `(b) batch of ${N} one-step \`true\` pipelines vs ${N} raw \`bash -c true\` spawns, ${SLOTS} in flight`,
      rows: [
        [`raw spawns, per round`, raws.map((t) => ms(t)).join(", ")],
        [`raw spawns, median`, ms(raw)],
        [`pipewright batch → last end_time, per round`, runs.map((r) => ms(r.wallMs)).join(", ")],
        [`pipewright, median`, ms(wall)],
        [`  per run`, ms(wall / N)],
        [`  batch answered in (median)`, ms(median(runs.map((r) => r.answerMs)))],
        [`  seen complete by polling (median)`, ms(median(runs.map((r) => r.polledMs)))],
        [`overhead ratio per round (pipewright / raw)`, ratios.map((r) => ratio(r)).join(", ")],
        [`overhead ratio, median of rounds`, ratio(overhead)],
      ],
      targets: [
        {
          label: "execution overhead ratio",
          value: ratio(overhead),
          goal: `≤ ${TARGET_RATIO.toFixed(1)}×`,
          met: overhead <= TARGET_RATIO,
        },
      ],
    };
  } finally {
    await server.stop();
    removeDir(dir);
  }
}
