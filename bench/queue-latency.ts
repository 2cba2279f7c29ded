// (c) Queue-to-start latency on an idle server: 200 sequential single runs of a one-step
// pipeline, each awaited; latency = job start_time − run start_time (both the server's clock).

import {
  type BenchResult,
  createPipelines,
  ms,
  percentile,
  progress,
  removeDir,
  setupProject,
  sleep,
  startServer,
  TERMINAL,
  tempDir,
} from "./harness.js";

const N = 200;
const WARMUP = 20;
const TARGET_P99_MS = 50;

export async function queueLatency(): Promise<BenchResult> {
  const dir = tempDir("pipewright-bench-c-");
  const server = await startServer(dir);
  try {
    const { projectId, api } = await setupProject(server.url);
    const [pipelineId] = await createPipelines(api, projectId, 1, "true", "latency");
    const base = `/v5/${projectId}/api/pipelines/${pipelineId}`;

    const once = async (): Promise<{ job: number; step: number; total: number }> => {
      const res = await api.post(`${base}/run`, {});
      const runId = res.body.pipeline_run_id as string;
      // The first poll comes after the job has normally started, so polling does not compete
      // with the dispatch it measures ("idle server").
      for (let poll = 0; ; poll++) {
        await sleep(poll === 0 ? 40 : 15);
        const d = (await api.get(`${base}/pipeline-runs/detail?pipeline_run_id=${runId}`)).body;
        if (!TERMINAL.has(d.status)) continue;
        if (d.status !== "COMPLETED") throw new Error(`run ${runId} ended ${d.status}`);
        const job = d.stages[0].jobs[0];
        return {
          job: job.start_time - d.start_time,
          step: job.steps[0].start_time - d.start_time,
          total: d.end_time - d.start_time,
        };
      }
    };

    progress(`${WARMUP} warm-up runs, then ${N} measured`);
    for (let i = 0; i < WARMUP; i++) await once();
    const samples: { job: number; step: number; total: number }[] = [];
    for (let i = 0; i < N; i++) samples.push(await once());
    api.close();

    const job = samples.map((s) => s.job);
    const step = samples.map((s) => s.step);
    const total = samples.map((s) => s.total);
    const p99 = percentile(job, 99);
    const row = (label: string, xs: number[]): [string, string] => [
      label,
      `p50 ${ms(percentile(xs, 50))} · p90 ${ms(percentile(xs, 90))} · p99 ${ms(percentile(xs, 99))} · max ${ms(Math.max(...xs))}`,
    ];
    return {
      title: `(c) queue-to-start latency, ${N} sequential runs on an idle server`,
      rows: [
        row("run start → job start", job),
        row("run start → step start", step),
        row("run start → run end", total),
        [
          `runs whose job started later than ${TARGET_P99_MS} ms`,
          `${job.filter((x) => x > TARGET_P99_MS).length} of ${N}`,
        ],
      ],
      targets: [
        {
          label: "queue-to-start p99",
          value: ms(p99),
          goal: `≤ ${TARGET_P99_MS} ms`,
          met: p99 <= TARGET_P99_MS,
        },
      ],
      notes: ["times are the server's epoch-ms fields, so values are whole milliseconds"],
    };
  } finally {
    await server.stop();
    removeDir(dir);
  }
}
