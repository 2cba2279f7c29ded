// A pipeline trigger entry's checks (spec §5.3 and our filters), apart from the code-event
// matching in webhooks.ts so that the UI's bundle (the YAML form checks triggers) needs no Node.

import { invalidField } from "./issues.js";
import { pollIntervalOf } from "./polling.js";

const obj = (v: unknown): Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/**
 * Checks a trigger entry's fields (at `path`, e.g. `triggers[0]`), its `poll_interval` too;
 * throws a 400 naming the field.
 */
export function checkTrigger(raw: unknown, path: string): void {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw invalidField(path, "must be an object");
  const t = obj(raw);
  if (t.git_url !== undefined && typeof t.git_url !== "string")
    throw invalidField(`${path}.git_url`, "must be a string");
  if (t.events !== undefined) {
    if (!Array.isArray(t.events)) throw invalidField(`${path}.events`, "must be a list of {type, enable}");
    for (const [i, e] of t.events.entries()) {
      const type = obj(e).type;
      if (typeof type !== "string") throw invalidField(`${path}.events[${i}].type`, "is required");
    }
  }
  for (const k of ["branches", "tags", "paths"] as const) {
    const v = t[k];
    if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== "string" || x === "")))
      throw invalidField(`${path}.${k}`, "must be a list of glob patterns");
  }
  pollIntervalOf(t, path);
}
