// Executes jobs on this machine: one workspace directory per job, each step a real process
// (bash for shell steps, git for checkouts), its output decoded, masked and capped as it streams.

import fs from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { StringDecoder } from "node:string_decoder";
import { type Clock, systemClock } from "../clock.js";
import { renderCacheKey } from "../pipeline/caches.js";
import { cloneUrlProblem } from "../pipeline/environment.js";
import { LIMITS } from "../pipeline/limits.js";
import { OUTPUT_FILE_VARIABLE, parseOutputs, type StepOutput } from "../pipeline/outputs.js";
import { WORKSPACE_VARIABLE } from "../pipeline/system-variables.js";
import {
  BUILD_TASK,
  COMMAND_INPUT,
  CONTAINER_TASK,
  GIT_CLONE_TASK,
  NO_CONTAINER_RUNTIME_CODE,
  SCRIPT_TASKS,
  SERVER_TASKS,
  SHELL_SCRIPT_INPUT,
  SHELL_TASK,
} from "../pipeline/vocabulary.js";
import {
  ArtifactRefused,
  artifactStream,
  collectArtifact,
  extractArtifact,
  hashWorkspaceFiles,
  NothingMatches,
} from "./artifacts.js";
import { containerScript } from "./container.js";
import { FULL_COMMIT, gitClone } from "./git-clone.js";
import type { StepGroups } from "./groups.js";
import type {
  JobAssignment,
  JobOutcome,
  JobReporter,
  JobRunner,
  StepAssignment,
  StepOutcomeStatus,
} from "./job.js";
import type { Lane, Lanes } from "./lanes.js";
import { createLogCap } from "./log-cap.js";
import { createMasker } from "./mask.js";
import { createOutputFile, type OutputFile, readOutputFile } from "./output-file.js";
import type { HostEnv, Launcher, OutputStream, ProcessResult } from "./process.js";
import { NO_NETWORK_LABEL, NO_SANDBOX, type Sandbox, type SandboxSpec } from "./sandbox.js";
import { RUNNER_DIR, runShellScript, type StepFilesDir, workspaceFiles } from "./shell.js";
import { createSpareDirs, type SpareDirs } from "./spare-dirs.js";
import { pausedMarker, SPARE_DIR } from "./work-dir.js";

export interface LocalRunnerOptions {
  /** Directory under which each job gets `<run id>/<job run id>`. */
  readonly workRoot: string;
  readonly hostEnv: HostEnv;
  /** Grace between SIGTERM and SIGKILL when a job is stopped or times out. */
  readonly killGraceMs: number;
  /** Clones of local paths and file:// URLs (off: only network URLs). */
  readonly allowLocalClone: boolean;
  /** Times job timeouts; the system clock by default. */
  readonly clock?: Clock;
  /** Where step process groups are recorded before their commands run. */
  readonly groups?: StepGroups | undefined;
  /** Where steps run (none: as the runner's user, on its file system). */
  readonly sandbox?: Sandbox | undefined;
  /** Every job runs without network (a runner started with --no-network). */
  readonly noNetwork?: boolean | undefined;
  /** Starts step processes (the runner's forkserver); spawned from this process by default. */
  readonly launcher?: Launcher | undefined;
  /** Long-lived sandboxes per slot (lanes.ts); none: a sandbox per step. */
  readonly lanes?: Lanes | undefined;
  /** The docker or podman the container-image task runs through (`--container-runtime`); none: it fails. */
  readonly containerRuntime?: string | undefined;
}

const input = (step: StepAssignment, key: string): unknown => step.inputs.find((i) => i.key === key)?.value;

interface SourceParams {
  git_url?: string;
  alias?: string;
  default_branch?: string;
  build_params?: { target_branch?: string; tag?: string; build_type?: string; commit_id?: string };
}

export function createLocalRunner(opts: LocalRunnerOptions): JobRunner {
  const clock = opts.clock ?? systemClock;
  const sandbox = opts.sandbox ?? NO_SANDBOX;
  /** Workspaces with a trust config beside them (a sandboxed local clone). */
  const trusted = new Set<string>();
  /** Emptied directories kept for later jobs (spare-dirs.ts): where jobs run in lanes. */
  const lanes = opts.lanes;
  const spares =
    lanes && sandbox.kind !== "none" ? createSpareDirs(path.join(opts.workRoot, SPARE_DIR), 64) : undefined;
  /** Empties a lane job's workspace and keeps it for a later job; false: it could not. */
  const keepWorkspace = async (workspace: string, pool: SpareDirs): Promise<boolean> => {
    try {
      fs.rmdirSync(path.join(workspace, RUNNER_DIR));
    } catch {
      // not there (a lane's steps have their files elsewhere), or not empty: seen below
    }
    try {
      if (fs.readdirSync(workspace).length > 0) return false;
    } catch {
      return false;
    }
    return (await lanes!.scrub(workspace)) && pool.keep(workspace);
  };
  /** Slots in use: a job's slot picks its sandbox user. */
  const slots = new Set<number>();
  const takeSlot = (): number => {
    let i = 0;
    while (slots.has(i)) i++;
    slots.add(i);
    return i;
  };
  return {
    async runJob(job: JobAssignment, reporter: JobReporter, signal: AbortSignal): Promise<JobOutcome> {
      const workspace = path.join(opts.workRoot, job.runId, job.jobRunId);
      const runDir = path.dirname(workspace);
      if (spares && !fs.existsSync(runDir)) spares.take(runDir);
      if (!spares?.take(workspace)) {
        // The run's directory may go at this moment (another job of the run ended here): again.
        try {
          fs.mkdirSync(workspace, { recursive: true });
        } catch {
          fs.mkdirSync(workspace, { recursive: true });
        }
      }
      // A paused job resumed here runs again: killed now, its workspace is a leftover.
      try {
        fs.unlinkSync(pausedMarker(workspace));
      } catch {
        // not paused before (the common case)
      }
      const slot = takeSlot();
      const user = sandbox.userOf(slot);
      // The slot's user owns the workspace (and the step scripts in it), nothing else.
      if (user) fs.chownSync(workspace, user.uid, user.gid);
      const network = !(opts.noNetwork || job.labels.includes(NO_NETWORK_LABEL));
      // (A lane that cannot be had is no reason to fail the job: its steps get a sandbox each.)
      const lane =
        sandbox.kind === "none"
          ? undefined
          : await opts.lanes?.enter(slot, network, workspace).catch(() => undefined);
      const place: Place = {
        workspace,
        user,
        lane,
        files: lane?.files ?? workspaceFiles(workspace),
        sandbox: { sandbox, spec: { workspace, slot, network, lane: lane !== undefined } },
      };
      const deadline = clock.now() + job.timeoutMs;
      /** The cache key that missed at restore (then saved after the last step). */
      let cacheMiss: string | undefined;
      let outcome: JobOutcome = { status: "COMPLETED", nextStep: job.steps.length, message: null };
      try {
        for (let i = job.startStep; i < job.steps.length; i++) {
          const step = job.steps[i]!;
          // A manual review, a delay, a suspension or a sub-pipeline is the server's: the job
          // stops before it and resumes after it.
          if (SERVER_TASKS.has(step.task)) {
            outcome = { status: "COMPLETED", nextStep: i, message: null };
            return outcome;
          }
          if (signal.aborted) {
            outcome = { status: "CANCELED", nextStep: i, message: "stopped" };
            return outcome;
          }
          await reporter.stepStarted(step.id);
          const remaining = deadline - clock.now();
          // The artifacts the job asks for are in its workspace before its first step runs.
          let fetched =
            i === 0 && (job.downloads ?? []).length > 0
              ? await fetchArtifacts(job, place, step.id, reporter)
              : undefined;
          // Its cache before its first step that is not a checkout (the key may hash checked-out files).
          if (!fetched && job.cache && i === firstAfterCheckout(job)) {
            const restored = await restoreCache(job.cache, place, step.id, reporter);
            if ("failed" in restored) fetched = { status: "FAILED", message: restored.failed, outputs: [] };
            else cacheMiss = restored.miss;
          }
          let { status, message, outputs } =
            fetched ??
            (remaining <= 0
              ? { status: "FAILED" as const, message: timeoutMessage(job), outputs: [] }
              : await runStep(step, job, place, remaining, reporter, signal));
          // What the job keeps goes up with its last step, whose result it is part of.
          if (status === "COMPLETED" && i === job.steps.length - 1 && (job.artifacts ?? []).length > 0) {
            const kept = await keepArtifacts(job, place, step.id, reporter);
            if (kept) ({ status, message } = kept);
          }
          if (status === "COMPLETED" && i === job.steps.length - 1 && job.cache && cacheMiss) {
            const saved = await saveCache(job, job.cache, cacheMiss, place, step.id, reporter);
            if (saved) ({ status, message } = saved);
          }
          await reporter.stepFinished(step.id, status, message, outputs);
          if (status !== "COMPLETED") {
            outcome = { status, nextStep: i, message };
            return outcome;
          }
        }
        return outcome;
      } finally {
        const left = (await lane?.leave()) === true;
        slots.delete(slot);
        // A job paused before a review keeps its workspace for the steps after it.
        const paused = outcome.status === "COMPLETED" && outcome.nextStep < job.steps.length;
        // Said on disk, so that a runner started after this one (an upgrade, a crash) keeps it.
        if (paused) await writeFile(pausedMarker(workspace), "", { mode: 0o600 }).catch(() => {});
        else {
          if (trusted.has(workspace)) await rm(`${workspace}.gitconfig`, { force: true }).catch(() => {});
          trusted.delete(workspace);
          // A lane's job left no process that could still reach its workspace: emptied and
          // scrubbed, the directory serves a later job.
          if (!(left && spares && (await keepWorkspace(workspace, spares)))) await removeWorkspace(workspace);
          // The run's directory goes with its last job here (rmdir refuses while others remain).
          if (!spares?.keep(runDir)) {
            try {
              fs.rmdirSync(runDir);
            } catch {
              // other jobs of the run are still here
            }
          }
        }
      }
    },
  };

  async function runStep(
    step: StepAssignment,
    job: JobAssignment,
    place: Place,
    timeoutMs: number,
    reporter: JobReporter,
    signal: AbortSignal,
  ): Promise<{ status: StepOutcomeStatus; message: string | null; outputs: StepOutput[] }> {
    const masker = createMasker(job.secrets);
    const cap = createLogCap(job.maxLogBytes);
    const decoders: Record<OutputStream, StringDecoder> = {
      stdout: new StringDecoder("utf8"),
      stderr: new StringDecoder("utf8"),
    };
    const emit = (text: string): void => {
      if (text === "") return;
      const kept = cap.push(masker.push(text));
      if (kept !== "") reporter.stepOutput(step.id, kept);
    };
    const onOutput = (chunk: Buffer, stream: OutputStream): void => emit(decoders[stream].write(chunk));
    const { workspace } = place;
    const env: Record<string, string> = { ...job.env, [WORKSPACE_VARIABLE]: workspace };
    // In a sandbox the runner's HOME is out of reach: steps get the private /tmp.
    if (place.sandbox.sandbox.kind !== "none" && env.HOME === undefined) env.HOME = "/tmp";
    const recorded: number[] = [];
    const onSpawn = (pid: number): void => {
      opts.groups?.record(pid, `${job.jobRunId}/${job.attempt}`);
      recorded.push(pid);
    };
    const common = {
      onSpawn,
      sandbox: place.sandbox,
      owner: place.user,
      cwd: workspace,
      env,
      hostEnv: opts.hostEnv,
      signal,
      timeoutMs,
      onOutput,
      killGraceMs: opts.killGraceMs,
      clock,
      launcher: place.lane?.launcher ?? opts.launcher,
      files: place.files,
    };

    // A shell step (a build or container step too) may leave outputs for later jobs in the file
    // $PIPEWRIGHT_OUTPUT names.
    let outputFile: OutputFile | undefined;
    if (SCRIPT_TASKS.has(step.task)) {
      try {
        outputFile = createOutputFile(place.files, place.user);
      } catch {
        // no outputs for this step (the runner directory could not be made: the script fails too)
      }
      if (outputFile) env[OUTPUT_FILE_VARIABLE] = outputFile.seen;
    }
    let result: ProcessResult;
    try {
      result = await runTask();
    } finally {
      for (const pid of recorded) opts.groups?.forget(pid);
      // What the step left running or in /tmp goes with it, as with a sandbox of its own.
      await place.lane?.reset();
    }
    const outputs = outputFile ? readOutputs(outputFile) : [];
    return { ...conclude(result), outputs };

    /** The step's outputs, masked; what was refused is said in its log (its result stays). */
    function readOutputs(file: OutputFile): StepOutput[] {
      const read = readOutputFile(place.files, file, place.user);
      const problems: string[] = [];
      let outputs: StepOutput[] = [];
      if ("error" in read) problems.push(read.error);
      else if (read.bytes > 0) {
        const parsed = parseOutputs(read.text, read.bytes);
        problems.push(...parsed.problems);
        for (const o of parsed.outputs) {
          const m = createMasker(job.secrets);
          const value = m.push(o.value) + m.flush();
          if (value.length > LIMITS.stepOutputValueLength) {
            problems.push(
              `output ${o.key}: its value is longer than ${LIMITS.stepOutputValueLength} characters`,
            );
          } else outputs.push({ key: o.key, value });
        }
      }
      if (problems.length > 0) outputs = outputs.slice(0, LIMITS.stepOutputs);
      for (const p of problems) emit(`[pipewright] outputs refused: ${p}\n`);
      const tail = cap.push(masker.flush());
      if (tail !== "") reporter.stepOutput(step.id, tail);
      return outputs;
    }

    async function runTask(): Promise<ProcessResult> {
      if (step.task === SHELL_TASK) {
        return runShellScript({ ...common, script: String(input(step, SHELL_SCRIPT_INPUT) ?? "") });
      } else if (step.task === BUILD_TASK) {
        return runShellScript({ ...common, script: String(input(step, COMMAND_INPUT) ?? "") });
      } else if (step.task === CONTAINER_TASK) {
        return runInContainer();
      } else if (step.task === GIT_CLONE_TASK) {
        const src = pickSource(
          job.sources,
          (input(step, "repository") ?? input(step, "alias")) as string | undefined,
        );
        if (!src?.git_url) {
          emit("[pipewright] no source to check out: start the run with `sources` holding a git_url\n");
          return refusal("no source to check out");
        }
        const ref =
          src.build_params?.tag || src.build_params?.target_branch || src.default_branch || undefined;
        const dir = String(input(step, "path") ?? "") || ".";
        // The event's commit, so that a run builds what was pushed, not what the branch became.
        const commit = src.build_params?.commit_id?.toLowerCase() || undefined;
        if (commit !== undefined && !FULL_COMMIT.test(commit)) {
          emit(
            `[pipewright] not cloning: build_params.commit_id ${JSON.stringify(commit)} is not a full commit id\n`,
          );
          return refusal("build_params.commit_id is not a full commit id");
        }
        emit(
          `[pipewright] git clone ${src.git_url}${ref ? ` (${ref})` : ""}${commit ? ` at ${commit}` : ""} into ${dir}\n`,
        );
        const refused = cloneUrlProblem(src.git_url, opts.allowLocalClone);
        if (refused) {
          emit(`[pipewright] not cloning ${src.git_url}: it ${refused}\n`);
          return refusal(`git_url ${refused}`);
        }
        let trustConfig: string | undefined;
        let sandboxed = common.sandbox;
        if (opts.allowLocalClone && place.user) {
          // Beside the workspace (a clone into "." needs it empty), readable in the sandbox.
          trustConfig = `${workspace}.gitconfig`;
          trusted.add(workspace);
          await writeFile(trustConfig, "[safe]\n\tdirectory = *\n", { mode: 0o644 });
          // A file the lane does not show: this checkout gets a sandbox of its own.
          sandboxed = { ...sandboxed, spec: { ...sandboxed.spec, readOnly: [trustConfig], lane: false } };
        }
        return gitClone({
          ...common,
          ...(trustConfig ? { launcher: opts.launcher } : {}),
          sandbox: sandboxed,
          url: src.git_url,
          ref,
          commit,
          dir,
          allowLocal: opts.allowLocalClone,
          trustConfig,
        });
      }
      emit(`[pipewright] task ${step.task} cannot run on this runner\n`);
      return refusal(`unsupported task ${step.task}`);
    }

    async function runInContainer(): Promise<ProcessResult> {
      const image = String(input(step, "image") ?? "");
      if (!opts.containerRuntime) {
        const why = `${NO_CONTAINER_RUNTIME_CODE}: no container runtime on this runner to run image ${image}: start the runner (or pipewright serve, for its embedded runner) with --container-runtime PATH (docker or podman)`;
        emit(`[pipewright] ${why}\n`);
        return refusal(why);
      }
      let script: string;
      try {
        script = containerScript({
          runtime: opts.containerRuntime,
          image,
          command: String(input(step, COMMAND_INPUT) ?? ""),
          workspace,
          envNames: Object.keys(env),
        });
      } catch (err) {
        // An image made of another job's output that is no image reference.
        emit(`[pipewright] not running the container: ${(err as Error).message}\n`);
        return refusal((err as Error).message);
      }
      emit(`[pipewright] ${opts.containerRuntime} run ${image}\n`);
      return runShellScript({ ...common, script });
    }

    function conclude(result: ProcessResult): { status: StepOutcomeStatus; message: string | null } {
      if (result.refused !== undefined) return { status: "FAILED", message: result.refused };
      emit(decoders.stdout.end() + decoders.stderr.end());
      const tail = cap.push(masker.flush());
      if (tail !== "") reporter.stepOutput(step.id, tail);

      if (result.aborted) return { status: "CANCELED", message: "stopped" };
      if (result.timedOut) {
        const msg = timeoutMessage(job);
        reporter.stepOutput(step.id, `\n[pipewright] ${msg}\n`);
        return { status: "FAILED", message: msg };
      }
      if (result.spawnError) {
        reporter.stepOutput(step.id, `[pipewright] ${result.spawnError}\n`);
        return { status: "FAILED", message: result.spawnError };
      }
      if (result.exitCode === 0) return { status: "COMPLETED", message: null };
      return {
        status: "FAILED",
        message:
          result.exitCode !== null ? `exit code ${result.exitCode}` : `killed by signal ${result.signal}`,
      };
    }
  }
}

/**
 * Removes a job's workspace. Most jobs leave only the runner's empty step-script dir: two
 * rmdirs do it; anything else takes the recursive walk.
 */
/**
 * The fast path is two synchronous rmdirs (a step that left nothing behind); a workspace with
 * files in it goes through the asynchronous recursive rm, which does not hold the event loop.
 */
async function removeWorkspace(workspace: string): Promise<void> {
  try {
    try {
      fs.rmdirSync(path.join(workspace, RUNNER_DIR));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    fs.rmdirSync(workspace);
  } catch {
    await rm(workspace, { recursive: true, force: true }).catch(() => {});
  }
}

/** Where a job's steps run. */
interface Place {
  readonly workspace: string;
  readonly user: { readonly uid: number; readonly gid: number } | undefined;
  readonly sandbox: { readonly sandbox: Sandbox; readonly spec: SandboxSpec };
  /** The slot's long-lived sandbox the job's workspace is mounted in; undefined: a sandbox per step. */
  readonly lane: Lane | undefined;
  /** Where a step's script and outputs file go (the lane's own dir, or the workspace's). */
  readonly files: StepFilesDir;
}

/** A step refused before any process started. */
const refusal = (message: string): ProcessResult => ({
  exitCode: null,
  signal: null,
  durationMs: 0,
  timedOut: false,
  aborted: false,
  refused: message,
});

function timeoutMessage(job: JobAssignment): string {
  return `job timed out after ${Math.round(job.timeoutMs / 1000)} s; its processes were killed`;
}

function pickSource(sources: readonly unknown[], alias: string | undefined): SourceParams | undefined {
  const params = sources.map((s) => (s as { params?: SourceParams }).params ?? {});
  if (alias) return params.find((p) => p.alias === alias);
  return params[0];
}

const size = (n: number): string =>
  n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;

/** Writes the artifacts the job asks for into its workspace; a failure fails the step. */
async function fetchArtifacts(
  job: JobAssignment,
  place: Place,
  stepId: string,
  reporter: JobReporter,
): Promise<{ status: StepOutcomeStatus; message: string; outputs: [] } | undefined> {
  for (const name of job.downloads) {
    try {
      const files = await extractArtifact(place.workspace, await reporter.downloadArtifact(name), place.user);
      reporter.stepOutput(stepId, `[pipewright] artifact ${name}: ${files} files into the workspace\n`);
    } catch (err) {
      const message = `artifact ${name}: ${(err as Error).message}`;
      reporter.stepOutput(stepId, `[pipewright] ${message}\n`);
      return { status: "FAILED", message, outputs: [] };
    }
  }
  return undefined;
}

/** Sends what the job keeps; answers the step's failure when something could not be kept. */
async function keepArtifacts(
  job: JobAssignment,
  place: Place,
  stepId: string,
  reporter: JobReporter,
): Promise<{ status: StepOutcomeStatus; message: string } | undefined> {
  for (const a of job.artifacts) {
    try {
      const c = await collectArtifact(place.workspace, a.name, a.paths, place.user, job.maxArtifactBytes);
      const info = await reporter.uploadArtifact(a.name, () => artifactStream(c));
      reporter.stepOutput(
        stepId,
        `[pipewright] artifact ${a.name}: ${c.entries.length} files, ${size(info.size)} kept (sha256 ${info.sha256.slice(0, 12)})\n`,
      );
    } catch (err) {
      const message =
        err instanceof ArtifactRefused
          ? err.message
          : `artifact ${a.name} could not be kept: ${(err as Error).message}`;
      reporter.stepOutput(stepId, `[pipewright] ${message}\n`);
      return { status: "FAILED", message };
    }
  }
  return undefined;
}

/** The index of the job's first step that is not a checkout (its cache is restored before it). */
function firstAfterCheckout(job: JobAssignment): number {
  const i = job.steps.findIndex((s) => s.task !== GIT_CLONE_TASK);
  return i < 0 ? job.steps.length - 1 : i;
}

async function cacheKey(cache: NonNullable<JobAssignment["cache"]>, place: Place) {
  return renderCacheKey(cache.key, (globs) => hashWorkspaceFiles(place.workspace, globs));
}

/** Restores the cache entry of the job's key; a miss is no error (answers the key to save). */
async function restoreCache(
  cache: NonNullable<JobAssignment["cache"]>,
  place: Place,
  stepId: string,
  reporter: JobReporter,
): Promise<{ miss: string | undefined } | { failed: string }> {
  let key = "";
  try {
    key = await cacheKey(cache, place);
    const body = await reporter.restoreCache(key);
    if (!body) {
      reporter.stepOutput(stepId, `[pipewright] cache ${key}: not found, it is saved after the job\n`);
      return { miss: key };
    }
    const files = await extractArtifact(place.workspace, body, place.user, "keep");
    reporter.stepOutput(stepId, `[pipewright] cache ${key}: ${files} files restored\n`);
    return { miss: undefined };
  } catch (err) {
    const message = `cache ${key}: ${(err as Error).message}`;
    reporter.stepOutput(stepId, `[pipewright] ${message}\n`);
    return { failed: message };
  }
}

/** Saves the job's cache under the key that missed; a failure fails the last step, saying why. */
async function saveCache(
  job: JobAssignment,
  cache: NonNullable<JobAssignment["cache"]>,
  key: string,
  place: Place,
  stepId: string,
  reporter: JobReporter,
): Promise<{ status: StepOutcomeStatus; message: string } | undefined> {
  try {
    const c = await collectArtifact(
      place.workspace,
      key,
      cache.paths,
      place.user,
      job.maxCacheBytes,
      "cache",
    );
    const info = await reporter.saveCache(key, () => artifactStream(c));
    reporter.stepOutput(
      stepId,
      `[pipewright] cache ${key}: ${c.entries.length} files, ${size(info.size)} saved\n`,
    );
    return undefined;
  } catch (err) {
    if (err instanceof NothingMatches) {
      // Nothing to keep yet is not the job's failure.
      reporter.stepOutput(stepId, `[pipewright] ${err.message}: nothing saved\n`);
      return undefined;
    }
    const message =
      err instanceof ArtifactRefused
        ? err.message
        : `cache ${key} could not be saved: ${(err as Error).message}`;
    reporter.stepOutput(stepId, `[pipewright] ${message}\n`);
    return { status: "FAILED", message };
  }
}
