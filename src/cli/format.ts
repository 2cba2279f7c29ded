// Text output of the CLI: colours (only when asked for), status symbols, tables and durations.
// Pure functions; whether colour is on is decided once in main.ts.

export interface Style {
  readonly enabled: boolean;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

function wrap(enabled: boolean, open: number, close: number): (s: string) => string {
  return enabled ? (s) => `\x1b[${open}m${s}\x1b[${close}m` : (s) => s;
}

export function createStyle(enabled: boolean): Style {
  return {
    enabled,
    bold: wrap(enabled, 1, 22),
    dim: wrap(enabled, 2, 22),
    red: wrap(enabled, 31, 39),
    green: wrap(enabled, 32, 39),
    yellow: wrap(enabled, 33, 39),
    cyan: wrap(enabled, 36, 39),
  };
}

/**
 * Colour on when the stream is a terminal and NO_COLOR is unset or empty (https://no-color.org);
 * FORCE_COLOR (non-empty, not "0") turns it on anyway, `--no-color` off.
 */
export function colorWanted(
  isTTY: boolean,
  env: Readonly<Record<string, string | undefined>>,
  noColorFlag: boolean,
): boolean {
  if (noColorFlag) return false;
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== "0") return true;
  return isTTY;
}

/** One character per status, so a row of stages stays narrow. */
export function statusSymbol(status: string): string {
  switch (status) {
    case "COMPLETED":
      return "✓";
    case "FAILED":
    case "ASYNC_FAILED":
      return "✗";
    case "CANCELED":
      return "⊘";
    case "RUNNING":
    case "ASYNC_RUNNING":
    case "REDISPATCH":
      return "●";
    case "PAUSED":
    case "SUSPEND":
      return "⏸";
    case "SKIPPED":
    case "UNSELECTED":
    case "IGNORED":
      return "–";
    default:
      // INIT, QUEUED and anything a newer server may add.
      return "○";
  }
}

export function colorStatus(style: Style, status: string, text = status): string {
  switch (status) {
    case "COMPLETED":
      return style.green(text);
    case "FAILED":
    case "ASYNC_FAILED":
      return style.red(text);
    case "RUNNING":
    case "ASYNC_RUNNING":
    case "REDISPATCH":
      return style.cyan(text);
    case "PAUSED":
    case "SUSPEND":
    case "CANCELED":
      return style.yellow(text);
    default:
      return style.dim(text);
  }
}

/** `0:07`, `12:30`, `1:02:03`: compact and fixed-width enough for a live display. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Local date and time, `2025-01-31 14:05:09`; `-` for 0 (never). */
export function formatTime(epochMs: number | null | undefined): string {
  if (!epochMs) return "-";
  const d = new Date(epochMs);
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A word as a shell reads it back unchanged: as is when safe, else single-quoted. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the escape sequences we emit.
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/** Width of text on screen, ignoring colour codes; every code point counts as one column. */
export function visibleWidth(s: string): number {
  return [...s.replace(ANSI, "")].length;
}

/** Cuts text to `width` columns (colour codes kept intact), ending with `…` when cut. */
export function truncate(s: string, width: number): string {
  if (visibleWidth(s) <= width) return s;
  let out = "";
  let cols = 0;
  let colored = false;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: splitting on the escape sequences we emit.
  for (const part of s.split(/(\x1b\[[0-9;]*[A-Za-z])/)) {
    if (part.startsWith("\x1b[")) {
      out += part;
      colored = true;
      continue;
    }
    for (const ch of part) {
      if (cols >= width - 1) return `${out}…${colored ? "\x1b[0m" : ""}`;
      out += ch;
      cols++;
    }
  }
  return out;
}

function padEndVisible(s: string, width: number): string {
  return s + " ".repeat(Math.max(0, width - visibleWidth(s)));
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  style?: Style,
): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, c) => Math.max(...all.map((r) => visibleWidth(r[c] ?? ""))));
  const line = (r: readonly string[]): string =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : padEndVisible(cell, widths[c]!)))
      .join("  ")
      .trimEnd();
  const head = line(headers);
  return `${[style ? style.bold(head) : head, ...rows.map(line)].join("\n")}\n`;
}
