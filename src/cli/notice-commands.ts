// Pipeline notifications from the CLI: `notice list|add|remove PIPELINE` (CodeArts's
// third-party notices) and `notice deliveries PIPELINE` (ours: what was sent, and what came of
// it). A target's secret is read from the environment, never from a flag (a flag shows in `ps`).

import { NOTICE_EVENTS, NOTICE_KINDS } from "../pipeline/notices.js";
import { EXIT, usageError } from "./cli-error.js";
import { CLIENT_OPTIONS, type Command } from "./command.js";
import { table } from "./format.js";
import { resolvePipeline } from "./refs.js";

/** Where `notice add --secret-env NAME` reads the target's HMAC secret from. */
const SHORT_EVENTS: Record<string, string> = {
  start: "pipelineRun.start",
  succeed: "pipelineRun.succeed",
  success: "pipelineRun.succeed",
  fail: "pipelineRun.failed",
  failed: "pipelineRun.failed",
  cancel: "pipelineRun.cancel",
  review: "pipelineRun.pause",
  pause: "pipelineRun.pause",
};

const iso = (ms: number | null): string => (ms ? new Date(ms).toISOString().replace(/\.\d+Z$/, "Z") : "-");

const list: Command = {
  spec: {
    path: ["notice", "list"],
    summary: "List a pipeline's notification targets",
    args: "PIPELINE",
    description: "URLs and secrets are shown masked. --json prints the server's answer.",
    options: [...CLIENT_OPTIONS],
    minArgs: 1,
    maxArgs: 1,
    examples: ["pipewright notice list build"],
  },
  async run(ctx) {
    const api = await ctx.project();
    const p = await resolvePipeline(api, ctx.args.positionals[0]!);
    const targets = await api.listNotices(p.id);
    if (ctx.json) {
      ctx.out(`${JSON.stringify(targets, null, 2)}\n`);
      return EXIT.OK;
    }
    if (targets.length === 0) {
      ctx.out(`Pipeline ${p.name} notifies nobody: add a target with 'pipewright notice add ${p.name} …'.\n`);
      return EXIT.OK;
    }
    const rows = targets.map((t) => [
      t.notice_id,
      t.notice_type,
      t.notice_status ? "on" : "off",
      t.notice_type === "email" ? t.notice_users.join(",") : t.send_url,
      t.notice_events.join(","),
    ]);
    ctx.out(table(["ID", "TYPE", "STATUS", "TO", "EVENTS"], rows, ctx.style));
    return EXIT.OK;
  },
};

const add: Command = {
  spec: {
    path: ["notice", "add"],
    summary: "Add a notification target to a pipeline",
    args: "PIPELINE",
    description: `--type is one of ${NOTICE_KINDS.join(", ")}. --url is the webhook's URL (not for email);
--to an address (email; repeat it). --event names an event (repeat it): start, succeed, failed,
cancel, review, or CodeArts's ids (${NOTICE_EVENTS.join(", ")}); default failed. The HMAC secret is
read from the environment variable --secret-env names. --json prints the new target's id.`,
    options: [
      { name: "type", type: "string", arg: "TYPE", help: "webhook, feishu, dingtalk, wecom, slack or email" },
      { name: "url", type: "string", arg: "URL", help: "where the notice is posted" },
      { name: "to", type: "string", arg: "ADDRESS", help: "an email address (repeatable)", multiple: true },
      {
        name: "event",
        type: "string",
        arg: "EVENT",
        help: "an event to notify (repeatable)",
        multiple: true,
      },
      {
        name: "secret-env",
        type: "string",
        arg: "NAME",
        help: "the environment variable holding the secret",
      },
      { name: "off", type: "boolean", help: "add it switched off" },
      ...CLIENT_OPTIONS,
    ],
    minArgs: 1,
    maxArgs: 1,
    examples: [
      "pipewright notice add build --type slack --url https://hooks.slack.com/services/… --event failed",
      "SECRET=s3 pipewright notice add build --type webhook --url https://ci.example.com/hook --secret-env SECRET --event start --event succeed",
      "pipewright notice add build --type email --to dev@example.com --event failed --event review",
    ],
  },
  async run(ctx) {
    const type = ctx.args.str("type");
    if (!type) throw usageError("--type is needed", `one of ${NOTICE_KINDS.join(", ")}`);
    const events = ctx.args.list("event").map((e) => SHORT_EVENTS[e] ?? e);
    const secretEnv = ctx.args.str("secret-env");
    let secret = "";
    if (secretEnv !== undefined) {
      secret = ctx.io.env[secretEnv] ?? "";
      if (secret === "") throw usageError(`the environment variable ${secretEnv} is not set`);
    }
    const api = await ctx.project();
    const p = await resolvePipeline(api, ctx.args.positionals[0]!);
    const res = await api.putNotice(p.id, {
      notice_type: type,
      notice_status: !ctx.args.bool("off"),
      send_url: ctx.args.str("url") ?? "",
      secret_info: secret,
      notice_events: events.length > 0 ? [...new Set(events)] : ["pipelineRun.failed"],
      notice_users: ctx.args.list("to"),
    });
    if (ctx.json) ctx.out(`${JSON.stringify({ notice_id: res.notice_id })}\n`);
    else ctx.out(`added ${type} target ${res.notice_id} to pipeline ${ctx.style.bold(p.name)}\n`);
    return EXIT.OK;
  },
};

const remove: Command = {
  spec: {
    path: ["notice", "remove"],
    summary: "Remove a notification target (and its deliveries)",
    args: "PIPELINE NOTICE-ID",
    description: "NOTICE-ID is the id 'notice list' shows.",
    options: [...CLIENT_OPTIONS],
    minArgs: 2,
    maxArgs: 2,
    examples: ["pipewright notice remove build 0123456789abcdef0123456789abcdef"],
  },
  async run(ctx) {
    const api = await ctx.project();
    const p = await resolvePipeline(api, ctx.args.positionals[0]!);
    const id = ctx.args.positionals[1]!;
    await api.deleteNotice(p.id, id);
    if (!ctx.json) ctx.out(`removed target ${id} from pipeline ${ctx.style.bold(p.name)}\n`);
    else ctx.out(`${JSON.stringify({ notice_id: id, removed: true })}\n`);
    return EXIT.OK;
  },
};

const deliveries: Command = {
  spec: {
    path: ["notice", "deliveries"],
    summary: "List a pipeline's notice deliveries and what came of them",
    args: "PIPELINE",
    description: "Newest first, at most --limit (default 20). --json prints the server's answer.",
    options: [{ name: "limit", type: "string", arg: "N", help: "how many (1-100)" }, ...CLIENT_OPTIONS],
    minArgs: 1,
    maxArgs: 1,
    examples: [
      "pipewright notice deliveries build",
      "pipewright notice deliveries build --json | jq '.deliveries[0]'",
    ],
  },
  async run(ctx) {
    const raw = ctx.args.str("limit") ?? "20";
    const limit = Number(raw);
    if (!/^\d+$/.test(raw) || limit < 1 || limit > 100)
      throw usageError("--limit must be a number from 1 to 100");
    const api = await ctx.project();
    const p = await resolvePipeline(api, ctx.args.positionals[0]!);
    const res = await api.noticeDeliveries(p.id, limit);
    if (ctx.json) {
      ctx.out(`${JSON.stringify(res, null, 2)}\n`);
      return EXIT.OK;
    }
    if (res.deliveries.length === 0) {
      ctx.out(`No notices were sent for pipeline ${p.name} yet.\n`);
      return EXIT.OK;
    }
    const rows = res.deliveries.map((d) => [
      iso(d.create_time),
      d.event,
      d.status,
      String(d.attempts),
      d.status === "PENDING" ? `next ${iso(d.next_attempt_time)}` : (d.last_error ?? ""),
      d.notice_id,
    ]);
    ctx.out(table(["TIME", "EVENT", "STATUS", "ATTEMPTS", "LAST ERROR", "TARGET"], rows, ctx.style));
    return EXIT.OK;
  },
};

export const noticeCommands: readonly Command[] = [list, add, remove, deliveries];
