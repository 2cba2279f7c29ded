// Superseding (our `concurrency_control.supersede`, GitLab's interruptible and GitHub's
// cancel-in-progress): a new run of a pipeline at a branch stops the pipeline's older unfinished
// runs at the same branch of the same repository, so a burst of pushes builds only the newest.
// It happens after the new run's transaction commits; a crash in between leaves the older runs
// running, which is what they would have done without the option.

import type { Logger } from "pino";
import { PipewrightError } from "../errors.js";
import { TERMINAL_RUN_STATUSES } from "../pipeline/vocabulary.js";
import { repoKey } from "../pipeline/webhooks.js";
import type { RunRecord } from "../store/run-records.js";
import type { RunStore } from "../store/store.js";
import type { RunCommands } from "./run-commands.js";

/** Who stops superseded runs (in their message: which run superseded them). */
export const SUPERSEDER = "supersede";

/**
 * What a run builds, as one string: each code source at a branch (`host/owner/repo@branch`),
 * sorted; undefined for a run of no branch (a tag, or no code source), which supersedes nothing.
 */
export function branchKeyOf(run: Pick<RunRecord, "context">): string | undefined {
  const parts: string[] = [];
  for (const raw of run.context.sources) {
    const params = (raw as { params?: Record<string, unknown> }).params ?? {};
    const build = (params.build_params ?? {}) as Record<string, unknown>;
    const url = params.git_url;
    const branch = build.target_branch;
    if (typeof url !== "string" || typeof branch !== "string" || branch === "") continue;
    if (build.build_type === "tag" || typeof build.tag === "string") continue;
    parts.push(`${repoKey(url)}@${branch}`);
  }
  return parts.length === 0 ? undefined : parts.sort().join(" ");
}

export interface Superseder {
  /** Stops what the new runs (of pipelines with the option) supersede, in the background. */
  started(runs: readonly RunRecord[]): void;
  /** Resolves when every stop begun so far has ended (for a clean shutdown and for tests). */
  idle(): Promise<void>;
}

export function createSuperseder(deps: {
  readonly store: RunStore;
  readonly commands: Pick<RunCommands, "stopRun">;
  readonly logger: Logger;
}): Superseder {
  const pending = new Set<Promise<void>>();

  async function supersede(run: RunRecord, key: string): Promise<void> {
    for (const id of await deps.store.listActiveRunIds(run.pipeline_id)) {
      if (id === run.id) continue;
      const older = await deps.store.getRun(id);
      if (!older || older.run_number >= run.run_number || TERMINAL_RUN_STATUSES.has(older.status)) continue;
      if (branchKeyOf(older) !== key) continue;
      await deps.commands
        .stopRun(id, SUPERSEDER, `superseded by run #${run.run_number} (${run.id})`)
        .catch((err: unknown) => {
          // Ended meanwhile: nothing left to supersede.
          if (!(err instanceof PipewrightError && err.key === "RUN_NOT_STOPPABLE")) throw err;
        });
    }
  }

  return {
    started(runs) {
      for (const run of runs) {
        if (run.start_status !== "START_SUCCESS") continue;
        const key = branchKeyOf(run);
        if (key === undefined) continue;
        const p = supersede(run, key)
          .catch((err: unknown) => deps.logger.error({ err, runId: run.id }, "superseding older runs failed"))
          .finally(() => pending.delete(p));
        pending.add(p);
      }
    },
    async idle() {
      while (pending.size > 0) await Promise.all(pending);
    },
  };
}
