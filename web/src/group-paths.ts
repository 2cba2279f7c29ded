// Pipeline groups as the UI names them: the tree flattened, parents first, into paths of names
// (backend / api) with their level. Pure, so tests run it without a browser.

export interface PipelineGroup {
  readonly id: string;
  readonly name: string;
  readonly parent_id: string;
  readonly path_id: string;
  readonly pipeline_count: number;
  readonly no_group_count: number;
  readonly children: readonly PipelineGroup[];
}

export interface FlatGroup {
  readonly group: PipelineGroup;
  /** Names from the top down, joined by " / ". */
  readonly path: string;
  readonly depth: number;
}

export function flatten(tree: readonly PipelineGroup[], above = "", depth = 0): FlatGroup[] {
  return tree.flatMap((g) => {
    const path = above === "" ? g.name : `${above} / ${g.name}`;
    return [{ group: g, path, depth }, ...flatten(g.children, path, depth + 1)];
  });
}
