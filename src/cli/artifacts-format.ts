// How the CLI shows a run's artifacts: sizes for people, short checksums, the table of
// `artifacts list`, the default file of `artifacts download` and its progress line. Pure.

import type { Artifact } from "./api.js";
import { formatTime } from "./format.js";

const UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB"] as const;

/** `512 B`, `1.5 KiB`, `12.3 MiB`, `340 GiB`: powers of 1024, three significant digits at most. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "-";
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let v = bytes / 1024;
  let i = 0;
  // Up a unit before rounding could print "1024 KiB".
  while (v >= 1023.5 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const text = v < 99.95 ? v.toFixed(1) : String(Math.round(v));
  const unit = UNITS[i]!;
  return `${text} ${unit}`;
}

/** `file_size` as the API sends it (a decimal string) in bytes, when it is one. */
export function sizeOf(a: Pick<Artifact, "file_size">): number | undefined {
  return /^\d+$/.test(String(a.file_size)) ? Number(a.file_size) : undefined;
}

/** The artifact's SHA-256 in lower-case hex, when the server gave one. */
export function sha256Of(a: Pick<Artifact, "hash_code">): string | undefined {
  const h = (a.hash_code ?? []).find((x) => x.hash_type.toLowerCase().replace("-", "") === "sha256");
  return h ? h.hash_value.toLowerCase() : undefined;
}

/** The first 12 hex digits: enough to tell archives apart by eye, as a short commit id is. */
export function shortHash(hex: string): string {
  return hex.slice(0, 12);
}

export const ARTIFACT_HEADERS = ["NAME", "JOB", "SIZE", "SHA256", "CREATED"] as const;

export function artifactRow(a: Artifact): string[] {
  const size = sizeOf(a);
  const sha = sha256Of(a);
  return [
    a.name,
    a.job_identifier || a.job_id || "-",
    size === undefined ? "-" : formatBytes(size),
    sha ? shortHash(sha) : "-",
    formatTime(a.create_time),
  ];
}

/**
 * The file `artifacts download` writes by default: `<name>.tar` in the current directory. A name
 * the server allowed may still hold characters a file name must not (a slash would reach into
 * another directory, a leading dot hide the file): those become `_`.
 */
export function artifactFileName(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced.
  const safe = name.replace(/[/\\\x00-\x1f\x7f]/g, "_").replace(/^\.+/, (dots) => "_".repeat(dots.length));
  return `${safe || "artifact"}.tar`;
}

/** `3.2 MiB of 10.0 MiB (32%)`; without a known total, what arrived so far. */
export function progressText(done: number, total: number | undefined): string {
  if (total === undefined || total <= 0) return formatBytes(done);
  const pct = Math.min(100, Math.floor((done / total) * 100));
  return `${formatBytes(done)} of ${formatBytes(total)} (${pct}%)`;
}
