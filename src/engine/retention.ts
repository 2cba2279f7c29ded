// Retention: what is old goes, in the background of every replica's sweep, a batch at a time (each
// a short transaction of its own, so the API never waits behind it): runs that ended long ago or
// past the number kept per pipeline (with their logs and artifact records), logs of older runs,
// artifacts, and the records that make requests idempotent. Blobs go when no artifact refers to
// them any more. Deleting twice is harmless, so replicas may sweep at once.

import type { Logger } from "pino";
import type { BlobStore } from "../store/blobs.js";
import type { Store } from "../store/store.js";

const DAY = 24 * 3600 * 1000;

/** How long things are kept (days; 0: for ever) and how many ended runs per pipeline (0: all). */
export interface RetentionPolicy {
  readonly runsDays: number;
  readonly runsPerPipeline: number;
  readonly logsDays: number;
  readonly artifactsDays: number;
  readonly idempotencyDays: number;
  /** Cache entries unused this long go. */
  readonly cachesDays: number;
}

/** How often a replica sweeps for what is old. */
export const RETENTION_EVERY_MS = 10 * 60_000;
/** Rows per batch, and batches per kind and sweep (the rest waits for the next sweep). */
const BATCH = 200;
const BATCHES = 50;

export interface RetentionCounts {
  runs: number;
  logs: number;
  artifacts: number;
  blobs: number;
  idempotency: number;
  caches: number;
}

export interface Retention {
  /** Starts a pass when one is due (returns at once; it runs in the background). */
  due(): void;
  /** One whole pass now; answers what it removed. */
  pass(): Promise<RetentionCounts>;
  idle(): Promise<void>;
}

export function createRetention(deps: {
  readonly store: Store;
  readonly blobs: BlobStore;
  readonly policy: RetentionPolicy;
  readonly now: () => number;
  readonly logger: Logger;
}): Retention {
  const { store, blobs, policy, now, logger } = deps;
  let last = Number.NEGATIVE_INFINITY;
  let running: Promise<RetentionCounts> | undefined;
  const turn = () => new Promise<void>((r) => setImmediate(r));

  async function dropBlobs(shas: readonly string[]): Promise<number> {
    const gone = await store.unreferencedBlobs(shas);
    for (const sha of gone) await blobs.delete(sha);
    return gone.length;
  }

  async function pass(): Promise<RetentionCounts> {
    const t = now();
    const c: RetentionCounts = { runs: 0, logs: 0, artifacts: 0, blobs: 0, idempotency: 0, caches: 0 };
    const runsBefore = policy.runsDays > 0 ? t - policy.runsDays * DAY : undefined;
    const perPipeline = policy.runsPerPipeline > 0 ? policy.runsPerPipeline : undefined;
    if (runsBefore !== undefined || perPipeline !== undefined) {
      for (let i = 0; i < BATCHES; i++) {
        const ids = await store.expiredRuns({
          endedBefore: runsBefore,
          keepPerPipeline: perPipeline,
          limit: BATCH,
        });
        if (ids.length === 0) break;
        c.blobs += await dropBlobs(await store.deleteRuns(ids));
        c.runs += ids.length;
        await turn();
      }
    }
    if (policy.logsDays > 0) {
      for (let i = 0; i < BATCHES; i++) {
        const n = await store.dropLogs(t - policy.logsDays * DAY, BATCH);
        c.logs += n;
        if (n < BATCH) break;
        await turn();
      }
    }
    if (policy.artifactsDays > 0) {
      for (let i = 0; i < BATCHES; i++) {
        const { removed, blobs: shas } = await store.expireArtifacts(t - policy.artifactsDays * DAY, BATCH);
        if (removed === 0) break;
        c.artifacts += removed;
        c.blobs += await dropBlobs(shas);
        await turn();
      }
    }
    if (policy.cachesDays > 0) {
      for (let i = 0; i < BATCHES; i++) {
        const { removed, blobs: shas } = await store.expireCaches(t - policy.cachesDays * DAY, BATCH);
        if (removed === 0) break;
        c.caches += removed;
        c.blobs += await dropBlobs(shas);
        await turn();
      }
    }
    if (policy.idempotencyDays > 0) {
      for (let i = 0; i < BATCHES; i++) {
        const n = await store.expireIdempotency(t - policy.idempotencyDays * DAY, BATCH);
        c.idempotency += n;
        if (n === 0) break;
        await turn();
      }
    }
    if (c.runs + c.logs + c.artifacts + c.blobs + c.idempotency + c.caches > 0)
      logger.info({ removed: c }, "retention");
    return c;
  }

  function start(): Promise<RetentionCounts> {
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    due() {
      if (running || now() - last < RETENTION_EVERY_MS) return;
      last = now();
      start().catch((err: unknown) => logger.error({ err }, "retention failed"));
    },
    pass: start,
    async idle() {
      await running?.catch(() => {});
    },
  };
}
