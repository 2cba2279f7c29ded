// The runner agents' API (ours, not CodeArts's): register, long-poll for jobs, heartbeat, report
// steps, logs and results. Every report names the runner, the job and its attempt; an answer
// `held: false` tells the agent the job is no longer its own (stopped, or given to another
// runner), and the agent stops working on it. Fenced-out reports still answer 200 so agents do
// not retry them; a report for a runner of another credential answers 403.

import type { FastifyInstance, FastifyRequest } from "fastify";
import { ONLINE_MS, type RunnerReport } from "../engine/runner-protocol.js";
import { PipewrightError } from "../errors.js";
import { LIMITS } from "../pipeline/limits.js";
import { OUTPUT_NAME } from "../pipeline/outputs.js";
import { STEP_RESULTS } from "../pipeline/vocabulary.js";
import type { Principal } from "./auth.js";
import { principalOf, type RouteContext } from "./context.js";
import { idSchema } from "./schemas.js";
import { streamSse } from "./sse.js";
import { typed } from "./type-provider.js";

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export const CLAIM_MAX_WAIT_MS = 30_000;

const held = { 200: { type: "object", properties: { held: { type: "boolean" } } } } as const;
const jobParams = { type: "object", required: ["job_id"], properties: { job_id: idSchema } } as const;
const stepParams = {
  type: "object",
  required: ["job_id", "step_id"],
  properties: { job_id: idSchema, step_id: idSchema },
} as const;
/** What every report carries: whose runner, and which attempt of the job. */
const reportFields = {
  runner_id: idSchema,
  attempt: { type: "integer", minimum: 1, maximum: 1_000_000_000 },
} as const;
/** The labels a runner takes jobs for (a claim, a stream). */
const askedLabels = {
  type: "array",
  items: { type: "string", maxLength: LIMITS.runnerLabelLength },
  maxItems: LIMITS.runnerLabels,
} as const;
/** A job a runner names (as held at a stream's open, or started by its previous process). */
const heldJob = {
  type: "object",
  required: ["job_id", "attempt"],
  properties: { job_id: idSchema, attempt: reportFields.attempt },
} as const;
const attemptBody = { type: "object", required: ["runner_id", "attempt"], properties: reportFields } as const;

/** A step's outputs as a runner reports them (checked by the runner; bounded here again). */
const outputsSchema = {
  type: "array",
  maxItems: LIMITS.stepOutputs,
  items: {
    type: "object",
    required: ["key", "value"],
    additionalProperties: false,
    properties: {
      key: { type: "string", pattern: OUTPUT_NAME.source, maxLength: LIMITS.nameLength },
      value: { type: "string", maxLength: LIMITS.stepOutputValueLength },
    },
  },
} as const;

/** Reports in one batch at most, and the batch's size (log text included). */
export const REPORTS_PER_BATCH = 5000;
const REPORTS_BODY_BYTES = 16 * 1024 * 1024;

interface WireReport {
  type: "heartbeat" | "step_started" | "step_log" | "step_finished" | "job_finished";
  job_id: string;
  attempt: number;
  step_id?: string | undefined;
  offset?: number | undefined;
  text?: string | undefined;
  status?: (typeof STEP_RESULTS)[number] | undefined;
  next_step?: number | undefined;
  message?: string | null | undefined;
  outputs?: { key: string; value: string }[] | undefined;
}

/** A report as the engine takes it; a field its type needs but lacks is refused, named. */
function toReport(r: WireReport, i: number): RunnerReport {
  const need = <T>(v: T | undefined, field: string): T => {
    if (v === undefined) {
      throw new PipewrightError("INVALID_REQUEST", `reports[${i}].${field}: required for a ${r.type} report`);
    }
    return v;
  };
  const key = { jobId: r.job_id, attempt: r.attempt };
  switch (r.type) {
    case "heartbeat":
      return { type: "heartbeat", ...key };
    case "step_started":
      return { type: "step_started", ...key, stepId: need(r.step_id, "step_id") };
    case "step_log":
      return {
        type: "step_log",
        ...key,
        stepId: need(r.step_id, "step_id"),
        offset: need(r.offset, "offset"),
        text: need(r.text, "text"),
      };
    case "step_finished":
      return {
        type: "step_finished",
        ...key,
        stepId: need(r.step_id, "step_id"),
        status: need(r.status, "status"),
        message: r.message ?? null,
        outputs: r.outputs,
      };
    case "job_finished":
      return {
        type: "job_finished",
        ...key,
        outcome: {
          status: need(r.status, "status"),
          nextStep: need(r.next_step, "next_step"),
          message: r.message ?? null,
        },
      };
  }
}

export function registerRunnerRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store } = ctx;
  const runners = ctx.engine.runners;
  const api = typed(app);

  /** A report as the engine takes it: the caller's credential, its runner, the job and attempt. */
  async function reportOf(req: FastifyRequest, jobId: string, b: { runner_id: string; attempt: number }) {
    const p = await requireRunner(req);
    return { credentialId: p.id, runnerId: b.runner_id, jobId, attempt: b.attempt };
  }

  /** A single report (the one-report routes): a batch of one. */
  async function one(
    report: { credentialId: string; runnerId: string; jobId: string; attempt: number },
    r: DistributiveOmit<RunnerReport, "jobId" | "attempt">,
  ): Promise<boolean> {
    const full = { ...r, jobId: report.jobId, attempt: report.attempt } as RunnerReport;
    const [held] = await runners.report(report, [full]);
    return held === true;
  }

  async function requireRunner(req: FastifyRequest): Promise<Principal> {
    const p = await principalOf(ctx, req);
    if (!p.superuser && p.role !== "runner") {
      throw new PipewrightError("NO_PERMISSION", "Only runner credentials (role runner) may take jobs.");
    }
    return p;
  }

  api.post(
    "/runner/v1/register",
    {
      schema: {
        tags: ["runners"],
        summary:
          "Register a runner agent (again after a reconnect or a restart: send its runner_id; a restarted process also sends fresh: true, and the jobs its runner held are settled at once)",
        body: {
          type: "object",
          required: ["name", "slots"],
          properties: {
            runner_id: idSchema,
            // The agent's process registers for the first time (see RunnerRegistration.fresh).
            fresh: { type: "boolean" },
            // With fresh: jobs whose steps the previous process started (they count as lost by it).
            ran: { type: "array", items: heldJob, maxItems: LIMITS.runnerHolding },
            name: { type: "string", minLength: 1, maxLength: LIMITS.nameLength },
            labels: {
              type: "array",
              items: { type: "string", minLength: 1, maxLength: LIMITS.runnerLabelLength },
              maxItems: LIMITS.runnerLabels,
            },
            slots: { type: "integer", minimum: 1, maximum: LIMITS.runnerSlots },
            version: { type: "string", maxLength: 64 },
          },
        },
      },
    },
    async (req) => {
      const p = await requireRunner(req);
      const b = req.body;
      const registration = {
        runnerId: b.runner_id,
        fresh: b.fresh === true,
        ran: (b.ran ?? []).map((h) => ({ id: h.job_id, attempt: h.attempt })),
        name: b.name,
        labels: b.labels ?? [],
        slots: b.slots,
        version: b.version ?? "",
      };
      const { runnerId, previousJobs } = await runners.register(registration, p.id);
      return { runner_id: runnerId, heartbeat_ms: runners.heartbeatMs, previous_jobs: previousJobs };
    },
  );

  api.post(
    "/runner/v1/claim",
    {
      schema: {
        tags: ["runners"],
        summary: "Long-poll for up to `limit` jobs whose labels the runner has",
        body: {
          type: "object",
          required: ["runner_id", "limit"],
          properties: {
            runner_id: idSchema,
            limit: { type: "integer", minimum: 1, maximum: LIMITS.runnerSlots },
            labels: askedLabels,
            wait_ms: { type: "integer", minimum: 0, maximum: CLAIM_MAX_WAIT_MS },
          },
        },
      },
    },
    async (req, reply) => {
      const p = await requireRunner(req);
      const b = req.body;
      // The response's close before it was sent means the agent went away.
      const gone = new AbortController();
      reply.raw.once("close", () => gone.abort());
      if (reply.raw.destroyed) gone.abort();
      const jobs = await runners.claim({
        credentialId: p.id,
        runnerId: b.runner_id,
        limit: b.limit,
        labels: b.labels ?? [],
        waitMs: b.wait_ms ?? 0,
        signal: gone.signal,
      });
      return { jobs };
    },
  );

  api.post(
    "/runner/v1/stream",
    {
      schema: {
        tags: ["runners"],
        summary:
          "The runner's job stream (text/event-stream): `jobs` events push jobs as its slots are free, `cancel` events name jobs whose runs were stopped",
        body: {
          type: "object",
          required: ["runner_id", "free"],
          properties: {
            runner_id: idSchema,
            labels: askedLabels,
            free: { type: "integer", minimum: 0, maximum: LIMITS.runnerSlots },
            received: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
            // The jobs it holds (running, or with reports on their way): the unconfirmed jobs of
            // this runner not named here were never received, and go back to the queue.
            holding: {
              type: "array",
              maxItems: LIMITS.runnerHolding,
              items: heldJob,
            },
          },
        },
      },
    },
    async (req, reply) => {
      const p = await requireRunner(req);
      const b = req.body;
      const request = {
        credentialId: p.id,
        runnerId: b.runner_id,
        labels: b.labels ?? [],
        free: b.free,
        received: b.received ?? 0,
        holding: b.holding?.map((h) => ({ id: h.job_id, attempt: h.attempt })),
      };
      // Refusals (not registered, another credential) answer before the stream opens.
      await runners.checkRunner(request);
      return streamSse(req, reply, { clock: ctx.clock, closing: ctx.closing }, (stream) =>
        runners.stream(request, stream),
      );
    },
  );

  api.post(
    "/runner/v1/reports",
    {
      bodyLimit: REPORTS_BODY_BYTES,
      schema: {
        tags: ["runners"],
        summary:
          "A batch of reports on the runner's jobs, in the order made: heartbeats, step starts and ends, log chunks, job ends; answers per report whether the job is still the runner's",
        body: {
          type: "object",
          required: ["runner_id", "reports"],
          properties: {
            runner_id: idSchema,
            free: { type: "integer", minimum: 0, maximum: LIMITS.runnerSlots },
            received: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
            reports: {
              type: "array",
              maxItems: REPORTS_PER_BATCH,
              items: {
                type: "object",
                required: ["type", "job_id", "attempt"],
                properties: {
                  type: {
                    type: "string",
                    enum: ["heartbeat", "step_started", "step_log", "step_finished", "job_finished"],
                  },
                  job_id: idSchema,
                  attempt: reportFields.attempt,
                  step_id: idSchema,
                  offset: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
                  text: { type: "string" },
                  status: { type: "string", enum: STEP_RESULTS },
                  next_step: { type: "integer", minimum: 0, maximum: LIMITS.stepsPerJob },
                  message: { type: ["string", "null"], maxLength: LIMITS.reportMessageLength },
                  outputs: outputsSchema,
                },
              },
            },
          },
        },
        response: {
          200: { type: "object", properties: { held: { type: "array", items: { type: "boolean" } } } },
        },
      },
    },
    async (req) => {
      const p = await requireRunner(req);
      const b = req.body;
      const reports = b.reports.map((r, i) => toReport(r, i));
      const held = await runners.report({ credentialId: p.id, runnerId: b.runner_id }, reports, {
        free: b.free,
        received: b.received,
      });
      return { held };
    },
  );

  api.post(
    "/runner/v1/jobs/:job_id/heartbeat",
    {
      schema: {
        tags: ["runners"],
        summary: "Renew a job's lease",
        params: jobParams,
        body: attemptBody,
        response: held,
      },
    },
    async (req) => {
      const report = await reportOf(req, req.params.job_id, req.body);
      return { held: await one(report, { type: "heartbeat" }) };
    },
  );

  api.post(
    "/runner/v1/jobs/:job_id/steps/:step_id/start",
    {
      schema: {
        tags: ["runners"],
        summary: "A step started",
        params: stepParams,
        body: attemptBody,
        response: held,
      },
    },
    async (req) => {
      const report = await reportOf(req, req.params.job_id, req.body);
      return { held: await one(report, { type: "step_started", stepId: req.params.step_id }) };
    },
  );

  api.post(
    "/runner/v1/jobs/:job_id/steps/:step_id/log",
    {
      schema: {
        tags: ["runners"],
        summary: "Append a chunk of a step's log at its byte offset (resending a chunk is harmless)",
        params: stepParams,
        body: {
          type: "object",
          required: ["runner_id", "attempt", "offset", "text"],
          properties: {
            ...reportFields,
            offset: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
            text: { type: "string" },
          },
        },
        response: held,
      },
    },
    async (req) => {
      const b = req.body;
      const report = await reportOf(req, req.params.job_id, b);
      return {
        held: await one(report, {
          type: "step_log",
          stepId: req.params.step_id,
          offset: b.offset,
          text: b.text,
        }),
      };
    },
  );

  api.post(
    "/runner/v1/jobs/:job_id/steps/:step_id/finish",
    {
      schema: {
        tags: ["runners"],
        summary: "A step ended",
        params: stepParams,
        body: {
          type: "object",
          required: ["runner_id", "attempt", "status"],
          properties: {
            ...reportFields,
            status: { type: "string", enum: STEP_RESULTS },
            message: { type: ["string", "null"], maxLength: LIMITS.reportMessageLength },
            outputs: outputsSchema,
          },
        },
        response: held,
      },
    },
    async (req) => {
      const b = req.body;
      const report = await reportOf(req, req.params.job_id, b);
      return {
        held: await one(report, {
          type: "step_finished",
          stepId: req.params.step_id,
          status: b.status,
          message: b.message ?? null,
          outputs: b.outputs,
        }),
      };
    },
  );

  api.post(
    "/runner/v1/jobs/:job_id/finish",
    {
      schema: {
        tags: ["runners"],
        summary: "A job ended (agents retry this until they get an answer)",
        params: jobParams,
        body: {
          type: "object",
          required: ["runner_id", "attempt", "status", "next_step"],
          properties: {
            ...reportFields,
            status: { type: "string", enum: STEP_RESULTS },
            next_step: { type: "integer", minimum: 0, maximum: LIMITS.stepsPerJob },
            message: { type: ["string", "null"], maxLength: LIMITS.reportMessageLength },
          },
        },
        response: held,
      },
    },
    async (req) => {
      const b = req.body;
      const report = await reportOf(req, req.params.job_id, b);
      const outcome = { status: b.status, nextStep: b.next_step, message: b.message ?? null };
      return { held: await one(report, { type: "job_finished", outcome }) };
    },
  );

  api.get(
    "/admin/v1/runners",
    {
      schema: {
        tags: ["admin"],
        summary: "Registered runner agents, when they were last seen, and whether they are online",
      },
    },
    async (req) => {
      const p = await principalOf(ctx, req);
      if (!p.superuser) throw new PipewrightError("SUPERUSER_ONLY");
      // Connected runners are seen every SEEN_MS (their job stream's replica writes it), so one
      // unseen for a few of those is gone (killed, cut off, stopped).
      const now = ctx.clock.now();
      const runners = await store.listRunners();
      return { runners: runners.map((r) => ({ ...r, online: now - r.last_seen <= ONLINE_MS })) };
    },
  );

  app.get(
    "/admin/v1/usage",
    {
      schema: {
        tags: ["admin"],
        summary: "What each project keeps (runs, log bytes, artifacts), and the artifacts' store in all",
      },
    },
    async (req) => {
      const p = await principalOf(ctx, req);
      if (!p.superuser) throw new PipewrightError("SUPERUSER_ONLY");
      const [projects, bytes] = await Promise.all([store.usage(), ctx.engine.artifacts.storeBytes()]);
      return { projects, artifact_store: { kind: ctx.engine.artifacts.kind, bytes } };
    },
  );
}
