// Artifacts between jobs and to users: a runner uploads what a job it holds keeps (a name the
// job's definition declares), streamed into the blob store, which hashes it; a runner downloads
// what a job it holds asks for; users list and download a run's artifacts. Bytes stream
// through: nothing here holds an artifact whole.

import type { Readable } from "node:stream";
import { PipewrightError } from "../errors.js";
import { type BlobInfo, type BlobStore, BlobTooLarge } from "../store/blobs.js";
import type { ArtifactRecord, Store } from "../store/store.js";
import type { RunnerCaller, RunnerProtocol } from "./runner-protocol.js";

export interface Artifacts {
  /** The blob store's kind (`dir`, `s3`). */
  readonly kind: string;
  /** The cap on one artifact, in bytes. */
  readonly maxBytes: number;
  /** Stores what the job keeps under `name`; throws 404 (not its job, or not declared) or 413. */
  upload(
    caller: RunnerCaller,
    jobId: string,
    attempt: number,
    name: string,
    body: Readable,
  ): Promise<BlobInfo>;
  /** What the job asks for under `name`, from an earlier job of its run. */
  downloadForJob(
    caller: RunnerCaller,
    jobId: string,
    attempt: number,
    name: string,
  ): Promise<{ readonly body: Readable; readonly record: ArtifactRecord }>;
  list(runId: string): Promise<ArtifactRecord[]>;
  /** Bytes the blob store holds in all (a blob shared by artifacts counts once). */
  storeBytes(): Promise<number>;
  /** A user's download; throws 404 when the run has no such artifact. */
  open(runId: string, name: string): Promise<{ readonly body: Readable; readonly record: ArtifactRecord }>;
}

const notFound = (what: string) => new PipewrightError("ARTIFACT_NOT_FOUND", what);

/**
 * The job, its run and its definition, when this runner's attempt holds the job (a runner sends
 * or gets files only for a job it holds); 404 otherwise.
 */
export async function heldJob(
  store: Store,
  runners: Pick<RunnerProtocol, "checkRunner">,
  caller: RunnerCaller,
  jobId: string,
  attempt: number,
) {
  await runners.checkRunner(caller);
  const job = await store.getJob(jobId);
  if (!job || job.status !== "RUNNING" || job.runner_id !== caller.runnerId || job.attempt !== attempt) {
    throw new PipewrightError("JOB_NOT_FOUND", `Job ${jobId} is not held by runner ${caller.runnerId}.`);
  }
  const run = await store.getRun(job.run_id);
  const jd = run?.context.definition.stages[job.stage_idx]?.jobs[job.idx];
  if (!run || !jd) throw new PipewrightError("JOB_NOT_FOUND", `Job ${job.id} has no definition.`);
  return { job, run, jd };
}

export function createArtifacts(deps: {
  readonly store: Store;
  readonly blobs: BlobStore;
  readonly runners: Pick<RunnerProtocol, "checkRunner">;
  readonly maxBytes: number;
  readonly now: () => number;
}): Artifacts {
  const { store, blobs } = deps;

  async function opened(record: ArtifactRecord) {
    const blob = await blobs.get(record.sha256);
    if (!blob) throw notFound(`The bytes of artifact ${record.name} are gone from the store.`);
    return { body: blob.body, record };
  }

  return {
    kind: blobs.kind,
    maxBytes: deps.maxBytes,

    async upload(caller, jobId, attempt, name, body) {
      const { job, run, jd } = await heldJob(store, deps.runners, caller, jobId, attempt);
      if (!(jd.artifacts ?? []).some((a) => a.name === name)) {
        throw notFound(`Job ${jd.identifier} does not keep an artifact "${name}".`);
      }
      let info: BlobInfo;
      try {
        info = await blobs.put(body, deps.maxBytes);
      } catch (err) {
        if (err instanceof BlobTooLarge) {
          throw new PipewrightError(
            "ARTIFACT_TOO_LARGE",
            `Artifact ${name} is more than ${deps.maxBytes} bytes, the cap on an artifact (--max-artifact-bytes).`,
          );
        }
        throw err;
      }
      await store.putArtifact({
        run_id: run.id,
        name,
        project_id: run.project_id,
        pipeline_id: run.pipeline_id,
        job_run_id: job.id,
        job_identifier: jd.identifier,
        sha256: info.sha256,
        size: info.size,
        create_time: deps.now(),
      });
      return info;
    },

    async downloadForJob(caller, jobId, attempt, name) {
      const { job, jd } = await heldJob(store, deps.runners, caller, jobId, attempt);
      if (!(jd.download_artifacts ?? []).includes(name)) {
        throw notFound(`Job ${jd.identifier} does not ask for an artifact "${name}".`);
      }
      const record = await store.getArtifact(job.run_id, name);
      if (!record) throw notFound(`No job of run ${job.run_id} has kept an artifact "${name}".`);
      return opened(record);
    },

    list: (runId) => store.listArtifacts(runId),
    storeBytes: () => blobs.usage(),

    async open(runId, name) {
      const record = await store.getArtifact(runId, name);
      if (!record) throw notFound(`Run ${runId} has no artifact "${name}".`);
      return opened(record);
    },
  };
}
