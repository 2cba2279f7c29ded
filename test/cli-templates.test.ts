// Pipeline templates through the `pipewright` CLI as a subprocess against a real server:
// `template list` (table, filters, JSON), `show`, `create -f`, `delete`, and `pipeline create
// --template`, each checked against the API, the pipeline made from a built-in template run to
// success; refusals (unknown template, built-in delete, a viewer) with exit status and code.

import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILT_IN_TEMPLATES } from "../src/pipeline/built-in-templates.js";
import { tempDir } from "./helpers/app.js";
import { cliRunner } from "./helpers/cli.js";
import {
  type Client,
  client,
  E2E_ADMIN_TOKEN,
  type ServerProcess,
  startServerProcess,
  waitForRun,
} from "./helpers/server.js";

let server: ServerProcess;
let work: string;
let baseEnv: Record<string, string>;
let api: Client;
let projectId: string;
let viewerToken: string;

const { cli, ok } = cliRunner(() => ({ cwd: work, env: baseEnv }));
const SHELL = BUILT_IN_TEMPLATES[0]!;

async function fails(args: string[], code: number, env: Record<string, string> = {}): Promise<string[]> {
  const res = await cli(args, env);
  expect(res.code, `pipewright ${args.join(" ")}\n${res.stdout}\n${res.stderr}`).toBe(code);
  expect(res.stdout).toBe("");
  return res.stderr.trimEnd().split("\n");
}

async function templates(
  body: Record<string, unknown> = {},
): Promise<{ id: string; name: string; is_system: boolean }[]> {
  const res = await api.post(`/v5/${projectId}/api/pipeline-templates/list`, { limit: 100, ...body });
  expect(res.status).toBe(200);
  return res.body.templates;
}

const pipelineCount = async (): Promise<number> =>
  (await api.post(`/v5/${projectId}/api/pipelines/list`, {})).body.total;

beforeAll(async () => {
  server = await startServerProcess();
  work = tempDir("pipewright-cli-templates-");
  const admin = client(server.url, E2E_ADMIN_TOKEN);
  const p = await admin.post("/admin/v1/projects", { name: "templates-demo" });
  expect(p.status).toBe(200);
  projectId = p.body.project_id;
  const token = async (role: string): Promise<string> => {
    const t = await admin.post("/admin/v1/tokens", { name: role, role, project_ids: [projectId] });
    expect(t.status).toBe(200);
    return t.body.token;
  };
  const adminToken = await token("admin");
  viewerToken = await token("viewer");
  api = client(server.url, adminToken);
  const home = path.join(work, "home");
  fs.mkdirSync(home);
  baseEnv = {
    PATH: process.env.PATH ?? "",
    HOME: home,
    XDG_CONFIG_HOME: path.join(work, "xdg"),
    PIPEWRIGHT_SERVER: server.url,
    PIPEWRIGHT_TOKEN: adminToken,
    PIPEWRIGHT_PROJECT: "templates-demo",
  };
});

afterAll(async () => {
  await server?.stop();
});

describe("pipewright CLI: pipeline templates", { timeout: 120_000 }, () => {
  it("template list shows the built-in templates as a table and as JSON; show prints one", async () => {
    const out = (await ok(["template", "list"])).stdout.trimEnd().split("\n");
    expect(out[0]).toMatch(/^NAME\s+KIND\s+LANGUAGE\s+STAGES\s+ID$/);
    for (const b of BUILT_IN_TEMPLATES)
      expect(
        out.some((l) => l.startsWith(b.name) && l.includes("built-in") && l.trimEnd().endsWith(b.id)),
        b.name,
      ).toBe(true);
    const json = JSON.parse((await ok(["template", "list", "--json", "--language", "nodejs"])).stdout);
    expect(json.map((t: { id: string }) => t.id)).toEqual(
      BUILT_IN_TEMPLATES.filter((b) => b.language === "nodejs").map((b) => b.id),
    );
    expect((await ok(["template", "list", "--own"])).stdout).toBe(
      "No templates match: create one with 'pipewright template create -f FILE'.\n",
    );
    const shown = (await ok(["template", "show", SHELL.name.toLowerCase()])).stdout;
    expect(shown).toContain(`${SHELL.name} (${SHELL.id})`);
    expect(shown).toContain("built-in template · none");
    expect(shown).toContain("Build (official_shell_plugin), Test (official_shell_plugin)");
    const detail = JSON.parse((await ok(["template", "show", SHELL.id, "--json"])).stdout);
    expect(detail).toMatchObject({ id: SHELL.id, is_system: true, definition: SHELL.definition });
  });

  it("template create -f from a YAML pipeline file, then delete; built-in ones stay", async () => {
    const file = path.join(work, "svc.yaml");
    fs.writeFileSync(
      file,
      `name: svc
description: a service
variables:
  greeting: hello
stages:
  - name: Build
    jobs:
      - name: Say
        steps:
          - name: Say
            uses: official_shell_plugin
            with:
              script: echo "$greeting"
`,
    );
    const created = await ok(["template", "create", "-f", file, "--name", "Service", "--language", "go"]);
    const mine = (await templates({ is_system: false }))[0]!;
    expect(created.stdout).toBe(`created template Service (${mine.id})\n`);
    const detail = (await api.get(`/v5/${projectId}/api/pipeline-templates/${mine.id}`)).body;
    expect(detail).toMatchObject({ name: "Service", language: "go", description: "a service" });
    expect(detail.variables[0]).toMatchObject({ name: "greeting", value: "hello" });
    expect((await ok(["template", "list", "--own"])).stdout).toContain("Service");

    const taken = await fails(["template", "create", "-f", file, "--name", "Service"], 3);
    expect(taken[0]).toContain("DEVPIPE.00020130");
    const builtIn = await fails(["template", "delete", "Service", SHELL.name], 2);
    expect(builtIn[0]).toContain("read-only");
    expect((await templates({ is_system: false })).length).toBe(1);
    expect((await ok(["template", "delete", "service"])).stdout).toBe(
      `deleted template Service (${mine.id})\n`,
    );
    expect(await templates({ is_system: false })).toEqual([]);
    expect((await templates()).length).toBe(BUILT_IN_TEMPLATES.length);
  });

  it("pipeline create --template makes a pipeline that runs; refusals change nothing", async () => {
    const res = await ok(["pipeline", "create", "--template", SHELL.name, "--name", "build", "--json"]);
    const made = JSON.parse(res.stdout);
    expect(made).toMatchObject({ name: "build", template: SHELL.id });
    const p = (await api.get(`/v5/${projectId}/api/pipelines/${made.pipeline_id}`)).body;
    expect(JSON.parse(p.definition)).toEqual(JSON.parse(SHELL.definition));
    const run = await api.post(`/v5/${projectId}/api/pipelines/${made.pipeline_id}/run`, {});
    expect(run.status).toBe(200);
    const ended = await waitForRun(api, projectId, made.pipeline_id, run.body.pipeline_run_id);
    expect(ended.status).toBe("COMPLETED");

    const review = BUILT_IN_TEMPLATES.find((b) => b.variables.length > 0)!;
    const withVar = await ok([
      "pipeline",
      "create",
      "-t",
      review.id,
      "--name",
      "release",
      "--var",
      "target=production",
    ]);
    expect(withVar.stdout).toMatch(/^created pipeline release \([0-9a-f]{32}\) from template /);
    const listed = (await api.post(`/v5/${projectId}/api/pipelines/list`, { name: "release" })).body;
    const rel = (await api.get(`/v5/${projectId}/api/pipelines/${listed.pipelines[0].pipeline_id}`)).body;
    expect(rel.variables[0]).toMatchObject({ name: "target", value: "production" });

    const before = await pipelineCount();
    const unknown = await fails(["pipeline", "create", "--template", "nope", "--name", "x"], 2);
    expect(unknown[0]).toContain('no template "nope"');
    expect((await fails(["pipeline", "create", "--name", "x"], 2))[0]).toContain("--template");
    const dup = await fails(["pipeline", "create", "-t", SHELL.id, "--name", "build"], 3);
    expect(dup[0]).toContain("DEVPIPE.00020111");
    const viewer = await fails(["pipeline", "create", "-t", SHELL.id, "--name", "v"], 3, {
      PIPEWRIGHT_TOKEN: viewerToken,
    });
    expect(viewer[0]).toContain("DEVPIPE.30011011");
    expect(await pipelineCount()).toBe(before);
  });
});
