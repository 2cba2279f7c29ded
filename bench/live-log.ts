// (e) Live log latency: a step prints 100 lines stamped with `date +%s%3N`, 20 ms apart; a client
// on the Server-Sent Events stream measures receive time − stamp for each line. The step waits
// for a flag file (created once the client saw the step's first line) so no line predates the
// connection.

import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import {
  type BenchResult,
  type Client,
  createPipelines,
  ms,
  percentile,
  progress,
  removeDir,
  setupProject,
  startServer,
  tempDir,
} from "./harness.js";

const LINES = 100;
const RUNS = 3;
const TARGET_P99_MS = 200;

/**
 * Reads one step's live log until the `end` event. `onLine` gets every complete log line with
 * the time its chunk arrived (epoch ms).
 */
function readStream(
  api: Client,
  streamPath: string,
  onLine: (line: string, receivedAt: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: api.base.hostname,
        port: api.base.port,
        method: "GET",
        path: streamPath,
        headers: { "x-auth-token": api.token, accept: "text/event-stream" },
      },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`log stream: ${res.statusCode}`));
          res.resume();
          return;
        }
        res.setEncoding("utf8");
        let events = "";
        let partialLine = "";
        const timer = setTimeout(() => {
          req.destroy();
          reject(new Error("log stream did not end within 60 s"));
        }, 60_000);
        res.on("data", (chunk: string) => {
          const receivedAt = Date.now();
          events += chunk;
          for (let cut = events.indexOf("\n\n"); cut >= 0; cut = events.indexOf("\n\n")) {
            const block = events.slice(0, cut);
            events = events.slice(cut + 2);
            let type = "message";
            let data = "";
            for (const l of block.split("\n")) {
              if (l.startsWith("event: ")) type = l.slice(7);
              else if (l.startsWith("data: ")) data += l.slice(6);
            }
            if (type === "end") {
              clearTimeout(timer);
              res.destroy();
              resolve();
              return;
            }
            if (type !== "log") continue;
            const lines = (partialLine + (JSON.parse(data) as { text: string }).text).split("\n");
            partialLine = lines.pop()!;
            for (const line of lines) onLine(line, receivedAt);
          }
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

export async function liveLog(): Promise<BenchResult> {
  const dir = tempDir("pipewright-bench-e-");
  // Outside the data dir and /tmp, which a sandboxed step does not see: it reads them here.
  const flags = fs.mkdtempSync("/var/tmp/pipewright-bench-e-flags-");
  fs.chmodSync(flags, 0o755);
  const server = await startServer(dir);
  try {
    const { projectId, api } = await setupProject(server.url);
    const script = [
      "echo ready",
      `while [ ! -e "${flags}/$PIPELINE_RUN_ID" ]; do sleep 0.005; done`,
      `for i in $(seq 1 ${LINES}); do echo "stamp $(date +%s%3N)"; sleep 0.02; done`,
    ].join("\n");
    const [pipelineId] = await createPipelines(api, projectId, 1, script, "live");
    const base = `/v5/${projectId}/api/pipelines/${pipelineId}`;

    const once = async (): Promise<number[]> => {
      const runId = (await api.post(`${base}/run`, {})).body.pipeline_run_id as string;
      const d = (await api.get(`${base}/pipeline-runs/detail?pipeline_run_id=${runId}`)).body;
      const job = d.stages[0].jobs[0];
      const latencies: number[] = [];
      await readStream(
        api,
        `${base}/pipeline-runs/${runId}/jobs/${job.id}/steps/${job.steps[0].id}/logs/stream`,
        (line, receivedAt) => {
          if (line === "ready") fs.writeFileSync(path.join(flags, runId), "");
          const m = /^stamp (\d+)$/.exec(line);
          if (m) latencies.push(receivedAt - Number(m[1]));
        },
      );
      if (latencies.length !== LINES) throw new Error(`got ${latencies.length} of ${LINES} lines`);
      return latencies;
    };

    progress(`1 warm-up run, ${RUNS} measured runs of ${LINES} lines`);
    await once();
    const all: number[] = [];
    const perRun: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      const l = await once();
      all.push(...l);
      perRun.push(`p99 ${ms(percentile(l, 99))}`);
    }
    api.close();
    const p99 = percentile(all, 99);
    return {
      title: `(e) live log latency: step line → SSE client, ${RUNS} runs × ${LINES} lines`,
      rows: [
        ["p50", ms(percentile(all, 50))],
        ["p90", ms(percentile(all, 90))],
        ["p99", ms(p99)],
        ["max", ms(Math.max(...all))],
        ["per run", perRun.join(", ")],
      ],
      targets: [
        { label: "live log p99", value: ms(p99), goal: `≤ ${TARGET_P99_MS} ms`, met: p99 <= TARGET_P99_MS },
      ],
      notes: ["stamps are whole milliseconds taken by `date` before the echo, so values are ±1 ms"],
    };
  } finally {
    await server.stop();
    removeDir(dir);
    removeDir(flags);
  }
}
