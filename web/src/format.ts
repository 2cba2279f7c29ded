// Small presentational helpers: status pills (colour and text), durations, times.

import { h } from "./dom.js";

const LABELS: Readonly<Record<string, string>> = {
  COMPLETED: "Completed",
  RUNNING: "Running",
  FAILED: "Failed",
  CANCELED: "Canceled",
  PAUSED: "Waiting",
  SUSPEND: "Suspended",
  IGNORED: "Not started",
  QUEUED: "Queued",
  INIT: "Pending",
  SKIPPED: "Skipped",
  UNSELECTED: "Not selected",
  REDISPATCH: "Redispatched",
  ASYNC_RUNNING: "Running",
  ASYNC_FAILED: "Failed",
  START_SUCCESS: "Started",
  START_FAILED: "Not started",
  NEVER: "Never run",
};

const ICONS: Readonly<Record<string, string>> = {
  COMPLETED: "✓",
  FAILED: "✕",
  ASYNC_FAILED: "✕",
  CANCELED: "■",
  RUNNING: "●",
  ASYNC_RUNNING: "●",
  PAUSED: "❚❚",
  QUEUED: "…",
  INIT: "○",
  SKIPPED: "↷",
  UNSELECTED: "–",
  IGNORED: "–",
  START_FAILED: "✕",
  START_SUCCESS: "✓",
};

export function statusLabel(status: string): string {
  return LABELS[status] ?? status;
}

/** A pill: colour for the eye, an icon, and the word for everyone; the raw value in data-status. */
export function pill(status: string, testid?: string): HTMLSpanElement {
  const el = h("span", { class: "pill", "data-testid": testid });
  updatePill(el, status);
  return el;
}

export function updatePill(el: HTMLElement, status: string): void {
  if (el.dataset.status === status) return;
  el.dataset.status = status;
  el.className = `pill s-${status.toLowerCase()}`;
  el.title = status;
  el.replaceChildren(
    h("span", { class: "pill-icon", "aria-hidden": "true" }, ICONS[status] ?? "•"),
    statusLabel(status),
  );
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  const s = Math.round(ms / 1000);
  if (ms < 100) return "<0.1s";
  if (s < 60) return ms < 1000 ? `${(ms / 1000).toFixed(1)}s` : `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const hours = Math.floor(m / 60);
  return `${hours}h ${String(m % 60).padStart(2, "0")}m`;
}

/** Elapsed time of something with epoch-ms start/end (0 = not yet); `now` for what still runs. */
export function elapsed(start: number, end: number, now: number, pause = 0): number | undefined {
  if (!start) return undefined;
  return Math.max(0, (end || now) - start - pause);
}

export function durationText(start: number, end: number, now: number, pause = 0): string {
  const d = elapsed(start, end, now, pause);
  return d === undefined ? "—" : formatDuration(d);
}

export function relativeTime(t: number, now: number): string {
  if (!t) return "—";
  const s = Math.round((now - t) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s}s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const hrs = Math.round(m / 60);
  if (hrs < 24) return `${hrs} h ago`;
  return new Date(t).toLocaleDateString();
}

/** How far ahead t is: "in 40 s", "in 12 min", "in 3 h", "in 2 days" (past times: relativeTime). */
export function untilText(t: number, now: number): string {
  const s = Math.round((t - now) / 1000);
  if (s < 0) return relativeTime(t, now);
  if (s < 60) return s < 5 ? "in a moment" : `in ${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `in ${m} min`;
  const hrs = Math.round(m / 60);
  if (hrs < 48) return `in ${hrs} h`;
  return `in ${Math.round(hrs / 24)} days`;
}

export function absoluteTime(t: number): string {
  return t ? new Date(t).toLocaleString() : "";
}

/** A <time> element showing "3 min ago" with the full date as its tooltip. */
export function timeEl(t: number, now: number): HTMLElement {
  if (!t) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: new Date(t).toISOString(), title: absoluteTime(t) }, relativeTime(t, now));
}

/** `512 B`, `1.5 KiB`, `12.3 MiB`: powers of 1024, as the CLI prints sizes. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "—";
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1023.5 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 99.95 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}
