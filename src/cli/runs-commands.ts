// `pipewright runs list`: the project's runs across its pipelines, newest first, filtered by
// status, pipeline, trigger and age (the server's project run list).

import { RUN_STATUSES } from "../pipeline/vocabulary.js";
import { EXIT, usageError } from "./cli-error.js";
import { CLIENT_OPTIONS, type Command } from "./command.js";
import { colorStatus, formatDuration, formatTime, table } from "./format.js";
import { resolvePipeline, runLabel } from "./refs.js";

/** `30m`, `2h`, `7d` or a date-time the server takes: how far back runs are listed. */
export function sinceOf(text: string, now: number): number {
  const m = /^(\d+)([smhd])$/.exec(text);
  if (m) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
    return now - Number(m[1]) * unit;
  }
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw usageError(`--since ${text}: give a duration (30m, 2h, 7d) or a date (2026-12-01T10:00)`);
  return t;
}

const list: Command = {
  spec: {
    path: ["runs", "list"],
    summary: "The project's runs across its pipelines, newest first",
    description: `Filters combine: --status and --trigger and --pipeline may repeat (any of them matches).
--since takes a duration back from now (30m, 2h, 7d) or a date-time. Runs of pipelines your
permissions hide are not listed.`,
    options: [
      {
        name: "status",
        type: "string",
        multiple: true,
        arg: "STATUS",
        help: `a run status (${RUN_STATUSES.join(", ")})`,
      },
      {
        name: "pipeline",
        short: "p",
        type: "string",
        multiple: true,
        arg: "PIPELINE",
        help: "a pipeline (name or id)",
      },
      {
        name: "trigger",
        type: "string",
        multiple: true,
        arg: "TYPE",
        help: "what started it: Manual, Scheduler, CodeHub…",
      },
      {
        name: "since",
        type: "string",
        arg: "WHEN",
        help: "only runs started since (30m, 2h, 7d, or a date-time)",
      },
      { name: "limit", short: "n", type: "string", arg: "N", help: "at most N runs (1-100; default 20)" },
      {
        name: "wide",
        type: "boolean",
        help: "more columns: the run id, who started it, the branch",
        group: "Output",
      },
      ...CLIENT_OPTIONS,
    ],
    maxArgs: 0,
    examples: [
      "pipewright runs list",
      "pipewright runs list --status FAILED --since 1d",
      "pipewright runs list -p build -p deploy --wide",
    ],
  },
  async run(ctx) {
    const statuses = ctx.args.list("status").map((s) => s.toUpperCase());
    const bad = statuses.find((s) => !(RUN_STATUSES as readonly string[]).includes(s));
    if (bad) throw usageError(`--status ${bad}: not a run status (${RUN_STATUSES.join(", ")})`);
    const limitText = ctx.args.str("limit") ?? "20";
    const limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || limit < 1 || limit > 100)
      throw usageError("--limit takes a number from 1 to 100");
    const since = ctx.args.str("since");
    const api = await ctx.project();
    const pipelineIds: string[] = [];
    for (const ref of ctx.args.list("pipeline")) pipelineIds.push((await resolvePipeline(api, ref)).id);
    const page = await api.projectRuns({
      ...(statuses.length ? { status: statuses } : {}),
      ...(pipelineIds.length ? { pipeline_ids: pipelineIds } : {}),
      ...(ctx.args.list("trigger").length ? { trigger_type: ctx.args.list("trigger") } : {}),
      ...(since !== undefined ? { start_time: sinceOf(since, ctx.io.now()) } : {}),
      offset: 0,
      limit,
    });
    if (ctx.json) {
      ctx.out(`${JSON.stringify(page.pipeline_runs, null, 2)}\n`);
      return EXIT.OK;
    }
    if (page.pipeline_runs.length === 0) {
      ctx.out("No runs match.\n");
      return EXIT.OK;
    }
    const { style } = ctx;
    const wide = ctx.wide || ctx.args.bool("wide");
    const now = ctx.io.now();
    ctx.out(
      table(
        ["RUN", "STATUS", "TRIGGER", "STARTED", "DURATION", ...(wide ? ["BRANCH", "BY", "ID"] : [])],
        page.pipeline_runs.map((r) => {
          const started = r.start_time > 0;
          const took = started ? (r.end_time > 0 ? r.end_time : now) - r.start_time : 0;
          const branch = r.build_params.target_branch ?? r.build_params.tag ?? "-";
          return [
            runLabel(r.pipeline_name, r.run_number),
            colorStatus(style, r.status),
            r.trigger_type,
            started ? formatTime(r.start_time) : "-",
            started ? formatDuration(took) : "-",
            ...(wide ? [branch ?? "-", r.executor_name, r.pipeline_run_id] : []),
          ];
        }),
        style,
      ),
    );
    if (page.total > page.pipeline_runs.length)
      ctx.note(
        style.dim(`${page.pipeline_runs.length} of ${page.total} runs; --limit or filters show others`),
      );
    return EXIT.OK;
  },
};

export const runsCommands: readonly Command[] = [list];
