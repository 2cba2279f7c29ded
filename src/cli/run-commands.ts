// Commands that start runs: run, batch-run (with the live display) and retry, each with --wait.
// Reading runs: run-inspect-commands.ts; stopping and reviewing them: run-control-commands.ts.

import crypto from "node:crypto";
import { systemClock } from "../clock.js";
import { RUN_QUEUED_CODE } from "../wire/types.js";
import type { BatchRunAnswer, ProjectApi } from "./api.js";
import type { OptionSpec } from "./args.js";
import { CliError, EXIT, type ExitCode, usageError } from "./cli-error.js";
import { CLIENT_OPTIONS, type Command, type Ctx } from "./command.js";
import { colorStatus, formatDuration, table } from "./format.js";
import { findGroup } from "./groups.js";
import { createProgressDisplay, isDone, type RunRow, renderSummary } from "./progress.js";
import {
  PIPELINE_OPTION,
  type PipelineRef,
  RUN_HELP,
  resolvePipeline,
  resolvePipelines,
  resolveRun,
  runLabel,
} from "./refs.js";
import { queuedRow, type WatchedRun, watchRuns } from "./watch.js";

const WAIT_OPTIONS: readonly OptionSpec[] = [
  {
    name: "wait",
    short: "w",
    type: "boolean",
    help: "wait until the run ends, showing its progress; exit 1 unless COMPLETED",
  },
  { name: "interval", type: "string", arg: "SECONDS", help: "how often --wait polls the server (default 1)" },
];

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
    const started = await api.run(p.id, {
      ...(variables.length ? { variables } : {}),
      ...(stages.length ? { choose_stages: stages } : {}),
      ...(jobs.length ? { choose_jobs: jobs } : {}),
      ...(description !== undefined ? { description } : {}),
    });
    runId = started.pipeline_run_id;
    // Over a QUEUE concurrency limit CodeArts answers its queuing code beside the run's id.
    const queued = started.error_code === RUN_QUEUED_CODE;
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
change otherwise), then a summary table. The exit status is 0 only if every run COMPLETED.
--group GROUP (an id, a name, or a path such as backend/api) starts every pipeline of the group
and of the groups below it: the server picks them, so the choice and the start are one request.
A disabled one gets a run that does not start ("Current pipeline is banned."); a group holding
more pipelines than the server's --max-batch-size is refused whole (DEVPIPE.00020146).`,
    options: [
      { name: "all", type: "boolean", help: "every pipeline of the project" },
      {
        name: "group",
        type: "string",
        arg: "GROUP",
        help: "every pipeline of GROUP and of the groups below it (the server picks them; alone)",
      },
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
      "pipewright batch-run --group backend --wait",
    ],
  },
  async run(ctx) {
    intervalMs(ctx);
    const filters = ctx.args.list("filter");
    const everything = ctx.args.bool("all");
    const groupRef = ctx.args.str("group");
    if (groupRef !== undefined && (ctx.args.positionals.length > 0 || filters.length > 0 || everything)) {
      throw usageError(
        "--group picks the pipelines itself: do not mix it with PIPELINE arguments, --filter or --all",
        "Run 'pipewright batch-run --help' for usage.",
      );
    }
    if (ctx.args.positionals.length === 0 && filters.length === 0 && !everything && groupRef === undefined) {
      throw usageError(
        "name the pipelines to run, or use --filter TEXT, --all or --group GROUP",
        "Run 'pipewright batch-run --help' for usage.",
      );
    }
    const api = await ctx.project();
    const all = await api.allPipelines();
    const group = groupRef === undefined ? undefined : findGroup(groupRef, await api.groupTree());
    const named = ctx.args.positionals.length > 0 ? await resolvePipelines(api, ctx.args.positionals) : [];
    const chosen = group ? [] : selectPipelines(all, named, filters, everything);
    if (!group && chosen.length === 0) {
      throw usageError(
        everything
          ? "the project has no pipelines"
          : `no pipeline name contains ${filters.map((f) => `"${f}"`).join(" or ")}`,
      );
    }
    // One key for the request and its retry: if the first answer was lost on the way, the server
    // replays it instead of starting every pipeline a second time.
    const key = crypto.randomUUID();
    const start = () =>
      group
        ? api.batchRunGroup(group.group.id, key)
        : api.batchRun(
            chosen.map((p) => p.id),
            key,
          );
    let started: BatchRunAnswer["result"];
    try {
      started = (await start()).result;
    } catch (err) {
      if (!(err instanceof CliError && err.exitCode === EXIT.NETWORK) || ctx.io.signal.aborted) throw err;
      ctx.note(ctx.errStyle.yellow(`${err.message}; retrying once with the same Idempotency-Key`));
      await systemClock.sleep(1000, ctx.io.signal);
      started = (await start()).result;
    }
    const ids = started.map((s) => s.pipeline_id);
    const nameOf = new Map(all.map((p) => [p.pipeline_id, p.name]));
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
          initial.set(r.runId, { ...queuedRow(r, reason), notStarted: true });
        }
      }
      if (!ctx.json) {
        const began = runs.length - failedToStart.size;
        ctx.note(
          `Started ${began} run${began === 1 ? "" : "s"} in one batch${group ? ` (group ${group.path})` : ""}` +
            (failedToStart.size > 0 ? `; ${failedToStart.size} did not start.` : "."),
        );
      }
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

export const runCommands: readonly Command[] = [run, batchRun, retry];
