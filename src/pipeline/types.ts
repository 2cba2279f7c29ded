// Domain types of a pipeline: the normalised form of CodeArts's `definition` JSON (spec §5.1),
// its variables (§5.2) and concurrency control (§5.4). Status and task names: vocabulary.ts.

import type { ArtifactDecl } from "./artifacts.js";
import type { CacheDecl } from "./caches.js";
import type { TaskName } from "./vocabulary.js";

export interface StepInput {
  readonly key: string;
  readonly value: unknown;
}

export interface StepDef {
  readonly name: string;
  readonly identifier: string;
  readonly task: TaskName;
  readonly sequence: number;
  readonly inputs: readonly StepInput[];
  /** Everything else the client sent for the step, echoed back in run detail. */
  readonly extra: Readonly<Record<string, unknown>>;
}

export interface JobDef {
  readonly name: string;
  readonly identifier: string;
  readonly sequence: number;
  readonly depends_on: readonly string[];
  /** `${{ … }}` expression; defaults to `${{ default() }}`. */
  readonly condition: string;
  /** Job timeout in seconds, or null for the server default. */
  readonly timeoutSeconds: number | null;
  /** The raw `timeout` string as the client sent it (echoed back). */
  readonly timeout: string;
  /** `resource` JSON string as sent (labels for runner selection live in it). */
  readonly resource: string;
  readonly steps: readonly StepDef[];
  /** Ours: what the job keeps once its steps complete, and what of earlier jobs it gets first. */
  readonly artifacts: readonly ArtifactDecl[];
  readonly download_artifacts: readonly string[];
  /** Ours: files kept between runs of the pipeline (and branch), by key. */
  readonly cache: CacheDecl | null;
  readonly extra: Readonly<Record<string, unknown>>;
}

export interface StageDef {
  readonly name: string;
  readonly identifier: string;
  readonly sequence: number;
  readonly depends_on: readonly string[];
  readonly run_always: boolean;
  readonly jobs: readonly JobDef[];
  readonly extra: Readonly<Record<string, unknown>>;
}

export interface Definition {
  /** Stages sorted by `sequence`; jobs and steps likewise. */
  readonly stages: readonly StageDef[];
}

export const VARIABLE_TYPES = ["string", "enum", "autoIncrement"] as const;
export type VariableType = (typeof VARIABLE_TYPES)[number];

export interface Variable {
  readonly name: string;
  readonly sequence: number;
  readonly type: VariableType;
  readonly value: string;
  readonly is_secret: boolean;
  readonly description: string;
  readonly is_runtime: boolean;
  readonly limits: readonly string[];
  readonly is_reset: boolean;
  readonly latest_value: string;
}

export const EXCEED_ACTIONS = ["ABORT", "QUEUE"] as const;
export type ExceedAction = (typeof EXCEED_ACTIONS)[number];

export interface ConcurrencyControl {
  readonly concurrency_number: number;
  readonly exceed_action: ExceedAction;
  readonly enable: boolean;
  /**
   * Ours: a new run at a branch stops the pipeline's older unfinished runs at the same branch
   * (GitLab's interruptible, GitHub's cancel-in-progress). Independent of `enable`.
   */
  readonly supersede: boolean;
}
