// Pipeline notifications, the pure part: which run changes notify (CodeArts's event ids), the
// kinds of target (CodeArts's third-party notice types plus ours), and what each kind is sent:
// the request a webhook target gets (body, headers, signature) and the mail an email target gets.
// No I/O here: the engine sends what these functions build.

import crypto from "node:crypto";

/**
 * The events a target may subscribe to. CodeArts documents `pipelineRun.succeed`,
 * `pipelineRun.failed` and `pipelineRun.pause` (a run waiting at a manual review); the start and
 * cancel ids follow the same pattern (docs/decisions.md, "Notifications").
 */
export const NOTICE_EVENTS = [
  "pipelineRun.start",
  "pipelineRun.succeed",
  "pipelineRun.failed",
  "pipelineRun.cancel",
  "pipelineRun.pause",
] as const;
export type NoticeEvent = (typeof NOTICE_EVENTS)[number];

/** Where a notice goes: CodeArts's third-party types (feishu, dingtalk, wecom, webhook), Slack, email. */
export const NOTICE_KINDS = ["webhook", "feishu", "dingtalk", "wecom", "slack", "email"] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];

/** The run statuses before a start: a run leaving them for RUNNING (or a review) has started. */
const NOT_STARTED: ReadonlySet<string> = new Set(["", "QUEUED", "INIT"]);

/**
 * The events a run's status change is (none, one, or a start and a review at once: a run whose
 * first step is a manual review). `from` is "" for a run just created.
 */
export function noticeEventsOf(from: string, to: string): NoticeEvent[] {
  if (from === to) return [];
  const started = NOT_STARTED.has(from);
  switch (to) {
    case "COMPLETED":
      return ["pipelineRun.succeed"];
    case "FAILED":
      return ["pipelineRun.failed"];
    case "CANCELED":
      return ["pipelineRun.cancel"];
    case "PAUSED":
      return started ? ["pipelineRun.start", "pipelineRun.pause"] : ["pipelineRun.pause"];
    case "RUNNING":
      // RUNNING again after a review passed is no new start.
      return started ? ["pipelineRun.start"] : [];
    default:
      return [];
  }
}

/** What a notice says: a snapshot of the run taken when its status changed. */
export interface NoticeMessage {
  readonly event: NoticeEvent;
  readonly project_id: string;
  readonly pipeline_id: string;
  readonly pipeline_name: string;
  readonly run_id: string;
  readonly run_number: number;
  readonly status: string;
  readonly trigger_type: string;
  readonly executor_name: string;
  readonly start_time: number;
  readonly end_time: number;
  /** Why the run ended or paused, when it says (a stop, a failure message). */
  readonly message: string | null;
}

/** The request a webhook-like target gets. */
export interface WebhookRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface RenderInput {
  readonly kind: Exclude<NoticeKind, "email">;
  readonly url: string;
  /** The target's HMAC secret; "" for none. */
  readonly secret: string;
  readonly message: NoticeMessage;
  readonly deliveryId: string;
  /** Where the run is seen in the UI; "" when the server has no public URL. */
  readonly link: string;
  /** Now, in ms (signatures carry a timestamp). */
  readonly now: number;
}

const EVENT_WORDS: Record<NoticeEvent, string> = {
  "pipelineRun.start": "started",
  "pipelineRun.succeed": "succeeded",
  "pipelineRun.failed": "failed",
  "pipelineRun.cancel": "was canceled",
  "pipelineRun.pause": "is waiting for review",
};

/** One line a person reads: `Pipeline "app" run #12 failed`. */
export function noticeTitle(m: NoticeMessage): string {
  return `Pipeline "${m.pipeline_name}" run #${m.run_number} ${EVENT_WORDS[m.event]}`;
}

/** The lines under the title, for chat bodies and mails. */
function noticeLines(m: NoticeMessage, link: string): string[] {
  const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : "-");
  return [
    `Status: ${m.status}`,
    `Triggered by: ${m.executor_name} (${m.trigger_type})`,
    `Started: ${iso(m.start_time)}`,
    ...(m.end_time > 0 ? [`Ended: ${iso(m.end_time)}`] : []),
    ...(m.message ? [`Message: ${m.message}`] : []),
    ...(link ? [`Link: ${link}`] : []),
  ];
}

/** Our generic JSON body (documented in docs/notifications.md). */
export function genericBody(m: NoticeMessage, deliveryId: string, link: string, now: number) {
  return {
    event: m.event,
    delivery_id: deliveryId,
    pipeline: { id: m.pipeline_id, name: m.pipeline_name, project_id: m.project_id },
    run: {
      id: m.run_id,
      number: m.run_number,
      status: m.status,
      trigger_type: m.trigger_type,
      executor_name: m.executor_name,
      message: m.message,
    },
    status: m.status,
    times: { start_time: m.start_time, end_time: m.end_time, sent_time: now },
    link: link || null,
  };
}

const hmacHex = (secret: string, body: string): string =>
  crypto.createHmac("sha256", secret).update(body).digest("hex");

/** Feishu/Lark custom bot: sign = base64(HMAC-SHA256(key = `${timestamp}\n${secret}`, "")), timestamp in seconds. */
export function feishuSign(timestampSec: number, secret: string): string {
  return crypto.createHmac("sha256", `${timestampSec}\n${secret}`).update("").digest("base64");
}

/** DingTalk robot: sign = base64(HMAC-SHA256(secret, `${timestamp}\n${secret}`)), timestamp in ms (URL-encoded by the caller). */
export function dingtalkSign(timestampMs: number, secret: string): string {
  return crypto.createHmac("sha256", secret).update(`${timestampMs}\n${secret}`).digest("base64");
}

/** The request a webhook-like target gets for a message. */
export function renderWebhook(input: RenderInput): WebhookRequest {
  const { kind, url, secret, message: m, deliveryId, link, now } = input;
  const title = noticeTitle(m);
  const lines = noticeLines(m, link);
  const json = { "content-type": "application/json; charset=utf-8" };
  const ours = { "x-pipewright-event": m.event, "x-pipewright-delivery": deliveryId };
  switch (kind) {
    case "feishu": {
      const ts = Math.floor(now / 1000);
      const body = {
        ...(secret ? { timestamp: String(ts), sign: feishuSign(ts, secret) } : {}),
        msg_type: "text",
        content: { text: [title, ...lines].join("\n") },
      };
      return { url, headers: { ...json, ...ours }, body: JSON.stringify(body) };
    }
    case "dingtalk": {
      let signed = url;
      if (secret) {
        const u = new URL(url);
        u.searchParams.set("timestamp", String(now));
        u.searchParams.set("sign", dingtalkSign(now, secret));
        signed = u.toString();
      }
      const body = {
        msgtype: "markdown",
        markdown: { title, text: [`### ${title}`, ...lines.map((l) => `- ${l}`)].join("\n") },
      };
      return { url: signed, headers: { ...json, ...ours }, body: JSON.stringify(body) };
    }
    case "wecom": {
      // WeCom group robots have no signature: the key in the URL is the only credential.
      const body = {
        msgtype: "markdown",
        markdown: { content: [`**${title}**`, ...lines.map((l) => `> ${l}`)].join("\n") },
      };
      return { url, headers: { ...json, ...ours }, body: JSON.stringify(body) };
    }
    case "slack": {
      const text = [`*${title}*`, ...lines].join("\n");
      const body = { text, blocks: [{ type: "section", text: { type: "mrkdwn", text } }] };
      const text2 = JSON.stringify(body);
      return { url, headers: { ...json, ...ours, ...signatureHeader(secret, text2) }, body: text2 };
    }
    case "webhook": {
      const body = JSON.stringify(genericBody(m, deliveryId, link, now));
      return { url, headers: { ...json, ...ours, ...signatureHeader(secret, body) }, body };
    }
  }
}

/** Ours, for targets whose service signs nothing (generic, Slack): `sha256=<hex HMAC of the body>`. */
function signatureHeader(secret: string, body: string): Record<string, string> {
  return secret ? { "x-pipewright-signature": `sha256=${hmacHex(secret, body)}` } : {};
}

/** The mail an email target gets. */
export function renderMail(m: NoticeMessage, link: string): { subject: string; text: string } {
  const title = noticeTitle(m);
  return { subject: `[Pipewright] ${title}`, text: `${title}\n\n${noticeLines(m, link).join("\n")}\n` };
}

/**
 * A URL as answers and logs show it: scheme, host and port, the rest masked (Slack, Feishu,
 * DingTalk and WeCom URLs carry their credential in the path or the query).
 */
export function maskUrl(url: string): string {
  if (url === "") return "";
  try {
    const u = new URL(url);
    const rest = (u.pathname !== "/" && u.pathname !== "") || u.search !== "";
    return `${u.protocol}//${u.host}${rest ? "/******" : "/"}`;
  } catch {
    return "******";
  }
}

const EMAIL = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/;

/** What is wrong with a target's fields (field → message), or an empty list. */
export function targetIssues(t: {
  readonly kind: string;
  readonly url: string;
  readonly users: readonly string[];
}): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  if (!(NOTICE_KINDS as readonly string[]).includes(t.kind)) {
    out.push({ field: "notice_type", message: `must be one of ${NOTICE_KINDS.join(", ")}` });
    return out;
  }
  if (t.kind === "email") {
    if (t.users.length === 0)
      out.push({ field: "notice_users", message: "an email target needs at least one address" });
    t.users.forEach((a, i) => {
      if (!EMAIL.test(a)) out.push({ field: `notice_users[${i}]`, message: "must be an email address" });
    });
    return out;
  }
  let u: URL | undefined;
  try {
    u = new URL(t.url);
  } catch {
    // reported below
  }
  if (!u || (u.protocol !== "http:" && u.protocol !== "https:"))
    out.push({ field: "send_url", message: "must be an http:// or https:// URL" });
  else if (u.username || u.password)
    out.push({ field: "send_url", message: "must not carry a user or password" });
  return out;
}
