// The run graph's layout, without the DOM: stages in columns by how deep their dependencies go,
// jobs likewise inside their stage (GitLab's needs graph). run-graph.ts draws it.

export interface Node {
  readonly id: string;
  readonly deps: readonly string[];
}

/**
 * The column of each node: 0 when it waits for nothing, else one past the deepest node it waits
 * for. Unknown ids in `deps` are left out, and a cycle (the server refuses them) cannot loop.
 */
export function levels(nodes: readonly Node[]): Map<string, number> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  const visiting = new Set<string>();
  const level = (id: string): number => {
    const known = out.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0;
    visiting.add(id);
    const deps = (byId.get(id)?.deps ?? []).filter((d) => byId.has(d) && d !== id);
    const l = deps.length === 0 ? 0 : 1 + Math.max(...deps.map(level));
    visiting.delete(id);
    out.set(id, l);
    return l;
  };
  for (const n of nodes) level(n.id);
  return out;
}

/**
 * What each stage waits for (docs/definition.md, "Ordering"): its `depends_on`, or, when empty,
 * the stage before it.
 */
export function stageDeps(stages: readonly { identifier: string; depends_on: readonly string[] }[]): Node[] {
  return stages.map((st, i) => ({
    id: st.identifier,
    deps: st.depends_on.length > 0 ? st.depends_on : i > 0 ? [stages[i - 1]!.identifier] : [],
  }));
}

/** Groups ids by level, in their given order within a level. */
export function columns<T>(items: readonly T[], id: (t: T) => string, lv: Map<string, number>): T[][] {
  const cols: T[][] = [];
  for (const it of items) {
    const l = lv.get(id(it)) ?? 0;
    const col = cols[l] ?? [];
    col.push(it);
    cols[l] = col;
  }
  return cols.filter((c) => c !== undefined);
}
