// What the caller may do with each pipeline (check-rights), so that the UI offers only the
// actions the server would allow: a viewer sees no Run, Edit, Disable or Delete to be refused on.

import { paths } from "./api.js";
import type { Ctx } from "./context.js";

export interface Rights {
  readonly query: boolean;
  readonly update: boolean;
  readonly execute: boolean;
  readonly delete: boolean;
  /** May disable and enable it. */
  readonly banned: boolean;
  readonly copy: boolean;
  readonly authorize: boolean;
  readonly tag: boolean;
}

/** When the question cannot be asked (an older server, a network fault): offer all, the server decides. */
export const ALL_RIGHTS: Rights = {
  query: true,
  update: true,
  execute: true,
  delete: true,
  banned: true,
  copy: true,
  authorize: true,
  tag: true,
};

/** The rights per pipeline id; pipelines the answer leaves out get ALL_RIGHTS. */
export async function rightsOf(ctx: Ctx, ids: readonly string[]): Promise<Map<string, Rights>> {
  const out = new Map<string, Rights>();
  if (ids.length === 0) return out;
  try {
    const answer = await ctx.api.post<Record<string, Rights>[]>(paths.checkRights(ctx.projectId), {
      resource_ids: ids,
    });
    for (const entry of answer) for (const [id, r] of Object.entries(entry)) out.set(id, r);
  } catch {
    // The actions stay offered; the server still refuses what it must.
  }
  return out;
}

export function rightsFor(map: ReadonlyMap<string, Rights>, id: string): Rights {
  return map.get(id) ?? ALL_RIGHTS;
}
