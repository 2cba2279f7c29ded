// Pipeline groups through the `pipewright` CLI as a subprocess against a real server: `group
// list` (the tree), `create` (--parent), `rename`, `move` (--ungroup), `swap`, `delete`,
// `pipeline list --group`, `pipeline show`'s group line and `batch-run --group --wait`, each
// checked against the API; refusals with their exit status and code, and nothing changed.

import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import { cliRunner } from "./helpers/cli.js";
import {
  type Client,
  client,
  createPipelineVia,
  E2E_ADMIN_TOKEN,
  type ServerProcess,
  shellPipeline,
  startServerProcess,
} from "./helpers/server.js";

interface Group {
  id: string;
  name: string;
  path_id: string;
  children: Group[];
}

let server: ServerProcess;
let work: string;
let baseEnv: Record<string, string>;
let api: Client;
let projectId: string;
const ids: Record<string, string> = {};

const { cli, ok } = cliRunner(() => ({ cwd: work, env: baseEnv }));

async function fails(args: string[], code: number): Promise<string[]> {
  const res = await cli(args);
  expect(res.code, `pipewright ${args.join(" ")}\n${res.stdout}\n${res.stderr}`).toBe(code);
  expect(res.stdout).toBe("");
  return res.stderr.trimEnd().split("\n");
}

async function tree(): Promise<Group[]> {
  const res = await api.get(`/v5/${projectId}/api/pipeline-group/tree`);
  expect(res.status).toBe(200);
  return res.body;
}
const flat = (gs: Group[]): Group[] => gs.flatMap((g) => [g, ...flat(g.children)]);
const groupId = async (name: string): Promise<string> => flat(await tree()).find((g) => g.name === name)!.id;
const groupOf = async (pipeline: string): Promise<string | null> =>
  (await api.get(`/v5/${projectId}/api/pipelines/${ids[pipeline]}`)).body.group_id;

beforeAll(async () => {
  server = await startServerProcess();
  work = tempDir("pipewright-cli-groups-");
  const admin = client(server.url, E2E_ADMIN_TOKEN);
  const p = await admin.post("/admin/v1/projects", { name: "groups-demo" });
  expect(p.status).toBe(200);
  projectId = p.body.project_id;
  const t = await admin.post("/admin/v1/tokens", { name: "admin", role: "admin", project_ids: [projectId] });
  api = client(server.url, t.body.token);
  for (const name of ["build-api", "test-api", "build-web", "docs"])
    ids[name] = await createPipelineVia(api, projectId, { name, definition: shellPipeline(`echo ${name}`) });
  const home = path.join(work, "home");
  fs.mkdirSync(home);
  baseEnv = {
    PATH: process.env.PATH ?? "",
    HOME: home,
    XDG_CONFIG_HOME: path.join(work, "xdg"),
    PIPEWRIGHT_SERVER: server.url,
    PIPEWRIGHT_TOKEN: t.body.token,
    PIPEWRIGHT_PROJECT: "groups-demo",
  };
});

afterAll(async () => {
  await server?.stop();
});

describe("pipewright CLI: pipeline groups", { timeout: 120_000 }, () => {
  it("group create (--parent), move, list as a tree and as JSON, pipeline list --group, pipeline show", async () => {
    expect((await ok(["group", "list"])).stdout).toBe(
      "No groups yet: create one with 'pipewright group create NAME'.\n",
    );
    expect((await ok(["group", "create", "backend"])).stdout).toBe(
      `created group backend (${await groupId("backend")})\n`,
    );
    await ok(["group", "create", "frontend"]);
    const made = JSON.parse((await ok(["group", "create", "api", "--parent", "backend", "--json"])).stdout);
    expect(made).toMatchObject({ name: "api", parent_id: await groupId("backend"), ordinal: 1 });

    expect((await ok(["group", "move", "backend/api", "build-api", "test-api"])).stdout).toBe(
      "moved build-api, test-api to backend/api\n",
    );
    await ok(["group", "move", "frontend", "build-web"]);
    expect(await groupOf("build-api")).toBe(made.id);

    const lines = (await ok(["group", "list"])).stdout.trimEnd().split("\n");
    expect(lines.map((l) => l.replace(/\s+/g, " ").trim())).toEqual([
      `backend 2 pipelines ${await groupId("backend")}`,
      `api 2 pipelines ${made.id}`,
      `frontend 1 pipeline ${await groupId("frontend")}`,
      "(ungrouped: 1 pipeline)",
    ]);
    expect(lines[1]).toMatch(/^ {2}api/);
    expect(JSON.parse((await ok(["group", "list", "--json"])).stdout)).toEqual(await tree());

    const names = async (args: string[]) =>
      JSON.parse((await ok(["pipeline", "list", ...args, "--json"])).stdout)
        .map((p: { name: string }) => p.name)
        .sort();
    expect(await names(["--group", "backend"])).toEqual(["build-api", "test-api"]);
    expect(await names(["--group", made.id])).toEqual(["build-api", "test-api"]);
    expect(await names(["--group", "frontend"])).toEqual(["build-web"]);
    expect((await ok(["pipeline", "show", "test-api"])).stdout).toContain("group: backend/api\n");
  });

  it("batch-run --group starts the group's pipelines (subgroups too) in one batch and waits for them", async () => {
    const res = await ok(["batch-run", "--group", "backend", "--wait"]);
    expect(res.stderr).toContain("Started 2 runs in one batch (group backend).");
    for (const name of ["build-api", "test-api"]) {
      const runs = await api.post(`/v5/${projectId}/api/pipelines/${ids[name]}/pipeline-runs/list`, {});
      expect(runs.body.total).toBe(1);
      expect(runs.body.pipeline_runs[0].status).toBe("COMPLETED");
    }
    const others = await api.post(
      `/v5/${projectId}/api/pipelines/${ids["build-web"]}/pipeline-runs/list`,
      {},
    );
    expect(others.body.total).toBe(0);
    const [mixed] = await fails(["batch-run", "--group", "backend", "docs"], 2);
    expect(mixed).toContain("--group picks the pipelines itself");
  });

  it("rename, swap, move --ungroup and delete (subgroups too, pipelines ungrouped); refusals change nothing", async () => {
    expect((await ok(["group", "rename", "frontend", "web"])).stdout).toBe(
      `renamed group frontend to web (${await groupId("web")})\n`,
    );
    expect((await ok(["group", "swap", "backend", "web"])).stdout).toBe(
      "swapped backend and web: web, backend\n",
    );
    expect((await tree()).map((g) => g.name)).toEqual(["web", "backend"]);
    expect((await ok(["group", "move", "--ungroup", "build-web"])).stdout).toBe(
      "build-web is in no group now\n",
    );
    expect(await groupOf("build-web")).toBeNull();

    const before = await tree();
    const [unknown] = await fails(["group", "move", "nope", "docs"], 3);
    expect(unknown).toContain('no group "nope" in this project');
    expect(unknown).toContain("DEVPIPE.00020140");
    expect(await fails(["group", "create", "api", "--parent", "backend"], 3)).toEqual([
      'pipewright: name: a group of the same parent is named "api". (DEVPIPE.00020141, HTTP 409)',
    ]);
    expect(await tree()).toEqual(before);

    const backend = await groupId("backend");
    expect((await ok(["group", "delete", "backend"])).stdout).toBe(
      `deleted group backend (${backend}); 2 pipelines are now ungrouped\n`,
    );
    expect(flat(await tree()).map((g) => g.name)).toEqual(["web"]);
    expect(await groupOf("build-api")).toBeNull();
    expect(await groupOf("test-api")).toBeNull();
  });
});
