// Tag colours and memberships for the UI, pure (no DOM): the ink a chip's name is written in on
// its tag's colour, and which tags each pipeline carries, from the pipelines listed per tag.

/** The colour a new tag starts with: the console's default blue. */
export const DEFAULT_TAG_COLOR = "#0b81f6";

const HEX = /^#([0-9a-f]{6})$/i;

/** Relative luminance (WCAG 2) of `#rrggbb`; undefined for anything else. */
export function luminance(color: string): number | undefined {
  const m = HEX.exec(color);
  if (!m) return undefined;
  const n = Number.parseInt(m[1]!, 16);
  const [r, g, b] = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((c) => {
    const v = c / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG contrast ratio of two `#rrggbb` colours (1 to 21). */
export function contrast(a: string, b: string): number {
  const la = luminance(a) ?? 0;
  const lb = luminance(b) ?? 0;
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/**
 * Black or white, whichever reads better on the tag's colour: one of them always reaches 4.5:1,
 * so a chip's name stays legible whatever colour was picked. A colour that is not `#rrggbb`
 * (never sent by the server) gets the default's.
 */
export function chipColors(color: string): { readonly background: string; readonly ink: string } {
  const background = HEX.test(color) ? color.toLowerCase() : DEFAULT_TAG_COLOR;
  const ink = contrast(background, "#000000") >= contrast(background, "#ffffff") ? "#000000" : "#ffffff";
  return { background, ink };
}

/**
 * Which tags each pipeline carries (in the order of `tags`), from the ids of the pipelines the
 * list filtered by each tag answered.
 */
export function tagsByPipeline<T extends { readonly tag_id: string }>(
  tags: readonly T[],
  pipelinesOf: ReadonlyMap<string, readonly string[]>,
): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const tag of tags) {
    for (const id of pipelinesOf.get(tag.tag_id) ?? []) {
      const list = out.get(id) ?? [];
      list.push(tag);
      out.set(id, list);
    }
  }
  return out;
}

/** The tag ids still known, in the project's order (a filter that outlived a deleted tag). */
export function knownTagIds(
  wanted: readonly string[],
  tags: readonly { readonly tag_id: string }[],
): string[] {
  return tags.map((t) => t.tag_id).filter((id) => wanted.includes(id));
}
