// Polling (our `poll_interval` on a trigger): for remotes that cannot deliver webhooks, the
// server lists the remote's branches and tags (`git ls-remote`) at an interval and treats a
// branch that moved or a tag that appeared as a push. The pure half: the interval's rules and
// reading and comparing what ls-remote printed.

import { invalidField } from "./issues.js";

/** Bounds of `poll_interval` (seconds). */
export const POLL_INTERVAL = { min: 10, max: 86_400 } as const;

/** A trigger's poll interval in ms, undefined when it does not poll; throws a 400 naming the field. */
export function pollIntervalOf(raw: unknown, path: string): number | undefined {
  const v = (raw as { poll_interval?: unknown }).poll_interval;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < POLL_INTERVAL.min || v > POLL_INTERVAL.max)
    throw invalidField(
      `${path}.poll_interval`,
      `must be a whole number of seconds from ${POLL_INTERVAL.min} to ${POLL_INTERVAL.max}`,
    );
  if (typeof (raw as { git_url?: unknown }).git_url !== "string")
    throw invalidField(`${path}.git_url`, "is required to poll (the repository to list)");
  return v * 1000;
}

/** A remote's branches and tags: `refs/heads/x` or `refs/tags/x` → the commit it points at. */
export type RemoteRefs = Readonly<Record<string, string>>;

const LINE = /^([0-9a-f]{40}|[0-9a-f]{64})\t(refs\/(?:heads|tags)\/[^\s^]+)(\^\{\})?$/;

/**
 * What `git ls-remote --heads --tags` printed, as refs → commits: an annotated tag's peeled line
 * (`refs/tags/v1^{}`) gives the commit it tags. Lines of other refs are left out.
 */
export function parseLsRemote(out: string): RemoteRefs {
  const refs: Record<string, string> = {};
  const peeled = new Set<string>();
  for (const line of out.split("\n")) {
    const m = LINE.exec(line.trim());
    if (!m) continue;
    const [, sha, ref, peel] = m;
    if (peel) {
      refs[ref!] = sha!;
      peeled.add(ref!);
    } else if (!peeled.has(ref!)) {
      refs[ref!] = sha!;
    }
  }
  return refs;
}

/** The refs that are new or point elsewhere than before (deleted ones start nothing), sorted. */
export function movedRefs(before: RemoteRefs, after: RemoteRefs): { ref: string; commit: string }[] {
  return Object.entries(after)
    .filter(([ref, sha]) => before[ref] !== sha)
    .map(([ref, commit]) => ({ ref, commit }))
    .sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
}
