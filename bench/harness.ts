// Shared benchmark plumbing: the real `pipewright serve` as a child process on a loopback port
// (fresh data dir, removed afterwards), a keep-alive HTTP client, statistics and table printing.
// Mirrors test/helpers/server.ts without vitest.

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { DEFAULT_CONDITION } from "../src/pipeline/definition.js";

export const ADMIN_TOKEN = "pw_admin_bench_token_0123456789abcdef";
const DIST = path.resolve(import.meta.dirname, "..");
const ROOT = path.resolve(DIST, "..");
let cliCopy: string | undefined;

/**
 * The server's entry point in a private copy of dist/src, made at first use: a rebuild of dist/
 * while the benchmarks run (another shell, a watcher) must not swap the code under test halfway.
 */
export function serverCli(): string {
  if (cliCopy) return cliCopy;
  const source = path.join(DIST, "src");
  if (!fs.existsSync(path.join(source, "cli", "main.js")))
    throw new Error(`${source}/cli/main.js is missing: run "npm run build" first`);
  const copy = tempDir("pipewright-bench-dist-");
  process.once("exit", () => removeDir(copy));
  fs.cpSync(source, path.join(copy, "dist", "src"), { recursive: true });
  const web = path.join(DIST, "web"); // the UI, served from dist/web when it was built
  if (fs.existsSync(web)) fs.cpSync(web, path.join(copy, "dist", "web"), { recursive: true });
  fs.copyFileSync(path.join(ROOT, "package.json"), path.join(copy, "package.json"));
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(copy, "node_modules"), "dir");
  cliCopy = path.join(copy, "dist", "src", "cli", "main.js");
  return cliCopy;
}

export interface BenchServer {
  readonly url: string;
  readonly dataDir: string;
  readonly pid: number;
  output(): string;
  /** SIGTERM and wait (SIGKILL after 15 s). The data dir stays. */
  stop(): Promise<void>;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

const BENCH_SECRET_KEY = Buffer.alloc(32, 0xbe).toString("base64");

/**
 * Starts `pipewright serve` on a random port over `dataDir` with warn-level logs; `env` adds to
 * the bare PATH and HOME the server gets (DATABASE_URL for PostgreSQL).
 */
export async function startServer(
  dataDir: string,
  args: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
): Promise<BenchServer> {
  const cli = serverCli();
  const proc: ChildProcess = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean),
      cli,
      "serve",
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--admin-token",
      ADMIN_TOKEN,
      "--log-level",
      "warn",
      ...args,
    ],
    {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        // Replicas over one PostgreSQL database share their secret key.
        ...(env.DATABASE_URL ? { PIPEWRIGHT_SECRET_KEY: BENCH_SECRET_KEY } : {}),
        // BENCH_RUNNER_SANDBOX=false measures the embedded runner without its sandbox.
        ...(process.env.BENCH_RUNNER_SANDBOX
          ? { PIPEWRIGHT_RUNNER_SANDBOX: process.env.BENCH_RUNNER_SANDBOX }
          : {}),
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
      cwd: dataDir,
    },
  );
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 30_000);
    const check = (): void => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on("data", check);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  const pid = proc.pid!;
  return {
    url,
    dataDir,
    pid,
    output: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resident set size of a process in MB, from /proc/<pid>/status. */
export function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

export interface Answer {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: benchmarks read arbitrary JSON shapes
  readonly body: any;
}

/**
 * JSON over node:http with one keep-alive agent: less client overhead than fetch, so the
 * numbers are the server's. Throws on any status but the expected one.
 */
export function client(url: string, token: string) {
  const base = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  function send(method: string, p: string, body?: unknown, expect = 200): Promise<Answer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent,
          host: base.hostname,
          port: base.port,
          method,
          path: p,
          headers: {
            "x-auth-token": token,
            ...(payload === undefined
              ? {}
              : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString();
            let parsed: unknown = text;
            try {
              parsed = text === "" ? undefined : JSON.parse(text);
            } catch {
              // not JSON: keep the text
            }
            if (res.statusCode !== expect) {
              reject(new Error(`${method} ${p}: ${res.statusCode} ${text.slice(0, 500)}`));
              return;
            }
            resolve({ status: res.statusCode, body: parsed });
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }
  return {
    agent,
    token,
    base,
    get: (p: string) => send("GET", p),
    post: (p: string, body?: unknown) => send("POST", p, body),
    close: () => agent.destroy(),
  };
}
export type Client = ReturnType<typeof client>;

/** A project and an admin-role token bound to it. */
export async function setupProject(url: string): Promise<{ projectId: string; api: Client }> {
  const admin = client(url, ADMIN_TOKEN);
  try {
    const p = await admin.post("/admin/v1/projects", { name: `bench_${Date.now().toString(36)}` });
    const t = await admin.post("/admin/v1/tokens", {
      name: "bench",
      role: "admin",
      project_ids: [p.body.project_id],
    });
    return { projectId: p.body.project_id, api: client(url, t.body.token) };
  } finally {
    admin.close();
  }
}

/** CodeArts definition JSON: one stage, one job, one shell step. */
export function shellPipeline(script: string): string {
  return JSON.stringify({
    stages: [
      {
        name: "build",
        identifier: "build",
        sequence: 0,
        depends_on: [],
        run_always: false,
        jobs: [
          {
            name: "job",
            identifier: "job",
            sequence: 0,
            depends_on: [],
            condition: DEFAULT_CONDITION,
            timeout: "",
            resource: "",
            steps: [
              {
                name: "step0",
                identifier: "job_s0",
                task: "official_shell_plugin",
                sequence: 0,
                inputs: [{ key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: script }],
              },
            ],
          },
        ],
      },
    ],
  });
}

/** Creates `n` pipelines with the same script, `parallel` requests at a time; answers their ids. */
export async function createPipelines(
  api: Client,
  projectId: string,
  n: number,
  script: string,
  prefix: string,
  parallel = 8,
): Promise<string[]> {
  const ids = new Array<string>(n);
  const definition = shellPipeline(script);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) {
      const res = await api.post(`/v5/${projectId}/api/pipelines`, {
        name: `${prefix}_${i}`,
        is_publish: false,
        definition,
      });
      ids[i] = res.body.pipeline_id;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return ids;
}

export const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELED", "IGNORED"]);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- statistics -------------------------------------------------------------------------------

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export const median = (samples: readonly number[]): number => percentile(samples, 50);

export const ms = (v: number): string => `${v.toFixed(v < 10 ? 2 : 1)} ms`;
export const ratio = (v: number): string => `${v.toFixed(2)}×`;

// ---- reporting --------------------------------------------------------------------------------

export interface Target {
  readonly label: string;
  readonly value: string;
  readonly goal: string;
  readonly met: boolean;
}

export interface BenchResult {
  readonly title: string;
  readonly rows: readonly (readonly [string, string])[];
  readonly targets: readonly Target[];
  readonly notes?: readonly string[];
}

export const verdict = (met: boolean): string => (met ? "target met" : "target MISSED");

export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(`  ${line(header)}`);
  console.log(`  ${widths.map((w) => "-".repeat(w)).join("  ")}`);
  for (const r of rows) console.log(`  ${line(r)}`);
}

export function printResult(r: BenchResult): void {
  console.log(`\n== ${r.title}`);
  printTable(["measure", "value"], r.rows);
  if (r.targets.length > 0) {
    console.log("");
    printTable(
      ["target", "measured", "goal", "verdict"],
      r.targets.map((t) => [t.label, t.value, t.goal, verdict(t.met)]),
    );
  }
  for (const n of r.notes ?? []) console.log(`  note: ${n}`);
}

/** Prints progress on stderr so stdout keeps only the tables. */
export function progress(msg: string): void {
  process.stderr.write(`  … ${msg}\n`);
}

/** Jiffies the whole machine spent busy and in total so far (/proc/stat), for a busy share. */
export function cpuTimes(): { busy: number; total: number } {
  const line = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

// ---- runner agents ------------------------------------------------------------------------------

export interface Agent {
  readonly name: string;
  /** SIGTERM (the agent drains; it is idle by then), SIGKILL after 10 s; removes its work dir. */
  stop(): Promise<void>;
  /** For the exit hook: SIGKILL now, without waiting. */
  kill(): void;
}

/** A `pipewright runner` from the same private copy of dist as the servers. */
export function startAgent(server: string, token: string, name: string, slots: number): Agent {
  const workDir = tempDir("pipewright-bench-runner-");
  const proc: ChildProcess = spawn(
    process.execPath,
    [
      serverCli(),
      "runner",
      "--server",
      server,
      "--token",
      token,
      "--slots",
      String(slots),
      "--work-dir",
      workDir,
      "--name",
      name,
    ],
    {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let out = "";
  proc.stderr!.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const alive = (): boolean => proc.exitCode === null && proc.signalCode === null;
  proc.once("exit", (code, signal) => {
    if (code !== 0 && signal === null) progress(`runner ${name} exited with ${code}: ${out}`);
  });
  return {
    name,
    async stop() {
      if (alive()) {
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      removeDir(workDir);
    },
    kill() {
      if (alive()) proc.kill("SIGKILL");
      removeDir(workDir);
    },
  };
}

export async function runnerToken(url: string): Promise<string> {
  const admin = client(url, ADMIN_TOKEN);
  try {
    const t = await admin.post("/admin/v1/tokens", {
      name: "bench-runners",
      role: "runner",
      project_ids: [],
    });
    return t.body.token as string;
  } finally {
    admin.close();
  }
}

/** Until every named agent has registered (GET /admin/v1/runners). */
export async function waitForAgents(url: string, names: readonly string[]): Promise<void> {
  const admin = client(url, ADMIN_TOKEN);
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const res = await admin.get("/admin/v1/runners");
      const seen = new Set((res.body.runners as { name: string }[]).map((r) => r.name));
      if (names.every((n) => seen.has(n))) return;
      if (Date.now() > deadline) throw new Error(`runners did not register: ${names.join(", ")}`);
      await sleep(100);
    }
  } finally {
    admin.close();
  }
}
