// The Runs page's filters as the URL keeps them (#/p/{id}/runs?status=FAILED&…), and the body of
// the server's filter (all but the branch, which the page matches itself). No DOM here.

export const PAGE_SIZES = [20, 50, 100] as const;

export interface RunsQuery {
  status: string;
  pipeline: string;
  trigger: string;
  branch: string;
  /** yyyy-mm-dd, the day the runs start from and the day they end on (inclusive), local time. */
  from: string;
  to: string;
  offset: number;
  limit: number;
}

export function parseQuery(hash: string): RunsQuery {
  const q = new URLSearchParams(hash.includes("?") ? hash.slice(hash.indexOf("?") + 1) : "");
  const num = (k: string, d: number) => {
    const v = Number(q.get(k));
    return Number.isInteger(v) && v >= 0 && q.get(k) !== null ? v : d;
  };
  const day = (k: string) => (/^\d{4}-\d{2}-\d{2}$/.test(q.get(k) ?? "") ? q.get(k)! : "");
  const limit = num("limit", 20);
  return {
    status: q.get("status") ?? "",
    pipeline: q.get("pipeline") ?? "",
    trigger: q.get("trigger") ?? "",
    branch: q.get("branch") ?? "",
    from: day("from"),
    to: day("to"),
    offset: num("offset", 0),
    limit: (PAGE_SIZES as readonly number[]).includes(limit) ? limit : 20,
  };
}

export function queryString(q: RunsQuery): string {
  const out = new URLSearchParams();
  for (const k of ["status", "pipeline", "trigger", "branch", "from", "to"] as const)
    if (q[k]) out.set(k, q[k]);
  if (q.offset) out.set("offset", String(q.offset));
  if (q.limit !== 20) out.set("limit", String(q.limit));
  return out.toString();
}

/** The server's filter body for a query (all but the branch). */
export function serverFilter(q: RunsQuery): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (q.status) body.status = [q.status];
  if (q.pipeline) body.pipeline_ids = [q.pipeline];
  if (q.trigger) body.trigger_type = [q.trigger];
  if (q.from) body.start_time = new Date(`${q.from}T00:00:00`).getTime();
  if (q.to) body.end_time = new Date(`${q.to}T23:59:59.999`).getTime();
  return body;
}
