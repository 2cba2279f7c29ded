// What every route module receives from the app, and the per-request authentication helper.

import type { FastifyRequest } from "fastify";
import type { LogHub } from "../engine/log-hub.js";
import type { Scheduler } from "../engine/scheduler.js";
import type { Store } from "../store/store.js";
import { type Authenticator, authorize, type Permission, type Principal } from "./auth.js";

export interface RouteContext {
  readonly store: Store;
  readonly now: () => number;
  readonly maxBatchSize: number;
  readonly auth: Authenticator;
  readonly engine: { readonly scheduler: Scheduler; readonly logs: LogHub };
}

declare module "fastify" {
  interface FastifyRequest {
    rawBody: Buffer | null;
    principal: Principal | undefined;
  }
}

export { newId } from "../ids.js";

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
