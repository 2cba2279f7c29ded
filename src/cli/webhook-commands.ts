// Code-event webhooks from the CLI: `pipeline webhook` shows where a project's forges deliver and
// the secret they sign with; `deliveries` lists what they delivered and what came of it.

import { ERRORS } from "../errors.js";
import { DELIVERY_STATUSES, type DeliveryStatus, type ProjectApi, type WebhookDelivery } from "./api.js";
import { CliError, EXIT, usageError } from "./cli-error.js";
import { CLIENT_OPTIONS, type Command, type Ctx } from "./command.js";
import { table } from "./format.js";
import { resolvePipeline, runLabel } from "./refs.js";
import { DELIVERY_HEADERS, deliveryOutcome, deliveryRow } from "./triggers-format.js";

const webhook: Command = {
  spec: {
    path: ["pipeline", "webhook"],
    summary: "Show the webhook URL forges deliver code events to, and the secret they sign with",
    args: "PIPELINE",
    description: `The URL and secret are the project's: one delivery starts every pipeline of the project whose
triggers it matches. Give the forge the URL, and the secret as its webhook secret (GitHub:
Secret; GitLab: Secret token; Gitee: password or signing key), or sign the generic JSON form
with X-Pipewright-Signature: sha256=<hex HMAC-SHA256 of the body> (docs/definition.md).
The secret lets anyone start the project's pipelines: only a token that may change pipelines
(role admin) may see it.`,
    options: [...CLIENT_OPTIONS],
    minArgs: 1,
    maxArgs: 1,
    examples: [
      "pipewright pipeline webhook build",
      "pipewright pipeline webhook build --json | jq -r .security_token",
    ],
  },
  async run(ctx) {
    const api = await ctx.project();
    const ref = await resolvePipeline(api, ctx.args.positionals[0]!);
    let hook: Awaited<ReturnType<ProjectApi["webhook"]>>;
    try {
      hook = await api.webhook(ref.id);
    } catch (err) {
      if (err instanceof CliError && err.code === ERRORS.NO_PERMISSION.code) {
        throw new CliError(err.exitCode, err.message, {
          code: err.code,
          hint: "The webhook's secret starts the project's pipelines: only a token that may change them (role admin) may see it.",
          cause: err,
        });
      }
      throw err;
    }
    if (ctx.json) {
      ctx.out(`${JSON.stringify(hook, null, 2)}\n`);
      return EXIT.OK;
    }
    const { style } = ctx;
    ctx.out(
      [
        `callback_url    ${hook.callback_url}`,
        `security_token  ${hook.security_token}`,
        "",
        style.dim(
          "Give the forge the URL, and the token as its webhook secret (GitHub: Secret; GitLab: Secret",
        ),
        style.dim("token; Gitee: password or signing key). Both are the project's: a delivery starts every"),
        style.dim("pipeline of the project whose triggers it matches. Keep the token secret."),
        "",
      ].join("\n"),
    );
    return EXIT.OK;
  },
};

/** A whole number option within bounds, else a usage error naming them. */
function intOption(ctx: Ctx, name: string, min: number, max: number, fallback: number): number {
  const raw = ctx.args.str(name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw usageError(`--${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

/** Runs at most `n` of the tasks at a time. */
async function inTurns<T>(items: readonly T[], n: number, task: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await task(item);
  };
  await Promise.all(Array.from({ length: Math.min(n, queue.length) }, worker));
}

/**
 * Names for the runs and pipelines the deliveries mention: one listing of the pipelines, and the
 * latest 100 runs of each pipeline a delivery started (a run older than those, or of a deleted
 * pipeline, keeps its run id, which RUN arguments take too).
 */
async function namesFor(api: ProjectApi, deliveries: readonly WebhookDelivery[]) {
  const names = new Map<string, string>();
  const numbers = new Map<string, number>();
  const mentioned = deliveries.some((d) => d.pipeline_runs.length > 0 || d.skipped.length > 0);
  if (mentioned) for (const p of await api.allPipelines()) names.set(p.pipeline_id, p.name);
  const started = [...new Set(deliveries.flatMap((d) => d.pipeline_runs.map((r) => r.pipeline_id)))];
  await inTurns(
    started.filter((id) => names.has(id)),
    4,
    async (id) => {
      try {
        for (const r of (await api.listRuns(id, 0, 100)).pipeline_runs)
          numbers.set(r.pipeline_run_id, r.run_number);
      } catch (err) {
        // Deleted since the listing: its runs keep their ids.
        if (!(err instanceof CliError && err.code === ERRORS.PIPELINE_NOT_FOUND.code)) throw err;
      }
    },
  );
  return {
    run: (pipelineId: string, runId: string): string => {
      const name = names.get(pipelineId);
      const n = numbers.get(runId);
      return name && n !== undefined ? runLabel(name, n) : runId;
    },
    pipeline: (pipelineId: string): string => names.get(pipelineId) ?? pipelineId,
  };
}

const deliveries: Command = {
  spec: {
    path: ["deliveries"],
    summary: "List the project's webhook deliveries (code events) and what came of each, newest first",
    description: `A delivery is accepted (it started runs, shown as PIPELINE#N), ignored (no trigger matched;
the pipelines of its repository it passed over say why) or rejected (a wrong signature or token,
or a payload not in its forge's format). --json prints the server's answer:
{total, offset, limit, deliveries: [...]}.`,
    options: [
      {
        name: "status",
        type: "string",
        arg: "STATUS",
        help: `only deliveries of this status: ${DELIVERY_STATUSES.join(", ")}`,
      },
      { name: "limit", short: "n", type: "string", arg: "N", help: "how many (1 to 100, default 20)" },
      { name: "offset", type: "string", arg: "N", help: "skip the N newest first (default 0)" },
      ...CLIENT_OPTIONS,
    ],
    maxArgs: 0,
    examples: [
      "pipewright deliveries",
      "pipewright deliveries --status rejected",
      "pipewright deliveries --limit 100 --json | jq '.deliveries[] | select(.status == \"ignored\")'",
    ],
  },
  async run(ctx) {
    const status = ctx.args.str("status");
    if (status !== undefined && !(DELIVERY_STATUSES as readonly string[]).includes(status)) {
      throw usageError(`--status must be one of ${DELIVERY_STATUSES.join(", ")}, got "${status}"`);
    }
    const limit = intOption(ctx, "limit", 1, 100, 20);
    const offset = intOption(ctx, "offset", 0, 999_999_999, 0);
    const api = await ctx.project();
    const page = await api.deliveries({ status: status as DeliveryStatus | undefined, offset, limit });
    if (ctx.json) {
      ctx.out(`${JSON.stringify(page, null, 2)}\n`);
      return EXIT.OK;
    }
    if (page.deliveries.length === 0) {
      ctx.out(
        page.total > 0
          ? `No deliveries past the ${page.total} there are.\n`
          : status
            ? `No ${status} deliveries.\n`
            : "No webhook deliveries yet: 'pipewright pipeline webhook PIPELINE' shows where forges deliver.\n",
      );
      return EXIT.OK;
    }
    const names = await namesFor(api, page.deliveries);
    ctx.out(
      table(
        DELIVERY_HEADERS,
        page.deliveries.map((d) => deliveryRow(d, deliveryOutcome(d, names.run, names.pipeline), ctx.style)),
        ctx.style,
      ),
    );
    const shown = offset + page.deliveries.length;
    if (shown < page.total) {
      ctx.note(`Showing ${offset + 1}–${shown} of ${page.total}; --offset ${shown} for more.`);
    }
    return EXIT.OK;
  },
};

export const webhookCommands: readonly Command[] = [webhook, deliveries];
