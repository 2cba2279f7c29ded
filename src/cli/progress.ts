// The live display of runs being waited for (`batch-run --wait`, `run --wait`): on a terminal one
// line per run with its stage statuses, an overall bar and the elapsed time, redrawn in place with
// ANSI cursor moves; elsewhere (a pipe, a CI log) one line per change. Ends with a summary table.

import { TERMINAL_RUN_STATUSES } from "../pipeline/vocabulary.js";
import type { Output } from "./command.js";
import {
  colorStatus,
  formatDuration,
  type Style,
  statusSymbol,
  table,
  truncate,
  visibleWidth,
} from "./format.js";

export interface RunRow {
  /** Pipeline name. */
  readonly name: string;
  readonly runId: string;
  readonly runNumber: number | null;
  /** Run status; `START_FAILED` rows end at once with `FAILED`/`IGNORED` and a message. */
  readonly status: string;
  readonly stages: readonly { readonly name: string; readonly status: string }[];
  /** Server times in epoch ms; 0 when not started/ended. */
  readonly startTime: number;
  readonly endTime: number;
  readonly message?: string | null | undefined;
  /** The run never started (a disabled pipeline, an ABORT concurrency limit): not a failed run. */
  readonly notStarted?: boolean | undefined;
}

export interface ProgressState {
  readonly rows: readonly RunRow[];
  /** When the client started waiting (client clock). */
  readonly startedAt: number;
  readonly now: number;
}

export function isDone(row: RunRow): boolean {
  return TERMINAL_RUN_STATUSES.has(row.status);
}

function rowDuration(row: RunRow, now: number): string {
  if (!row.startTime) return "-";
  return formatDuration((row.endTime || now) - row.startTime);
}

function stagesText(row: RunRow, style: Style): string {
  return row.stages
    .map((s) => `${colorStatus(style, s.status, statusSymbol(s.status))} ${s.name}`)
    .join("  ");
}

export interface Counts {
  readonly total: number;
  readonly done: number;
  readonly completed: number;
  readonly failed: number;
  readonly canceled: number;
  readonly running: number;
  readonly waiting: number;
  readonly notStarted: number;
}

export function countRows(rows: readonly RunRow[]): Counts {
  const n = (pred: (r: RunRow) => boolean): number => rows.filter(pred).length;
  return {
    total: rows.length,
    done: n(isDone),
    completed: n((r) => r.status === "COMPLETED"),
    failed: n((r) => r.status === "FAILED" && !r.notStarted),
    canceled: n((r) => (r.status === "CANCELED" || r.status === "IGNORED") && !r.notStarted),
    running: n((r) => r.status === "RUNNING"),
    waiting: n(
      (r) => !r.notStarted && (r.status === "QUEUED" || r.status === "PAUSED" || r.status === "SUSPEND"),
    ),
    notStarted: n((r) => r.notStarted === true),
  };
}

function bar(done: number, total: number, width: number, style: Style): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${style.green("█".repeat(filled))}${style.dim("░".repeat(width - filled))}]`;
}

function countsText(c: Counts, style: Style): string {
  const parts = [`${c.done}/${c.total} done`];
  if (c.completed) parts.push(style.green(`${c.completed} ✓`));
  if (c.failed) parts.push(style.red(`${c.failed} ✗`));
  if (c.canceled) parts.push(style.yellow(`${c.canceled} ⊘`));
  if (c.notStarted) parts.push(style.yellow(`${c.notStarted} not started`));
  if (c.running) parts.push(style.cyan(`${c.running} running`));
  if (c.waiting) parts.push(`${c.waiting} waiting`);
  return parts.join("  ");
}

/**
 * The screen as lines, at most `height` of them and each at most `width - 1` columns (a full-width
 * line would wrap on some terminals and break the redraw). Pure.
 */
export function renderProgress(
  state: ProgressState,
  opts: { width: number; height: number; style: Style },
): string[] {
  const { style } = opts;
  const width = Math.max(20, opts.width - 1);
  const c = countRows(state.rows);
  const elapsed = formatDuration(state.now - state.startedAt);
  const nameWidth = Math.min(28, Math.max(8, ...state.rows.map((r) => visibleWidth(r.name))));
  const numWidth = Math.max(
    2,
    ...state.rows.map((r) => (r.runNumber === null ? 1 : String(r.runNumber).length + 1)),
  );
  // The bar takes a line and the cursor rests on the one below the frame.
  const room = Math.max(2, opts.height - 2);
  let shown = state.rows.map((r, i) => ({ r, i }));
  let hidden = 0;
  if (shown.length > room) {
    // Keep what needs attention on screen (unfinished, then failed); completed runs make room first.
    const rank = (r: RunRow): number => (!isDone(r) ? 0 : r.status === "COMPLETED" ? 2 : 1);
    const keep = [...shown].sort((a, b) => rank(a.r) - rank(b.r) || a.i - b.i).slice(0, room - 1);
    hidden = shown.length - keep.length;
    shown = keep.sort((a, b) => a.i - b.i);
  }
  const lines = shown.map(({ r }) => {
    const name = truncate(r.name, nameWidth).padEnd(nameWidth);
    const num = (r.runNumber === null ? "-" : `#${r.runNumber}`).padEnd(numWidth);
    const status = colorStatus(style, r.status, r.status.padEnd(9));
    const line = `${colorStatus(style, r.status, statusSymbol(r.status))} ${name}  ${num}  ${status}  ${rowDuration(r, state.now).padStart(5)}  ${stagesText(r, style)}`;
    return truncate(line, width);
  });
  if (hidden > 0) lines.push(style.dim(`  … ${hidden} more (completed runs are folded away first)`));
  const barWidth = Math.max(10, Math.min(30, width - 50));
  lines.push(
    truncate(
      `${bar(c.done, c.total, barWidth, style)}  ${countsText(c, style)}  ${style.dim(`${elapsed} elapsed`)}`,
      width,
    ),
  );
  return lines;
}

/** One line for a non-terminal output: printed when a run's status or a stage's status changes. */
export function changeLine(row: RunRow, state: ProgressState, style: Style): string {
  const num = row.runNumber === null ? "" : `#${row.runNumber}`;
  const stages = row.stages.length > 0 ? `  ${stagesText(row, style)}` : "";
  const msg = row.message && isDone(row) && row.status !== "COMPLETED" ? `  (${row.message})` : "";
  return `[${formatDuration(state.now - state.startedAt)}] ${row.name}${num} ${colorStatus(style, row.status)}${stages}${msg}`;
}

/** The final table, then a one-line total. */
export function renderSummary(state: ProgressState, style: Style): string {
  const rows = state.rows.map((r) => [
    r.name,
    r.runNumber === null ? "-" : `#${r.runNumber}`,
    r.notStarted ? style.yellow("NOT STARTED") : colorStatus(style, r.status),
    rowDuration(r, state.now),
    stagesText(r, style) + (r.message && r.status !== "COMPLETED" ? style.dim(`  ${r.message}`) : ""),
  ]);
  const c = countRows(state.rows);
  const parts = [`${c.completed} completed`];
  if (c.failed) parts.push(style.red(`${c.failed} failed`));
  if (c.canceled) parts.push(style.yellow(`${c.canceled} canceled`));
  if (c.notStarted) parts.push(style.yellow(`${c.notStarted} not started`));
  if (c.total - c.done) parts.push(`${c.total - c.done} unfinished`);
  return `${table(["PIPELINE", "RUN", "STATUS", "TIME", "STAGES"], rows, style)}${c.total} run${c.total === 1 ? "" : "s"}: ${parts.join(", ")} in ${formatDuration(state.now - state.startedAt)}\n`;
}

export interface ProgressDisplay {
  update(state: ProgressState): void;
  /** On a terminal, clears the frame and shows the cursor again. */
  stop(): void;
}

const HIDE_CURSOR = "\x1b[?25l";
const SHOW_CURSOR = "\x1b[?25h";

export function createProgressDisplay(out: Output, style: Style): ProgressDisplay {
  if (out.isTTY) {
    let drawn = 0;
    let started = false;
    return {
      update(state) {
        const lines = renderProgress(state, { width: out.columns, height: out.rows, style });
        // Up to the first line of the last frame, clear to the end of the screen, draw again.
        const up = drawn > 0 ? `\x1b[${drawn}A\r\x1b[J` : "";
        out.write(`${started ? "" : HIDE_CURSOR}${up}${lines.join("\n")}\n`);
        started = true;
        drawn = lines.length;
      },
      stop() {
        // The frame goes away: the summary printed next says the same, once.
        if (started) out.write(`${drawn > 0 ? `\x1b[${drawn}A\r\x1b[J` : ""}${SHOW_CURSOR}`);
      },
    };
  }
  const last = new Map<string, string>();
  return {
    update(state) {
      for (const row of state.rows) {
        const key = `${row.status} ${row.stages.map((s) => s.status).join(",")}`;
        if (last.get(row.runId) === key) continue;
        last.set(row.runId, key);
        out.write(`${changeLine(row, state, style)}\n`);
      }
    },
    stop() {},
  };
}
