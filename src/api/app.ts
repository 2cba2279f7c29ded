// Builds the HTTP application: JSON parsing that keeps the raw body (for AK/SK), request ids,
// the one error funnel that turns every failure into {error_code, error_msg}, OpenAPI, routes.

import type { Server } from "node:http";
import type { Socket } from "node:net";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import type { Engine } from "../engine/engine.js";
import type { LogHub } from "../engine/log-hub.js";
import { createErrorThrottle } from "../engine/log-throttle.js";
import { PipewrightError, toPipewrightError } from "../errors.js";
import type { RunPolicy } from "../pipeline/environment.js";
import { LIMITS } from "../pipeline/limits.js";
import type { Store } from "../store/store.js";
import { isDatabaseUnreachable } from "../store/unreachable.js";
import { registerAdminRoutes } from "./admin-routes.js";
import { registerArtifactRoutes } from "./artifact-routes.js";
import { createAuthenticator } from "./auth.js";
import { createAuthGuard } from "./auth-guard.js";
import { registerBatchRoutes } from "./batch-routes.js";
import { parseJsonBody } from "./body.js";
import type { RouteContext } from "./context.js";
import { registerDelayRoutes } from "./delay-routes.js";
import { registerGroupRoutes } from "./group-routes.js";
import { createHostCheck } from "./host-check.js";
import { registerLogRoutes } from "./log-routes.js";
import { registerNoticeRoutes } from "./notice-routes.js";
import { registerPermissionRoutes } from "./permission-routes.js";
import { registerPipelineRoutes } from "./pipeline-routes.js";
import { registerRunCommandRoutes } from "./run-command-routes.js";
import { registerRunQueryRoutes } from "./run-query-routes.js";
import { registerRunnerRoutes } from "./runner-routes.js";
import { fieldPath } from "./schemas.js";
import {
  applySecurityHeaders,
  DEFAULT_CACHE_CONTROL,
  registerSecurityHeaders,
  SECURITY_HEADERS,
} from "./security-headers.js";
import { registerTagRoutes } from "./tag-routes.js";
import { registerTemplateRoutes } from "./template-routes.js";
import { registerVariableGroupRoutes } from "./variable-group-routes.js";
import { registerVariableQueryRoutes } from "./variable-query-routes.js";
import { registerWebRoutes } from "./web-routes.js";
import { registerWebhookRoutes } from "./webhook-routes.js";

export const BODY_LIMIT_BYTES = LIMITS.bodyBytes;

export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
  /** Left out of the OpenAPI document on purpose (the UI's files, the document itself). */
  readonly hidden: boolean;
}

declare module "fastify" {
  interface FastifyInstance {
    registeredRoutes: readonly RegisteredRoute[];
  }
}

export interface AppDeps {
  readonly store: Store;
  readonly logger: Logger | false;
  readonly clock: Clock;
  readonly newId: () => string;
  readonly engine: Engine;
  readonly logs: LogHub;
  readonly policy: RunPolicy;
  /**
   * Host names the server answers to besides loopback (`*`: any); the address it listens on is
   * allowed too when it is a single one. Default: loopback only.
   */
  readonly allowedHosts?: readonly string[];
  readonly listenHost?: string;
  /** Fastify's trustProxy: proxies whose X-Forwarded-For / -Host are believed. */
  readonly trustProxy?: string;
  /**
   * The socket the app answers on (src/api/listener.ts), opened before the app: handed to
   * Fastify as its server, which then never listens or closes it itself. Absent: Fastify makes
   * its own (tests that inject, or listen).
   */
  readonly server?: Server;
  /** Aborts when the server stops (event streams end then); never, when absent. */
  readonly closing?: AbortSignal;
  /**
   * Whether the server is draining (SIGTERM) or cannot run jobs (its embedded runner keeps
   * dying), for /healthz; always ok when absent.
   */
  readonly health?: () => Promise<Health>;
}

export type Health =
  | { status: "ok" }
  | { status: "draining"; running_jobs: number }
  | { status: "degraded"; reason: string };

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger === false ? undefined : deps.logger,
    logger: deps.logger === false ? false : undefined,
    bodyLimit: BODY_LIMIT_BYTES,
    ...(deps.trustProxy ? { trustProxy: deps.trustProxy } : {}),
    ...(deps.server ? { serverFactory: () => deps.server! } : {}),
    genReqId: () => deps.newId(),
    logController: new LogController({ disableRequestLogging: true }),
    // Errors found before a route runs answer in the one error shape too.
    frameworkErrors: (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
      const e =
        err.code === "FST_ERR_MAX_PARAM_LENGTH"
          ? new PipewrightError(
              "URI_TOO_LONG",
              "A segment of the request path is longer than 100 characters.",
            )
          : new PipewrightError(
              "BAD_HTTP_REQUEST",
              `The request path is not a valid URL: ${JSON.stringify(req.url.slice(0, 200))}`,
            );
      // No hook runs for these answers: the header policy is put on by hand.
      applySecurityHeaders(reply).status(e.status).header("X-Request-Id", req.id).send(e.toBody());
    },
    clientErrorHandler: answerClientError,
    ajv: {
      // Wrong types are errors, never silently coerced; unknown fields are kept, as cloud
      // clients (Terraform) send read-only fields back.
      customOptions: {
        coerceTypes: false,
        removeAdditional: false,
        useDefaults: true,
        allErrors: false,
        allowUnionTypes: true,
      },
    },
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;

  app.decorateRequest("rawBody", null as unknown as Buffer);
  app.decorateRequest("principal", undefined);

  // Every route as registered, so a test can hold the OpenAPI document to all of them.
  const routes: RegisteredRoute[] = [];
  app.decorate("registeredRoutes", routes);
  app.addHook("onRoute", (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const hidden = (r.schema as { hide?: boolean } | undefined)?.hide === true;
    for (const m of methods) if (m !== "HEAD") routes.push({ method: m, url: r.url, hidden });
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    "application/json",
    { parseAs: "buffer" },
    (req: FastifyRequest, body: Buffer, done) => {
      req.rawBody = body;
      // The SDKs send Content-Type: application/json with no body on stop/retry/pass/refuse.
      if (body.length === 0) return done(null, undefined);
      try {
        done(null, parseJsonBody(body));
      } catch (err) {
        done(err as PipewrightError, undefined);
      }
    },
  );
  app.addContentTypeParser("*", { parseAs: "buffer" }, (req: FastifyRequest, body: Buffer, done) => {
    req.rawBody = body;
    if (body.length === 0) return done(null, undefined);
    done(
      new PipewrightError(
        "UNSUPPORTED_MEDIA_TYPE",
        `Content-Type ${req.headers["content-type"]} is not supported; send application/json.`,
      ),
      undefined,
    );
  });

  const hosts = createHostCheck(deps.allowedHosts ?? [], deps.listenHost ?? "127.0.0.1");
  const guard = createAuthGuard(() => deps.clock.now());
  // Refused Host names are logged once a minute each: a forge whose deliveries are refused
  // shows up in the log without an attacker being able to fill it.
  const hostLog = createErrorThrottle(() => deps.clock.now());
  app.addHook("onRequest", async (req, reply) => {
    reply.header("X-Request-Id", req.id);
    // /healthz answers any Host: load balancers probe replicas by address, and it tells nothing.
    if (!hosts.allows(req.host) && pathOf(req) !== "/healthz") {
      const host = String(req.host ?? "").slice(0, 100);
      if (hostLog.admit(`host:${host}`).log) {
        req.log.warn(
          { host, ip: req.ip, path: pathOf(req) },
          "refused a request for a host name not allowed",
        );
      }
      throw new PipewrightError(
        "HOST_NOT_ALLOWED",
        `This server does not answer to the host name ${JSON.stringify(host)}; its operator can add it to --allowed-hosts / PIPEWRIGHT_ALLOWED_HOSTS.`,
      );
    }
    // A source that failed too often has its credentials refused unread for a while: a guess
    // costs the guesser a wait, and correct credentials of other sources are never held.
    if (presentsCredentials(req)) {
      const wait = guard.retryAfterMs(req.ip);
      if (wait > 0) {
        const seconds = Math.ceil(wait / 1000);
        reply.header("Retry-After", String(seconds));
        throw new PipewrightError(
          "TOO_MANY_AUTH_FAILURES",
          `Too many failed authentications from ${req.ip}: try again in ${seconds} s.`,
        );
      }
    }
  });
  // Before any plugin registers: the hook then covers the OpenAPI UI's routes too.
  registerSecurityHeaders(app);

  // Answers are written with JSON.stringify: the views build exactly what the response schemas
  // (and so the types) say, and V8's stringify is faster than compiled serializers on our shapes,
  // several times so on a large run's detail. The schemas still type the routes and the docs.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // A failure that repeats for every request (a full disk) gets a line a minute, not one each.
  const throttle = createErrorThrottle(() => deps.clock.now());
  app.setErrorHandler((err: FastifyError | PipewrightError, req, reply) => {
    let e = normaliseFastifyError(err, req);
    // The database away for a moment (an outage, a restart): 503 that says so, not a 500.
    if (e.key === "INTERNAL" && isDatabaseUnreachable(e.cause ?? err)) {
      e = new PipewrightError("DATABASE_UNREACHABLE", undefined, { cause: e.cause ?? err });
      reply.header("Retry-After", "1");
    }
    if ((e.key === "UNAUTHENTICATED" || e.key === "SIGNATURE_INVALID") && presentsCredentials(req)) {
      // Never the credential itself: the source, where it went, and why it was refused.
      const { left, heldBack } = guard.failed(req.ip);
      req.log.warn(
        {
          ip: req.ip,
          method: req.method,
          path: pathOf(req),
          reason: e.message,
          error_code: e.code,
          attempts_left: left,
        },
        "authentication failed",
      );
      if (heldBack) {
        req.log.warn(
          { ip: req.ip, retry_after_s: Math.ceil(guard.retryAfterMs(req.ip) / 1000) },
          "too many failed authentications from this source: its credentials are refused for a while",
        );
      }
    }
    if (e.status >= 500) {
      const cause = (e.cause ?? err) as { code?: unknown; message?: unknown };
      const { log, suppressed } = throttle.admit(`${e.code}:${String(cause.code)}:${String(cause.message)}`);
      if (log) req.log.error({ err, ...(suppressed > 0 ? { suppressed } : {}) }, "request failed");
    }
    reply.status(e.status).header("X-Request-Id", req.id).send(e.toBody());
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new PipewrightError("ROUTE_NOT_FOUND", `No route ${req.method} ${req.url.split("?")[0]}.`);
    reply.status(e.status).send(e.toBody());
  });

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "Pipewright API",
        description: "CodeArts Pipeline v5 compatible API, plus Pipewright's admin API.",
        version: "0.1.0",
      },
      components: {
        securitySchemes: {
          token: { type: "apiKey", in: "header", name: "X-Auth-Token" },
          aksk: {
            type: "apiKey",
            in: "header",
            name: "Authorization",
            description: "SDK-HMAC-SHA256 signature",
          },
        },
      },
      security: [{ token: [] }, { aksk: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/openapi" });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  // 503 while draining, so a load balancer sends new requests to the other replicas; the API
  // itself keeps answering until the drain is over. 503 too while no job can run (monitoring
  // sees it; the API goes on, runs queue).
  app.get("/healthz", { schema: { hide: true } }, async (_req, reply) => {
    const h: Health = (await deps.health?.()) ?? { status: "ok" };
    if (h.status !== "ok") return reply.status(503).send({ ok: false, ...h });
    return { ok: true, status: "ok" };
  });

  const ctx: RouteContext = {
    store: deps.store,
    clock: deps.clock,
    newId: deps.newId,
    auth: createAuthenticator({ store: deps.store, now: () => deps.clock.now() }),
    engine: deps.engine,
    logs: deps.logs,
    policy: deps.policy,
    closing: deps.closing ?? new AbortController().signal,
  };
  registerAdminRoutes(app, ctx);
  registerPipelineRoutes(app, ctx);
  registerBatchRoutes(app, ctx);
  registerRunCommandRoutes(app, ctx);
  registerDelayRoutes(app, ctx);
  registerRunQueryRoutes(app, ctx);
  registerLogRoutes(app, ctx);
  registerVariableGroupRoutes(app, ctx);
  registerVariableQueryRoutes(app, ctx);
  registerRunnerRoutes(app, ctx);
  registerArtifactRoutes(app, ctx);
  registerTagRoutes(app, ctx);
  registerPermissionRoutes(app, ctx);
  registerTemplateRoutes(app, ctx);
  registerGroupRoutes(app, ctx);
  registerWebhookRoutes(app, ctx);
  registerNoticeRoutes(app, ctx);
  registerWebRoutes(app);
  return app;
}

/**
 * Errors Node's HTTP parser finds before there is a request (headers too large, not HTTP at all):
 * answered on the socket in the one error shape, then the connection is closed.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  if (err.code !== "ERR_HTTP_REQUEST_TIMEOUT" && socket.writable) {
    const e =
      err.code === "HPE_HEADER_OVERFLOW"
        ? new PipewrightError("HEADERS_TOO_LARGE")
        : new PipewrightError("BAD_HTTP_REQUEST", "The request is not valid HTTP.");
    const body = JSON.stringify(e.toBody());
    socket.write(
      `HTTP/1.1 ${e.status} ${e.status === 431 ? "Request Header Fields Too Large" : "Bad Request"}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `${Object.entries(SECURITY_HEADERS)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join("")}Cache-Control: ${DEFAULT_CACHE_CONTROL}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** The one funnel: every throwable a route or Fastify produces becomes a PipewrightError. */
function normaliseFastifyError(err: FastifyError | PipewrightError, req: FastifyRequest): PipewrightError {
  if (err instanceof PipewrightError) return err;
  const fe = err as FastifyError & { validationContext?: string };
  if (fe.validation && fe.validation.length > 0) {
    const v = fe.validation[0]!;
    const params = v.params as Record<string, unknown>;
    let field = fieldPath(fe.validationContext ?? "body", v.instancePath);
    if (typeof params.missingProperty === "string") field = joinField(field, params.missingProperty);
    let msg = v.message ?? "is invalid";
    if (Array.isArray(params.allowedValues)) msg += `: ${params.allowedValues.join(", ")}`;
    if (typeof params.additionalProperty === "string") msg += `: ${params.additionalProperty}`;
    return new PipewrightError("INVALID_REQUEST", `${field}: ${msg}`);
  }
  switch (fe.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new PipewrightError(
        "BODY_TOO_LARGE",
        `The request body is larger than ${BODY_LIMIT_BYTES} bytes.`,
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new PipewrightError("UNSUPPORTED_MEDIA_TYPE");
    // Raised by the router only through frameworkErrors today; a plugin or a later Fastify may
    // throw them instead, and they must answer the same.
    case "FST_ERR_BAD_URL":
      return new PipewrightError(
        "BAD_HTTP_REQUEST",
        `The request path is not a valid URL: ${JSON.stringify(req.url.slice(0, 200))}`,
      );
    case "FST_ERR_MAX_PARAM_LENGTH":
      return new PipewrightError(
        "URI_TOO_LONG",
        "A segment of the request path is longer than 100 characters.",
      );
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new PipewrightError("INVALID_JSON", fe.message);
  }
  // Errors of the file serving under /openapi/ (http-errors, no code): a path it refuses.
  if (fe.code === undefined && fe.statusCode === 404) {
    return new PipewrightError("ROUTE_NOT_FOUND", `No route ${req.method} ${JSON.stringify(pathOf(req))}.`);
  }
  if (fe.code === undefined && fe.statusCode === 400) {
    return new PipewrightError(
      "BAD_HTTP_REQUEST",
      `The request path is not valid: ${JSON.stringify(pathOf(req))}`,
    );
  }
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new PipewrightError("INVALID_REQUEST", fe.message);
  }
  return toPipewrightError(err);
}

/** The request's path without its query (which is never logged: it could hold a secret). */
function pathOf(req: FastifyRequest): string {
  return req.url.split("?")[0]!.slice(0, 300);
}

/**
 * Whether a request tries to authenticate with a token or a signature. Webhook deliveries are
 * not counted: forges deliver for every project from a few shared addresses, so one project's
 * wrong secret would hold back the others' deliveries; their secrets are the server's own
 * 192-bit random values, and every refused delivery is recorded in the project's list.
 */
function presentsCredentials(req: FastifyRequest): boolean {
  return (
    (req.headers["x-auth-token"] !== undefined || req.headers.authorization !== undefined) &&
    !req.url.startsWith("/hooks/")
  );
}

function joinField(base: string, prop: string): string {
  return base === "body" || base === "querystring" || base === "params" ? prop : `${base}.${prop}`;
}
