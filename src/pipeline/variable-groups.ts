// Parameter groups (CodeArts "variable groups"): named sets of variables a project shares between
// pipelines. Here: validation of a group's variables, keeping secrets a client sends back as the
// mask, and what a run gets from the groups of its pipeline (docs/decisions.md "Parameter groups").

import { reservedVariableProblem } from "./environment.js";
import { invalidField as invalid } from "./issues.js";
import { LIMITS } from "./limits.js";
import { SECRET_MASK } from "./vocabulary.js";

/** The types a group variable may have: a group holds values, not counters or choices. */
export const GROUP_VARIABLE_TYPES = ["string"] as const;

export interface GroupVariable {
  readonly name: string;
  readonly sequence: number;
  readonly type: (typeof GROUP_VARIABLE_TYPES)[number];
  readonly value: string;
  readonly is_secret: boolean;
  readonly description: string;
}

/** One variable of a run, frozen at its creation (RunContext.variables). */
export interface RunVariable {
  readonly name: string;
  readonly value: string;
  readonly is_secret: boolean;
  // What the run-variables query answers; absent in runs created before it existed.
  readonly sequence?: number;
  readonly type?: string;
  readonly description?: string;
  readonly is_runtime?: boolean;
  /** An enum's choices; never kept for a secret variable (they are as secret as its value). */
  readonly limits?: readonly string[];
  /** The parameter group the value came from; absent for the pipeline's own variables. */
  readonly variable_group_name?: string;
}

const VARIABLE_NAME = /^[A-Za-z0-9_]{1,128}$/;

interface RawGroupVariable {
  readonly name?: unknown;
  readonly sequence?: unknown;
  readonly type?: unknown;
  readonly value?: unknown;
  readonly is_secret?: unknown;
  readonly description?: unknown;
}

/** Validates a group's `variables` (types already checked by the route's schema); absent is none. */
export function parseGroupVariables(input: readonly RawGroupVariable[] | undefined | null): GroupVariable[] {
  if (!input) return [];
  const seen = new Set<string>();
  return input.map((raw, i) => {
    const path = `variables[${i}]`;
    const name = raw.name;
    if (typeof name !== "string" || !VARIABLE_NAME.test(name))
      throw invalid(`${path}.name`, "must be 1 to 128 letters, digits or '_'");
    const reserved = reservedVariableProblem(name);
    if (reserved) throw invalid(`${path}.name`, reserved);
    if (seen.has(name)) throw invalid(`${path}.name`, `duplicate variable name "${name}"`);
    seen.add(name);
    const value = raw.value === undefined || raw.value === null ? "" : String(raw.value);
    if (value.length > LIMITS.variableValueLength)
      throw invalid(`${path}.value`, `must be at most ${LIMITS.variableValueLength} characters`);
    const type = raw.type === undefined || raw.type === null ? "string" : raw.type;
    if (!GROUP_VARIABLE_TYPES.some((t) => t === type))
      throw invalid(`${path}.type`, `must be one of ${GROUP_VARIABLE_TYPES.join(", ")}`);
    const description = typeof raw.description === "string" ? raw.description : "";
    return {
      name,
      sequence: typeof raw.sequence === "number" ? raw.sequence : i + 1,
      type: "string",
      value,
      is_secret: raw.is_secret === true,
      description,
    };
  });
}

/**
 * Puts the stored value back where an update sends a secret as the mask (as show and list answer
 * it), so a client that round-trips the detail (Terraform) keeps the secret. Matched by name, only
 * for variables secret both in the request and in what is stored.
 */
export function restoreMaskedGroupSecrets<V extends RawGroupVariable>(
  input: readonly V[] | undefined | null,
  stored: readonly GroupVariable[],
): V[] | undefined | null {
  if (!input) return input;
  return input.map((raw, i) => {
    if (raw.is_secret !== true || raw.value !== SECRET_MASK) return raw;
    const old = stored.find((v) => v.is_secret && v.name === raw.name);
    if (!old)
      throw invalid(
        `variables[${i}].value`,
        `is the mask ${SECRET_MASK}, and there is no stored value to keep: send the value`,
      );
    return { ...raw, value: old.value };
  });
}

/** A group's variables as answers show them: secret values masked. */
export function maskGroupVariables(vars: readonly GroupVariable[]): GroupVariable[] {
  return vars.map((v) => (v.is_secret ? { ...v, value: SECRET_MASK } : v));
}

/**
 * What a run gets: its pipeline's variables (already resolved with the run's parameters) and the
 * variables of the pipeline's groups, in the order the groups were related. A pipeline variable
 * wins over a group variable of the same name, and a later group over an earlier one.
 */
export function withGroupVariables(
  own: readonly RunVariable[],
  groups: readonly { readonly name: string; readonly variables: readonly GroupVariable[] }[],
): RunVariable[] {
  const fromGroups = new Map<string, RunVariable>();
  for (const g of groups) {
    for (const v of g.variables) {
      fromGroups.delete(v.name); // a later group's variable takes the later place, too
      fromGroups.set(v.name, {
        name: v.name,
        value: v.value,
        is_secret: v.is_secret,
        sequence: v.sequence,
        type: v.type,
        description: v.description,
        is_runtime: false,
        variable_group_name: g.name,
      });
    }
  }
  const ownNames = new Set(own.map((v) => v.name));
  return [...own, ...[...fromGroups.values()].filter((v) => !ownNames.has(v.name))];
}
