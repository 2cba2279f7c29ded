// Validation of a pipeline's custom variables (spec §5.2) and concurrency control (§5.4), and the
// autoIncrement step. Errors are request issues naming the field (`variables[2].type`).

import { reservedVariableProblem } from "./environment.js";
import { invalidField as invalid, invalidVariable } from "./issues.js";
import { LIMITS } from "./limits.js";
import type { ConcurrencyControl, ExceedAction, Variable, VariableType } from "./types.js";
import { EXCEED_ACTIONS, VARIABLE_TYPES } from "./types.js";
import { SECRET_MASK } from "./vocabulary.js";

const VARIABLE_NAME = /^[A-Za-z0-9_]{1,128}$/;

type Obj = Readonly<Record<string, unknown>>;

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** CodeArts fills absent optional fields with null, so null means "use the default". */
function absent(v: unknown): v is null | undefined {
  return v === undefined || v === null;
}

function bool(v: unknown, path: string): boolean {
  if (absent(v)) return false;
  if (typeof v !== "boolean") throw invalid(path, "must be a boolean");
  return v;
}

/** A string field; numbers are accepted and kept as their decimal text (clients send both). */
function text(v: unknown, path: string, max: number): string {
  if (absent(v)) return "";
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  if (typeof v !== "string") throw invalid(path, "must be a string");
  if (v.length > max) throw invalid(path, `must be at most ${max} characters`);
  return v;
}

const TRAILING_DIGITS = /\d+$/;

function parseVariable(raw: unknown, i: number, seen: Set<string>): Variable {
  const path = `variables[${i}]`;
  if (!isObject(raw)) throw invalid(path, "must be an object");
  if (typeof raw.name !== "string" || !VARIABLE_NAME.test(raw.name)) {
    throw invalid(`${path}.name`, "must be 1 to 128 letters, digits or '_'");
  }
  const reserved = reservedVariableProblem(raw.name);
  if (reserved) throw invalid(`${path}.name`, reserved);
  if (seen.has(raw.name)) throw invalid(`${path}.name`, `duplicate variable name "${raw.name}"`);
  seen.add(raw.name);

  let sequence = i + 1;
  if (!absent(raw.sequence)) {
    if (typeof raw.sequence !== "number" || !Number.isSafeInteger(raw.sequence) || raw.sequence < 0) {
      throw invalid(`${path}.sequence`, "must be an integer >= 0");
    }
    sequence = raw.sequence;
  }

  let type: VariableType = "string";
  if (!absent(raw.type)) {
    const found = VARIABLE_TYPES.find((t) => t === raw.type);
    if (!found) throw invalid(`${path}.type`, `must be one of ${VARIABLE_TYPES.join(", ")}`);
    type = found;
  }

  const value = text(raw.value, `${path}.value`, LIMITS.variableValueLength);

  let limits: string[] = [];
  if (!absent(raw.limits)) {
    if (!Array.isArray(raw.limits)) throw invalid(`${path}.limits`, "must be an array of strings");
    if (raw.limits.length > LIMITS.enumChoices) {
      throw invalid(`${path}.limits`, `must hold at most ${LIMITS.enumChoices} choices (limit enumChoices)`);
    }
    limits = raw.limits.map((l: unknown, k) => {
      if (absent(l)) throw invalid(`${path}.limits[${k}]`, "must be a string");
      return text(l, `${path}.limits[${k}]`, LIMITS.enumChoiceLength);
    });
  }
  if (type === "enum") {
    if (limits.length === 0) throw invalid(`${path}.limits`, "an enum variable needs at least one choice");
    if (!limits.includes(value)) {
      // A secret enum's choices are secret too: the message does not list them.
      const choices = raw.is_secret === true ? "" : ` (${limits.join(", ")})`;
      throw invalid(`${path}.value`, `must be one of the limits${choices}`);
    }
  }
  if (type === "autoIncrement" && !TRAILING_DIGITS.test(value)) {
    throw invalid(`${path}.value`, 'an autoIncrement value must end in digits (e.g. "1", "build-7")');
  }

  return {
    name: raw.name,
    sequence,
    type,
    value,
    is_secret: bool(raw.is_secret, `${path}.is_secret`),
    description: text(raw.description, `${path}.description`, LIMITS.descriptionLength),
    is_runtime: bool(raw.is_runtime, `${path}.is_runtime`),
    limits,
    is_reset: bool(raw.is_reset, `${path}.is_reset`),
    latest_value: text(raw.latest_value, `${path}.latest_value`, LIMITS.variableValueLength),
  };
}

/**
 * Puts the stored values back where an update sends a secret variable's values as the mask, as
 * the pipeline detail shows them (`value`, `latest_value`, each of an enum's `limits`), so a
 * client that round-trips the detail (Terraform) keeps every secret. Applies only to variables
 * that are secret both in the request and in what is stored, matched by name; a masked limit takes
 * the stored limit at its position. Runs on the raw input, before validation.
 */
export function restoreMaskedSecrets(input: unknown, stored: readonly Variable[]): unknown {
  if (!Array.isArray(input)) return input;
  return input.map((raw: unknown, i) => {
    if (!isObject(raw) || raw.is_secret !== true) return raw;
    const old = stored.find((v) => v.is_secret && v.name === raw.name);
    const masked = (path: string): never => {
      throw invalid(path, `is the mask ${SECRET_MASK}, and there is no stored value to keep: send the value`);
    };
    const keep = (sent: unknown, value: string | undefined, path: string): unknown =>
      sent !== SECRET_MASK ? sent : (value ?? masked(path));
    return {
      ...raw,
      value: keep(raw.value, old?.value, `variables[${i}].value`),
      // Written by the server (autoIncrement), so a masked one without a stored one is just empty.
      latest_value: keep(raw.latest_value, old?.latest_value ?? "", `variables[${i}].latest_value`),
      limits: Array.isArray(raw.limits)
        ? raw.limits.map((l: unknown, k) => keep(l, old?.limits[k], `variables[${i}].limits[${k}]`))
        : raw.limits,
    };
  });
}

/** Validate `variables` of a create/update body; absent or null means none. Keeps the client's order. */
export function parseVariables(input: unknown): Variable[] {
  if (absent(input)) return [];
  if (!Array.isArray(input)) throw invalid("variables", "must be an array");
  const seen = new Set<string>();
  return input.map((raw: unknown, i) => parseVariable(raw, i, seen));
}

/**
 * Validate `concurrency_control`; absent or null means none. Omitted fields take defaults
 * (1 run, QUEUE) and `enable` defaults to true: sending the object at all expresses the intent to
 * limit, and CodeArts's read-only fields (pipeline_id, create_time, update_time) are ignored.
 */
export function parseConcurrencyControl(input: unknown): ConcurrencyControl | null {
  if (absent(input)) return null;
  if (!isObject(input)) throw invalid("concurrency_control", "must be an object");
  let concurrency_number = 1;
  if (!absent(input.concurrency_number)) {
    const n = input.concurrency_number;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > LIMITS.concurrency) {
      throw invalid(
        "concurrency_control.concurrency_number",
        `must be an integer from 1 to ${LIMITS.concurrency}`,
      );
    }
    concurrency_number = n;
  }
  let exceed_action: ExceedAction = "QUEUE";
  if (!absent(input.exceed_action)) {
    const found = EXCEED_ACTIONS.find((a) => a === input.exceed_action);
    if (!found)
      throw invalid("concurrency_control.exceed_action", `must be one of ${EXCEED_ACTIONS.join(", ")}`);
    exceed_action = found;
  }
  let enable = true;
  if (!absent(input.enable)) {
    if (typeof input.enable !== "boolean") throw invalid("concurrency_control.enable", "must be a boolean");
    enable = input.enable;
  }
  let supersede = false;
  if (!absent(input.supersede)) {
    if (typeof input.supersede !== "boolean")
      throw invalid("concurrency_control.supersede", "must be a boolean");
    supersede = input.supersede;
  }
  return { concurrency_number, exceed_action, enable, supersede };
}

/** Increment the trailing number of an autoIncrement value, keeping its zero padding: "build-009" → "build-010". */
export function nextAutoIncrement(value: string): string {
  const m = TRAILING_DIGITS.exec(value);
  if (!m) {
    // Not quoted: the variable may be secret.
    throw invalidVariable("", "an autoIncrement value does not end in digits");
  }
  const digits = m[0];
  // BigInt: a long run of digits must not lose precision or turn into exponent notation.
  const next = (BigInt(digits) + 1n).toString().padStart(digits.length, "0");
  return value.slice(0, m.index) + next;
}
