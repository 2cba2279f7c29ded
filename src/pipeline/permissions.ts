// Per-pipeline ("resource-level", CodeArts's 二级权限) permissions: what a project role or one
// credential may do with one pipeline. Off by default: a pipeline then follows the project's
// roles. Switched on, the pipeline's role matrix and user rows decide, over the role's defaults.
// This module is the rule; the store keeps the rows and the API enforces them on every route.

/** The five operations of CodeArts's permission matrix, in its order. */
export const PIPELINE_OPERATIONS = ["query", "execute", "update", "delete", "authorize"] as const;
export type PipelineOperation = (typeof PIPELINE_OPERATIONS)[number];

export type OperationSet = Readonly<Record<PipelineOperation, boolean>>;

/** The project roles that can hold pipeline permissions (a runner credential sees no project). */
export const MATRIX_ROLES = ["admin", "operator", "viewer"] as const;
export type MatrixRole = (typeof MATRIX_ROLES)[number];

/** CodeArts numbers roles; ours keep these numbers for good (`role_id` on the wire). */
export const ROLE_IDS: Readonly<Record<MatrixRole, number>> = { admin: 1, operator: 2, viewer: 3 };

export function roleOfId(id: number): MatrixRole | undefined {
  return MATRIX_ROLES.find((r) => ROLE_IDS[r] === id);
}

const ops = (
  query: boolean,
  execute: boolean,
  update: boolean,
  del: boolean,
  authorize: boolean,
): OperationSet => ({
  query,
  execute,
  update,
  delete: del,
  authorize,
});

/** What each role may do with a pipeline that follows the project's roles. */
export const ROLE_DEFAULTS: Readonly<Record<MatrixRole, OperationSet>> = {
  admin: ops(true, true, true, true, true),
  operator: ops(true, true, false, false, false),
  viewer: ops(true, false, false, false, false),
};

export const NO_OPERATIONS: OperationSet = ops(false, false, false, false, false);

/** A pipeline's resource-level settings: whether they are on, and its rows. */
export interface PipelinePermissions {
  readonly enabled: boolean;
  /** Role rows by role; a role without a row keeps its defaults. */
  readonly roles: ReadonlyMap<MatrixRole, OperationSet>;
  /** Rows of single credentials by credential id; they win over the credential's role row. */
  readonly users: ReadonlyMap<string, OperationSet>;
}

export const FOLLOWS_PROJECT: PipelinePermissions = { enabled: false, roles: new Map(), users: new Map() };

/**
 * What a credential of `role` may do with the pipeline. A project admin keeps every operation on
 * every pipeline, so no matrix can lock a pipeline away from the people who run the project.
 */
export function effectiveOperations(
  settings: PipelinePermissions,
  role: string,
  credentialId: string,
): OperationSet {
  if (!isMatrixRole(role)) return NO_OPERATIONS;
  if (role === "admin" || !settings.enabled) return ROLE_DEFAULTS[role];
  return settings.users.get(credentialId) ?? settings.roles.get(role) ?? ROLE_DEFAULTS[role];
}

export function isMatrixRole(role: string): role is MatrixRole {
  return (MATRIX_ROLES as readonly string[]).includes(role);
}
