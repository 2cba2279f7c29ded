// A small inline-SVG chart of the last runs: one bar per run, its height the duration, its colour
// the outcome. A text summary says the same for those who do not see it.

import { h, s } from "./dom.js";
import { elapsed, formatDuration, statusLabel } from "./format.js";
import type { RunSummary } from "./types.js";

const W = 600;
const H = 120;
const TOP = 14;
const BOTTOM = 4;

export function runChart(runs: readonly RunSummary[], now: number): HTMLElement {
  const chrono = [...runs].reverse();
  const durations = chrono.map((r) => elapsed(r.start_time, r.end_time, now) ?? 0);
  const max = Math.max(1000, ...durations);
  const slots = Math.max(chrono.length, 20);
  const slot = W / slots;
  const counts = new Map<string, number>();
  for (const r of chrono) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const done = chrono.filter((r) => r.end_time > 0 && r.start_time > 0).map((r) => r.end_time - r.start_time);
  done.sort((a, b) => a - b);
  const median = done.length > 0 ? done[Math.floor(done.length / 2)]! : undefined;
  const summary =
    chrono.length === 0
      ? "No runs yet."
      : `Last ${chrono.length} runs: ${[...counts].map(([st, n]) => `${n} ${statusLabel(st).toLowerCase()}`).join(", ")}` +
        (median !== undefined ? `; median duration ${formatDuration(median)}.` : ".");

  const bars = chrono.map((r, i) => {
    const d = durations[i]!;
    const bh = Math.max(2, ((H - TOP - BOTTOM) * d) / max);
    return s(
      "rect",
      {
        class: `bar s-${r.status.toLowerCase()}`,
        x: (i * slot + slot * 0.15).toFixed(1),
        y: (H - BOTTOM - bh).toFixed(1),
        width: (slot * 0.7).toFixed(1),
        height: bh.toFixed(1),
        rx: "2",
      },
      s(
        "title",
        {},
        `#${r.run_number} ${statusLabel(r.status)}${r.start_time ? ` · ${formatDuration(d)}` : ""}`,
      ),
    );
  });
  const svg = s(
    "svg",
    {
      class: "chart",
      viewBox: `0 0 ${W} ${H}`,
      preserveAspectRatio: "none",
      role: "img",
      "aria-label": summary,
      "data-testid": "history-chart",
    },
    s("line", {
      class: "axis",
      x1: "0",
      x2: String(W),
      y1: String(H - BOTTOM + 0.5),
      y2: String(H - BOTTOM + 0.5),
    }),
    s("line", { class: "grid", x1: "0", x2: String(W), y1: String(TOP), y2: String(TOP) }),
    bars,
  );
  return h(
    "figure",
    { class: "chart-figure" },
    h("div", { class: "chart-scale muted", "aria-hidden": "true" }, formatDuration(max)),
    svg,
    h("figcaption", { class: "muted" }, summary),
  );
}
