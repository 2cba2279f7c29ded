// Polling repositories (our `poll_interval` on a trigger): every sweep, each polled repository
// whose time has come is taken by one replica (compare-and-set on its due time), listed with
// `git ls-remote`, and each branch that moved or tag that appeared since the last poll goes to
// the code-event use case, which starts the pipeline once per ref and commit. The first poll of
// a repository only records what is there. Polls run in the background of the sweep: a slow
// remote holds up nothing else.

import { execFile } from "node:child_process";
import type { Logger } from "pino";
import { allowedGitProtocols, cloneUrlProblem } from "../pipeline/environment.js";
import { movedRefs, parseLsRemote, type RemoteRefs } from "../pipeline/polling.js";
import type { PollRecord, Store } from "../store/store.js";
import type { CodeEvents } from "./code-events.js";

/** Polls begun per sweep at most, and polls in flight in this process at most. */
const DUE_PER_SWEEP = 100;
const IN_FLIGHT = 8;
/** A remote that does not answer within this is a failed poll. */
const LS_REMOTE_TIMEOUT_MS = 30_000;
/** What ls-remote may print (a remote with very many refs is cut off there, and fails). */
const LS_REMOTE_MAX_BYTES = 16 * 1024 * 1024;

/** `https://user:token@host/x` → `https://***@host/x`: errors are shown to the project's readers. */
export function redactUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^@/\s]+@/gi, "$1***@");
}

/**
 * `git ls-remote` with the server's identity (its ssh keys and credential helpers are how a
 * private repository is polled), never prompting, limited to the transports a clone may use.
 */
export const gitLsRemote = (url: string, allowLocal: boolean): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(
      "git",
      ["ls-remote", "--heads", "--tags", "--", url],
      {
        timeout: LS_REMOTE_TIMEOUT_MS,
        maxBuffer: LS_REMOTE_MAX_BYTES,
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: process.env.HOME ?? "/",
          GIT_TERMINAL_PROMPT: "0",
          GIT_ALLOW_PROTOCOL: allowedGitProtocols(allowLocal),
          GIT_SSH_COMMAND: "ssh -o BatchMode=yes",
        },
      },
      (err, stdout, stderr) => {
        if (err) {
          const why = String(stderr).trim().split("\n").slice(-3).join(" ") || err.message;
          reject(new Error(redactUrl(why)));
        } else resolve(String(stdout));
      },
    );
  });

export interface Poller {
  /** Begins the polls that are due (returns at once; they run in the background). */
  pollDue(): Promise<void>;
  /** Resolves when the polls begun so far have ended. */
  idle(): Promise<void>;
}

export function createPoller(deps: {
  readonly store: Store;
  readonly codeEvents: CodeEvents;
  readonly now: () => number;
  readonly logger: Logger;
  readonly allowLocalClone: boolean;
}): Poller {
  const { store, now, logger } = deps;
  const inFlight = new Map<string, Promise<void>>();

  async function pollOne(row: PollRecord): Promise<void> {
    const at = now();
    const refused = cloneUrlProblem(row.git_url, deps.allowLocalClone);
    let refs: RemoteRefs;
    try {
      if (refused) throw new Error(`the repository ${refused}`);
      refs = parseLsRemote(await gitLsRemote(row.git_url, deps.allowLocalClone));
    } catch (err) {
      const error = redactUrl((err as Error).message);
      logger.warn({ pipeline: row.pipeline_id, error }, "polling a repository failed");
      await store.finishPoll(row.pipeline_id, row.git_url, at, { error });
      return;
    }
    if (row.refs !== null) {
      const poll = { projectId: row.project_id, pipelineId: row.pipeline_id, gitUrl: row.git_url };
      // Oldest ref first; each start is once per ref and commit, so a crash here repeats nothing.
      for (const moved of movedRefs(row.refs, refs)) await deps.codeEvents.polled(poll, moved);
    }
    await store.finishPoll(row.pipeline_id, row.git_url, at, { refs });
  }

  return {
    async pollDue() {
      const t = now();
      for (const row of await store.listDuePolls(t, DUE_PER_SWEEP)) {
        const key = `${row.pipeline_id} ${row.git_url}`;
        if (inFlight.size >= IN_FLIGHT) break;
        if (inFlight.has(key)) continue;
        if (!(await store.claimPoll(row.pipeline_id, row.git_url, row.next_due, t + row.interval_ms)))
          continue;
        const p = pollOne(row)
          .catch((err: unknown) => logger.error({ err, pipeline: row.pipeline_id }, "a poll failed"))
          .finally(() => inFlight.delete(key));
        inFlight.set(key, p);
      }
    },
    async idle() {
      while (inFlight.size > 0) await Promise.all(inFlight.values());
    },
  };
}
