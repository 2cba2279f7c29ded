// The contract between the server and what executes jobs: the runner agent (embedded or remote)
// gets assignments like this one and runs them with the local runner. A job's steps run in order in one workspace; the scheduler learns of
// progress through a reporter and of the end through the returned outcome.

import type { Readable } from "node:stream";
import type { StepOutput } from "../pipeline/outputs.js";

export interface StepAssignment {
  readonly id: string;
  readonly identifier: string;
  readonly name: string;
  readonly task: string;
  readonly inputs: readonly { readonly key: string; readonly value: unknown }[];
}

export interface JobAssignment {
  readonly jobRunId: string;
  readonly runId: string;
  readonly attempt: number;
  /** All steps of the job; execution starts at `startStep` (a job resumes after a review). */
  readonly steps: readonly StepAssignment[];
  readonly startStep: number;
  /** Variables and system values (PIPELINE_RUN_ID, WORKSPACE is added by the runner). */
  readonly env: Readonly<Record<string, string>>;
  /** Values masked as `***` in every log line. */
  readonly secrets: readonly string[];
  /** The run's code sources (CodeArts `sources`), for checkout steps. */
  readonly sources: readonly unknown[];
  readonly timeoutMs: number;
  readonly maxLogBytes: number;
  /** The runner labels the job asked for (`no-network`: run it without network). */
  readonly labels: readonly string[];
  /** What the job keeps once its steps complete (uploaded before its last step is reported). */
  readonly artifacts: readonly { readonly name: string; readonly paths: readonly string[] }[];
  /** Artifacts of earlier jobs of the run, written into the workspace before the first step. */
  readonly downloads: readonly string[];
  readonly maxArtifactBytes: number;
  /** Files restored by key before the first step that is not a checkout, saved after a miss. */
  readonly cache: { readonly key: string; readonly paths: readonly string[] } | null;
  readonly maxCacheBytes: number;
}

export type StepOutcomeStatus = "COMPLETED" | "FAILED" | "CANCELED";

export interface JobReporter {
  /** Resolves once the step's RUNNING state is stored; only then does the step's process start. */
  stepStarted(stepId: string): Promise<void>;
  /** Masked, capped log text of a running step, in order. Must not throw. */
  stepOutput(stepId: string, text: string): void;
  /** `outputs`: what the step wrote to its outputs file, masked (none: it wrote nothing). */
  stepFinished(
    stepId: string,
    status: StepOutcomeStatus,
    message: string | null,
    outputs?: readonly StepOutput[],
  ): Promise<void>;
  /**
   * Sends what the job keeps under `name` to the server; answers its hash and size. `body` makes
   * the bytes afresh: a try cut short (a replica stopping, the database away) is sent again.
   */
  uploadArtifact(
    name: string,
    body: () => Readable,
  ): Promise<{ readonly sha256: string; readonly size: number }>;
  /** An earlier job's artifact the job asks for. */
  downloadArtifact(name: string): Promise<Readable>;
  /** The cache entry of `key` for the job's pipeline and branch; undefined on a miss. */
  restoreCache(key: string): Promise<Readable | undefined>;
  /** Saves the job's cache under `key` (the server keeps the first entry of a key); `body` as above. */
  saveCache(key: string, body: () => Readable): Promise<{ readonly sha256: string; readonly size: number }>;
}

export interface JobOutcome {
  readonly status: StepOutcomeStatus;
  /**
   * Index of the first step that did not complete. With status COMPLETED and nextStep short of
   * the last step, the job stopped before a step the runner does not execute (a manual review).
   */
  readonly nextStep: number;
  readonly message: string | null;
}

export interface JobRunner {
  runJob(job: JobAssignment, reporter: JobReporter, signal: AbortSignal): Promise<JobOutcome>;
}
