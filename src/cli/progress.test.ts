import { describe, expect, it } from "vitest";
import type { Output } from "./command.js";
import { colorWanted, createStyle, formatDuration, table, truncate, visibleWidth } from "./format.js";
import { createProgressDisplay, type RunRow, renderProgress, renderSummary } from "./progress.js";

const plain = createStyle(false);

function row(name: string, status: string, stages: [string, string][], start = 1000, end = 0): RunRow {
  return {
    name,
    runId: `${name}-id`,
    runNumber: 3,
    status,
    stages: stages.map(([n, s]) => ({ name: n, status: s })),
    startTime: start,
    endTime: end,
  };
}

const rows = [
  row(
    "api",
    "COMPLETED",
    [
      ["build", "COMPLETED"],
      ["test", "COMPLETED"],
    ],
    1000,
    5000,
  ),
  row("web", "RUNNING", [
    ["build", "COMPLETED"],
    ["test", "RUNNING"],
  ]),
  row(
    "docs",
    "FAILED",
    [
      ["build", "FAILED"],
      ["test", "SKIPPED"],
    ],
    1000,
    3000,
  ),
  row(
    "cli",
    "QUEUED",
    [
      ["build", "INIT"],
      ["test", "INIT"],
    ],
    0,
  ),
];

describe("renderProgress", () => {
  it("draws one line per run and an overall bar", () => {
    const lines = renderProgress(
      { rows, startedAt: 0, now: 13_000 },
      { width: 100, height: 40, style: plain },
    );
    expect(lines).toEqual([
      "✓ api       #3  COMPLETED   0:04  ✓ build  ✓ test",
      "● web       #3  RUNNING     0:12  ✓ build  ● test",
      "✗ docs      #3  FAILED      0:02  ✗ build  – test",
      "○ cli       #3  QUEUED         -  ○ build  ○ test",
      "[███████████████░░░░░░░░░░░░░░░]  2/4 done  1 ✓  1 ✗  1 running  1 waiting  0:13 elapsed",
    ]);
  });

  it("keeps every line narrower than the terminal", () => {
    const lines = renderProgress(
      { rows, startedAt: 0, now: 13_000 },
      { width: 30, height: 40, style: createStyle(true) },
    );
    for (const l of lines) expect(visibleWidth(l)).toBeLessThanOrEqual(29);
  });

  it("folds completed runs away first when the screen is short", () => {
    const many = Array.from({ length: 10 }, (_, i) =>
      row(`p${i}`, i === 7 ? "RUNNING" : "COMPLETED", [], 1000, 2000),
    );
    const lines = renderProgress(
      { rows: many, startedAt: 0, now: 5000 },
      { width: 80, height: 6, style: plain },
    );
    expect(lines).toHaveLength(5);
    expect(lines.some((l) => l.includes("p7"))).toBe(true);
    expect(lines[3]).toBe("  … 7 more (completed runs are folded away first)");
  });
});

describe("renderSummary", () => {
  it("is a table and a total", () => {
    const text = renderSummary(
      { rows: [rows[0]!, { ...rows[2]!, message: "test: exit code 3" }], startedAt: 0, now: 9000 },
      plain,
    );
    expect(text).toBe(
      "PIPELINE  RUN  STATUS     TIME  STAGES\n" +
        "api       #3   COMPLETED  0:04  ✓ build  ✓ test\n" +
        "docs      #3   FAILED     0:02  ✗ build  – test  test: exit code 3\n" +
        "2 runs: 1 completed, 1 failed in 0:09\n",
    );
  });
});

function fakeOutput(isTTY: boolean): Output & { text: string } {
  return {
    text: "",
    write(t: string) {
      this.text += t;
    },
    isTTY,
    columns: 80,
    rows: 24,
  };
}

describe("createProgressDisplay", () => {
  it("redraws in place on a terminal", () => {
    const out = fakeOutput(true);
    const d = createProgressDisplay(out, plain);
    d.update({ rows: [rows[1]!], startedAt: 0, now: 1000 });
    d.update({ rows: [rows[0]!], startedAt: 0, now: 2000 });
    d.stop();
    // Hide the cursor, draw two lines, move up two lines and clear, draw again; at the end clear
    // the frame and show the cursor.
    expect(out.text.startsWith("\x1b[?25l● web")).toBe(true);
    expect(out.text).toContain("\n\x1b[2A\r\x1b[J✓ api");
    expect(out.text.endsWith("\n\x1b[2A\r\x1b[J\x1b[?25h")).toBe(true);
  });

  it("prints a line per change elsewhere, and no escape codes", () => {
    const out = fakeOutput(false);
    const d = createProgressDisplay(out, plain);
    d.update({ rows: [rows[1]!], startedAt: 0, now: 1000 });
    d.update({ rows: [rows[1]!], startedAt: 0, now: 2000 });
    d.update({ rows: [{ ...rows[1]!, status: "COMPLETED" }], startedAt: 0, now: 3000 });
    expect(out.text).toBe("[0:01] web#3 RUNNING  ✓ build  ● test\n[0:03] web#3 COMPLETED  ✓ build  ● test\n");
  });
});

describe("format", () => {
  it("decides on colour from the terminal, NO_COLOR, FORCE_COLOR and --no-color", () => {
    expect(colorWanted(true, {}, false)).toBe(true);
    expect(colorWanted(false, {}, false)).toBe(false);
    expect(colorWanted(true, { NO_COLOR: "1" }, false)).toBe(false);
    expect(colorWanted(true, { NO_COLOR: "" }, false)).toBe(true);
    expect(colorWanted(false, { FORCE_COLOR: "1" }, false)).toBe(true);
    expect(colorWanted(true, {}, true)).toBe(false);
  });

  it("formats durations, tables and truncation", () => {
    expect(formatDuration(7_400)).toBe("0:07");
    expect(formatDuration(3_723_000)).toBe("1:02:03");
    expect(table(["A", "BB"], [["xxx", "y"]])).toBe("A    BB\nxxx  y\n");
    expect(truncate("abcdef", 4)).toBe("abc…");
    const red = createStyle(true).red("abcdef");
    expect(visibleWidth(truncate(red, 4))).toBe(4);
  });
});
