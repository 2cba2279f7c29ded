// What started a run, from its trigger type, its executor and the build parameters a code event
// left on its source: "Push to main · a1b2c3d “fix login” by alice", "Schedule", "Manual by admin".

import { type Child, h } from "./dom.js";

/** The build parameters the UI reads (code-events.ts writes them; the run list answers them). */
export interface BuildParams {
  readonly commit_id?: string;
  readonly ref?: string;
  readonly event_type?: string;
  readonly author?: string;
  readonly message?: string;
  readonly tag?: string;
  readonly target_branch?: string;
  readonly source_branch?: string;
  readonly merge_target_branch?: string;
  readonly merge_id?: string;
}

const KEYS = [
  "commit_id",
  "ref",
  "event_type",
  "author",
  "message",
  "tag",
  "target_branch",
  "source_branch",
  "merge_target_branch",
  "merge_id",
] as const;

/** The parameters that have a value (the run list answers null for the others). */
export function buildParamsOf(raw: unknown): BuildParams {
  if (typeof raw !== "object" || raw === null) return {};
  const o = raw as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const k of KEYS) {
    const v = o[k];
    if (typeof v === "string" && v !== "") out[k] = v;
    else if (typeof v === "number") out[k] = String(v);
  }
  return out;
}

/** A run detail's build parameters: those of the first source that has some. */
export function buildParamsOfSources(sources: readonly unknown[]): BuildParams {
  for (const s of sources) {
    const bp = (s as { params?: { build_params?: unknown } } | null)?.params?.build_params;
    const p = buildParamsOf(bp);
    if (Object.keys(p).length > 0) return p;
  }
  return {};
}

const LABELS: Readonly<Record<string, string>> = {
  Manual: "Manual",
  Scheduler: "Schedule",
  Push: "Push",
  CreateTag: "Tag",
  MR: "Merge request",
};

export function triggerLabel(triggerType: string): string {
  return LABELS[triggerType] ?? triggerType;
}

export function shortCommit(id: string): string {
  return id.slice(0, 7);
}

const strip = (ref: string | undefined, prefix: string): string | undefined =>
  ref?.startsWith(prefix) ? ref.slice(prefix.length) : undefined;

/** The branch or tag the run is about, as "main", "v1.2", or "feature → main" for a merge request. */
export function refText(triggerType: string, p: BuildParams): string | undefined {
  const tag = p.tag ?? strip(p.ref, "refs/tags/");
  if (triggerType === "CreateTag" || (tag && !p.target_branch)) return tag;
  if (triggerType === "MR" || p.merge_target_branch) {
    const from = p.source_branch ?? strip(p.ref, "refs/heads/");
    const to = p.merge_target_branch;
    if (from && to) return `${from} → ${to}`;
    return to ?? from;
  }
  return p.target_branch ?? strip(p.ref, "refs/heads/");
}

/** The first line of a commit message, cut to a length that fits a line of the meta. */
function headline(message: string): string {
  const first = message.split("\n", 1)[0]!.trim();
  return first.length > 72 ? `${first.slice(0, 71)}…` : first;
}

/** Executors that are the server itself (engine/schedules.ts, engine/code-events.ts). */
const MACHINE_EXECUTORS: ReadonlySet<string> = new Set(["Scheduler", "Webhook", "Poll"]);

const commitCode = (id: string): HTMLElement =>
  h("code", { class: "commit", title: id, "data-testid": "commit" }, shortCommit(id));

/** The run view's sentence: what, where, which commit, by whom. */
export function originSentence(triggerType: string, executorName: string, p: BuildParams): Child[] {
  const ref = refText(triggerType, p);
  const label = triggerLabel(triggerType);
  const what =
    triggerType === "Push" && ref
      ? `Push to ${ref}`
      : triggerType === "MR"
        ? `Merge request${p.merge_id ? ` !${p.merge_id}` : ""}${ref ? ` ${ref}` : ""}`
        : ref
          ? `${label} ${ref}`
          : label;
  // A code event names its author; a run started by a person or a token, its executor. The
  // server's own executors (Scheduler, Webhook, Poll) are said by the trigger already.
  const machine = MACHINE_EXECUTORS.has(executorName) || triggerType === "Scheduler" || !executorName;
  const who = p.author ?? (machine ? undefined : executorName);
  const out: Child[] = [what];
  if (p.commit_id) {
    out.push(" · ", commitCode(p.commit_id));
    if (p.message) out.push(" ", h("q", { class: "commit-message", title: p.message }, headline(p.message)));
  }
  if (who) out.push(` by ${who}`);
  if (executorName === "Poll") out.push(" (found by polling)");
  return out;
}

/** The history list's cell: the trigger, then branch and short commit. */
export function originBrief(triggerType: string, executorName: string, p: BuildParams): Child[] {
  const ref = refText(triggerType, p);
  const out: Child[] = [triggerLabel(triggerType)];
  if (ref) out.push(h("span", { class: "ref" }, ` · ${ref}`));
  if (p.commit_id) out.push(" · ", commitCode(p.commit_id));
  if (
    !p.commit_id &&
    !ref &&
    triggerType !== "Scheduler" &&
    executorName &&
    !MACHINE_EXECUTORS.has(executorName)
  )
    out.push(h("span", { class: "muted" }, ` · ${executorName}`));
  return out;
}

/**
 * A run refused at its start (its pipeline disabled): it ended as it was made, every stage
 * "not started". The UI shows it as not started, never as a failed run.
 */
export function neverStarted(r: {
  readonly status: string;
  readonly stage_status_list: readonly { readonly status: string }[];
}): boolean {
  return (
    (r.status === "FAILED" || r.status === "CANCELED") &&
    r.stage_status_list.length > 0 &&
    r.stage_status_list.every((s) => s.status === "IGNORED")
  );
}

/**
 * The server's reason a run did not start, in the UI's words: CodeArts says "banned" where
 * everything else here says "disabled".
 */
export function startReasonText(reason: string): string {
  if (/pipeline is banned/i.test(reason)) return "The pipeline is disabled: enable it to run it.";
  return reason;
}

/** The branch a run built (a merge request's source branch), when its parameters name one. */
export function branchOf(p: BuildParams): string | undefined {
  if (p.tag) return undefined;
  return p.source_branch ?? strip(p.ref, "refs/heads/") ?? p.target_branch;
}
