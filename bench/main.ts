// `npm run bench`: runs every benchmark (or those named on the command line), each against its
// own server process, prints a table per benchmark and a summary of the targets. A missed target
// is reported, never an exit code; a benchmark that crashes is.

import fs from "node:fs";
import os from "node:os";
import { performance } from "node:perf_hooks";
import { artifacts } from "./artifacts.js";
import { batchExecution } from "./batch-execution.js";
import { batchVsSingle } from "./batch-vs-single.js";
import { crashWave } from "./crash-wave.js";
import { type BenchResult, cpuTimes, printResult, printTable, type Target, verdict } from "./harness.js";
import { largeRun } from "./large-run.js";
import { largeStore } from "./large-store.js";
import { liveLog } from "./live-log.js";
import { queueLatency } from "./queue-latency.js";
import { scaleOut } from "./scale-out.js";
import { webhooks } from "./webhooks.js";

const BENCHMARKS: readonly { name: string; run: () => Promise<BenchResult> }[] = [
  { name: "batch-vs-single", run: batchVsSingle },
  { name: "batch-execution", run: batchExecution },
  { name: "queue-latency", run: queueLatency },
  { name: "large-store", run: largeStore },
  { name: "live-log", run: liveLog },
  { name: "scale-out", run: scaleOut },
  { name: "large-run", run: largeRun },
  { name: "crash-wave", run: crashWave },
  { name: "webhooks", run: webhooks },
  { name: "artifacts", run: artifacts },
];

/** The share of the last 10 s in which some task waited for IO (Linux pressure stall info). */
function ioPressure(): string | undefined {
  try {
    const some = fs.readFileSync("/proc/pressure/io", "utf8").match(/^some avg10=([\d.]+)/m);
    return some ? `${some[1]}%` : undefined;
  } catch {
    return undefined;
  }
}

const loadLine = (): string => {
  const io = ioPressure();
  return `load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")} on ${os.cpus().length} CPUs${io ? `, IO pressure ${io}` : ""}`;
};

async function main(argv: readonly string[]): Promise<void> {
  const unknown = argv.filter((a) => !BENCHMARKS.some((b) => b.name === a));
  if (unknown.length > 0) {
    console.error(
      `unknown benchmark(s): ${unknown.join(", ")}; known: ${BENCHMARKS.map((b) => b.name).join(", ")}`,
    );
    process.exitCode = 2;
    return;
  }
  const selected = argv.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => argv.includes(b.name));
  console.log(
    `Pipewright benchmarks — node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"}), ${os.platform()}`,
  );
  console.log(`${loadLine()} — other work on this machine skews absolute figures, less so the ratios`);
  const t0 = performance.now();
  const summary: (Target & { bench: string })[] = [];
  const crashed: string[] = [];
  for (const b of selected) {
    const started = performance.now();
    const cpu0 = cpuTimes();
    try {
      const r = await b.run();
      printResult(r);
      const cpu1 = cpuTimes();
      const busy = (100 * (cpu1.busy - cpu0.busy)) / Math.max(1, cpu1.total - cpu0.total);
      console.log(
        `  (${((performance.now() - started) / 1000).toFixed(1)} s; machine CPU ${busy.toFixed(0)}% busy meanwhile, this benchmark included; ${loadLine()})`,
      );
      for (const t of r.targets) summary.push({ ...t, bench: b.name });
    } catch (err) {
      crashed.push(b.name);
      console.log(`\n== ${b.name}: FAILED TO RUN`);
      console.log(`  ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }
  console.log("\n== Summary");
  printTable(
    ["benchmark", "target", "measured", "goal", "verdict"],
    summary.map((t) => [t.bench, t.label, t.value, t.goal, verdict(t.met)]),
  );
  const missed = summary.filter((t) => !t.met).length;
  console.log(
    `\n  ${summary.length - missed} of ${summary.length} targets met` +
      (crashed.length > 0 ? `; did not run: ${crashed.join(", ")}` : "") +
      ` (${((performance.now() - t0) / 1000).toFixed(0)} s in all)`,
  );
  if (crashed.length > 0) process.exitCode = 1;
}

// Ctrl-C: exit through process.exit so the 'exit' clean-ups (the copy of dist/) run; the server
// children get the same SIGINT from the terminal and drain themselves.
process.once("SIGINT", () => process.exit(130));
await main(process.argv.slice(2));
