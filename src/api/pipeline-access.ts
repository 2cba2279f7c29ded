// Every route that acts on pipelines asks here: the caller must be in the project, and its
// operations on each pipeline (per-pipeline permissions over the project role) must include the
// one the route performs. A pipeline the caller may not query answers like a missing one.

import type { FastifyRequest } from "fastify";
import { PipewrightError } from "../errors.js";
import {
  effectiveOperations,
  FOLLOWS_PROJECT,
  type OperationSet,
  type PipelineOperation,
  type PipelinePermissions,
  ROLE_DEFAULTS,
} from "../pipeline/permissions.js";
import type { PipelineRecord } from "../store/store.js";
import { authorize, type Principal } from "./auth.js";
import { principalOf, type RouteContext } from "./context.js";
import { loadPipeline } from "./lookups.js";

const VERB: Record<PipelineOperation, string> = {
  query: "see pipelines",
  execute: "run, stop, retry or review pipelines",
  update: "change pipelines",
  delete: "delete pipelines",
  authorize: "change pipeline permissions",
};
const OWN_VERB: Record<PipelineOperation, string> = {
  query: "see it",
  execute: "run, stop, retry or review it",
  update: "change it",
  delete: "delete it",
  authorize: "change its permissions",
};

/** The bootstrap admin may do everything; anyone else what their role and the pipeline allow. */
export function operationsOf(who: Principal, settings: PipelinePermissions | undefined): OperationSet {
  if (who.superuser) return ROLE_DEFAULTS.admin;
  return effectiveOperations(settings ?? FOLLOWS_PROJECT, who.role, who.id);
}

/**
 * Throws unless `who` may perform `op` on every pipeline of `pipelines` (all in the project the
 * caller was authorized for).
 */
export async function requireOperation(
  ctx: RouteContext,
  who: Principal,
  pipelines: readonly Pick<PipelineRecord, "id">[],
  op: PipelineOperation,
): Promise<void> {
  // An admin may do everything with every pipeline of its projects: no lookup needed.
  if (who.superuser || who.role === "admin" || pipelines.length === 0) return;
  const settings = await ctx.store.permissionsOf(pipelines.map((p) => p.id));
  for (const p of pipelines) {
    const own = settings.get(p.id);
    const ops = operationsOf(who, own);
    if (!ops.query) throw new PipewrightError("PIPELINE_NOT_FOUND", `Pipeline ${p.id} does not exist.`);
    if (ops[op]) continue;
    // Say where the refusal comes from: the role, or this pipeline's own permissions.
    const byRole = !own?.enabled || (!own.users.has(who.id) && !own.roles.has(who.role as never));
    throw new PipewrightError(
      "NO_PERMISSION",
      byRole
        ? `Role ${who.role} may not ${VERB[op]}.`
        : `Your permissions on pipeline ${p.id} do not allow you to ${OWN_VERB[op]}.`,
    );
  }
}

/** The pipelines among `pipelineIds` that `who` may not query (empty for admins). */
export async function hiddenFrom(
  ctx: RouteContext,
  who: Principal,
  pipelineIds: readonly string[],
): Promise<Set<string>> {
  const hidden = new Set<string>();
  if (who.superuser || who.role === "admin" || pipelineIds.length === 0) return hidden;
  const settings = await ctx.store.permissionsOf(pipelineIds);
  for (const id of pipelineIds) if (!operationsOf(who, settings.get(id)).query) hidden.add(id);
  return hidden;
}

/** Authenticates, checks membership of the project, loads the pipeline and checks `op` on it. */
export async function authorizePipeline(
  ctx: RouteContext,
  req: FastifyRequest,
  projectId: string,
  pipelineId: string,
  op: PipelineOperation,
): Promise<{ who: Principal; pipeline: PipelineRecord }> {
  const who = await principalOf(ctx, req);
  authorize(who, projectId, "read");
  const pipeline = await loadPipeline(ctx.store, projectId, pipelineId);
  await requireOperation(ctx, who, [pipeline], op);
  return { who, pipeline };
}

/** What a list of pipelines may show to `who`: the filter the store applies (none for admins). */
export function visibleTo(who: Principal): { role: string; credential_id: string } | undefined {
  return who.superuser || who.role === "admin" ? undefined : { role: who.role, credential_id: who.id };
}
