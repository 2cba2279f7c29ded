// The inputs each task Pipewright executes takes (spec §5.5): checked at definition time with the
// path of the offending input, and read back (typed) by the scheduler and the runner.

import { invalidDefinition as bad } from "./issues.js";
import { LIMITS } from "./limits.js";
import type { StepDef, StepInput } from "./types.js";
import {
  CHECKPOINT_TASK,
  GIT_CLONE_TASK,
  SHELL_SCRIPT_INPUT,
  SHELL_TASK,
  type TaskName,
} from "./vocabulary.js";

export const MAX_TIMEOUT_SECONDS = LIMITS.timeoutSeconds;
export const CHECKPOINT_TIMEOUT_STRATEGIES = ["reject", "pass"] as const;
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
