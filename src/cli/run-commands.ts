// Commands on runs: run, batch-run (with the live display), status, logs (paged or followed live
// over Server-Sent Events), stop, retry and review pass|refuse.

import crypto from "node:crypto";
import { systemClock } from "../clock.js";
import { CHECKPOINT_TASK, TERMINAL_RUN_STATUSES as TERMINAL_STATUSES } from "../pipeline/vocabulary.js";
import type { BatchRunAnswer, JobRun, ProjectApi, RunDetail, StageRun, StepRun } from "./api.js";
import type { OptionSpec } from "./args.js";
import { CliError, EXIT, type ExitCode, usageError } from "./cli-error.js";
import { CLIENT_OPTIONS, CONNECTION_OPTIONS, type Command, type Ctx } from "./command.js";
import { colorStatus, formatDuration, formatTime, statusSymbol, table } from "./format.js";
import { createProgressDisplay, isDone, type RunRow, renderSummary } from "./progress.js";
import { type PipelineRef, resolvePipeline, resolvePipelines, resolveRun, runLabel } from "./refs.js";
import { type WatchedRun, watchRuns, whyFailed } from "./watch.js";

const RUN_QUEUED = "DEVPIPE.00011169";
const STEP_NOT_WAITING = "DEVPIPE.00020222";

const WAIT_OPTIONS: readonly OptionSpec[] = [
  {
    name: "wait",
    short: "w",
    type: "boolean",
    help: "wait until the run ends, showing its progress; exit 1 unless COMPLETED",
  },
  { name: "interval", type: "string", arg: "SECONDS", help: "how often --wait polls the server (default 1)" },
];

const PIPELINE_OPTION: OptionSpec = {
  name: "pipeline",
  short: "p",
  type: "string",
  arg: "PIPELINE",
  help: "the pipeline of RUN, so RUN may be a bare run id or run number",
};

const RUN_HELP = `RUN is PIPELINE (its latest run), PIPELINE#N (run number N) or a run id; PIPELINE is a
pipeline name or id. A bare run id is looked up among the project's pipelines unless
--pipeline names its pipeline.`;

function intervalMs(ctx: Ctx): number {
  const raw = ctx.args.str("interval");
  if (raw === undefined) return 1000;
  const secs = Number(raw);
  if (!Number.isFinite(secs) || secs < 0.05 || secs > 3600) {
    throw usageError(`--interval must be a number of seconds from 0.05 to 3600, got "${raw}"`);
  }
  return Math.round(secs * 1000);
}

function jsonRow(pipelineId: string, r: RunRow): Record<string, unknown> {
  return {
    pipeline_id: pipelineId,
    pipeline_name: r.name,
    pipeline_run_id: r.runId,
    run_number: r.runNumber,
    status: r.status,
    start_time: r.startTime,
    end_time: r.endTime,
    message: r.message ?? null,
  };
}

/**
 * Waits for runs with the live display (text mode) and reports the outcome: a summary table (or a
 * line for one run), or JSON. Exit 0 only when every run COMPLETED.
 */
async function waitForRuns(
  ctx: Ctx,
  api: ProjectApi,
  runs: readonly WatchedRun[],
  opts: { single: boolean; initial?: ReadonlyMap<string, RunRow> },
): Promise<ExitCode> {
  const startedAt = ctx.io.now();
  const display = ctx.json ? null : createProgressDisplay(ctx.io.stdout, ctx.style);
  let rows: RunRow[];
  try {
    rows = await watchRuns(api, runs, {
      intervalMs: intervalMs(ctx),
      signal: ctx.io.signal,
      ...(opts.initial ? { initial: opts.initial } : {}),
      onUpdate: (r) => display?.update({ rows: r, startedAt, now: ctx.io.now() }),
    });
  } finally {
    display?.stop();
  }
  const state = { rows, startedAt, now: ctx.io.now() };
  const interrupted = ctx.io.signal.aborted && !rows.every(isDone);
  if (ctx.json) {
    const items = rows.map((r, i) => jsonRow(runs[i]!.pipelineId, r));
    ctx.out(`${JSON.stringify(opts.single ? items[0] : items, null, 2)}\n`);
  } else if (opts.single) {
    const r = rows[0]!;
    const why = r.message && r.status !== "COMPLETED" ? `: ${r.message}` : "";
    const took = r.startTime ? ` in ${formatDuration((r.endTime || state.now) - r.startTime)}` : "";
    ctx.out(`${runLabel(r.name, r.runNumber ?? 0)} ${colorStatus(ctx.style, r.status)}${took}${why}\n`);
  } else {
    ctx.out(`\n${renderSummary(state, ctx.style)}`);
  }
  if (interrupted) {
    ctx.note("Stopped waiting; the runs go on on the server.");
    return EXIT.INTERRUPTED;
  }
  return rows.every((r) => r.status === "COMPLETED") ? EXIT.OK : EXIT.RUN_FAILED;
}

function parseVars(list: readonly string[]): { name: string; value: string }[] {
  return list.map((kv) => {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw usageError(`--var "${kv}" must be NAME=VALUE`);
    return { name: kv.slice(0, eq), value: kv.slice(eq + 1) };
  });
}

const run: Command = {
  spec: {
    path: ["run"],
    summary: "Start a run of a pipeline",
    args: "PIPELINE",
    description: `Starts one run. --var overrides runtime variables (is_runtime: true); --stage and --job
run only the chosen stages or jobs (the others end UNSELECTED). A run over the pipeline's
concurrency limit waits in the queue; it is reported as queued, not as an error.`,
    options: [
      {
        name: "var",
        type: "string",
        multiple: true,
        arg: "NAME=VALUE",
        help: "set a runtime variable; repeat for several",
      },
      {
        name: "stage",
        type: "string",
        multiple: true,
        arg: "ID",
        help: "run only this stage (identifier); repeatable",
      },
      {
        name: "job",
        type: "string",
        multiple: true,
        arg: "ID",
        help: "run only this job (identifier); repeatable",
      },
      { name: "description", type: "string", arg: "TEXT", help: "description of the run" },
      ...WAIT_OPTIONS,
      ...CLIENT_OPTIONS,
    ],
    minArgs: 1,
    maxArgs: 1,
    examples: [
      "pipewright run build --wait",
      "pipewright run deploy --var target=production --stage deploy",
      "RUN=$(pipewright run build --json | jq -r .pipeline_run_id)",
    ],
  },
  async run(ctx) {
    const variables = parseVars(ctx.args.list("var"));
    intervalMs(ctx);
    const api = await ctx.project();
    const p = await resolvePipeline(api, ctx.args.positionals[0]!);
    const stages = ctx.args.list("stage");
    const jobs = ctx.args.list("job");
    const description = ctx.args.str("description");
    let runId: string;
    let queued = false;
    try {
      runId = (
        await api.run(p.id, {
          ...(variables.length ? { variables } : {}),
          ...(stages.length ? { choose_stages: stages } : {}),
          ...(jobs.length ? { choose_jobs: jobs } : {}),
          ...(description !== undefined ? { description } : {}),
        })
      ).pipeline_run_id;
    } catch (err) {
      // Over a QUEUE concurrency limit CodeArts answers an error, yet the run exists and will start.
      const id = err instanceof CliError && err.code === RUN_QUEUED ? queuedRunId(err.body) : undefined;
      if (!id) throw err;
      runId = id;
      queued = true;
    }
    const detail = await api.runDetail(p.id, runId);
    const label = runLabel(p.name, detail.run_number);
    if (ctx.args.bool("wait")) {
      if (!ctx.json) ctx.note(`Started ${label}${queued ? " (queued: concurrency limit reached)" : ""}`);
      return waitForRuns(ctx, api, [{ pipelineId: p.id, name: p.name, runId }], { single: true });
    }
    if (ctx.json) {
      ctx.out(
        `${JSON.stringify({ pipeline_id: p.id, pipeline_name: p.name, pipeline_run_id: runId, run_number: detail.run_number, status: detail.status, queued }, null, 2)}\n`,
      );
    } else {
      ctx.out(`${queued ? "queued" : "started"} ${ctx.style.bold(label)}  run ${runId}\n`);
      ctx.note(
        ctx.errStyle.dim(
          `Follow it: pipewright logs '${label}' --follow   (or: pipewright status '${label}')`,
        ),
      );
    }
    return EXIT.OK;
  },
};

function queuedRunId(body: unknown): string | undefined {
  const b = body as { pipeline_run_id?: unknown; error?: { pipeline_run_id?: unknown } } | null;
  const id = b?.error?.pipeline_run_id ?? b?.pipeline_run_id;
  return typeof id === "string" ? id : undefined;
}

/** The pipelines a batch-run names: arguments, --filter matches and --all, each once, in that order. */
function selectPipelines(
  all: readonly { pipeline_id: string; name: string }[],
  named: readonly PipelineRef[],
  filters: readonly string[],
  everything: boolean,
): PipelineRef[] {
  const out = new Map<string, PipelineRef>();
  for (const r of named) out.set(r.id, r);
  for (const p of all) {
    const hit = everything || filters.some((f) => p.name.toLowerCase().includes(f.toLowerCase()));
    if (hit && !out.has(p.pipeline_id)) out.set(p.pipeline_id, { id: p.pipeline_id, name: p.name });
  }
  return [...out.values()];
}

const batchRun: Command = {
  spec: {
    path: ["batch-run"],
    summary: "Start many pipelines in one batch-runs call",
    args: "PIPELINE...",
    description: `All runs are created at once by one atomic request (it starts nothing if any pipeline is
unknown). With --wait, a live display follows every run: one line per pipeline with its stage
statuses, an overall bar and the elapsed time (redrawn in place on a terminal, one line per
change otherwise), then a summary table. The exit status is 0 only if every run COMPLETED.`,
    options: [
      { name: "all", type: "boolean", help: "every pipeline of the project" },
      {
        name: "filter",
        type: "string",
        multiple: true,
        arg: "TEXT",
        help: "pipelines whose name contains TEXT (ignoring case); repeatable",
      },
      ...WAIT_OPTIONS,
      ...CLIENT_OPTIONS,
    ],
    examples: [
      "pipewright batch-run build-api build-web --wait",
      "pipewright batch-run --filter nightly- --wait",
      "pipewright batch-run --all --json",
    ],
  },
  async run(ctx) {
    intervalMs(ctx);
    const filters = ctx.args.list("filter");
    const everything = ctx.args.bool("all");
    if (ctx.args.positionals.length === 0 && filters.length === 0 && !everything) {
      throw usageError(
        "name the pipelines to run, or use --filter TEXT or --all",
        "Run 'pipewright batch-run --help' for usage.",
      );
    }
    const api = await ctx.project();
    const all = await api.allPipelines();
    const named = ctx.args.positionals.length > 0 ? await resolvePipelines(api, ctx.args.positionals) : [];
    const chosen = selectPipelines(all, named, filters, everything);
    if (chosen.length === 0) {
      throw usageError(
        everything
          ? "the project has no pipelines"
          : `no pipeline name contains ${filters.map((f) => `"${f}"`).join(" or ")}`,
      );
    }
    // One key for the request and its retry: if the first answer was lost on the way, the server
    // replays it instead of starting every pipeline a second time.
    const key = crypto.randomUUID();
    const ids = chosen.map((p) => p.id);
    let started: BatchRunAnswer["result"];
    try {
      started = (await api.batchRun(ids, key)).result;
    } catch (err) {
      if (!(err instanceof CliError && err.exitCode === EXIT.NETWORK) || ctx.io.signal.aborted) throw err;
      ctx.note(ctx.errStyle.yellow(`${err.message}; retrying once with the same Idempotency-Key`));
      await systemClock.sleep(1000, ctx.io.signal);
      started = (await api.batchRun(ids, key)).result;
    }
    const nameOf = new Map(chosen.map((p) => [p.id, p.name]));
    const results = (await api.batchResult(started)).result;
    const failedToStart = new Map(
      results.filter((r) => r.status === "START_FAILED").map((r) => [r.pipeline_run_id, r.reason]),
    );
    const runs: WatchedRun[] = started.map((s) => ({
      pipelineId: s.pipeline_id,
      name: nameOf.get(s.pipeline_id) ?? s.pipeline_id,
      runId: s.pipeline_run_id,
    }));
    if (ctx.args.bool("wait")) {
      const initial = new Map<string, RunRow>();
      for (const r of runs) {
        const reason = failedToStart.get(r.runId);
        if (reason !== undefined) {
          initial.set(r.runId, {
            name: r.name,
            runId: r.runId,
            runNumber: null,
            status: "QUEUED",
            stages: [],
            startTime: 0,
            endTime: 0,
            message: reason,
          });
        }
      }
      if (!ctx.json) ctx.note(`Started ${runs.length} run${runs.length === 1 ? "" : "s"} in one batch.`);
      return waitForRuns(ctx, api, runs, { single: false, initial });
    }
    const latest = new Map((await api.latestStatus(ids)).map((s) => [s.pipeline_run_id, s]));
    const items = runs.map((r) => ({
      pipeline_id: r.pipelineId,
      pipeline_name: r.name,
      pipeline_run_id: r.runId,
      run_number: latest.get(r.runId)?.run_number ?? null,
      start_status: failedToStart.has(r.runId) ? "START_FAILED" : "START_SUCCESS",
      reason: failedToStart.get(r.runId) ?? null,
    }));
    if (ctx.json) ctx.out(`${JSON.stringify(items, null, 2)}\n`);
    else {
      const { style } = ctx;
      ctx.out(
        table(
          ["PIPELINE", "RUN", "RUN ID", "START"],
          items.map((i) => [
            i.pipeline_name,
            i.run_number === null ? "-" : `#${i.run_number}`,
            i.pipeline_run_id,
            i.start_status === "START_SUCCESS"
              ? style.green("started")
              : style.red(`not started: ${i.reason ?? ""}`),
          ]),
          style,
        ),
      );
    }
    return failedToStart.size > 0 ? EXIT.RUN_FAILED : EXIT.OK;
  },
};

interface StepPos {
  readonly stage: StageRun;
  readonly job: JobRun;
  readonly step: StepRun;
}

function stepsOf(d: RunDetail): StepPos[] {
  return d.stages.flatMap((stage) =>
    stage.jobs.flatMap((job) => job.steps.map((step) => ({ stage, job, step }))),
  );
}

function stepPath(s: StepPos): string {
  return `${s.stage.name} › ${s.job.name} › ${s.step.name}`;
}

/**
 * The steps `ref` names: a step (identifier or run id), else a job (all its steps), else a step or
 * job name. A name that several share must be made precise with an identifier.
 */
function pickSteps(d: RunDetail, ref: string, label: string): StepPos[] {
  const all = stepsOf(d);
  const tiers: ((s: StepPos) => boolean)[] = [
    (s) => s.step.identifier === ref || s.step.id === ref,
    (s) => s.job.identifier === ref || s.job.id === ref,
    (s) => s.step.name === ref,
    (s) => s.job.name === ref,
  ];
  for (const [i, matches] of tiers.entries()) {
    const hit = all.filter(matches);
    if (hit.length === 0) continue;
    const jobs = new Set(hit.map((s) => s.job.id));
    // A step name shared by several steps is ambiguous; a job name shared by several jobs too.
    if ((i === 2 && hit.length > 1) || (i === 3 && jobs.size > 1)) {
      throw usageError(
        `"${ref}" names several ${i === 2 ? "steps" : "jobs"} of ${label}; give an identifier: ${hit.map((s) => (i === 2 ? s.step.identifier : s.job.identifier)).join(", ")}`,
      );
    }
    return hit;
  }
  throw usageError(
    `${label} has no step or job "${ref}"`,
    `Steps: ${all.map((s) => `${s.step.identifier} (${stepPath(s)}, job ${s.job.identifier})`).join(", ")}`,
  );
}

const NOT_STARTED = new Set(["INIT", "QUEUED"]);

const sleep = (ms: number, signal: AbortSignal): Promise<void> => systemClock.sleep(ms, signal);

/** Prints a step's stored log, page by page. */
async function printLog(
  ctx: Ctx,
  api: ProjectApi,
  pipelineId: string,
  runId: string,
  s: StepPos,
): Promise<void> {
  let offset = 0;
  for (;;) {
    const page = await api.stepLog(pipelineId, runId, s.job.id, s.step.id, offset);
    if (page.log === "") return;
    ctx.out(page.log);
    offset = Number(page.end_offset);
  }
}

/**
 * Streams a step's log as it is written, until the step ends. Waits for the step to start first:
 * a step that never runs (skipped, unselected, run stopped) has nothing to stream and is passed
 * over without calling `onStart`.
 */
async function followLog(
  ctx: Ctx,
  api: ProjectApi,
  pipelineId: string,
  runId: string,
  s: StepPos,
  onStart: () => void,
): Promise<void> {
  const { signal } = ctx.io;
  for (;;) {
    const d = await api.runDetail(pipelineId, runId);
    const st = stepsOf(d).find((x) => x.step.id === s.step.id)?.step;
    if (!st) return;
    if (!NOT_STARTED.has(st.status)) {
      if (!st.start_time) return;
      break;
    }
    if (TERMINAL_STATUSES.has(d.status) || signal.aborted) return;
    await sleep(500, signal);
  }
  onStart();
  if (s.step.task === CHECKPOINT_TASK) {
    // A review writes no log, so there is no stream that would end with it: wait for the decision.
    for (;;) {
      const d = await api.runDetail(pipelineId, runId);
      const st = stepsOf(d).find((x) => x.step.id === s.step.id)?.step;
      if (!st || TERMINAL_STATUSES.has(st.status) || TERMINAL_STATUSES.has(d.status) || signal.aborted)
        return;
      await sleep(1000, signal);
    }
  }
  let offset = 0;
  let failures = 0;
  while (!signal.aborted) {
    try {
      for await (const ev of api.stepLogEvents(pipelineId, runId, s.job.id, s.step.id, offset, signal)) {
        if (ev.event === "end") return;
        if (ev.event === "log") {
          const data = JSON.parse(ev.data) as { offset: number; text: string };
          ctx.out(data.text);
          offset = data.offset + Buffer.byteLength(data.text);
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      // A dropped connection resumes from the last byte received; a server that keeps failing does not.
      if (!(err instanceof CliError && err.exitCode === EXIT.NETWORK) && !(err instanceof TypeError))
        throw err;
      if (++failures > 5) throw err;
    }
    await sleep(1000, signal);
  }
}

const logs: Command = {
  spec: {
    path: ["logs"],
    summary: "Print the logs of a run's steps, or follow them live",
    args: "RUN",
    description: `${RUN_HELP}

Without --step every step that has started is printed in order, each under a "==>" header.
--follow streams the log as it is written (Server-Sent Events) and returns when the step (or,
without --step, the last step of the run) has ended.`,
    options: [
      {
        name: "step",
        short: "s",
        type: "string",
        arg: "STEP",
        help: "only this step (identifier, name or run id), or a job's steps (its identifier or name)",
      },
      { name: "follow", short: "f", type: "boolean", help: "stream new output until the step ends" },
      PIPELINE_OPTION,
      ...CONNECTION_OPTIONS,
      { name: "no-color", type: "boolean", help: "no colours in the step headers", group: "Output" },
    ],
    minArgs: 1,
    maxArgs: 1,
    examples: ["pipewright logs build", "pipewright logs 'build#12' --step unit_tests --follow"],
  },
  async run(ctx) {
    const api = await ctx.project();
    const { pipeline, detail } = await resolveRun(api, ctx.args.positionals[0]!, ctx.args.str("pipeline"));
    const label = runLabel(pipeline.name, detail.run_number);
    const stepRef = ctx.args.str("step");
    // Reviews write no log; they are shown only when asked for by name.
    const steps = stepRef
      ? pickSteps(detail, stepRef, label)
      : stepsOf(detail).filter((s) => s.step.task !== CHECKPOINT_TASK);
    const follow = ctx.args.bool("follow");
    const headers = steps.length > 1;
    for (const s of steps) {
      if (!follow && !s.step.start_time) continue;
      const header = `${ctx.style.bold(`==> ${stepPath(s)}`)}\n`;
      if (follow) {
        // The header goes out once the step has started, so steps that never run leave no trace.
        await followLog(ctx, api, pipeline.id, detail.id, s, () => headers && ctx.out(header));
      } else {
        if (headers) ctx.out(header);
        await printLog(ctx, api, pipeline.id, detail.id, s);
      }
      if (ctx.io.signal.aborted) return EXIT.INTERRUPTED;
    }
    return EXIT.OK;
  },
};

function statusText(ctx: Ctx, d: RunDetail, label: string): string {
  const { style } = ctx;
  const now = d.current_system_time ?? ctx.io.now();
  const dur = (start: number, end: number): string => (start ? formatDuration((end || now) - start) : "");
  const mark = (status: string): string => colorStatus(style, status, statusSymbol(status));
  const lines = [`${style.bold(label)}  ${colorStatus(style, d.status)}  ${style.dim(`run ${d.id}`)}`];
  const facts = [
    d.start_time ? `started ${formatTime(d.start_time)}` : "not started",
    d.start_time ? `took ${dur(d.start_time, d.end_time)}${d.end_time ? "" : " so far"}` : "",
    `${d.trigger_type}${d.executor_name ? ` by ${d.executor_name}` : ""}`,
    d.queue_position ? `position ${d.queue_position} in the queue` : "",
  ].filter(Boolean);
  lines.push(style.dim(facts.join(" · ")));
  const why = d.message || (d.status === "FAILED" ? whyFailed(d) : null);
  if (why) lines.push(`${d.status === "COMPLETED" ? "" : style.red("→ ")}${why}`);
  if (d.variables && d.variables.length > 0) {
    lines.push(style.dim(`variables: ${d.variables.map((v) => `${v.name}=${v.value}`).join(" ")}`));
  }
  for (const st of d.stages) {
    lines.push(`${mark(st.status)} ${st.name}  ${style.dim(dur(st.start_time, st.end_time))}`.trimEnd());
    for (const job of st.jobs) {
      const msg = job.message && job.status !== "COMPLETED" ? style.dim(`  ${job.message}`) : "";
      lines.push(
        `    ${mark(job.status)} ${job.name}  ${style.dim(dur(job.start_time, job.end_time))}${msg}`.trimEnd(),
      );
      for (const step of job.steps) {
        const waiting =
          step.task === CHECKPOINT_TASK && step.status === "PAUSED"
            ? style.yellow(`  waiting for review: pipewright review pass|refuse '${label}'`)
            : "";
        lines.push(
          `        ${mark(step.status)} ${step.name}  ${style.dim(dur(step.start_time, step.end_time))}${waiting}`.trimEnd(),
        );
      }
    }
  }
  return `${lines.join("\n")}\n`;
}

const status: Command = {
  spec: {
    path: ["status"],
    summary: "Show a run: its status and the status of every stage, job and step",
    args: "RUN",
    description: RUN_HELP,
    options: [PIPELINE_OPTION, ...CLIENT_OPTIONS],
    minArgs: 1,
    maxArgs: 1,
    examples: ["pipewright status build", "pipewright status 'build#3' --json | jq -r .status"],
  },
  async run(ctx) {
    const api = await ctx.project();
    const { pipeline, detail } = await resolveRun(api, ctx.args.positionals[0]!, ctx.args.str("pipeline"));
    if (ctx.json) ctx.out(`${JSON.stringify(detail, null, 2)}\n`);
    else ctx.out(statusText(ctx, detail, runLabel(pipeline.name, detail.run_number)));
    return EXIT.OK;
  },
};

const stop: Command = {
  spec: {
    path: ["stop"],
    summary: "Stop a run: it ends CANCELED and its processes are killed",
    args: "RUN",
    description: RUN_HELP,
    options: [PIPELINE_OPTION, ...CLIENT_OPTIONS],
    minArgs: 1,
    maxArgs: 1,
    examples: ["pipewright stop slow", "pipewright stop 'slow#4'"],
  },
  async run(ctx) {
    const api = await ctx.project();
    const { pipeline, detail } = await resolveRun(api, ctx.args.positionals[0]!, ctx.args.str("pipeline"));
    const res = await api.stop(pipeline.id, detail.id);
    const label = runLabel(pipeline.name, detail.run_number);
    if (ctx.json)
      ctx.out(
        `${JSON.stringify({ ...res, pipeline_id: pipeline.id, pipeline_run_id: detail.id }, null, 2)}\n`,
      );
    else ctx.out(`stopped ${ctx.style.bold(label)}\n`);
    return EXIT.OK;
  },
};

const retry: Command = {
  spec: {
    path: ["retry"],
    summary: "Retry a FAILED or CANCELED run in place (same run id; completed jobs are kept)",
    args: "RUN",
    description: RUN_HELP,
    options: [PIPELINE_OPTION, ...WAIT_OPTIONS, ...CLIENT_OPTIONS],
    minArgs: 1,
    maxArgs: 1,
    examples: ["pipewright retry broken --wait"],
  },
  async run(ctx) {
    intervalMs(ctx);
    const api = await ctx.project();
    const { pipeline, detail } = await resolveRun(api, ctx.args.positionals[0]!, ctx.args.str("pipeline"));
    const res = await api.retry(pipeline.id, detail.id);
    const label = runLabel(pipeline.name, detail.run_number);
    if (ctx.args.bool("wait")) {
      if (!ctx.json) ctx.note(`Retrying ${label}`);
      return waitForRuns(ctx, api, [{ pipelineId: pipeline.id, name: pipeline.name, runId: detail.id }], {
        single: true,
      });
    }
    if (ctx.json)
      ctx.out(
        `${JSON.stringify({ ...res, pipeline_id: pipeline.id, pipeline_run_id: detail.id }, null, 2)}\n`,
      );
    else ctx.out(`retrying ${ctx.style.bold(label)}\n`);
    return EXIT.OK;
  },
};

function reviewCommand(decision: "pass" | "refuse"): Command {
  return {
    spec: {
      path: ["review", decision],
      summary:
        decision === "pass"
          ? "Pass a manual review the run waits on"
          : "Refuse a manual review the run waits on (the job fails)",
      args: "RUN",
      description: `${RUN_HELP}

The review step is the run's one step waiting for a decision (task official_devcloud_checkpoint,
status PAUSED); when several wait, --step chooses one.`,
      options: [
        {
          name: "step",
          short: "s",
          type: "string",
          arg: "STEP",
          help: "the review step: identifier, name or run id",
        },
        PIPELINE_OPTION,
        ...CLIENT_OPTIONS,
      ],
      minArgs: 1,
      maxArgs: 1,
      examples: [
        `pipewright review ${decision} release`,
        `pipewright review ${decision} 'release#7' --step approve`,
      ],
    },
    async run(ctx) {
      const api = await ctx.project();
      const { pipeline, detail } = await resolveRun(api, ctx.args.positionals[0]!, ctx.args.str("pipeline"));
      const label = runLabel(pipeline.name, detail.run_number);
      const stepRef = ctx.args.str("step");
      let target: StepPos;
      if (stepRef) {
        const picked = pickSteps(detail, stepRef, label).filter((s) => s.step.task === CHECKPOINT_TASK);
        if (picked.length !== 1) throw usageError(`"${stepRef}" names no single review step of ${label}`);
        target = picked[0]!;
      } else {
        const waiting = stepsOf(detail).filter(
          (s) => s.step.task === CHECKPOINT_TASK && s.step.status === "PAUSED",
        );
        if (waiting.length === 0) {
          // Said here rather than by the server, which needs a step to say it about.
          throw new CliError(
            EXIT.SERVER,
            `${label} (${detail.status}) has no manual review waiting for a decision (${STEP_NOT_WAITING})`,
            {
              code: STEP_NOT_WAITING,
            },
          );
        }
        if (waiting.length > 1) {
          throw usageError(
            `${label} has ${waiting.length} reviews waiting; choose one with --step: ${waiting.map((s) => s.step.identifier).join(", ")}`,
          );
        }
        target = waiting[0]!;
      }
      const res = await api.review(pipeline.id, detail.id, target.job.id, target.step.id, decision);
      if (ctx.json) {
        ctx.out(
          `${JSON.stringify({ ...res, pipeline_id: pipeline.id, pipeline_run_id: detail.id, step_run_id: target.step.id, decision }, null, 2)}\n`,
        );
      } else {
        ctx.out(
          `${decision === "pass" ? "passed" : "refused"} review "${target.step.name}" of ${ctx.style.bold(label)}\n`,
        );
      }
      return EXIT.OK;
    },
  };
}

export const runCommands: readonly Command[] = [
  run,
  batchRun,
  status,
  logs,
  stop,
  retry,
  reviewCommand("pass"),
  reviewCommand("refuse"),
];
