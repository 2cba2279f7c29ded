// Caches: a runner restores the entry of a job's key for its pipeline and branch (a miss is no
// error) and saves a new one after the job; entries are immutable, and a project over its quota
// loses its least recently used ones first. Bytes stream through the blob store like artifacts.

import type { Readable } from "node:stream";
import { PipewrightError } from "../errors.js";
import { type BlobInfo, type BlobStore, BlobTooLarge } from "../store/blobs.js";
import type { RunRecord } from "../store/run-records.js";
import type { CacheRecord, Store } from "../store/store.js";
import { heldJob } from "./artifacts.js";
import type { RunnerCaller, RunnerProtocol } from "./runner-protocol.js";

export interface Caches {
  readonly maxBytes: number;
  /** The entry of `key` for the job's pipeline and branch, or undefined (a miss). */
  restore(
    caller: RunnerCaller,
    jobId: string,
    attempt: number,
    key: string,
  ): Promise<{ readonly body: Readable; readonly record: CacheRecord } | undefined>;
  /** Keeps the body as the entry of `key` (unless one is there); then evicts past the quota. */
  save(
    caller: RunnerCaller,
    jobId: string,
    attempt: number,
    key: string,
    body: Readable,
  ): Promise<BlobInfo & { readonly stored: boolean }>;
}

/** The branch a run builds, which scopes its caches: its first code source's ("" when none). */
export function cacheScope(run: Pick<RunRecord, "context">): string {
  for (const raw of run.context.sources) {
    const params = (raw as { params?: Record<string, unknown> }).params ?? {};
    const build = (params.build_params ?? {}) as Record<string, unknown>;
    if (typeof build.tag === "string" && build.tag !== "") return `tag:${build.tag}`;
    const branch = build.target_branch ?? params.default_branch;
    if (typeof branch === "string" && branch !== "") return branch;
  }
  return "";
}

export function createCaches(deps: {
  readonly store: Store;
  readonly blobs: BlobStore;
  readonly runners: Pick<RunnerProtocol, "checkRunner">;
  readonly maxBytes: number;
  readonly quotaBytes: number;
  readonly now: () => number;
}): Caches {
  const { store, blobs, now } = deps;

  async function held(caller: RunnerCaller, jobId: string, attempt: number) {
    const { run, jd } = await heldJob(store, deps.runners, caller, jobId, attempt);
    if (!jd.cache) throw new PipewrightError("JOB_NOT_FOUND", `Job ${jobId} keeps no cache.`);
    return { run };
  }

  /** Least recently used entries go until the project is within its quota (the new one last). */
  async function evict(projectId: string, keep: Pick<CacheRecord, "pipeline_id" | "scope" | "key">) {
    const { items, bytes } = await store.projectCaches(projectId);
    let over = bytes - deps.quotaBytes;
    const gone: string[] = [];
    for (const c of items) {
      if (over <= 0) break;
      if (c.pipeline_id === keep.pipeline_id && c.scope === keep.scope && c.key === keep.key) continue;
      await store.deleteCache(c.pipeline_id, c.scope, c.key);
      gone.push(c.sha256);
      over -= c.size;
    }
    for (const sha of await store.unreferencedBlobs([...new Set(gone)])) await blobs.delete(sha);
  }

  return {
    maxBytes: deps.maxBytes,

    async restore(caller, jobId, attempt, key) {
      const { run } = await held(caller, jobId, attempt);
      const record = await store.useCache(run.pipeline_id, cacheScope(run), key, now());
      if (!record) return undefined;
      const blob = await blobs.get(record.sha256);
      return blob ? { body: blob.body, record } : undefined;
    },

    async save(caller, jobId, attempt, key, body) {
      const { run } = await held(caller, jobId, attempt);
      let info: BlobInfo;
      try {
        info = await blobs.put(body, Math.min(deps.maxBytes, deps.quotaBytes));
      } catch (err) {
        if (err instanceof BlobTooLarge) {
          throw new PipewrightError(
            "ARTIFACT_TOO_LARGE",
            `The cache is more than ${err.maxBytes} bytes, the cap on a cache (--max-cache-bytes, --cache-quota-bytes).`,
          );
        }
        throw err;
      }
      const t = now();
      const record: CacheRecord = {
        pipeline_id: run.pipeline_id,
        scope: cacheScope(run),
        key,
        project_id: run.project_id,
        sha256: info.sha256,
        size: info.size,
        create_time: t,
        last_used: t,
      };
      const stored = await store.putCache(record);
      if (stored) await evict(run.project_id, record);
      else if ((await store.unreferencedBlobs([info.sha256])).length > 0) await blobs.delete(info.sha256);
      return { ...info, stored };
    },
  };
}
