// Step logs (spec §4.11): paged by lines over byte offsets, and live as Server-Sent Events that
// start with what is stored and go on with what the step prints.

import type { FastifyInstance } from "fastify";
import { TERMINAL_NODE_STATUSES } from "../pipeline/vocabulary.js";
import { logPageSchema } from "../wire/schemas.js";
import type { LogPage } from "../wire/types.js";
import type { RouteContext } from "./context.js";
import { joinFrom, offsetOf, pageBackward, pageForward } from "./log-paging.js";
import { loadStepLog } from "./lookups.js";
import { authorizePipeline } from "./pipeline-access.js";
import { logBody, logStreamQuery } from "./run-schemas.js";
import { stepParams } from "./schemas.js";
import { type SseStream, streamSse } from "./sse.js";
import { typed } from "./type-provider.js";

const STEP =
  "/v5/:project_id/api/pipelines/:pipeline_id/pipeline-runs/:pipeline_run_id/jobs/:job_run_id/steps/:step_run_id";
/** How often a live log stream looks at the store for text this process did not see. */
const LOG_POLL_MS = 250;

export function registerLogRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store, logs, clock } = ctx;
  const api = typed(app);

  api.post(
    `${STEP}/logs`,
    {
      schema: {
        tags: ["logs"],
        summary: "Step log (ShowPipelineLog)",
        description:
          "Offsets are byte offsets into the step's log, returned as strings. sort=asc: up to `limit` lines from start_offset; " +
          "feed end_offset back as the next start_offset. sort=desc: the last `limit` lines before end_offset (0 or absent = the end). " +
          "has_more is true while more text exists in that direction or the step is still running.",
        params: stepParams,
        body: logBody,
        response: { 200: logPageSchema },
      },
    },
    async (req): Promise<LogPage> => {
      await authorizePipeline(ctx, req, req.params.project_id, req.params.pipeline_id, "query");
      const b = req.body;
      const { logId, running } = await loadStepLog(store, req.params, b.attempt);
      const start = offsetOf("start_offset", b.start_offset);
      const end = offsetOf("end_offset", b.end_offset);
      await logs.flush(logId);
      const page =
        b.sort === "asc"
          ? pageForward(await store.readLog(logId, start), start, b.limit)
          : pageBackward(await store.readLog(logId, 0, end === 0 ? undefined : end), end, b.limit);
      return {
        step_run_id: req.params.step_run_id,
        start_offset: String(page.start),
        end_offset: String(page.end),
        has_more: page.more || (b.sort === "asc" && running),
        log: page.text,
      };
    },
  );

  api.get(
    `${STEP}/logs/stream`,
    {
      schema: {
        tags: ["logs"],
        summary: "Live step log (Server-Sent Events)",
        description:
          "text/event-stream: `log` events with data `{offset, text}` from ?offset (default 0), first what is stored, then live; " +
          "an `end` event when the step has finished.",
        params: stepParams,
        querystring: logStreamQuery,
      },
    },
    async (req, reply) => {
      await authorizePipeline(ctx, req, req.params.project_id, req.params.pipeline_id, "query");
      const attempt = req.query.attempt === undefined ? undefined : Number(req.query.attempt);
      const { logId, running } = await loadStepLog(store, req.params, attempt);
      const from = Number(req.query.offset ?? "0");
      if (logId !== req.params.step_run_id && !running) {
        // An earlier attempt: all of it is stored; send it and end.
        return streamSse(req, reply, { clock, closing: ctx.closing }, async (stream) => {
          const chunks = await store.readLog(logId, from);
          if (chunks.length > 0) stream.send("log", { offset: from, text: joinFrom(chunks, from) });
        });
      }
      return streamSse(req, reply, { clock, closing: ctx.closing }, (stream) =>
        followLog(stream, logId, from),
      );
    },
  );

  /**
   * One step's log as events. Text this process sees (its own runner, or an agent reporting
   * here) is sent as it arrives; the store is polled as well, so the stream works whichever
   * replica the job reports to. Ends when the step has ended and all is sent.
   */
  async function followLog(stream: SseStream, stepId: string, from: number): Promise<void> {
    let sentTo = from;
    const send = (offset: number, text: string): void => {
      // Only contiguous text: what overlaps is trimmed, what would leave a gap waits for the store.
      const buf = Buffer.from(text);
      if (offset > sentTo) {
        stream.wake();
        return;
      }
      const skip = sentTo - offset;
      if (skip >= buf.length) return;
      stream.send("log", { offset: sentTo, text: buf.subarray(skip).toString() });
      sentTo = offset + buf.length;
    };
    const unsubscribe = logs.subscribe(
      stepId,
      (e) => send(e.offset, e.text),
      () => stream.wake(),
    );
    try {
      while (!stream.signal.aborted) {
        await logs.flush(stepId);
        const step = await store.getStep(stepId);
        const chunks = await store.readLog(stepId, sentTo);
        if (chunks.length > 0) send(sentTo, joinFrom(chunks, sentTo));
        // A step sent back to the queue (its runner was lost) starts a new log: this one is over.
        const restarted = step !== undefined && step.log_bytes < sentTo && step.status === "INIT";
        const ended =
          step !== undefined &&
          TERMINAL_NODE_STATUSES.has(step.status) &&
          !logs.isOpen(stepId) &&
          sentTo >= step.log_bytes;
        if (!step || restarted || ended) return;
        await stream.wait(LOG_POLL_MS);
      }
    } finally {
      unsubscribe();
    }
  }
}
