// The inputs each task Pipewright executes takes (spec §5.5): checked at definition time with the
// path of the offending input, and read back (typed) by the scheduler and the runner.

import { invalidDefinition as bad } from "./issues.js";
import { LIMITS } from "./limits.js";
import type { StepDef, StepInput } from "./types.js";
import {
  BUILD_TASK,
  CHECKPOINT_TASK,
  COMMAND_INPUT,
  CONTAINER_TASK,
  DELAY_TASK,
  GIT_CLONE_TASK,
  ID_PATTERN,
  SHELL_SCRIPT_INPUT,
  SHELL_TASK,
  SUBPIPELINE_TASK,
  SUSPEND_TASK,
  type TaskName,
} from "./vocabulary.js";

export const MAX_TIMEOUT_SECONDS = LIMITS.timeoutSeconds;
export const CHECKPOINT_TIMEOUT_STRATEGIES = ["reject", "pass"] as const;
/** How several approvers decide a review (CodeArts's checkStrategy): all of them, or any one. */
export const CHECK_STRATEGIES = ["all", "any"] as const;
export type CheckStrategy = (typeof CHECK_STRATEGIES)[number];

/**
 * The sub-pipeline task's inputs as the CodeArts editor writes them (the child pipeline's id and
 * the branch), with the short names of the manual's YAML form (`pipelineId`, `branch`) accepted
 * too. Every other input is a variable of the child run.
 */
export const SUBPIPELINE_ID_INPUTS = ["SYSTEM_DEVCLOUD_SUBPIPELINE_TRIGGER_ID", "pipelineId"] as const;
export const SUBPIPELINE_BRANCH_INPUTS = ["SYSTEM_DEVCLOUD_SUBPIPELINE_BRANCH", "branch"] as const;
/** The branch value that means "what the parent run was started at". */
export const PARENT_BRANCH = "PARENT";
export type CheckpointTimeoutStrategy = (typeof CHECKPOINT_TIMEOUT_STRATEGIES)[number];

/** CodeArts fills absent optional fields with null, so null means "use the default" throughout. */
export function absent(v: unknown): v is null | undefined {
  return v === undefined || v === null;
}

/**
 * Parse a duration of 1 s to 7 days: a number of seconds, a numeric string, or units such as
 * "90s", "30m", "2h", "1d", "1h30m". Returns null when the text is not a duration at all.
 */
export function parseDurationSeconds(v: unknown): number | null {
  if (typeof v === "number") return Number.isSafeInteger(v) ? v : null;
  if (typeof v !== "string") return null;
  const t = v.trim().toLowerCase();
  if (/^\d+$/.test(t)) return Number(t);
  const m = /^(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?$/.exec(t);
  if (!m || t === "") return null;
  const [, d, h, min, s] = m;
  return Number(d ?? 0) * 86400 + Number(h ?? 0) * 3600 + Number(min ?? 0) * 60 + Number(s ?? 0);
}

/** Index of input `key`, for error paths that point at the exact entry. */
function inputIndex(list: readonly StepInput[], key: string): number {
  return list.findIndex((i) => i.key === key);
}

export function checkTaskInputs(t: TaskName, list: readonly StepInput[], path: string): void {
  const at = (key: string): { value: unknown; path: string } | null => {
    const i = inputIndex(list, key);
    return i === -1 ? null : { value: list[i]?.value, path: `${path}.inputs[${i}].value` };
  };
  switch (t) {
    case SHELL_TASK: {
      const script = at(SHELL_SCRIPT_INPUT);
      if (!script) throw bad(`${path}.inputs`, `${SHELL_SCRIPT_INPUT} is required for ${t}`);
      if (typeof script.value !== "string") throw bad(script.path, `${SHELL_SCRIPT_INPUT} must be a string`);
      return;
    }
    case BUILD_TASK: {
      const command = at(COMMAND_INPUT);
      if (!command) {
        // A console export names a CodeArts Build task (jobId) and no command: say what is missing.
        const job = at("jobId");
        throw bad(
          `${path}.inputs`,
          `${COMMAND_INPUT} (the build's shell command) is required for ${t}` +
            (job ? `: a CodeArts Build task (jobId ${JSON.stringify(job.value)}) cannot run here` : ""),
        );
      }
      if (typeof command.value !== "string") throw bad(command.path, `${COMMAND_INPUT} must be a string`);
      return;
    }
    case CONTAINER_TASK: {
      const command = at(COMMAND_INPUT);
      if (!command) throw bad(`${path}.inputs`, `${COMMAND_INPUT} (run in the image) is required for ${t}`);
      if (typeof command.value !== "string") throw bad(command.path, `${COMMAND_INPUT} must be a string`);
      const image = at("image");
      if (!image) throw bad(`${path}.inputs`, `image (the container image to run) is required for ${t}`);
      // Only the image's name: a value starting with "-" would reach the runtime as an option.
      // An output expression is checked again by the runner once substituted.
      const problem = imageProblem(image.value);
      const later = typeof image.value === "string" && image.value.includes("${{");
      if (problem && !later) throw bad(image.path, `image ${problem}`);
      return;
    }
    case CHECKPOINT_TASK: {
      const timeout = at("timeout");
      if (timeout && !absent(timeout.value) && timeout.value !== "") {
        // Only plain seconds here: the checkpoint's own input is documented in seconds.
        const secs =
          typeof timeout.value === "number" ||
          (typeof timeout.value === "string" && /^\s*\d+\s*$/.test(timeout.value))
            ? Number(timeout.value)
            : Number.NaN;
        if (!Number.isSafeInteger(secs) || secs < 1 || secs > MAX_TIMEOUT_SECONDS) {
          throw bad(
            timeout.path,
            `timeout must be a whole number of seconds from 1 to ${MAX_TIMEOUT_SECONDS} (7 days)`,
          );
        }
      }
      const approvers = at("approvers");
      if (approvers && !absent(approvers.value)) {
        const names = approverList(approvers.value);
        if (names === null)
          throw bad(approvers.path, "approvers must be a comma-separated string or an array of strings");
        if (names.length > LIMITS.approvers) {
          throw bad(
            approvers.path,
            `names ${names.length} approvers, more than the limit of ${LIMITS.approvers} (limit approvers)`,
          );
        }
      }
      for (const key of ["check_strategy", "checkStrategy"]) {
        const cs = at(key);
        if (cs && !absent(cs.value) && cs.value !== "" && !CHECK_STRATEGIES.some((c) => c === cs.value)) {
          throw bad(cs.path, `${key} must be one of ${CHECK_STRATEGIES.join(", ")}`);
        }
      }
      const strategy = at("timeout_strategy");
      if (strategy && !absent(strategy.value) && strategy.value !== "") {
        if (!CHECKPOINT_TIMEOUT_STRATEGIES.some((s) => s === strategy.value)) {
          throw bad(
            strategy.path,
            `timeout_strategy must be one of ${CHECKPOINT_TIMEOUT_STRATEGIES.join(", ")}`,
          );
        }
      }
      return;
    }
    case SUBPIPELINE_TASK: {
      const ids = SUBPIPELINE_ID_INPUTS.map(at).filter((x) => x !== null);
      if (ids.length === 0) {
        throw bad(`${path}.inputs`, `${SUBPIPELINE_ID_INPUTS[0]} (the pipeline to run) is required for ${t}`);
      }
      if (ids.length > 1)
        throw bad(ids[1]!.path, `give the pipeline to run once (${SUBPIPELINE_ID_INPUTS.join(" or ")})`);
      const id = ids[0]!;
      if (typeof id.value !== "string" || !new RegExp(ID_PATTERN).test(id.value)) {
        throw bad(id.path, "must be the id of a pipeline of the project (32 letters and digits)");
      }
      for (const [i, input] of list.entries()) {
        const v = input.value;
        if (!absent(v) && typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
          throw bad(`${path}.inputs[${i}].value`, "must be a string, a number or a boolean");
        }
        if (typeof v === "string" && v.length > LIMITS.variableValueLength) {
          throw bad(
            `${path}.inputs[${i}].value`,
            `is longer than ${LIMITS.variableValueLength} characters (limit variableValueLength)`,
          );
        }
      }
      return;
    }
    case DELAY_TASK: {
      const type = at("timerType");
      if (type && !absent(type.value) && type.value !== "delay") {
        // A wall-clock time in a named time zone ("China Standard Time") needs a zone table
        // Pipewright does not have; refused plainly rather than guessed.
        throw bad(type.path, 'only timerType "delay" (wait delayTime seconds) is supported here');
      }
      const time = at("delayTime");
      if (!time) throw bad(`${path}.inputs`, `delayTime (seconds to wait) is required for ${t}`);
      const secs = plainSeconds(time.value);
      if (secs === null || secs < 1 || secs > LIMITS.delaySeconds) {
        throw bad(
          time.path,
          `delayTime must be a whole number of seconds from 1 to ${LIMITS.delaySeconds} (limit delaySeconds)`,
        );
      }
      return;
    }
    case SUSPEND_TASK:
      return;
    case GIT_CLONE_TASK: {
      for (const key of ["repository", "alias"]) {
        const input = at(key);
        if (input && !absent(input.value) && typeof input.value !== "string") {
          throw bad(input.path, `${key} must be a string`);
        }
      }
      const dir = at("path");
      if (dir && !absent(dir.value)) {
        if (typeof dir.value !== "string") throw bad(dir.path, "path must be a string");
        const problem = relativePathProblem(dir.value);
        if (problem) throw bad(dir.path, `path ${problem}`);
      }
      return;
    }
  }
}

/** The characters of an image reference (`registry:port/name:tag@sha256:…`), not starting with `-`. */
const IMAGE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,511}$/;

/** Why `v` is not a container image reference, or null if it is one. */
export function imageProblem(v: unknown): string | null {
  if (typeof v !== "string") return "must be a string";
  if (!IMAGE_PATTERN.test(v))
    return "must be an image reference such as swr.example.com/team/app:1.0 (letters, digits and . _ / : @ -, not starting with -)";
  return null;
}

/** Why `p` is not a directory inside the workspace, or null if it is one. */
function relativePathProblem(p: string): string | null {
  if (p.includes("\0")) return "must not contain NUL characters";
  if (p.startsWith("/") || p.startsWith("\\") || /^[A-Za-z]:/.test(p))
    return "must be relative to the workspace";
  if (p.split(/[/\\]/).includes("..")) return "must not contain '..'";
  return null;
}

/** The value of a step input, or undefined when the step does not carry it. */
export function stepInput(step: StepDef, key: string): unknown {
  return step.inputs.find((i) => i.key === key)?.value;
}

/** The manual-review settings of an `official_devcloud_checkpoint` step (already validated). */
export function checkpointSettings(step: StepDef): {
  timeoutSeconds: number | null;
  timeoutStrategy: CheckpointTimeoutStrategy;
} {
  const t = stepInput(step, "timeout");
  const s = stepInput(step, "timeout_strategy");
  return {
    timeoutSeconds: absent(t) || t === "" ? null : parseDurationSeconds(t),
    // Failing closed: a review nobody answers is refused unless the step says `pass`.
    timeoutStrategy: s === "pass" ? "pass" : "reject",
  };
}

/** Seconds given as a number or a numeric string, or null. */
function plainSeconds(v: unknown): number | null {
  if (typeof v === "number") return Number.isSafeInteger(v) ? v : null;
  if (typeof v === "string" && /^\s*\d+\s*$/.test(v)) return Number(v);
  return null;
}

/** The approvers a review names: a comma-separated string or an array of strings; null if neither. */
export function approverList(v: unknown): string[] | null {
  if (absent(v) || v === "") return [];
  const items = typeof v === "string" ? v.split(",") : Array.isArray(v) ? v : null;
  if (items === null || items.some((x) => typeof x !== "string")) return null;
  return [...new Set((items as string[]).map((x) => x.trim()).filter(Boolean))];
}

/** Who decides a manual review and how: nobody named means anyone with execute permission. */
export function approvalSettings(step: StepDef): { approvers: string[]; strategy: CheckStrategy } {
  const cs = stepInput(step, "check_strategy") ?? stepInput(step, "checkStrategy");
  return {
    approvers: approverList(stepInput(step, "approvers")) ?? [],
    // CodeArts's default in the editor is "all".
    strategy: cs === "any" ? "any" : "all",
  };
}

/** The pipeline a sub-pipeline step runs, its branch choice, and the child run's variables. */
export function subpipelineSettings(step: StepDef): {
  pipelineId: string;
  branch: string | null;
  variables: { name: string; value: string }[];
} {
  const own = new Set<string>([...SUBPIPELINE_ID_INPUTS, ...SUBPIPELINE_BRANCH_INPUTS]);
  const id = SUBPIPELINE_ID_INPUTS.map((k) => stepInput(step, k)).find((v) => typeof v === "string");
  const b = SUBPIPELINE_BRANCH_INPUTS.map((k) => stepInput(step, k)).find((v) => typeof v === "string");
  return {
    pipelineId: id as string,
    branch: typeof b === "string" && b.trim() !== "" && b !== PARENT_BRANCH ? b.trim() : null,
    variables: step.inputs
      .filter((i) => !own.has(i.key) && !absent(i.value))
      .map((i) => ({ name: i.key, value: String(i.value) })),
  };
}

/** How long a delay step waits (already validated), in seconds. */
export function delaySeconds(step: StepDef): number {
  return plainSeconds(stepInput(step, "delayTime")) ?? 1;
}
