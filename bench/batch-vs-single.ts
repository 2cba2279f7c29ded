// (a) One batch-runs call with 1000 pipelines against 1000 single /run calls, on a server without
// a runner so that only the API is measured (runs are created and stay queued).

import { performance } from "node:perf_hooks";
import {
  type BenchResult,
  createPipelines,
  median,
  ms,
  progress,
  ratio,
  removeDir,
  setupProject,
  startServer,
  tempDir,
} from "./harness.js";

const N = 1000;
/** Median of this many batch calls; the single calls are spread over as many rounds. */
const ROUNDS = 5;
const TARGET_RATIO = 20;
const TARGET_BATCH_MS = 150;

export async function batchVsSingle(): Promise<BenchResult> {
  const dir = tempDir("pipewright-bench-a-");
  const server = await startServer(dir, ["--max-batch-size", String(N), "--no-local-runner"]);
  try {
    const { projectId, api } = await setupProject(server.url);
    const base = `/v5/${projectId}/api/pipelines`;
    progress(`creating ${2 * N} pipelines`);
    const warm = await createPipelines(api, projectId, N, "true", "warm");
    const measured = await createPipelines(api, projectId, N, "true", "measured");

    // Warm-up on the other set: both code paths, so neither side pays for JIT and caches.
    progress("warming up");
    await api.post(`${base}/batch-runs`, { pipeline_ids: warm });
    for (const id of warm.slice(0, 200)) await api.post(`${base}/${id}/run`, {});

    // Rounds of one batch call and N/ROUNDS single calls, so that other load on the machine and
    // the growing store weigh on both sides alike.
    progress(`${ROUNDS} rounds of one batch of ${N} and ${N / ROUNDS} single runs`);
    const batchTimes: number[] = [];
    let singleTotal = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const b0 = performance.now();
      const res = await api.post(`${base}/batch-runs`, { pipeline_ids: measured });
      batchTimes.push(performance.now() - b0);
      if (res.body.result.length !== N) throw new Error(`batch answered ${res.body.result.length} runs`);
      const s0 = performance.now();
      for (const id of measured.slice((r * N) / ROUNDS, ((r + 1) * N) / ROUNDS)) {
        await api.post(`${base}/${id}/run`, {});
      }
      singleTotal += performance.now() - s0;
    }
    api.close();
    const batch = median(batchTimes);
    const speedup = singleTotal / batch;
    return {
      title: `(a) batch-runs of ${N} vs ${N} single /run calls (--no-local-runner, keep-alive)`,
      rows: [
        [`${N} single /run calls, total`, ms(singleTotal)],
        ["  per call", ms(singleTotal / N)],
        [`batch-runs of ${N}, each call`, batchTimes.map((t) => ms(t)).join(", ")],
        [`batch-runs of ${N}, median (best)`, `${ms(batch)} (${ms(Math.min(...batchTimes))})`],
        ["  per run", ms(batch / N)],
        ["speed-up (singles / batch)", ratio(speedup)],
      ],
      targets: [
        {
          label: "batch speed-up",
          value: ratio(speedup),
          goal: `≥ ${TARGET_RATIO}×`,
          met: speedup >= TARGET_RATIO,
        },
        {
          label: `batch of ${N} latency (median)`,
          value: ms(batch),
          goal: `< ${TARGET_BATCH_MS} ms`,
          met: batch < TARGET_BATCH_MS,
        },
      ],
    };
  } finally {
    await server.stop();
    removeDir(dir);
  }
}
