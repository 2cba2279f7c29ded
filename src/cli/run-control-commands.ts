// Commands that act on a running run: stop, and review pass|refuse of a manual review.

import { CHECKPOINT_TASK } from "../pipeline/vocabulary.js";
import { CliError, EXIT, usageError } from "./cli-error.js";
import { CLIENT_OPTIONS, type Command } from "./command.js";
import { PIPELINE_OPTION, RUN_HELP, resolveRun, runLabel } from "./refs.js";
import { pickSteps, type StepPos, stepsOf } from "./steps.js";

const STEP_NOT_WAITING = "DEVPIPE.00020222";
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

export const runControlCommands: readonly Command[] = [stop, reviewCommand("pass"), reviewCommand("refuse")];
