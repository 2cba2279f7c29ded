// (g) kill -9 in the middle of a wave of 200 jobs (`sleep 1; echo done >> $MARKS/$PIPELINE_RUN_ID`):
// of the server (restarted on the same data dir at once), then of the runner process (the server
// starts a new one). Counts what completed, side effects done twice, jobs run again, processes
// left over and runs left unfinished.

import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import {
  ADMIN_TOKEN,
  type BenchResult,
  type Client,
  client,
  createPipelines,
  ms,
  progress,
  removeDir,
  setupProject,
  sleep,
  startServer,
  TERMINAL,
  tempDir,
} from "./harness.js";

const N = 200;
const SLOTS = 16;

interface Wave {
  readonly completed: number;
  readonly failed: number;
  readonly unfinished: number;
  /** Runs whose side effect happened more than once. */
  readonly doubled: number;
  readonly leftover: number;
  /** The most times one run's side effect happened. */
  readonly maxMarks: number;
  readonly wallMs: number;
}

/** Processes whose environment names one of the runs (a step or something it left behind). */
function leftoverProcesses(runIds: ReadonlySet<string>): number {
  let n = 0;
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const env = fs.readFileSync(`/proc/${pid}/environ`, "utf8");
      const m = /PIPELINE_RUN_ID=([0-9a-f]+)/.exec(env);
      if (m && runIds.has(m[1]!)) n++;
    } catch {
      // gone, or not ours
    }
  }
  return n;
}

function runnerPid(dataDir: string): number | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dataDir, "runner", "runner.json"), "utf8")).pid;
  } catch {
    return undefined;
  }
}

async function statuses(api: Client, projectId: string, ids: readonly string[], runIds: ReadonlySet<string>) {
  const st = await api.post(`/v5/${projectId}/api/pipelines/status`, ids);
  return (st.body as { pipeline_run_id: string; status: string }[]).filter((r) =>
    runIds.has(r.pipeline_run_id),
  );
}

async function wave(victim: "server" | "runner"): Promise<Wave> {
  const dir = tempDir(`pipewright-bench-g-${victim}-`);
  // Outside /tmp: a sandboxed step has its own.
  const marks = fs.mkdtempSync("/var/tmp/pipewright-bench-g-marks-");
  fs.chmodSync(marks, 0o777);
  // The side effect lands outside the workspace, which the sandbox keeps read-only: unsandboxed.
  const env = { PIPEWRIGHT_RUNNER_SANDBOX: "false" };
  let server = await startServer(dir, ["--runner-slots", String(SLOTS)], env);
  try {
    const setup = await setupProject(server.url);
    const { projectId } = setup;
    let api = setup.api;
    const ids = await createPipelines(
      api,
      projectId,
      N,
      `sleep 1; echo done >> ${marks}/$PIPELINE_RUN_ID`,
      "g",
    );
    const t0 = performance.now();
    const res = await api.post(`/v5/${projectId}/api/pipelines/batch-runs`, { pipeline_ids: ids });
    const runIds = new Set<string>(
      res.body.result.map((r: { pipeline_run_id: string }) => r.pipeline_run_id),
    );
    // The middle of the wave: a third of the runs have ended.
    for (;;) {
      const done = (await statuses(api, projectId, ids, runIds)).filter((r) => TERMINAL.has(r.status)).length;
      if (done >= N / 3) break;
      await sleep(50);
    }
    if (victim === "server") {
      process.kill(server.pid, "SIGKILL");
      await sleep(200);
      server = await startServer(dir, ["--runner-slots", String(SLOTS)], env);
      api.close();
      api = client(server.url, ADMIN_TOKEN);
    } else {
      const pid = runnerPid(dir);
      if (pid === undefined) throw new Error("no runner process");
      process.kill(pid, "SIGKILL");
    }
    let last: { pipeline_run_id: string; status: string }[] = [];
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      last = await statuses(api, projectId, ids, runIds);
      if (last.length === N && last.every((r) => TERMINAL.has(r.status))) break;
      await sleep(250);
    }
    const wallMs = performance.now() - t0;
    await sleep(500);
    const counts = [...runIds].map((r) => {
      const f = path.join(marks, r);
      return fs.existsSync(f) ? fs.readFileSync(f, "utf8").trim().split("\n").length : 0;
    });
    api.close();
    return {
      completed: last.filter((r) => r.status === "COMPLETED").length,
      failed: last.filter((r) => r.status === "FAILED").length,
      unfinished: N - last.filter((r) => TERMINAL.has(r.status)).length,
      doubled: counts.filter((c) => c > 1).length,
      leftover: leftoverProcesses(runIds),
      maxMarks: Math.max(...counts),
      wallMs,
    };
  } finally {
    await server.stop();
    removeDir(dir);
    removeDir(marks);
  }
}

export async function crashWave(): Promise<BenchResult> {
  progress("kill -9 of the server in a wave of 200");
  const s = await wave("server");
  progress("kill -9 of the runner in a wave of 200");
  const r = await wave("runner");
  const row = (w: Wave): string =>
    `${w.completed} completed, ${w.failed} failed, ${w.unfinished} unfinished; ${w.doubled} doubled, ` +
    `at most ${w.maxMarks} per run, ${w.leftover} processes left; ${ms(w.wallMs)}`;
  return {
    title: `(g) kill -9 in the middle of a wave of ${N} one-second jobs, ${SLOTS} slots`,
    rows: [
      ["server killed, restarted at once", row(s)],
      ["runner killed (the server starts another)", row(r)],
    ],
    targets: [
      {
        label: "server kill: all completed, none doubled, none left",
        value: `${s.completed}/${N}, ${s.doubled} doubled, ${s.leftover} left`,
        goal: `${N}/${N}, 0, 0`,
        met: s.completed === N && s.doubled === 0 && s.leftover === 0,
      },
      {
        label: "runner kill: none lost or left RUNNING, each re-run at most once",
        value: `${r.unfinished} unfinished, ${r.completed + r.failed}/${N} ended, ${r.leftover} left, at most ${r.maxMarks} runs of one`,
        goal: `0 unfinished, ${N}/${N}, 0 left, at most 2`,
        met:
          r.unfinished === 0 &&
          r.completed + r.failed === N &&
          r.completed > 0 &&
          r.leftover === 0 &&
          r.maxMarks <= 2,
      },
    ],
  };
}
