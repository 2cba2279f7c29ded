// The predefined (system) variables Pipewright puts into every step's environment: one list, read
// by the engine when it builds a job's environment, by the runner for the two it sets itself, and
// by `list-system-vars` / `run-variables?mode=1`, so what the API says is what a step gets.

import { OUTPUT_FILE_VARIABLE } from "./outputs.js";

/** The workspace directory of the job (set by the runner, which makes it). */
export const WORKSPACE_VARIABLE = "WORKSPACE";

/**
 * What a system variable's value depends on: only the pipeline (known before any run), the run,
 * the job, or the step.
 */
export type SystemVariableScope = "pipeline" | "run" | "job" | "step";

/** The facts the engine-set values come from; the run and the job where they are known. */
export interface SystemValueSource {
  readonly projectId: string;
  readonly pipelineId: string;
  readonly pipelineName: string;
  readonly run?: { readonly id: string; readonly number: number; readonly triggerType: string };
  readonly job?: {
    readonly stageIdentifier: string;
    readonly jobIdentifier: string;
    readonly jobRunId: string;
  };
}

export interface SystemVariable {
  readonly name: string;
  readonly description: string;
  readonly scope: SystemVariableScope;
  /** Who sets it: the engine (in the job's environment) or the runner (the workspace, the outputs file). */
  readonly setBy: "engine" | "runner";
  /** The engine's value; undefined where `s` does not tell it. */
  readonly value?: (s: SystemValueSource) => string | undefined;
}

export const SYSTEM_VARIABLES: readonly SystemVariable[] = [
  {
    name: "CI",
    description: "Always true: the step runs in CI.",
    scope: "pipeline",
    setBy: "engine",
    value: () => "true",
  },
  {
    name: "PIPEWRIGHT",
    description: "Always true: the step runs under Pipewright.",
    scope: "pipeline",
    setBy: "engine",
    value: () => "true",
  },
  {
    name: "PROJECT_ID",
    description: "ID of the project of the pipeline.",
    scope: "pipeline",
    setBy: "engine",
    value: (s) => s.projectId,
  },
  {
    name: "PIPELINE_ID",
    description: "ID of the pipeline.",
    scope: "pipeline",
    setBy: "engine",
    value: (s) => s.pipelineId,
  },
  {
    name: "PIPELINE_NAME",
    description: "Name of the pipeline.",
    scope: "pipeline",
    setBy: "engine",
    value: (s) => s.pipelineName,
  },
  {
    name: "PIPELINE_RUN_ID",
    description: "ID of the pipeline run.",
    scope: "run",
    setBy: "engine",
    value: (s) => s.run?.id,
  },
  {
    name: "PIPELINE_RUN_NUMBER",
    description: "Number of the run within its pipeline (1, 2, …).",
    scope: "run",
    setBy: "engine",
    value: (s) => s.run && String(s.run.number),
  },
  {
    name: "BUILDNUMBER",
    description: "The run number again, under CodeArts's name.",
    scope: "run",
    setBy: "engine",
    value: (s) => s.run && String(s.run.number),
  },
  {
    name: "PIPELINE_TRIGGER_TYPE",
    description: "How the run was started (Manual, Scheduler, webhook event, …).",
    scope: "run",
    setBy: "engine",
    value: (s) => s.run?.triggerType,
  },
  {
    name: "STAGE_ID",
    description: "Identifier of the stage of the job.",
    scope: "job",
    setBy: "engine",
    value: (s) => s.job?.stageIdentifier,
  },
  {
    name: "JOB_ID",
    description: "Identifier of the job.",
    scope: "job",
    setBy: "engine",
    value: (s) => s.job?.jobIdentifier,
  },
  {
    name: "JOB_RUN_ID",
    description: "ID of the job's run.",
    scope: "job",
    setBy: "engine",
    value: (s) => s.job?.jobRunId,
  },
  {
    name: WORKSPACE_VARIABLE,
    description: "The job's workspace directory, where steps start.",
    scope: "job",
    setBy: "runner",
  },
  {
    name: OUTPUT_FILE_VARIABLE,
    description: "Shell steps: the file to write name=value outputs to, for later jobs.",
    scope: "step",
    setBy: "runner",
  },
];

/** The engine-set values `s` tells (the run- and job-level ones only where it gives them). */
export function systemValues(s: SystemValueSource): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of SYSTEM_VARIABLES) {
    const value = v.value?.(s);
    if (value !== undefined) out[v.name] = value;
  }
  return out;
}
