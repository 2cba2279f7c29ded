// What every route module receives from the app, and the per-request authentication helper.

import type { FastifyRequest } from "fastify";
import type { Clock } from "../clock.js";
import type { Engine } from "../engine/engine.js";
import type { LogHub } from "../engine/log-hub.js";
import type { RunPolicy } from "../pipeline/environment.js";
import type { Store } from "../store/store.js";
import { type Authenticator, authorize, type Permission, type Principal } from "./auth.js";

export interface RouteContext {
  /** Reads (and pipeline and credential writes); runs change only through the engine. */
  readonly store: Store;
  readonly clock: Clock;
  readonly auth: Authenticator;
  readonly engine: Engine;
  readonly logs: LogHub;
  readonly newId: () => string;
  /** What runs may do beyond the defaults (local clones). */
  readonly policy: RunPolicy;
  /** Aborts when the server stops: event streams end, so their clients reconnect elsewhere. */
  readonly closing: AbortSignal;
}

declare module "fastify" {
  interface FastifyRequest {
    rawBody: Buffer | null;
    principal: Principal | undefined;
  }
}

const EMPTY = Buffer.alloc(0);

/** Authenticates the request once and remembers the principal on it. */
export async function principalOf(ctx: RouteContext, req: FastifyRequest): Promise<Principal> {
  req.principal ??= await ctx.auth.authenticate({
    method: req.method,
    url: req.url,
    headers: req.headers,
    // No content-type parser runs for a request without a body.
    body: req.rawBody ?? EMPTY,
  });
  return req.principal;
}

/** Authenticates, then checks the caller's permission in the project of the path. */
export async function authorizeProject(
  ctx: RouteContext,
  req: FastifyRequest,
  projectId: string,
  permission: Permission,
): Promise<Principal> {
  const p = await principalOf(ctx, req);
  authorize(p, projectId, permission);
  return p;
}
