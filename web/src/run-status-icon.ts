// The tab of a run page says how the run stands: its title starts with the status's icon and
// word, and the favicon turns the status's colour, so a run can be watched from another tab.

import { statusLabel } from "./format.js";

const COLOURS: Readonly<Record<string, string>> = {
  COMPLETED: "#1a7f37",
  FAILED: "#cf222e",
  CANCELED: "#6e7781",
  RUNNING: "#0969da",
  QUEUED: "#8250df",
  PAUSED: "#bf8700",
  SUSPEND: "#bf8700",
  INIT: "#8c959f",
};

const MARKS: Readonly<Record<string, string>> = {
  COMPLETED: "✓",
  FAILED: "✕",
  CANCELED: "■",
  RUNNING: "●",
  QUEUED: "…",
  PAUSED: "❚❚",
};

function iconLink(): HTMLLinkElement {
  let link = document.querySelector<HTMLLinkElement>("link[rel=icon]");
  if (!link) {
    link = document.createElement("link");
    link.rel = "icon";
    document.head.append(link);
  }
  return link;
}

/** A filled circle in the status's colour, as an SVG data URL (img-src allows data:). */
export function statusIcon(status: string): string {
  const colour = COLOURS[status] ?? "#8c959f";
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="${colour}"/></svg>`;
  return `data:image/svg+xml,${encodeURIComponent(svg)}`;
}

/** Shows a run's status in the tab; undefined puts back the plain icon (the view left). */
export function showRunStatus(what: string | undefined, status?: string): void {
  const link = iconLink();
  if (what === undefined || status === undefined) {
    link.href = "data:,";
    delete document.documentElement.dataset.runStatus;
    return;
  }
  const title = `${MARKS[status] ?? "•"} ${statusLabel(status)} · ${what} · Pipewright`;
  if (document.title !== title) document.title = title;
  const href = statusIcon(status);
  if (link.getAttribute("href") !== href) link.href = href;
  document.documentElement.dataset.runStatus = status;
}
