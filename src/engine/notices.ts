// Notifications of run changes. Two halves around the outbox table:
// - `changed` runs inside the transaction that changes a run's status (the run writer's, and run
//   creation's): it writes one delivery per enabled target subscribed to the event, so a notice
//   exists exactly when the change is committed, and a crash loses none.
// - the sender, driven by the engine's sweep on every replica, claims due deliveries (one
//   conditional update each: one replica wins), sends them, and records every attempt; a failed
//   one is tried again with exponential backoff until MAX_ATTEMPTS are used.

import type { Logger } from "pino";
import {
  type NoticeKind,
  type NoticeMessage,
  noticeEventsOf,
  renderMail,
  renderWebhook,
} from "../pipeline/notices.js";
import type { RunRecord } from "../store/run-records.js";
import type { NoticeAttempt, NoticeDeliveryRecord, NoticeStore, NoticeTargetRecord } from "../store/store.js";
import { type HttpOptions, type HttpOutcome, type Mailer, UndeliverableError } from "./notice-transport.js";

/** Attempts per delivery at most (the first and the retries). */
export const MAX_ATTEMPTS = 6;
/** The wait before the second attempt; each further one waits twice as long (10 s … 160 s). */
export const RETRY_BASE_MS = 10_000;
/** How long a sender holds a delivery it claimed: well past an attempt's timeout. */
const LEASE_MS = 60_000;
/** Deliveries claimed per pass at most (sent concurrently). */
const PER_PASS = 20;
/** What of an error or an answer is kept on an attempt. */
const ERROR_CHARS = 300;

export function retryDelayMs(attemptsMade: number): number {
  return RETRY_BASE_MS * 2 ** Math.max(0, attemptsMade - 1);
}

/** The part the run writer calls inside its transactions. */
export interface RunNotices {
  /** The run's status went from `before` (undefined: just created) to `after`: write the deliveries. */
  changed(tx: NoticeStore, before: RunRecord | undefined, after: RunRecord, now: number): Promise<void>;
  /**
   * The same for several runs in one transaction (a batch created, a batch of reports written):
   * one read of their pipelines' targets, and none when no change is an event.
   */
  changedMany(
    tx: NoticeStore,
    changes: readonly { readonly before: RunRecord | undefined; readonly after: RunRecord }[],
    now: number,
  ): Promise<void>;
}

export function createRunNotices(newId: () => string): RunNotices {
  const notices: RunNotices = {
    changed: (tx, before, after, now) => notices.changedMany(tx, [{ before, after }], now),
    async changedMany(tx, changes, now) {
      const evented = changes
        .map((c) => ({ after: c.after, events: noticeEventsOf(c.before?.status ?? "", c.after.status) }))
        .filter((c) => c.events.length > 0);
      if (evented.length === 0) return;
      const targetsOf = await tx.listNoticeTargetsOf([...new Set(evented.map((c) => c.after.pipeline_id))]);
      const rows: NoticeDeliveryRecord[] = [];
      for (const { after, events } of evented) {
        const targets = (targetsOf.get(after.pipeline_id) ?? []).filter((t) => t.enabled);
        if (targets.length === 0) continue;
        for (const event of events) {
          const message: NoticeMessage = {
            event,
            project_id: after.project_id,
            pipeline_id: after.pipeline_id,
            pipeline_name: after.pipeline_name,
            run_id: after.id,
            run_number: after.run_number,
            status: after.status,
            trigger_type: after.trigger_type,
            executor_name: after.executor_name,
            start_time: after.start_time,
            end_time: after.end_time,
            message: after.message,
          };
          const text = JSON.stringify(message);
          for (const t of targets) {
            if (!t.events.includes(event)) continue;
            rows.push({
              id: newId(),
              project_id: after.project_id,
              pipeline_id: after.pipeline_id,
              target_id: t.id,
              run_id: after.id,
              event,
              message: text,
              status: "PENDING",
              attempts: 0,
              next_attempt: now,
              last_error: null,
              history: [],
              create_time: now,
              update_time: now,
            });
          }
        }
      }
      await tx.enqueueNoticeDeliveries(rows);
    },
  };
  return notices;
}

export interface NoticeSenderDeps {
  readonly store: NoticeStore;
  readonly now: () => number;
  readonly newId: () => string;
  readonly logger: Logger;
  readonly http: HttpOptions;
  /** Posts a webhook; tests of this module need no other. */
  readonly post: (req: ReturnType<typeof renderWebhook>, opts: HttpOptions) => Promise<HttpOutcome>;
  /** Undefined when no SMTP server is configured: email targets then fail, saying so. */
  readonly mailer: Mailer | undefined;
  /** The UI's base URL for links (`https://ci.example.com`); "" for none. */
  readonly publicUrl: () => string;
}

export interface NoticeSender {
  /** Starts a pass over the due deliveries unless one is under way (the sweep calls it). */
  due(): void;
  /** Resolves when the pass under way has ended. */
  idle(): Promise<void>;
  stop(): void;
}

/** Whether an HTTP answer is a delivery; a chat service may answer 200 with an error code. */
function judge(kind: NoticeKind, res: HttpOutcome): { ok: boolean; retry: boolean; error: string | null } {
  const said = res.body.slice(0, ERROR_CHARS);
  if (res.statusCode < 200 || res.statusCode > 299) {
    // A refusal of the request itself is not mended by sending it again; overload and outages are.
    const retry = res.statusCode >= 500 || res.statusCode === 408 || res.statusCode === 429;
    return { ok: false, retry, error: `HTTP ${res.statusCode}${said ? `: ${said}` : ""}` };
  }
  if (kind === "feishu" || kind === "dingtalk" || kind === "wecom") {
    try {
      const b = JSON.parse(res.body) as { code?: number; errcode?: number; StatusCode?: number };
      const code = kind === "feishu" ? (b.code ?? b.StatusCode ?? 0) : (b.errcode ?? 0);
      if (code !== 0) return { ok: false, retry: true, error: `the service answered error ${code}: ${said}` };
    } catch {
      // Not JSON: a 2xx is taken as delivered.
    }
  }
  return { ok: true, retry: false, error: null };
}

export function createNoticeSender(deps: NoticeSenderDeps): NoticeSender {
  const { store, now, logger } = deps;
  let pass: Promise<void> | undefined;
  let stopped = false;

  /** One attempt: what came of it. */
  async function attempt(
    d: NoticeDeliveryRecord,
    target: NoticeTargetRecord | undefined,
  ): Promise<{ ok: boolean; retry: boolean; statusCode: number | null; error: string | null }> {
    if (!target) return { ok: false, retry: false, statusCode: null, error: "the target was removed" };
    const message = JSON.parse(d.message) as NoticeMessage;
    const base = deps.publicUrl().replace(/\/+$/, "");
    const link = base ? `${base}/ui/#/p/${d.project_id}/pipelines/${d.pipeline_id}/runs/${d.run_id}` : "";
    const kind = target.kind as NoticeKind;
    try {
      if (kind === "email") {
        if (!deps.mailer)
          return {
            ok: false,
            retry: false,
            statusCode: null,
            error: "no SMTP server is configured (--smtp-url)",
          };
        await deps.mailer.send({ to: target.users, ...renderMail(message, link) });
        return { ok: true, retry: false, statusCode: null, error: null };
      }
      const req = renderWebhook({
        kind,
        url: target.url,
        secret: target.secret,
        message,
        deliveryId: d.id,
        link,
        now: now(),
      });
      const res = await deps.post(req, deps.http);
      return { ...judge(kind, res), statusCode: res.statusCode };
    } catch (err) {
      const text = (err as Error).message.slice(0, ERROR_CHARS);
      return { ok: false, retry: !(err instanceof UndeliverableError), statusCode: null, error: text };
    }
  }

  async function sendOne(id: string, targets: Map<string, NoticeTargetRecord[]>): Promise<void> {
    const claim = deps.newId();
    const d = await store.claimNoticeDelivery(id, now(), now() + LEASE_MS, claim);
    if (!d) return; // another replica took it, or it is no longer due
    let list = targets.get(d.pipeline_id);
    if (!list) {
      list = await store.listNoticeTargets(d.pipeline_id);
      targets.set(d.pipeline_id, list);
    }
    const target = list.find((t) => t.id === d.target_id);
    const out = await attempt(d, target);
    const t = now();
    const attempts = d.attempts + 1;
    const record: NoticeAttempt = {
      time: t,
      outcome: out.ok ? "sent" : "failed",
      status_code: out.statusCode,
      error: out.error,
    };
    const again = !out.ok && out.retry && attempts < MAX_ATTEMPTS;
    const ok = await store.finishNoticeAttempt(d.id, claim, {
      status: out.ok ? "SUCCEEDED" : again ? "PENDING" : "FAILED",
      attempts,
      next_attempt: again ? t + retryDelayMs(attempts) : d.next_attempt,
      last_error: out.error,
      history: [...d.history, record],
      update_time: t,
    });
    if (!out.ok) {
      // The URL is never logged: it may carry the target's credential.
      logger.warn(
        { delivery: d.id, pipeline: d.pipeline_id, target: d.target_id, attempt: attempts, error: out.error },
        again
          ? "a notice could not be delivered; it is tried again later"
          : "a notice could not be delivered",
      );
    }
    if (!ok) logger.warn({ delivery: d.id }, "a notice's lease ran out before its attempt ended");
  }

  async function run(): Promise<void> {
    const ids = await store.dueNoticeDeliveries(now(), PER_PASS);
    if (ids.length === 0) return;
    const targets = new Map<string, NoticeTargetRecord[]>();
    await Promise.all(
      ids.map((id) =>
        sendOne(id, targets).catch((err: unknown) =>
          logger.error({ err, delivery: id }, "sending a notice failed"),
        ),
      ),
    );
  }

  return {
    due() {
      if (stopped || pass) return;
      pass = run()
        .catch((err: unknown) => logger.error({ err }, "sending notices failed"))
        .finally(() => {
          pass = undefined;
        });
    },
    async idle() {
      await pass;
    },
    stop() {
      stopped = true;
    },
  };
}
