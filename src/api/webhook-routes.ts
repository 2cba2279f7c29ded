// Code-event webhooks: the hook URL forges deliver to (no token: the delivery proves itself with
// the project's secret, the way its forge signs), the CodeArts operations that show a pipeline's
// hook (callback_url + security_token) and its failed trigger records, and our listing of every
// delivery.

import type { FastifyInstance } from "fastify";
import { PipewrightError } from "../errors.js";
import type { DeliveryRecord } from "../store/store.js";
import {
  deliveryAnswerSchema,
  deliveryListSchema,
  triggerFailedRecordSchema,
  webhookSchema,
} from "../wire/schemas.js";
import { parseJsonBody } from "./body.js";
import { authorizeProject, type RouteContext } from "./context.js";
import { requireProjectExists } from "./lookups.js";
import { authorizePipeline } from "./pipeline-access.js";
import { pipelineParams, projectParams } from "./schemas.js";

/** Query strings are text: offset (default 0) and limit (1-100, default 10) as numbers. */
const pageOf = (q: { offset?: string; limit?: string }) => ({
  offset: q.offset === undefined ? 0 : Number(q.offset),
  limit: q.limit === undefined ? 10 : Number(q.limit),
});

const deliveryView = (d: DeliveryRecord) => ({
  id: d.id,
  delivery_id: d.delivery_id,
  forge: d.forge,
  event: d.event,
  status: d.status,
  reason: d.reason,
  repository: d.repository,
  ref: d.ref,
  commit_id: d.commit_id,
  pipeline_runs: d.started,
  skipped: d.skipped,
  create_time: d.create_time,
});

const paging = {
  type: "object",
  properties: {
    offset: { type: "string", pattern: "^\\d{1,9}$" },
    limit: { type: "string", pattern: "^(100|[1-9]\\d?)$" },
    status: { type: "string", enum: ["accepted", "ignored", "rejected"] },
  },
  additionalProperties: false,
} as const;

export function registerWebhookRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store, engine } = ctx;

  // The hook: its own scope, where bodies stay bytes until the signature over them is checked.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer" }, (req, body: Buffer, done) => {
      req.rawBody = body;
      done(null, body);
    });
    scope.post(
      "/hooks/v1/:project_id",
      {
        schema: {
          tags: ["triggers"],
          summary: "Receive a code event (GitHub, GitLab, Gitee, CodeArts Repo or the generic JSON form)",
          description:
            "Authenticated by the project's webhook secret as each forge uses it: GitHub's X-Hub-Signature-256, GitLab's X-Gitlab-Token, Gitee's X-Gitee-Token (password or signature), CodeArts Repo's X-Repo-Token (or the header of its webhook's token type), X-Pipewright-Signature (sha256=HMAC of the body) for the generic form.",
          params: projectParams,
          response: { 200: deliveryAnswerSchema, 202: deliveryAnswerSchema },
        },
      },
      async (req, reply) => {
        const { project_id } = req.params as { project_id: string };
        // An unknown project answers as a wrong secret does: the hook says nothing of what exists.
        if (!(await store.getProject(project_id))) {
          throw new PipewrightError("UNAUTHENTICATED", "The delivery's signature or token does not match.");
        }
        const out = await engine.codeEvents.receive(
          project_id,
          req.headers,
          req.rawBody ?? Buffer.alloc(0),
          parseJsonBody,
        );
        return reply
          .status(out.status === "accepted" ? 200 : 202)
          .send({ ...deliveryView(out.record), replayed: out.replayed });
      },
    );
  });

  app.get(
    "/v5/:project_id/api/pipelines/:pipeline_id/webhook",
    {
      schema: {
        tags: ["triggers"],
        summary: "The pipeline's webhook: where forges deliver, and the secret they sign with",
        params: pipelineParams,
        response: { 200: webhookSchema },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params as { project_id: string; pipeline_id: string };
      // The secret lets anyone start the project's pipelines: those who may change them see it.
      await authorizePipeline(ctx, req, project_id, pipeline_id, "update");
      return {
        callback_url: `${req.protocol}://${req.headers.host ?? "localhost"}/hooks/v1/${project_id}`,
        security_token: await engine.codeEvents.secretOf(project_id),
        pipeline_id,
      };
    },
  );

  app.get(
    "/v5/:project_id/api/pipelines/:pipeline_id/trigger-failed-record",
    {
      schema: {
        tags: ["triggers"],
        summary: "Deliveries that were rejected, or matched this pipeline's repository and started nothing",
        params: pipelineParams,
        querystring: paging,
        response: { 200: triggerFailedRecordSchema },
      },
    },
    async (req) => {
      const { project_id, pipeline_id } = req.params as { project_id: string; pipeline_id: string };
      await authorizePipeline(ctx, req, project_id, pipeline_id, "query");
      const q = pageOf(req.query as { offset?: string; limit?: string });
      const [rejected, skipped] = await Promise.all([
        store.listDeliveries({ projectId: project_id, statuses: ["rejected"], limit: 1000, offset: 0 }),
        store.listDeliveries({ projectId: project_id, pipelineId: pipeline_id, limit: 1000, offset: 0 }),
      ]);
      const mine = skipped.items.filter((d) => d.skipped.some((s) => s.pipeline_id === pipeline_id));
      const all = [...rejected.items, ...mine].sort(
        (a, b) => b.create_time - a.create_time || (a.id < b.id ? 1 : -1),
      );
      return {
        total: all.length,
        offset: q.offset,
        limit: q.limit,
        records: all.slice(q.offset, q.offset + q.limit).map((d) => ({
          ...deliveryView(d),
          reason:
            d.status === "rejected"
              ? d.reason
              : (d.skipped.find((s) => s.pipeline_id === pipeline_id)?.reason ?? d.reason),
        })),
      };
    },
  );

  app.get(
    "/v5/:project_id/api/webhook-deliveries",
    {
      schema: {
        tags: ["triggers"],
        summary: "Every code-event delivery to the project (accepted, ignored, rejected), newest first",
        params: projectParams,
        querystring: paging,
        response: { 200: deliveryListSchema },
      },
    },
    async (req) => {
      const { project_id } = req.params as { project_id: string };
      await authorizeProject(ctx, req, project_id, "read");
      await requireProjectExists(store, project_id);
      const raw = req.query as { offset?: string; limit?: string; status?: string };
      const q = { ...pageOf(raw), status: raw.status };
      const page = await store.listDeliveries({
        projectId: project_id,
        statuses: q.status ? [q.status] : undefined,
        limit: q.limit,
        offset: q.offset,
      });
      return {
        total: page.total,
        offset: q.offset,
        limit: q.limit,
        deliveries: page.items.map(deliveryView),
      };
    },
  );
}
