// Per-pipeline permissions: each pipeline's switch and the rows of its matrix.

import { type RawBuilder, sql } from "kysely";
import type { MatrixRole, OperationSet, PipelinePermissions } from "../../pipeline/permissions.js";
import { isMatrixRole, ROLE_DEFAULTS } from "../../pipeline/permissions.js";
import type { PermissionRow, PermissionStore } from "../store.js";
import { CHUNK, inTransaction, type SqlContext } from "./context.js";
import { bool } from "./rows.js";

/**
 * The rule of effectiveOperations for `query`, in SQL, on the pipeline whose id is in
 * `pipelineId` (a column reference): its own permissions are off, or the credential's row, else
 * its role's row, else its role's default allows it. An admin needs no such filter.
 */
export function visibleToSql(
  pipelineId: string,
  v: { readonly role: string; readonly credential_id: string },
): RawBuilder<boolean> {
  const col = sql.ref(pipelineId);
  const fallback = isMatrixRole(v.role) && ROLE_DEFAULTS[v.role].query ? 1 : 0;
  return sql<boolean>`(NOT EXISTS (SELECT 1 FROM pipeline_permission_switch ps
      WHERE ps.pipeline_id = ${col} AND ps.enabled = 1)
    OR COALESCE(
      (SELECT pu.op_query FROM pipeline_permissions pu WHERE pu.pipeline_id = ${col}
        AND pu.subject_kind = 'user' AND pu.subject_id = ${v.credential_id}),
      (SELECT pr.op_query FROM pipeline_permissions pr WHERE pr.pipeline_id = ${col}
        AND pr.subject_kind = 'role' AND pr.subject_id = ${v.role}),
      ${fallback}) = 1)`;
}

export function permissionQueries(ctx: SqlContext): PermissionStore {
  const { db } = ctx;
  return {
    async permissionsOf(pipelineIds) {
      const out = new Map<string, PipelinePermissions>();
      for (let i = 0; i < pipelineIds.length; i += CHUNK) {
        const part = pipelineIds.slice(i, i + CHUNK);
        const [switches, rows] = await Promise.all([
          db.selectFrom("pipeline_permission_switch").selectAll().where("pipeline_id", "in", part).execute(),
          db.selectFrom("pipeline_permissions").selectAll().where("pipeline_id", "in", part).execute(),
        ]);
        const draft = new Map<
          string,
          { enabled: boolean; roles: Map<MatrixRole, OperationSet>; users: Map<string, OperationSet> }
        >();
        const entry = (id: string) => {
          const known = draft.get(id);
          if (known) return known;
          const e = {
            enabled: false,
            roles: new Map<MatrixRole, OperationSet>(),
            users: new Map<string, OperationSet>(),
          };
          draft.set(id, e);
          return e;
        };
        for (const s of switches) entry(s.pipeline_id).enabled = Boolean(s.enabled);
        for (const r of rows) {
          const operations: OperationSet = {
            query: Boolean(r.op_query),
            execute: Boolean(r.op_execute),
            update: Boolean(r.op_update),
            delete: Boolean(r.op_delete),
            authorize: Boolean(r.op_authorize),
          };
          const e = entry(r.pipeline_id);
          if (r.subject_kind === "user") e.users.set(r.subject_id, operations);
          else if (isMatrixRole(r.subject_id)) e.roles.set(r.subject_id, operations);
        }
        for (const [id, e] of draft) out.set(id, e);
      }
      return out;
    },

    async setPermissionSwitch(pipelineId, enabled, now) {
      await db
        .insertInto("pipeline_permission_switch")
        .values({ pipeline_id: pipelineId, enabled: bool(enabled), update_time: now })
        .onConflict((oc) =>
          oc.column("pipeline_id").doUpdateSet({ enabled: bool(enabled), update_time: now }),
        )
        .execute();
    },

    setPermissions: (rows: readonly PermissionRow[]) =>
      inTransaction(ctx, async ({ db: tx }) => {
        for (const r of rows) {
          const o = r.operations;
          const values = {
            op_query: bool(o.query),
            op_execute: bool(o.execute),
            op_update: bool(o.update),
            op_delete: bool(o.delete),
            op_authorize: bool(o.authorize),
            update_time: r.update_time,
          };
          await tx
            .insertInto("pipeline_permissions")
            .values({
              pipeline_id: r.pipeline_id,
              subject_kind: r.subject_kind,
              subject_id: r.subject_id,
              ...values,
            })
            .onConflict((oc) => oc.columns(["pipeline_id", "subject_kind", "subject_id"]).doUpdateSet(values))
            .execute();
        }
      }),
  };
}
