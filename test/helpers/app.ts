// In-process test harness: a real SQLite file in a temp dir, the real app, fastify.inject().

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import type { Clock } from "../../src/clock.js";
import { loadConfig } from "../../src/config.js";
import { type Server, startServer } from "../../src/main.js";
import type { SqlStore } from "../../src/store/sql/sql-store.js";

export const ADMIN_TOKEN = "pw_admin_test_token_0123456789abcdef";

// Steps of these tests share files in the host's /tmp with the test: the runner processes they
// start run them unsandboxed (test/runner-process.test.ts proves the sandbox).
process.env.PIPEWRIGHT_RUNNER_SANDBOX ??= "false";

export interface TestApp {
  readonly app: FastifyInstance;
  readonly store: SqlStore;
  readonly server: Server;
  readonly dir: string;
  close(): Promise<void>;
}

export function tempDir(prefix = "pipewright-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface TestAppOptions {
  maxBatchSize?: number;
  runnerSlots?: number;
  localRunner?: boolean;
  extraArgs?: string[];
  /** Time for the whole server (a test clock moves only when the test says so). */
  clock?: Clock;
  /** A data dir to use (a server again over an earlier one's), kept at close. */
  dir?: string;
}

/**
 * The whole server (store, engine, app) on a temp dir. With its runner (the default) it listens
 * on a loopback port, where its runner process reaches it; the tests still call it with inject.
 */
export async function createTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const dir = opts.dir ?? tempDir();
  const config = loadConfig(
    [
      "--data-dir",
      dir,
      "--admin-token",
      ADMIN_TOKEN,
      "--max-batch-size",
      String(opts.maxBatchSize ?? 1000),
      "--runner-slots",
      String(opts.runnerSlots ?? 8),
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      ...(opts.localRunner === false ? ["--no-local-runner"] : []),
      ...(opts.extraArgs ?? []),
    ],
    {},
    dir,
  );
  const server = await startServer(config, {
    listen: opts.localRunner !== false,
    logger: pino({ level: process.env.TEST_LOG ?? "silent" }),
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  return {
    app: server.app,
    store: server.store as SqlStore,
    server,
    dir,
    async close() {
      await server.stop({ force: true });
      if (!opts.dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CallOptions {
  token?: string | undefined;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON shapes
  body: any;
  headers: Record<string, unknown>;
}

export async function call(
  app: FastifyInstance,
  method: string,
  url: string,
  opts: CallOptions = {},
): Promise<CallResult> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers["x-auth-token"] = opts.token;
  let payload: string | undefined;
  if (opts.rawBody !== undefined) payload = opts.rawBody;
  else if (opts.body !== undefined) payload = JSON.stringify(opts.body);
  if (payload !== undefined) headers["content-type"] ??= "application/json";
  const res = await app.inject({
    method: method as "GET",
    url,
    headers,
    ...(payload === undefined ? {} : { payload }),
  });
  let body: unknown;
  try {
    body = res.body === "" ? undefined : JSON.parse(res.body);
  } catch {
    body = res.body;
  }
  return { status: res.statusCode, body, headers: res.headers };
}

/** A minimal valid one-step shell definition. */
export function shellDefinition(script = "echo hello", extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    stages: [
      {
        name: "Build",
        identifier: "stage_build",
        sequence: 0,
        jobs: [
          {
            name: "compile",
            identifier: "job_compile",
            sequence: 0,
            ...extra,
            steps: [
              {
                name: "run",
                identifier: "step_run",
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

export async function createProject(
  app: FastifyInstance,
  name = `p${Math.random().toString(36).slice(2, 10)}`,
): Promise<string> {
  const res = await call(app, "POST", "/admin/v1/projects", { token: ADMIN_TOKEN, body: { name } });
  if (res.status !== 200) throw new Error(`createProject: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.project_id as string;
}

export async function createPipeline(
  app: FastifyInstance,
  projectId: string,
  body: Record<string, unknown> = {},
  token = ADMIN_TOKEN,
): Promise<string> {
  const res = await call(app, "POST", `/v5/${projectId}/api/pipelines`, {
    token,
    body: {
      name: `pl_${Math.random().toString(36).slice(2, 10)}`,
      is_publish: false,
      definition: shellDefinition(),
      ...body,
    },
  });
  if (res.status !== 200) throw new Error(`createPipeline: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.pipeline_id as string;
}

export async function issueToken(app: FastifyInstance, role: string, projectIds: string[]): Promise<string> {
  const res = await call(app, "POST", "/admin/v1/tokens", {
    token: ADMIN_TOKEN,
    body: { name: `${role}-token`, role, project_ids: projectIds },
  });
  if (res.status !== 200) throw new Error(`issueToken: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.token as string;
}
