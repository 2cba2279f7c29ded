// End-to-end harness: the real `pipewright serve` as a child process on a random loopback port,
// talked to over HTTP. Needs the compiled dist/ (npm test compiles before it runs the tests).

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, afterEach, expect, inject } from "vitest";
import { tempDir } from "./app.js";

export const E2E_ADMIN_TOKEN = "pw_admin_e2e_token_0123456789abcdef";
/** The secret key every replica of a PostgreSQL test cluster is given (they must share one). */
export const E2E_SECRET_KEY = Buffer.alloc(32, 0x5e).toString("base64");
const CLI = path.resolve(import.meta.dirname, "..", "..", "dist", "src", "cli", "main.js");

export interface ServerProcess {
  readonly url: string;
  readonly dataDir: string;
  readonly proc: ChildProcess;
  /** Everything the server printed (stdout and stderr). */
  output(): string;
  /** SIGTERM, then wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL, then wait for exit: a crash of the server (its runner process lives on). */
  kill9(): Promise<void>;
  /** The pid of the embedded runner process, once it has started. */
  runnerPid(): number | undefined;
}

/** Data dirs of servers started by this test file: their runner processes are killed at its end. */
const dataDirs = new Set<string>();

export function embeddedRunnerPid(dataDir: string): number | undefined {
  try {
    const h = JSON.parse(fs.readFileSync(path.join(dataDir, "runner", "runner.json"), "utf8"));
    return Number.isInteger(h.pid) ? h.pid : undefined;
  } catch {
    return undefined;
  }
}

/** Kills the embedded runner of a data dir (and with it, sandboxed, its steps). */
export function killRunner(dataDir: string): void {
  const pid = embeddedRunnerPid(dataDir);
  if (pid === undefined) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // gone
  }
}

afterAll(() => {
  for (const dir of dataDirs) killRunner(dir);
});

/**
 * Starts servers for the tests of a file; after each test they are killed, their runner
 * processes with them (`killAll` does so earlier, e.g. before a disk is unmounted).
 */
export function serversPerTest(): ((opts?: StartOptions) => Promise<ServerProcess>) & {
  killAll(): Promise<void>;
} {
  const servers: ServerProcess[] = [];
  const killAll = async (): Promise<void> => {
    for (const s of servers.splice(0)) {
      await s.kill9();
      killRunner(s.dataDir);
    }
  };
  afterEach(killAll);
  const start = async (opts?: StartOptions): Promise<ServerProcess> => {
    const s = await startServerProcess(opts);
    servers.push(s);
    return s;
  };
  return Object.assign(start, { killAll });
}

/** Starts a run of the pipeline; answers its id. */
export async function startRun(api: Client, projectId: string, pipelineId: string): Promise<string> {
  const res = await api.post(`/v5/${projectId}/api/pipelines/${pipelineId}/run`, {});
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.pipeline_run_id;
}

export interface StartOptions {
  dataDir?: string;
  /** Let the server generate its admin token (written to <dataDir>/admin-token) instead of passing one. */
  generateAdminToken?: boolean;
  args?: string[];
  env?: Record<string, string>;
  /** A fixed port (a restarted server that agents must find again); random by default. */
  port?: number;
  /**
   * false: answer as soon as the server listens, also while it still waits for its database
   * (it prints "waiting on URL"); by default only once it serves ("listening on URL").
   */
  waitForReady?: boolean;
}

/** In the "postgres" test project every data dir gets its own database (a restart reuses it). */
const databases = new Map<string, string>();
async function databaseFor(dataDir: string): Promise<Record<string, string>> {
  if (process.env.PIPEWRIGHT_TEST_DB !== "postgres") return {};
  let url = databases.get(dataDir);
  if (!url) {
    const port = inject("pgPort");
    const name = `e2e_${process.pid}_${databases.size}_${Math.random().toString(36).slice(2, 8)}`;
    const admin = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    await admin.end();
    url = `postgres://postgres@127.0.0.1:${port}/${name}`;
    databases.set(dataDir, url);
  }
  return { DATABASE_URL: url };
}

export async function startServerProcess(opts: StartOptions = {}): Promise<ServerProcess> {
  if (!fs.existsSync(CLI))
    throw new Error(`${CLI} is missing: run "npx tsc -p ." (npm test does) before the e2e tests`);
  const dataDir = opts.dataDir ?? tempDir("pipewright-e2e-");
  dataDirs.add(dataDir);
  const dbEnv: Record<string, string> = opts.env?.DATABASE_URL ? {} : await databaseFor(dataDir);
  if ((dbEnv.DATABASE_URL ?? opts.env?.DATABASE_URL) && !opts.env?.PIPEWRIGHT_SECRET_KEY_FILE)
    dbEnv.PIPEWRIGHT_SECRET_KEY = E2E_SECRET_KEY;
  const proc = spawn(
    process.execPath,
    [
      CLI,
      "serve",
      "--port",
      String(opts.port ?? 0),
      "--data-dir",
      dataDir,
      ...(opts.generateAdminToken ? [] : ["--admin-token", E2E_ADMIN_TOKEN]),
      "--log-level",
      "warn",
      ...(opts.args ?? []),
    ],
    {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        // Steps of these tests share files in the host's /tmp with the test (gates, marks): they
        // run unsandboxed unless a test asks (test/runner-process.test.ts proves the sandbox).
        PIPEWRIGHT_RUNNER_SANDBOX: "false",
        ...dbEnv,
        ...opts.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 20_000);
    const ready =
      opts.waitForReady === false ? /(?:listening|waiting) on (http:\/\/\S+)/ : /listening on (http:\/\/\S+)/;
    const check = (): void => {
      const m = ready.exec(out);
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
  return {
    url,
    dataDir,
    proc,
    output: () => out,
    async stop() {
      // SIGTERM drains; a second one, after a while, stops whatever a failed test left running.
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const force = setTimeout(() => proc.kill("SIGTERM"), 5000);
      await exited;
      clearTimeout(force);
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
    runnerPid: () => embeddedRunnerPid(dataDir),
  };
}

export interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON shapes
  body: any;
  headers: Headers;
}

/** A small client: JSON in, JSON out, X-Auth-Token set. */
export function client(url: string, token: string) {
  async function send(
    method: string,
    p: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const res = await fetch(url + p, {
      method,
      headers: {
        "x-auth-token": token,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }
  return {
    /** The token it calls with (for calls made without it, such as downloads). */
    token,
    get: (p: string, headers?: Record<string, string>) => send("GET", p, undefined, headers),
    post: (p: string, body?: unknown, headers?: Record<string, string>) => send("POST", p, body, headers),
    put: (p: string, body?: unknown) => send("PUT", p, body),
    del: (p: string) => send("DELETE", p),
    /** The same credentials against another server (a restarted one, another replica). */
    at: (other: string) => client(other, token),
  };
}
export type Client = ReturnType<typeof client>;

/** Polls until fn answers something truthy; fails after timeoutMs (an upper bound, not a timing assertion). */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | false | null>,
  timeoutMs = 20_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const v = await fn();
    if (v) return v;
    last = v;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A project with an admin-role token, ready for pipelines. */
export async function setupProject(url: string): Promise<{ projectId: string; api: Client; admin: Client }> {
  const admin = client(url, E2E_ADMIN_TOKEN);
  const p = await admin.post("/admin/v1/projects", {
    name: `proj_${Math.random().toString(36).slice(2, 10)}`,
  });
  if (p.status !== 200) throw new Error(JSON.stringify(p.body));
  const t = await admin.post("/admin/v1/tokens", {
    name: "e2e",
    role: "admin",
    project_ids: [p.body.project_id],
  });
  return { projectId: p.body.project_id, api: client(url, t.body.token), admin };
}

export interface StepSpec {
  name?: string;
  identifier?: string;
  task?: string;
  script?: string;
  inputs?: { key: string; value: unknown }[];
}
export interface JobSpec {
  identifier: string;
  name?: string;
  depends_on?: string[];
  condition?: string;
  timeout?: string;
  resource?: string;
  /** Ours: what the job keeps, and what of earlier jobs it gets (docs/definition.md). */
  artifacts?: { name: string; paths: string[] }[];
  download_artifacts?: string[];
  cache?: { key: string; paths: string[] };
  steps: StepSpec[];
}
export interface StageSpec {
  identifier: string;
  name?: string;
  depends_on?: string[];
  run_always?: boolean;
  jobs: JobSpec[];
}

/** Builds CodeArts definition JSON text from a compact description. */
export function definition(stages: StageSpec[]): string {
  return JSON.stringify({
    stages: stages.map((s, si) => ({
      name: s.name ?? s.identifier,
      identifier: s.identifier,
      sequence: si,
      depends_on: s.depends_on ?? [],
      run_always: s.run_always ?? false,
      jobs: s.jobs.map((j, ji) => ({
        name: j.name ?? j.identifier,
        identifier: j.identifier,
        sequence: ji,
        depends_on: j.depends_on ?? [],
        condition: j.condition ?? "${{ default() }}",
        timeout: j.timeout ?? "",
        resource: j.resource ?? "",
        ...(j.artifacts ? { artifacts: j.artifacts } : {}),
        ...(j.download_artifacts ? { download_artifacts: j.download_artifacts } : {}),
        ...(j.cache ? { cache: j.cache } : {}),
        steps: j.steps.map((st, k) => ({
          name: st.name ?? `step${k}`,
          identifier: st.identifier ?? `${j.identifier}_s${k}`,
          task: st.task ?? "official_shell_plugin",
          sequence: k,
          inputs: st.inputs ?? [{ key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: st.script ?? "true" }],
        })),
      })),
    })),
  });
}

/** One stage, one job, one shell step. */
export function shellPipeline(script: string): string {
  return definition([{ identifier: "build", jobs: [{ identifier: "job", steps: [{ script }] }] }]);
}

export async function createPipelineVia(
  api: Client,
  projectId: string,
  body: Record<string, unknown>,
): Promise<string> {
  const res = await api.post(`/v5/${projectId}/api/pipelines`, {
    name: `pl_${Math.random().toString(36).slice(2, 10)}`,
    is_publish: false,
    ...body,
  });
  if (res.status !== 200) throw new Error(`create pipeline: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.pipeline_id;
}

export const TERMINAL = ["COMPLETED", "FAILED", "CANCELED", "IGNORED"];

export async function runDetail(
  api: Client,
  projectId: string,
  pipelineId: string,
  runId?: string,
): Promise<Answer["body"]> {
  const q = runId ? `?pipeline_run_id=${runId}` : "";
  const res = await api.get(`/v5/${projectId}/api/pipelines/${pipelineId}/pipeline-runs/detail${q}`);
  if (res.status !== 200) throw new Error(`detail: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function waitForRun(
  api: Client,
  projectId: string,
  pipelineId: string,
  runId: string,
  statuses: string[] = TERMINAL,
  timeoutMs = 30_000,
): Promise<Answer["body"]> {
  return waitFor(
    async () => {
      const d = await runDetail(api, projectId, pipelineId, runId);
      return statuses.includes(d.status) ? d : undefined;
    },
    timeoutMs,
    `run ${runId} to reach ${statuses.join("/")}`,
  );
}

export async function stepLog(
  api: Client,
  projectId: string,
  pipelineId: string,
  runId: string,
  jobRunId: string,
  stepRunId: string,
): Promise<string> {
  const res = await api.post(
    `/v5/${projectId}/api/pipelines/${pipelineId}/pipeline-runs/${runId}/jobs/${jobRunId}/steps/${stepRunId}/logs`,
    { limit: 10000, sort: "asc" },
  );
  if (res.status !== 200) throw new Error(`log: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.log;
}

export interface RunnerProcess {
  readonly proc: ChildProcess;
  /** Its --work-dir. */
  readonly workDir: string;
  /** Settles with its exit code (null: ended by a signal). */
  readonly exited: Promise<number | null>;
  output(): string;
  /** SIGTERM (drain), then wait for exit. */
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

/** A `pipewright runner` agent as a child process. */
export function startRunnerProcess(opts: {
  /** One URL (or a comma-separated list), or several, each given as its own --server. */
  server: string | readonly string[];
  token: string;
  slots?: number;
  labels?: string[];
  name?: string;
  /** Its --work-dir: a new temporary one by default (give the same one to start it again). */
  workDir?: string;
}): RunnerProcess {
  const workDir = opts.workDir ?? tempDir("pipewright-runner-");
  const proc = spawn(
    process.execPath,
    [
      CLI,
      "runner",
      ...(typeof opts.server === "string" ? [opts.server] : opts.server).flatMap((s) => ["--server", s]),
      "--token",
      opts.token,
      "--slots",
      String(opts.slots ?? 4),
      "--work-dir",
      workDir,
      ...(opts.labels ? ["--labels", opts.labels.join(",")] : []),
      ...(opts.name ? ["--name", opts.name] : []),
    ],
    {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        PIPEWRIGHT_RUNNER_SANDBOX: "false",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return {
    proc,
    workDir,
    exited,
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await exited;
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

/**
 * True once no member of the process group is still running. kill(0) also succeeds for zombies:
 * where PID 1 reaps orphans late (minimal container inits) a killed group lingers as zombies for
 * a while, and those have exited, so they count as gone.
 */
export function processGroupGone(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid pgrp …; comm may contain spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === pgid && state !== "Z") return false;
  }
  return true;
}
