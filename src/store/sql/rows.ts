// Rows ↔ records: both backends store booleans as 0/1 and structured values as JSON text, and
// pg answers BIGINT columns as strings, so every number read back goes through Number().

import type { Definition } from "../../pipeline/types.js";
import type { JobRunRecord, RunRecord, StageRunRecord, StepRunRecord } from "../run-records.js";
import type { JobRunTable, PipelineTable, RunTable, StageRunTable, StepRunTable } from "../schema.js";
import { mapSecretValues, mapSecretVariables, type Sealer } from "../sealer.js";
import type { CredentialRecord, PipelineRecord, PipelineSpec, ProjectRecord, Role } from "../store.js";

export const bool = (b: boolean): number => (b ? 1 : 0);

/** Whether a write failed on a unique index (PostgreSQL's 23505, SQLite's constraint codes). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}

const num = (v: number | null): number | null => (v === null ? null : Number(v));

export function toProject(row: ProjectRecord): ProjectRecord {
  return { id: row.id, name: row.name, create_time: Number(row.create_time) };
}

/** A pipeline's spec as stored: its secret variables' values sealed. */
export function specText(spec: PipelineSpec, sealer: Sealer): string {
  return JSON.stringify({ ...spec, variables: mapSecretVariables(spec.variables, sealer.seal) });
}

export function openSpec(text: string, sealer: Sealer): PipelineSpec {
  const spec: PipelineSpec = JSON.parse(text);
  return { ...spec, variables: mapSecretVariables(spec.variables, sealer.open) };
}

export function toPipeline(row: PipelineTable, sealer: Sealer): PipelineRecord {
  return {
    id: row.id,
    project_id: row.project_id,
    name: row.name,
    description: row.description,
    is_publish: row.is_publish === 1,
    banned: row.banned === 1,
    manifest_version: row.manifest_version,
    definition: row.definition,
    // The column is the truth of the group: moves and group deletions change only it.
    spec: { ...openSpec(row.spec, sealer), group_id: row.group_id ?? null },
    creator_id: row.creator_id,
    creator_name: row.creator_name,
    updater_id: row.updater_id,
    create_time: Number(row.create_time),
    update_time: Number(row.update_time),
    run_counter: Number(row.run_counter),
  };
}

/** The columns tokens and access keys share. */
export interface CredentialRow {
  name: string;
  role: string;
  project_ids: string;
  create_time: number;
  revoked_time: number | null;
}

export function toCredential(id: string, row: CredentialRow): CredentialRecord {
  return {
    id,
    name: row.name,
    role: row.role as Role,
    project_ids: JSON.parse(row.project_ids),
    create_time: Number(row.create_time),
    revoked_time: num(row.revoked_time),
  };
}

export function credentialRow(c: CredentialRecord): CredentialRow {
  return {
    name: c.name,
    role: c.role,
    project_ids: JSON.stringify(c.project_ids),
    create_time: c.create_time,
    revoked_time: c.revoked_time,
  };
}

/** A patch with booleans as 0/1, ready for SET. */
export function boolPatch<T extends object>(patch: T): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) out[k] = typeof v === "boolean" ? (v ? 1 : 0) : v;
  return out;
}

export function runPatch(patch: Partial<RunRecord>): Record<string, unknown> {
  // A run's context (definition, variables, sources) is fixed at creation.
  const { context: _context, ...rest } = patch;
  return boolPatch(rest);
}

export function runRow(r: RunRecord, definitionHash: string, sealer: Sealer): RunTable {
  const { definition: _definition, ...context } = r.context;
  return {
    ...r,
    admitted: bool(r.admitted),
    stop_requested: bool(r.stop_requested),
    context: JSON.stringify({ ...context, variables: mapSecretValues(context.variables, sealer.seal) }),
    definition_hash: definitionHash,
  };
}

export function stageRow(s: StageRunRecord): StageRunTable {
  return { ...s, is_select: bool(s.is_select) };
}

export function jobRow(j: JobRunRecord): JobRunTable {
  return { ...j, is_select: bool(j.is_select), labels: JSON.stringify(j.labels) };
}

export function stepRow(s: StepRunRecord): StepRunTable {
  return { ...s, outputs: JSON.stringify(s.outputs), approvals: JSON.stringify(s.approvals) };
}

/** A step's patch as columns: booleans as 0/1, outputs as JSON text. */
export function stepPatch(patch: Partial<StepRunRecord>): Record<string, unknown> {
  const p = boolPatch(patch);
  if (patch.outputs) p.outputs = JSON.stringify(patch.outputs);
  if (patch.approvals) p.approvals = JSON.stringify(patch.approvals);
  return p;
}

export function openContext(text: string, sealer: Sealer): Omit<RunRecord["context"], "definition"> {
  const context: Omit<RunRecord["context"], "definition"> = JSON.parse(text);
  return { ...context, variables: mapSecretValues(context.variables, sealer.open) };
}

export function toRun(row: RunTable, definition: Definition, sealer: Sealer): RunRecord {
  const { definition_hash: _hash, ...r } = row;
  return {
    ...r,
    run_number: Number(r.run_number),
    status: r.status as RunRecord["status"],
    start_time: Number(r.start_time),
    end_time: Number(r.end_time),
    pause_time: Number(r.pause_time),
    paused_since: num(r.paused_since),
    admitted: Number(r.admitted) === 1,
    queue_seq: Number(r.queue_seq),
    stop_requested: Number(r.stop_requested) === 1,
    start_status: r.start_status as RunRecord["start_status"],
    context: { ...openContext(r.context, sealer), definition },
    create_time: Number(r.create_time),
    update_time: Number(r.update_time),
    version: Number(r.version),
  };
}

export function toStage(r: StageRunTable): StageRunRecord {
  return {
    ...r,
    idx: Number(r.idx),
    status: r.status as StageRunRecord["status"],
    is_select: Number(r.is_select) === 1,
    start_time: Number(r.start_time),
    end_time: Number(r.end_time),
  };
}

export function toJob(r: JobRunTable): JobRunRecord {
  return {
    ...r,
    stage_idx: Number(r.stage_idx),
    idx: Number(r.idx),
    status: r.status as JobRunRecord["status"],
    is_select: Number(r.is_select) === 1,
    next_step: Number(r.next_step),
    ready_seq: Number(r.ready_seq),
    attempt: Number(r.attempt),
    run_attempt: Number(r.run_attempt),
    lease_expires: num(r.lease_expires),
    pgid: num(r.pgid),
    lost: Number(r.lost),
    heartbeat_time: num(r.heartbeat_time),
    labels: JSON.parse(r.labels),
    start_time: Number(r.start_time),
    end_time: Number(r.end_time),
  };
}

export function toStep(r: StepRunTable): StepRunRecord {
  return {
    ...r,
    idx: Number(r.idx),
    status: r.status as StepRunRecord["status"],
    deadline: num(r.deadline),
    log_bytes: Number(r.log_bytes),
    start_time: Number(r.start_time),
    end_time: Number(r.end_time),
    outputs: JSON.parse(r.outputs),
    approvals: JSON.parse(r.approvals ?? "[]"),
  };
}
