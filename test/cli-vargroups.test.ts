// Parameter groups through the `pipewright` CLI as a subprocess against a real server:
// `vargroup create` (--var, --secret from the environment), `list` (table and JSON), `show`
// (secrets masked, related pipelines), `delete`; each checked against the API; refusals (a taken
// name, an unknown group, a group pipelines use) with their exit status and code, nothing changed.

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

let server: ServerProcess;
let work: string;
let baseEnv: Record<string, string>;
let api: Client;
let projectId: string;

const { cli, ok } = cliRunner(() => ({ cwd: work, env: baseEnv }));
const SECRET = "cli-group-secret-Wd4";

async function fails(args: string[], code: number): Promise<string[]> {
  const res = await cli(args);
  expect(res.code, `pipewright ${args.join(" ")}\n${res.stdout}\n${res.stderr}`).toBe(code);
  expect(res.stdout).toBe("");
  return res.stderr.trimEnd().split("\n");
}

async function groups(): Promise<
  { id: string; name: string; variables: { name: string; value: string }[] }[]
> {
  const res = await api.post(`/v5/${projectId}/api/pipeline/variable/group/list`, { limit: 100 });
  expect(res.status).toBe(200);
  return res.body.pipeline_variable_groups;
}

beforeAll(async () => {
  server = await startServerProcess();
  work = tempDir("pipewright-cli-vargroups-");
  const admin = client(server.url, E2E_ADMIN_TOKEN);
  const p = await admin.post("/admin/v1/projects", { name: "vargroups-demo" });
  projectId = p.body.project_id;
  const t = await admin.post("/admin/v1/tokens", { name: "ops", role: "admin", project_ids: [projectId] });
  api = client(server.url, t.body.token);
  const home = path.join(work, "home");
  fs.mkdirSync(home);
  baseEnv = {
    PATH: process.env.PATH ?? "",
    HOME: home,
    XDG_CONFIG_HOME: path.join(work, "xdg"),
    PIPEWRIGHT_SERVER: server.url,
    PIPEWRIGHT_TOKEN: t.body.token,
    PIPEWRIGHT_PROJECT: "vargroups-demo",
    DEPLOY_TOKEN: SECRET,
  };
});
afterAll(async () => {
  await server?.stop();
});

describe("pipewright CLI: parameter groups", { timeout: 120_000 }, () => {
  it("create, list, show and delete, checked against the API", async () => {
    expect((await ok(["vargroup", "list"])).stdout).toContain("No parameter groups yet");
    const created = await ok([
      "vargroup",
      "create",
      "release",
      "--var",
      "REGION=eu-west",
      "--secret",
      "DEPLOY_TOKEN",
      "--description",
      "release targets",
    ]);
    const [g] = await groups();
    expect(created.stdout).toBe(`created parameter group release (${g!.id}) with 2 variables\n`);
    expect(g!.variables.map((v) => [v.name, v.value])).toEqual([
      ["REGION", "eu-west"],
      ["DEPLOY_TOKEN", "******"],
    ]);

    const pl = await createPipelineVia(api, projectId, {
      name: "deployer",
      definition: shellPipeline("true"),
    });
    await api.post(`/v5/${projectId}/api/pipeline/variable/group/relation`, {
      pipeline_id: pl,
      pipeline_group_ids: [g!.id],
    });

    const rows = (await ok(["vargroup", "list"])).stdout.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^NAME\s+VARIABLES\s+PIPELINES\s+ID$/);
    expect(rows[1]).toMatch(new RegExp(`^release\\s+2\\s+1\\s+${g!.id}$`));
    expect(
      JSON.parse((await ok(["vargroup", "list", "--json"])).stdout).map((x: { id: string }) => x.id),
    ).toEqual([g!.id]);

    const shown = (await ok(["vargroup", "show", "release"])).stdout;
    expect(shown).toContain(`release (${g!.id})`);
    expect(shown).toContain("release targets");
    expect(shown).toMatch(/DEPLOY_TOKEN\s+\*{6}\s+yes/);
    expect(shown).toContain("Pipelines: deployer");
    expect(shown).not.toContain(SECRET);
    const json = JSON.parse((await ok(["vargroup", "show", g!.id, "--json"])).stdout);
    expect(json.related_pipelines).toEqual([{ id: pl, name: "deployer" }]);

    // Refusals: a taken name, an unknown group, a group a pipeline uses; nothing changes.
    expect(await fails(["vargroup", "create", "release"], 3)).toEqual([
      'pipewright: The project has a parameter group named "release". (DEVPIPE.00020151, HTTP 409)',
    ]);
    expect((await fails(["vargroup", "delete", "release", "nope"], 3))[0]).toBe(
      "pipewright: no parameter group nope in this project (DEVPIPE.00020150)",
    );
    const [inUse] = await fails(["vargroup", "delete", "release"], 3);
    expect(inUse).toContain("DEVPIPE.00020152");
    const [noValue] = await fails(["vargroup", "create", "x", "--secret", "NOT_EXPORTED"], 2);
    expect(noValue).toContain("NOT_EXPORTED");
    expect((await groups()).map((x) => x.name)).toEqual(["release"]);

    await api.post(`/v5/${projectId}/api/pipeline/variable/group/relation`, {
      pipeline_id: pl,
      pipeline_group_ids: [],
    });
    expect((await ok(["vargroup", "delete", "release"])).stdout).toBe(
      `deleted parameter group release (${g!.id})\n`,
    );
    expect(await groups()).toEqual([]);
  });
});
