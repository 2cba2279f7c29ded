// Commands that read runs: status, and logs (paged, or followed live over Server-Sent Events).

import { systemClock } from "../clock.js";
import { CHECKPOINT_TASK, TERMINAL_RUN_STATUSES as TERMINAL_STATUSES } from "../pipeline/vocabulary.js";
import type { ProjectApi, RunDetail } from "./api.js";
import { CliError, EXIT } from "./cli-error.js";
import { CLIENT_OPTIONS, CONNECTION_OPTIONS, type Command, type Ctx } from "./command.js";
import { colorStatus, formatDuration, formatTime, statusSymbol } from "./format.js";
import { createLogText } from "./log-text.js";
import { PIPELINE_OPTION, RUN_HELP, resolveRun, runLabel } from "./refs.js";
import { pickSteps, type StepPos, stepPath, stepsOf } from "./steps.js";
import { describeCodeEvent } from "./triggers-format.js";
import { whyFailed } from "./watch.js";

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
  const text = createLogText(ctx.style.enabled);
  for (;;) {
    const page = await api.stepLog(pipelineId, runId, s.job.id, s.step.id, offset);
    if (page.log === "") break;
    ctx.out(text.push(page.log));
    offset = Number(page.end_offset);
  }
  ctx.out(text.end());
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
  const text = createLogText(ctx.style.enabled);
  while (!signal.aborted) {
    try {
      for await (const ev of api.stepLogEvents(pipelineId, runId, s.job.id, s.step.id, offset, signal)) {
        if (ev.event === "end") {
          ctx.out(text.end());
          return;
        }
        if (ev.event === "log") {
          const data = JSON.parse(ev.data) as { offset: number; text: string };
          ctx.out(text.push(data.text));
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
without --step, the last step of the run) has ended; a run that ended otherwise than COMPLETED
(canceled, failed) is said so on stderr, with exit status 1 as for --wait.

To a terminal with colour the log is printed as the step wrote it. Otherwise (a pipe or file,
--no-color, NO_COLOR) escape codes are removed and a line redrawn with carriage returns (a
progress bar) is printed once, as it was last drawn.`,
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
      {
        name: "no-color",
        type: "boolean",
        help: "no colours: the step headers plain, the logs' escape codes removed",
        group: "Output",
      },
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
    if (follow) {
      // Following ends with the run: say how it ended when it did not succeed, and exit as
      // --wait does, so a script sees a canceled or failed run.
      const end = await api.runDetail(pipeline.id, detail.id);
      if (TERMINAL_STATUSES.has(end.status) && end.status !== "COMPLETED") {
        ctx.note(`${label} ended ${colorStatus(ctx.errStyle, end.status)}`);
        return EXIT.RUN_FAILED;
      }
    }
    return EXIT.OK;
  },
};

/** What `status` says of the run that started this one as a sub-pipeline. */
interface ParentLine {
  readonly label: string;
  readonly step: string;
}

/** The parent run of a child run, as `started by parent#N step X`; null for other runs. */
async function parentOf(api: ProjectApi, d: RunDetail): Promise<ParentLine | null> {
  const p = d.parent_run;
  if (!p) return null;
  try {
    const parent = await api.runDetail(p.pipeline_id, p.pipeline_run_id);
    const step = parent.stages
      .flatMap((s) => s.jobs.flatMap((j) => j.steps))
      .find((s) => s.id === p.step_run_id);
    return { label: runLabel(parent.name, parent.run_number), step: step?.name ?? p.step_run_id };
  } catch {
    // Gone (retention) or hidden from the caller by the parent pipeline's permissions: the ids.
    return { label: `run ${p.pipeline_run_id} of pipeline ${p.pipeline_id}`, step: p.step_run_id };
  }
}

function statusText(ctx: Ctx, d: RunDetail, label: string, parent: ParentLine | null = null): string {
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
  if (parent) lines.push(`started by ${style.bold(parent.label)} step ${parent.step}`);
  // A run a code event started says which: the event, branch or tag, commit, author and message.
  const event = describeCodeEvent(d.sources);
  if (event) lines.push(event);
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
            : step.sub_pipeline_run
              ? `  → ${runLabel(step.sub_pipeline_run.pipeline_name, step.sub_pipeline_run.run_number)} ${colorStatus(style, step.sub_pipeline_run.status)}`
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
    description: `${RUN_HELP}

A run a code event started (trigger Push, CreateTag or MR) also shows the event, its branch or
tag, the commit, its author and the first line of its message. A run a sub-pipeline step started
says so (started by PARENT#N step STEP), and a sub-pipeline step shows its child run
(→ CHILD#M STATUS).`,
    options: [PIPELINE_OPTION, ...CLIENT_OPTIONS],
    minArgs: 1,
    maxArgs: 1,
    examples: ["pipewright status build", "pipewright status 'build#3' --json | jq -r .status"],
  },
  async run(ctx) {
    const api = await ctx.project();
    const { pipeline, detail } = await resolveRun(api, ctx.args.positionals[0]!, ctx.args.str("pipeline"));
    if (ctx.json) ctx.out(`${JSON.stringify(detail, null, 2)}\n`);
    else
      ctx.out(
        statusText(ctx, detail, runLabel(pipeline.name, detail.run_number), await parentOf(api, detail)),
      );
    return EXIT.OK;
  },
};

export const runInspectCommands: readonly Command[] = [status, logs];
