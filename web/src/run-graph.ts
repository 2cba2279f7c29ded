// The run graph's layout: stages in columns by how deep their dependencies go (two stages that
// both wait only for build stand side by side in one column, as GitLab's needs graph shows
// them), jobs likewise inside their stage, and the dependency lines drawn over it in SVG.

import { s } from "./dom.js";

export { columns, levels, type Node, stageDeps } from "./run-layout.js";

export interface Edge {
  readonly from: Element;
  readonly to: Element;
  /** The test id and the class the line gets (its source's status, for colour). */
  readonly key: string;
  readonly status: string;
}

/**
 * Draws the lines of `edges` into `svg`, which covers `box` (position: relative). Side by side:
 * from the source's right edge to the target's left; stacked (a narrow screen): bottom to top.
 */
export function drawEdges(box: HTMLElement, svg: SVGSVGElement, edges: readonly Edge[]): void {
  const origin = box.getBoundingClientRect();
  const x = (v: number) => v - origin.left + box.scrollLeft;
  const y = (v: number) => v - origin.top + box.scrollTop;
  svg.setAttribute("width", String(box.scrollWidth));
  svg.setAttribute("height", String(box.scrollHeight));
  const paths = edges.flatMap((e) => {
    const a = e.from.getBoundingClientRect();
    const b = e.to.getBoundingClientRect();
    if (a.width === 0 || b.width === 0) return [];
    let d: string;
    if (b.left >= a.right - 1) {
      const x1 = x(a.right);
      const y1 = y(a.top + Math.min(a.height / 2, 17));
      const x2 = x(b.left);
      const y2 = y(b.top + Math.min(b.height / 2, 17));
      const mid = (x1 + x2) / 2;
      d = `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
    } else {
      const x1 = x(a.left + 16);
      const y1 = y(a.bottom);
      const x2 = x(b.left + 16);
      const y2 = y(b.top);
      const mid = (y1 + y2) / 2;
      d = `M${x1},${y1} C${x1},${mid} ${x2},${mid} ${x2},${y2}`;
    }
    return [
      s("path", {
        d,
        class: `edge s-${e.status.toLowerCase()}`,
        "data-testid": `edge-${e.key}`,
      }),
    ];
  });
  svg.replaceChildren(...paths);
}
