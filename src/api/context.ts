// What every route module receives from the app, and the per-request authentication helper.

import crypto from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { Store } from "../store/store.js";
import { type Authenticator, authorize, type Permission, type Principal } from "./auth.js";

export interface RouteContext {
  readonly store: Store;
  readonly now: () => number;
  readonly maxBatchSize: number;
  readonly auth: Authenticator;
}

declare module "fastify" {
  interface FastifyRequest {
    rawBody: Buffer;
    principal: Principal | undefined;
  }
}

/** A new id of the CodeArts shape: 32 lowercase hex characters. */
export function newId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

/** Authenticates the request once and remembers the principal on it. */
export async function principalOf(ctx: RouteContext, req: FastifyRequest): Promise<Principal> {
  req.principal ??= await ctx.auth.authenticate({
    method: req.method,
    url: req.url,
    headers: req.headers,
    body: req.rawBody,
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
