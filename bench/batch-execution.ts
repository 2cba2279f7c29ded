// (b) 200 one-step `true` pipelines started by one batch, until all are COMPLETED, against 200
// raw `bash -c true` spawns at the same parallelism as the server's runner slots. When the runner
// sandboxes its steps, a second baseline in the same run: 200 raw spawns of `bash -c true` each in
// a bubblewrap sandbox of its own (the runner's command line for a sandbox per step), what a
// runner without lanes (not root) could not go below; a root runner reuses one per slot.
// The measured rounds come after WARM_ROUNDS whole rounds: V8's optimizing compiler is still at
// work on the server's and the runner's code for the first several hundred jobs after a start
// (on this 2-core machine its threads took about an eighth of the CPU in the second round), and
// a service runs at its steady state. The warm-up rounds' ratios are printed too.

import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { createBubblewrapSandbox, findBubblewrap } from "../src/runner/sandbox.js";
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
const WARM_ROUNDS = 3;
const TARGET_RATIO = 2.0;

/** How a raw spawn is made: bash itself, or bash through the runner's sandbox. */
type Wrap = (command: string, args: readonly string[], slot: number) => { command: string; args: string[] };
const bare: Wrap = (command, args) => ({ command, args: [...args] });

/** Spawns `bash -c true` n times with at most `parallel` in flight; answers the wall time in ms. */
async function rawSpawns(n: number, parallel: number, wrap: Wrap = bare): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const one = (slot: number): Promise<void> =>
    new Promise((resolve, reject) => {
      // Pipes like a runner that captures output; 'close' waits for the exit and both pipes.
      const { command, args } = wrap("bash", ["-c", "true"], slot);
      const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
      child.stdout.resume();
      child.stderr.resume();
      child.once("error", reject);
      child.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`bash exited ${code}`))));
    });
  const worker = async (slot: number): Promise<void> => {
    while (next < n) {
      next++;
      await one(slot);
    }
  };
  await Promise.all(Array.from({ length: parallel }, (_, slot) => worker(slot)));
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

/**
 * The runner's sandbox around a raw spawn (its command line: bwrap, and setpriv to the slot's
 * user when root), each slot with a workspace of its own; undefined when steps run unsandboxed.
 */
function sandboxWrap(dir: string): Wrap | undefined {
  if (process.env.BENCH_RUNNER_SANDBOX === "false") return undefined;
  const bwrap = findBubblewrap(process.env.PATH);
  if (!bwrap) return undefined;
  const sandbox = createBubblewrapSandbox(bwrap, { hidden: [dir], nproc: 4096 });
  const root = path.join(dir, "raw-workspaces");
  return (command, args, slot) => {
    const workspace = path.join(root, String(slot));
    if (!fs.existsSync(workspace)) {
      fs.mkdirSync(workspace, { recursive: true });
      const user = sandbox.userOf(slot);
      if (user) fs.chownSync(workspace, user.uid, user.gid);
    }
    return sandbox.wrap(command, args, { workspace, slot, network: true, limitsItself: true });
  };
}

export async function batchExecution(): Promise<BenchResult> {
  const dir = tempDir("pipewright-bench-b-");
  const server = await startServer(dir, ["--runner-slots", String(SLOTS)]);
  try {
    const { projectId, api } = await setupProject(server.url);
    progress(`creating ${N} pipelines`);
    const ids = await createPipelines(api, projectId, N, "true", "exec");

    progress(`warming up (a batch of 50, 20 spawns, then ${WARM_ROUNDS} rounds)`);
    await batchUntilDone(api, projectId, ids.slice(0, 50));
    await rawSpawns(20, SLOTS);
    const sandboxed = sandboxWrap(dir);
    if (sandboxed) await rawSpawns(20, SLOTS, sandboxed);
    const coldRatios: number[] = [];
    for (let i = 0; i < WARM_ROUNDS; i++) {
      progress(`warm-up round ${i + 1}/${WARM_ROUNDS}`);
      const raw = await rawSpawns(N, SLOTS);
      coldRatios.push((await batchUntilDone(api, projectId, ids)).wallMs / raw);
    }

    const raws: number[] = [];
    const boxed: number[] = [];
    const runs: BatchTiming[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      progress(`round ${i + 1}/${ROUNDS}`);
      raws.push(await rawSpawns(N, SLOTS));
      if (sandboxed) boxed.push(await rawSpawns(N, SLOTS, sandboxed));
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
        [
          `  warm-up rounds before them (the first ${50 + WARM_ROUNDS * N} jobs after start)`,
          coldRatios.map((r) => ratio(r)).join(", "),
        ],
        ...((sandboxed
          ? [
              [`raw spawns, a sandbox each, per round`, boxed.map((t) => ms(t)).join(", ")],
              [
                `sandbox-per-step floor per round (sandboxed raw / raw)`,
                boxed.map((b, i) => ratio(b / raws[i]!)).join(", "),
              ],
              [
                `pipewright / sandboxed raw spawns, per round`,
                runs.map((r, i) => ratio(r.wallMs / boxed[i]!)).join(", "),
              ],
            ]
          : [["sandbox", "off (BENCH_RUNNER_SANDBOX=false, or no bubblewrap): steps run unsandboxed"]]) as [
          string,
          string,
        ][]),
      ],
      notes: sandboxed
        ? [
            process.getuid?.() === 0
              ? "the runner is root: its steps run in lanes (one sandbox per slot, reused), so the sandbox-per-step floor does not bound it"
              : "the runner is not root: each step gets a sandbox of its own, and above 2.0× the sandbox-per-step floor bounds the ratio",
          ]
        : [],
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
