// Code events (webhooks): a delivery to a project's hook URL is checked against the project's
// secret the way its forge signs, read, matched against the triggers of the project's pipelines,
// and starts every pipeline it matches through the batch use case (one transaction), each run
// with its source at the event's branch or tag and commit. Every delivery is recorded with what
// came of it; an accepted one again (the forge redelivers) starts nothing twice.

import type { Logger } from "pino";
import { PipewrightError } from "../errors.js";
import { InvalidInput } from "../pipeline/issues.js";
import {
  type Delivery,
  deliveryHeaders,
  forgeOf,
  matchTrigger,
  parseDelivery,
  repoKey,
  type TriggerFilter,
  triggerTypeOf,
  verifyDelivery,
} from "../pipeline/webhooks.js";
import { type DeliveryRecord, DuplicateKey, type PipelineRecord, type Store } from "../store/store.js";
import type { RunOptions } from "./create-runs.js";
import type { StartRuns } from "./start-runs.js";

export interface DeliveryOutcome {
  readonly status: DeliveryRecord["status"];
  readonly record: DeliveryRecord;
  /** True when an earlier delivery with the forge's same id started these runs. */
  readonly replayed: boolean;
}

export interface CodeEvents {
  /** The project's webhook secret (made on first use). */
  secretOf(projectId: string): Promise<string>;
  /**
   * Handles one delivery. Throws 401 (signature) or 400 (format) after recording it as rejected;
   * answers an accepted or ignored outcome otherwise.
   */
  receive(
    projectId: string,
    headers: Readonly<Record<string, string | string[] | undefined>>,
    raw: Buffer,
    parse: (raw: Buffer) => unknown,
  ): Promise<DeliveryOutcome>;
  /**
   * A branch that moved or a tag that appeared in a repository the pipeline polls: starts the
   * pipeline when one of its triggers matches it, once per ref and commit (across replicas and
   * crashes). Answers the run started, or undefined (no match, or started before).
   */
  polled(
    poll: { readonly projectId: string; readonly pipelineId: string; readonly gitUrl: string },
    moved: { readonly ref: string; readonly commit: string },
  ): Promise<string | undefined>;
}

/** Who runs started by a code event are started by (the event's author is in build_params). */
export const WEBHOOK_EXECUTOR = { id: "webhook", name: "Webhook" } as const;
/** Who runs started by polling a repository are started by. */
export const POLL_EXECUTOR = { id: "poll", name: "Poll" } as const;
/**
 * Rejected and ignored deliveries kept per project and status (the newest): anyone may send a
 * rejected one. Accepted ones are all kept: they are what makes a redelivery start nothing.
 */
export const DELIVERIES_KEPT = 1000;
/** Pipelines of a project looked at per delivery at most. */
const PIPELINES_PER_PROJECT = 10_000;

/** The run's sources: the pipeline's, with the one of the event's repository at its ref and commit. */
function sourcesFor(p: PipelineRecord, d: Delivery): unknown[] {
  const build = {
    build_type: d.ref.type,
    event_type: triggerTypeOf(d.event),
    commit_id: d.commit,
    message: d.message.slice(0, 1000),
    author: d.author,
    ref: d.ref.type === "tag" ? `refs/tags/${d.ref.name}` : `refs/heads/${d.ref.name}`,
    ...(d.ref.type === "tag" ? { tag: d.ref.name } : { target_branch: d.ref.name }),
    ...(d.mergeRequest
      ? {
          action: d.mergeRequest.action,
          source_branch: d.ref.name,
          merge_target_branch: d.mergeRequest.target,
          merge_id: d.mergeRequest.id,
        }
      : {}),
  };
  const keys = new Set(d.repoUrls.map(repoKey));
  const sources = p.spec.sources.map((s) => s as { type?: string; params?: Record<string, unknown> });
  const at = sources.findIndex(
    (s) => typeof s.params?.git_url === "string" && keys.has(repoKey(s.params.git_url)),
  );
  if (at < 0) {
    return [
      { type: "code", params: { git_url: d.repoUrls[0], alias: "source", build_params: build } },
      ...sources,
    ];
  }
  return sources.map((s, i) =>
    i === at
      ? { ...s, params: { ...s.params, build_params: { ...(s.params?.build_params as object), ...build } } }
      : s,
  );
}

export function createCodeEvents(deps: {
  readonly store: Store;
  readonly start: StartRuns;
  readonly now: () => number;
  readonly newId: () => string;
  readonly newSecret: () => string;
  readonly logger: Logger;
}): CodeEvents {
  const { store, start, now, newId } = deps;
  const secretOf = (projectId: string) => store.webhookSecret(projectId, deps.newSecret, now());

  async function record(
    projectId: string,
    d: { forge: string; deliveryId: string; event: string; repository: string; ref: string; commit: string },
    status: DeliveryRecord["status"],
    reason: string | null,
    started: DeliveryRecord["started"] = [],
    skipped: DeliveryRecord["skipped"] = [],
  ): Promise<DeliveryRecord> {
    const rec: DeliveryRecord = {
      id: newId(),
      project_id: projectId,
      forge: d.forge,
      delivery_id: d.deliveryId.slice(0, 200),
      event: d.event,
      status,
      reason,
      repository: d.repository.slice(0, 2000),
      ref: d.ref.slice(0, 300),
      commit_id: d.commit.slice(0, 64),
      started,
      skipped,
      create_time: now(),
    };
    await store.insertDelivery(rec, status === "accepted" ? undefined : DELIVERIES_KEPT);
    return rec;
  }

  return {
    secretOf,

    async polled(poll, moved) {
      const p = await store.getPipeline(poll.pipelineId);
      if (!p || p.banned) return undefined;
      const tag = moved.ref.startsWith("refs/tags/");
      const d: Delivery = {
        forge: "generic",
        deliveryId: `${poll.pipelineId}:${moved.ref}:${moved.commit}`,
        event: tag ? "tag_push" : "push",
        repoUrls: [poll.gitUrl],
        ref: { type: tag ? "tag" : "branch", name: moved.ref.replace(/^refs\/(heads|tags)\//, "") },
        commit: moved.commit,
        // ls-remote tells neither: the message and paths filters need a forge's delivery.
        message: "",
        author: "",
        changedPaths: undefined,
      };
      const triggers = (p.spec.triggers as TriggerFilter[]).filter(
        (t) => typeof t.git_url === "string" && repoKey(t.git_url) === repoKey(poll.gitUrl),
      );
      if (!triggers.some((t) => matchTrigger(t, d).ok)) return undefined;
      const res = await start.batchRun({
        projectId: poll.projectId,
        pipelineIds: [p.id],
        executor: POLL_EXECUTOR,
        idempotencyKey: `poll:${d.deliveryId}`,
        optionsOf: new Map([[p.id, { trigger_type: triggerTypeOf(d.event), sources: sourcesFor(p, d) }]]),
      });
      if (res.replayed) return undefined;
      const runId = res.runs[0]!.runId;
      await record(
        poll.projectId,
        {
          forge: "poll",
          deliveryId: d.deliveryId,
          event: d.event,
          repository: poll.gitUrl,
          ref: moved.ref,
          commit: d.commit,
        },
        "accepted",
        null,
        [{ pipeline_id: p.id, pipeline_run_id: runId }],
      ).catch((err: unknown) => deps.logger.warn({ err, pipeline: p.id }, "recording a polled start failed"));
      return runId;
    },

    async receive(projectId, h, raw, parse) {
      const forge = forgeOf(h);
      const unread = {
        forge,
        ...deliveryHeaders(h),
        repository: "",
        ref: "",
        commit: "",
      };
      if (!verifyDelivery(forge, h, raw, await secretOf(projectId))) {
        await record(
          projectId,
          unread,
          "rejected",
          "the signature or token does not match the project's secret",
        );
        throw new PipewrightError("UNAUTHENTICATED", "The delivery's signature or token does not match.");
      }
      let d: Delivery | undefined;
      try {
        d = parseDelivery(forge, h, parse(raw));
      } catch (err) {
        const reason =
          err instanceof InvalidInput || err instanceof PipewrightError ? err.message : String(err);
        await record(projectId, unread, "rejected", `not a ${forge} payload: ${reason}`.slice(0, 1000));
        throw err;
      }
      if (!d) {
        const rec = await record(projectId, unread, "ignored", `event "${unread.event}" starts no pipeline`);
        return { status: "ignored", record: rec, replayed: false };
      }
      const facts = {
        forge,
        deliveryId: d.deliveryId,
        event: d.event,
        repository: d.repoUrls[0] ?? "",
        ref: d.ref.type === "tag" ? `refs/tags/${d.ref.name}` : `refs/heads/${d.ref.name}`,
        commit: d.commit,
      };
      const prior = await store.findAcceptedDelivery(projectId, forge, d.deliveryId);
      if (prior) return { status: "accepted", record: prior, replayed: true };
      const page = await store.listPipelines({
        project_id: projectId,
        limit: PIPELINES_PER_PROJECT,
        offset: 0,
        sort_key: "create_time",
        sort_dir: "asc",
      });
      const matched: PipelineRecord[] = [];
      const skipped: { pipeline_id: string; reason: string }[] = [];
      for (const p of page.items) {
        const triggers = p.spec.triggers as TriggerFilter[];
        if (triggers.length === 0) continue;
        const results = triggers.map((t) => matchTrigger(t, d));
        if (results.some((r) => r.ok)) {
          if (p.banned) skipped.push({ pipeline_id: p.id, reason: "the pipeline is disabled" });
          else matched.push(p);
          continue;
        }
        // Pipelines of other repositories are not this delivery's business.
        const why = results.find((r) => !r.ok && r.reason !== "another repository");
        if (why && !why.ok) skipped.push({ pipeline_id: p.id, reason: why.reason });
      }
      if (matched.length === 0) {
        const rec = await record(projectId, facts, "ignored", "no trigger matched", [], skipped);
        return { status: "ignored", record: rec, replayed: false };
      }
      const optionsOf = new Map<string, RunOptions>(
        matched.map((p) => [p.id, { trigger_type: triggerTypeOf(d.event), sources: sourcesFor(p, d) }]),
      );
      const startAll = (ids: readonly string[]) =>
        start.batchRun({
          projectId,
          pipelineIds: ids,
          executor: WEBHOOK_EXECUTOR,
          idempotencyKey: `hook:${forge}:${d.deliveryId}`,
          optionsOf,
        });
      let res: Awaited<ReturnType<typeof startAll>>;
      try {
        res = await startAll(matched.map((p) => p.id));
      } catch (err) {
        // A pipeline deleted since it was matched: the others start, it is said to be gone.
        const gone =
          err instanceof PipewrightError && ["BATCH_INVALID_IDS", "PIPELINE_NOT_FOUND"].includes(err.key);
        if (!gone) throw err;
        const left = await store.getPipelineProjects(matched.map((p) => p.id));
        const still = matched.filter((p) => left.get(p.id) === projectId).map((p) => p.id);
        for (const p of matched)
          if (!still.includes(p.id)) skipped.push({ pipeline_id: p.id, reason: "the pipeline was deleted" });
        if (still.length === 0) {
          const rec = await record(projectId, facts, "ignored", "no trigger matched", [], skipped);
          return { status: "ignored", record: rec, replayed: false };
        }
        res = await startAll(still);
      }
      const started = res.runs.map((r) => ({ pipeline_id: r.pipelineId, pipeline_run_id: r.runId }));
      if (res.replayed) {
        const again = await store.findAcceptedDelivery(projectId, forge, d.deliveryId);
        if (again) return { status: "accepted", record: again, replayed: true };
      }
      try {
        const rec = await record(projectId, facts, "accepted", null, started, skipped);
        return { status: "accepted", record: rec, replayed: res.replayed };
      } catch (err) {
        // The same delivery recorded by another replica in the same moment (the batch key kept
        // the runs single): its record is the one.
        if (!(err instanceof DuplicateKey)) throw err;
        const again = await store.findAcceptedDelivery(projectId, forge, d.deliveryId);
        if (again) return { status: "accepted", record: again, replayed: true };
        throw err;
      }
    },
  };
}
