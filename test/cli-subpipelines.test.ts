// Sub-pipelines from the CLI, as a subprocess against a real server: the two-file example
// (examples/deploy-service.yaml and examples/release-train.yaml, whose sub-pipeline step names its
// child by name) applied in one command, run to COMPLETED, and `status` linking parent and child.

import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import { cliRunner } from "./helpers/cli.js";
import {
  type Client,
  client,
  E2E_ADMIN_TOKEN,
  type ServerProcess,
  startServerProcess,
} from "./helpers/server.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const example = (f: string): string => path.join(ROOT, "examples", f);

let server: ServerProcess;
let work: string;
let baseEnv: Record<string, string>;
let api: Client;
let projectId: string;
const { cli, ok } = cliRunner(() => ({ cwd: work, env: baseEnv }));

beforeAll(async () => {
  server = await startServerProcess();
  work = tempDir("pipewright-cli-subpipelines-");
  const admin = client(server.url, E2E_ADMIN_TOKEN);
  const p = await admin.post("/admin/v1/projects", { name: "subpipelines" });
  projectId = p.body.project_id;
  const t = await admin.post("/admin/v1/tokens", { name: "u", role: "admin", project_ids: [projectId] });
  api = client(server.url, t.body.token);
  const home = path.join(work, "home");
  fs.mkdirSync(home);
  baseEnv = {
    PATH: process.env.PATH ?? "",
    HOME: home,
    XDG_CONFIG_HOME: path.join(work, "xdg"),
    PIPEWRIGHT_SERVER: server.url,
    PIPEWRIGHT_TOKEN: t.body.token,
    PIPEWRIGHT_PROJECT: "subpipelines",
  };
});

afterAll(async () => {
  await server?.stop();
});

describe("pipewright CLI: sub-pipelines", { timeout: 120_000 }, () => {
  it("refuses a child named by a name the project has no pipeline of, at its line, sending nothing", async () => {
    const res = await cli(["pipeline", "apply", "-f", example("release-train.yaml")]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(
      /release-train\.yaml:\d+:\d+: stages\[1\]\.jobs\[0\]\.steps\[0\]\.with\.SYSTEM_DEVCLOUD_SUBPIPELINE_TRIGGER_ID: no pipeline named "deploy-service" in the project/,
    );
    const list = await api.post(`/v5/${projectId}/api/pipelines/list`, { limit: 100 });
    expect(list.body.pipelines).toEqual([]);
  });

  it("applies parent and child in one command (the child first), runs the parent to COMPLETED, status links both", async () => {
    // The parent is named first: apply creates the child before it.
    const applied = await ok([
      "pipeline",
      "apply",
      "-f",
      example("release-train.yaml"),
      "-f",
      example("deploy-service.yaml"),
      "--json",
    ]);
    const results = JSON.parse(applied.stdout) as { name: string; pipeline_id: string }[];
    expect(results.map((r) => r.name)).toEqual(["deploy-service", "release-train"]);
    const childId = results[0]!.pipeline_id;
    const parentId = results[1]!.pipeline_id;
    const shown = await api.get(`/v5/${projectId}/api/pipelines/${parentId}`);
    const step = JSON.parse(shown.body.definition).stages[1].jobs[0].steps[0];
    expect(step.inputs).toContainEqual({ key: "SYSTEM_DEVCLOUD_SUBPIPELINE_TRIGGER_ID", value: childId });

    const run = await ok(["run", "release-train", "--wait", "--interval", "0.2"]);
    expect(run.stdout).toContain("release-train#1 COMPLETED");

    const parent = await ok(["status", "release-train"]);
    expect(parent.stdout).toMatch(/Deploy service .*→ deploy-service#1 COMPLETED/);
    const child = await ok(["status", "deploy-service#1"]);
    expect(child.stdout).toContain("started by release-train#1 step Deploy service");
    expect(child.stdout).toContain("variables: target=production");

    const detail = await api.get(`/v5/${projectId}/api/pipelines/${childId}/pipeline-runs/detail`);
    expect(detail.body.parent_run).toMatchObject({ pipeline_id: parentId });
    expect(detail.body.status).toBe("COMPLETED");
  });
});
