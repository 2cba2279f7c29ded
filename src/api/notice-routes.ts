// Pipeline notifications, as CodeArts's pipeline-notices API has its third-party notices: list a
// pipeline's targets (ShowPipelineThirdPartyNotice), add or change one
// (UpdatePipelineThirdPartyNotice), switch all of a type on or off (SwitchPipelineNotice); and
// ours: remove a target, and the deliveries with what came of each attempt. URLs and secrets
// are sealed at rest and never answered in clear: a secret reads as the mask, a URL as its
// origin; sent back unchanged, either keeps the stored value.

import type { FastifyInstance } from "fastify";
import { PipewrightError } from "../errors.js";
import { maskUrl, NOTICE_EVENTS, NOTICE_KINDS, targetIssues } from "../pipeline/notices.js";
import { SECRET_MASK } from "../pipeline/vocabulary.js";
import type { NoticeDeliveryRecord, NoticeTargetRecord } from "../store/store.js";
import type { RouteContext } from "./context.js";
import { authorizePipeline } from "./pipeline-access.js";
import { idSchema, pageOfQuery, pageQueryFields, pipelineParams } from "./schemas.js";
import { typed } from "./type-provider.js";

/** Targets per pipeline at most: each status change writes one delivery per target. */
export const MAX_NOTICE_TARGETS = 20;

const str = { type: "string" } as const;
const strings = { type: "array", items: str } as const;
const strOrNull = { type: ["string", "null"] } as const;
const intOrNull = { type: ["integer", "null"] } as const;

/** ShowPipelineThirdPartyNotice's item, field for field. */
const targetView = {
  type: "object",
  additionalProperties: false,
  required: [
    "notice_id",
    "pipeline_id",
    "notice_type",
    "notice_status",
    "send_url",
    "notice_events",
    "notice_contents",
    "notice_users",
    "secret_info",
    "sort_index",
  ],
  properties: {
    notice_id: str,
    pipeline_id: str,
    notice_type: str,
    notice_status: { type: "boolean" },
    send_url: str,
    notice_events: strings,
    notice_contents: strings,
    notice_users: strings,
    secret_info: str,
    sort_index: { type: "integer" },
  },
} as const;

const attemptView = {
  type: "object",
  additionalProperties: false,
  required: ["time", "outcome", "status_code", "error"],
  properties: { time: { type: "integer" }, outcome: str, status_code: intOrNull, error: strOrNull },
} as const;

/** Ours: one delivery and its attempts. */
const deliveryView = {
  type: "object",
  additionalProperties: false,
  required: [
    "delivery_id",
    "notice_id",
    "pipeline_run_id",
    "event",
    "status",
    "attempts",
    "next_attempt_time",
    "last_error",
    "history",
    "create_time",
    "update_time",
  ],
  properties: {
    delivery_id: str,
    notice_id: str,
    pipeline_run_id: str,
    event: str,
    status: { type: "string", enum: ["PENDING", "SUCCEEDED", "FAILED"] },
    attempts: { type: "integer" },
    next_attempt_time: intOrNull,
    last_error: strOrNull,
    history: { type: "array", items: attemptView },
    create_time: { type: "integer" },
    update_time: { type: "integer" },
  },
} as const;

const statusSchema = {
  type: "object",
  additionalProperties: false,
  required: ["status"],
  properties: { status: str, notice_id: str },
} as const;

export function targetViewOf(t: NoticeTargetRecord) {
  return {
    notice_id: t.id,
    pipeline_id: t.pipeline_id,
    notice_type: t.kind,
    notice_status: t.enabled,
    send_url: maskUrl(t.url),
    notice_events: [...t.events],
    notice_contents: [...t.contents],
    notice_users: [...t.users],
    secret_info: t.secret === "" ? "" : SECRET_MASK,
    sort_index: t.sort_index,
  };
}

function deliveryViewOf(d: NoticeDeliveryRecord) {
  return {
    delivery_id: d.id,
    notice_id: d.target_id,
    pipeline_run_id: d.run_id,
    event: d.event,
    status: d.status,
    attempts: d.attempts,
    next_attempt_time: d.status === "PENDING" ? d.next_attempt : null,
    last_error: d.last_error,
    history: d.history.map((a) => ({ ...a })),
    create_time: d.create_time,
    update_time: d.update_time,
  };
}

export function registerNoticeRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;
  const api = typed(app);
  const base = "/v5/:project_id/api/pipeline-notices/:pipeline_id/notice";

  api.get(
    `${base}/message`,
    {
      schema: {
        tags: ["notices"],
        summary:
          "The pipeline's notification targets (ShowPipelineThirdPartyNotice); URLs and secrets masked",
        params: pipelineParams,
        response: { 200: { type: "array", items: targetView } },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params;
      await authorizePipeline(ctx, req, project_id, pipeline_id, "query");
      return (await store.listNoticeTargets(pipeline_id)).map(targetViewOf);
    },
  );

  api.post(
    `${base}/message`,
    {
      schema: {
        tags: ["notices"],
        summary:
          "Add a notification target, or change the one of notice_id (UpdatePipelineThirdPartyNotice); answers its notice_id (ours)",
        params: pipelineParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["notice_type", "notice_status", "notice_events"],
          properties: {
            // Absent or "": a new target.
            notice_id: { anyOf: [idSchema, { type: "string", maxLength: 0 }] },
            // As the list answers it (an item sent back as read); the path's pipeline.
            pipeline_id: idSchema,
            notice_type: { type: "string", enum: NOTICE_KINDS },
            notice_status: { type: "boolean" },
            send_url: { type: "string", maxLength: 2048 },
            secret_info: { type: "string", maxLength: 512 },
            notice_events: {
              type: "array",
              items: { type: "string", enum: NOTICE_EVENTS },
              maxItems: NOTICE_EVENTS.length,
              uniqueItems: true,
            },
            notice_contents: { type: "array", items: { type: "string", maxLength: 64 }, maxItems: 32 },
            notice_users: { type: "array", items: { type: "string", maxLength: 254 }, maxItems: 50 },
            sort_index: { type: "integer", minimum: 0, maximum: 1_000_000 },
          },
        },
        response: { 200: statusSchema },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params;
      await authorizePipeline(ctx, req, project_id, pipeline_id, "update");
      const b = req.body;
      if (b.pipeline_id !== undefined && b.pipeline_id !== pipeline_id)
        throw new PipewrightError("NOTICE_TARGET_INVALID", "pipeline_id: must be the pipeline of the path");
      const targets = await store.listNoticeTargets(pipeline_id);
      const prior = b.notice_id ? targets.find((t) => t.id === b.notice_id) : undefined;
      if (b.notice_id && !prior)
        throw new PipewrightError(
          "NOTICE_NOT_FOUND",
          `notice_id: the pipeline has no notification target ${b.notice_id}.`,
        );
      if (!prior && targets.length >= MAX_NOTICE_TARGETS)
        throw new PipewrightError(
          "NOTICE_LIMIT_REACHED",
          `The pipeline has ${targets.length} notification targets, the most it may have; remove one first.`,
        );
      // The masks sent back unchanged keep what is stored (a form shows them and sends them again).
      const sentUrl = b.send_url ?? "";
      const url = prior && sentUrl === maskUrl(prior.url) ? prior.url : sentUrl;
      const sentSecret = b.secret_info ?? "";
      const secret = prior && sentSecret === SECRET_MASK ? prior.secret : sentSecret;
      const kind = b.notice_type;
      const users = b.notice_users ?? [];
      const issue = targetIssues({ kind, url, users })[0];
      if (issue) throw new PipewrightError("NOTICE_TARGET_INVALID", `${issue.field}: ${issue.message}`);
      const now = ctx.clock.now();
      const id = prior?.id ?? ctx.newId();
      await store.putNoticeTarget({
        id,
        project_id,
        pipeline_id,
        kind,
        enabled: b.notice_status,
        url: kind === "email" ? "" : url,
        secret,
        events: b.notice_events,
        contents: b.notice_contents ?? [],
        users,
        sort_index: b.sort_index ?? prior?.sort_index ?? targets.length,
        create_time: prior?.create_time ?? now,
        update_time: now,
      });
      return { status: "success", notice_id: id };
    },
  );

  api.delete(
    `${base}/message/:notice_id`,
    {
      schema: {
        tags: ["notices"],
        summary: "Remove a notification target and its deliveries (ours)",
        params: {
          type: "object",
          required: ["project_id", "pipeline_id", "notice_id"],
          properties: { project_id: idSchema, pipeline_id: idSchema, notice_id: idSchema },
        },
        response: { 200: statusSchema },
      },
    },
    async (req) => {
      const { project_id, pipeline_id, notice_id } = req.params;
      await authorizePipeline(ctx, req, project_id, pipeline_id, "update");
      if (!(await store.deleteNoticeTarget(pipeline_id, notice_id)))
        throw new PipewrightError(
          "NOTICE_NOT_FOUND",
          `The pipeline has no notification target ${notice_id}.`,
        );
      return { status: "success" };
    },
  );

  api.post(
    `${base}/all`,
    {
      schema: {
        tags: ["notices"],
        summary:
          "Switch every notification target of a notice_type on or off (SwitchPipelineNotice); thirdPartyNotice: all of them",
        params: pipelineParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["notice_type", "notice_switch"],
          properties: {
            notice_type: { type: "string", enum: [...NOTICE_KINDS, "thirdPartyNotice"] },
            notice_switch: { type: "boolean" },
          },
        },
        response: { 200: statusSchema },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params;
      await authorizePipeline(ctx, req, project_id, pipeline_id, "update");
      const { notice_type, notice_switch } = req.body;
      const now = ctx.clock.now();
      await store.transaction(async (tx) => {
        for (const t of await tx.listNoticeTargets(pipeline_id)) {
          if (notice_type !== "thirdPartyNotice" && t.kind !== notice_type) continue;
          if (t.enabled === notice_switch) continue;
          await tx.putNoticeTarget({ ...t, enabled: notice_switch, update_time: now });
        }
      });
      return { status: "success" };
    },
  );

  api.get(
    `${base}/deliveries`,
    {
      schema: {
        tags: ["notices"],
        summary: "The pipeline's notice deliveries, newest first, with every attempt's outcome (ours)",
        params: pipelineParams,
        querystring: { type: "object", additionalProperties: false, properties: pageQueryFields },
        response: {
          200: {
            type: "object",
            additionalProperties: false,
            required: ["total", "offset", "limit", "deliveries"],
            properties: {
              total: { type: "integer" },
              offset: { type: "integer" },
              limit: { type: "integer" },
              deliveries: { type: "array", items: deliveryView },
            },
          },
        },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params;
      await authorizePipeline(ctx, req, project_id, pipeline_id, "query");
      const page = pageOfQuery(req.query, 20);
      const res = await store.listNoticeDeliveries(pipeline_id, page);
      return { total: res.total, ...page, deliveries: res.items.map(deliveryViewOf) };
    },
  );
}
