// Pipeline tags through the `pipewright` CLI as a subprocess against a real server: `tag list`,
// `create`, `rename`, `delete`, `pipeline tag` (set, --add, --remove, none) and `pipeline list
// --tag`, each checked against the API; refusals (unknown tag, taken name, bad colour, a viewer)
// with their exit status and code, and nothing changed.

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

interface Tag {
  tag_id: string;
  name: string;
  color: string;
}

let server: ServerProcess;
let work: string;
let baseEnv: Record<string, string>;
let api: Client;
let projectId: string;
let viewerToken: string;
const ids: Record<string, string> = {};

const { cli, ok } = cliRunner(() => ({ cwd: work, env: baseEnv }));

/** Runs the CLI expecting a failure: its exit status, one stderr line (and a hint), no stdout. */
async function fails(args: string[], code: number, env: Record<string, string> = {}): Promise<string[]> {
  const res = await cli(args, env);
  expect(res.code, `pipewright ${args.join(" ")}\n${res.stdout}\n${res.stderr}`).toBe(code);
  expect(res.stdout).toBe("");
  return res.stderr.trimEnd().split("\n");
}

async function tags(): Promise<Tag[]> {
  const res = await api.get(`/v5/${projectId}/api/pipeline-tag/list`);
  expect(res.status).toBe(200);
  return res.body;
}
async function tagId(name: string): Promise<string> {
  const t = (await tags()).find((x) => x.name === name);
  if (!t) throw new Error(`no tag ${name}`);
  return t.tag_id;
}

/** The names of the pipelines carrying one of these tags, as the API lists them. */
async function carrying(...tagNames: string[]): Promise<string[]> {
  const tagIds = await Promise.all(tagNames.map(tagId));
  const res = await api.post(`/v5/${projectId}/api/pipelines/list`, { tag_ids: tagIds, limit: 100 });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.pipelines.map((p: { name: string }) => p.name).sort();
}

beforeAll(async () => {
  server = await startServerProcess();
  work = tempDir("pipewright-cli-tags-");
  const admin = client(server.url, E2E_ADMIN_TOKEN);
  const p = await admin.post("/admin/v1/projects", { name: "tags-demo" });
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
  for (const name of ["build", "deploy", "docs"])
    ids[name] = await createPipelineVia(api, projectId, { name, definition: shellPipeline("true") });
  const home = path.join(work, "home");
  fs.mkdirSync(home);
  baseEnv = {
    PATH: process.env.PATH ?? "",
    HOME: home,
    XDG_CONFIG_HOME: path.join(work, "xdg"),
    PIPEWRIGHT_SERVER: server.url,
    PIPEWRIGHT_TOKEN: adminToken,
    PIPEWRIGHT_PROJECT: "tags-demo",
  };
});

afterAll(async () => {
  await server?.stop();
});

describe("pipewright CLI: pipeline tags", { timeout: 120_000 }, () => {
  it("tag create (default colour, --color with or without #) and tag list as a table and as JSON", async () => {
    expect((await ok(["tag", "list"])).stdout).toBe(
      "No tags yet: create one with 'pipewright tag create NAME'.\n",
    );
    const created = await ok(["tag", "create", "release"]);
    expect(created.stdout).toBe(`created tag release (#0b81f6, ${await tagId("release")})\n`);
    await ok(["tag", "create", "nightly", "--color", "7A3EE0"]);
    const json = JSON.parse((await ok(["tag", "create", "hotfix", "--color=#d1242f", "--json"])).stdout);
    expect(json).toEqual({
      tag_id: expect.stringMatching(/^[0-9a-f]{32}$/),
      name: "hotfix",
      color: "#d1242f",
      project_id: projectId,
      project_name: "tags-demo",
    });

    const listed = await tags();
    // The server lists them by name.
    expect(listed.map((t) => [t.name, t.color])).toEqual([
      ["hotfix", "#d1242f"],
      ["nightly", "#7a3ee0"],
      ["release", "#0b81f6"],
    ]);
    const rows = (await ok(["tag", "list"])).stdout.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^NAME\s+COLOR\s+ID$/);
    expect(rows.slice(1)).toEqual(listed.map((t) => `${t.name.padEnd(7)}  ${t.color}  ${t.tag_id}`));
    expect(JSON.parse((await ok(["tag", "list", "--json"])).stdout)).toEqual(listed);
  });

  it("refuses a taken name (exit 3, the server's code) and a bad colour (exit 2), creating nothing", async () => {
    const before = await tags();
    expect(await fails(["tag", "create", "release"], 3)).toEqual([
      'pipewright: The project has a tag named "release". (DEVPIPE.00020124, HTTP 409)',
    ]);
    const [message] = await fails(["tag", "create", "blue", "--color", "blue"], 2);
    expect(message).toBe('pipewright: --color must be #rrggbb (six hex digits, e.g. #0b81f6), got "blue"');
    expect(await tags()).toEqual(before);
  });

  it("pipeline tag sets a pipeline's tags, --add and --remove change them, and no TAG removes them all", async () => {
    expect((await ok(["pipeline", "tag", "build", "release", "nightly"])).stdout).toBe(
      "build carries nightly, release\n",
    );
    expect(await carrying("release")).toEqual(["build"]);
    expect(await carrying("nightly")).toEqual(["build"]);
    // A tag by id works as one by name.
    await ok(["pipeline", "tag", ids.deploy!, await tagId("release")]);

    const changed = await ok(["pipeline", "tag", "build", "--add", "hotfix", "--remove", "release"]);
    expect(changed.stdout).toBe("build carries hotfix, nightly\n");
    expect(await carrying("release")).toEqual(["deploy"]);
    expect(await carrying("hotfix")).toEqual(["build"]);
    // Adding a tag it has and removing one it lacks change nothing.
    const same = JSON.parse(
      (await ok(["pipeline", "tag", "build", "--add", "nightly", "--remove", "release", "--json"])).stdout,
    );
    expect(same).toEqual({
      pipeline_id: ids.build,
      name: "build",
      tags: [expect.objectContaining({ name: "hotfix" }), expect.objectContaining({ name: "nightly" })],
    });

    await ok(["pipeline", "tag", "docs", "nightly"]);
    expect((await ok(["pipeline", "tag", "docs"])).stdout).toBe(
      "docs carries no tag (add one: pipewright pipeline tag docs --add TAG)\n",
    );
    expect(await carrying("nightly")).toEqual(["build"]);
  });

  it("an unknown tag or pipeline is exit 3 with the not-found code, a suggestion, and nothing changed", async () => {
    const [message, hint] = await fails(["pipeline", "tag", "deploy", "nightly", "relase"], 3);
    expect(message).toBe(
      'pipewright: no tag "relase" (did you mean "release"?) in this project (DEVPIPE.00020123)',
    );
    expect(hint).toBe("Its tags: hotfix, nightly, release.");
    const [added] = await fails(["pipeline", "tag", "deploy", "--add", "hotfx"], 3);
    expect(added).toContain('no tag "hotfx" (did you mean "hotfix"?)');
    expect(await carrying("release")).toEqual(["deploy"]);
    expect(await carrying("nightly")).toEqual(["build"]);
    const [pipeline] = await fails(["pipeline", "tag", "deplyo", "release"], 3);
    expect(pipeline).toContain('no pipeline "deplyo" (did you mean "deploy"?)');
    const [mixed] = await fails(["pipeline", "tag", "deploy", "nightly", "--add", "hotfix"], 2);
    expect(mixed).toContain("use one or the other");
    expect(await carrying("release")).toEqual(["deploy"]);
  });

  it("pipeline list --tag lists the pipelines carrying any of the tags; the text shows a TAGS column", async () => {
    const one = JSON.parse((await ok(["pipeline", "list", "--tag", "release", "--json"])).stdout);
    expect(one.map((p: { name: string }) => p.name)).toEqual(["deploy"]);
    const both = JSON.parse(
      (await ok(["pipeline", "list", "--tag", "release", "--tag", "hotfix", "--json"])).stdout,
    );
    expect(both.map((p: { name: string }) => p.name)).toEqual(["build", "deploy"]);

    const rows = (await ok(["pipeline", "list"])).stdout.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^NAME\s+ID\s+TAGS\s+LATEST RUN\s+STATUS\s+UPDATED$/);
    expect(rows[1]).toMatch(new RegExp(`^build\\s+${ids.build}\\s+hotfix, nightly\\s+-\\s+never run`));
    expect(rows[2]).toMatch(new RegExp(`^deploy\\s+${ids.deploy}\\s+release\\s+-\\s+never run`));
    expect(rows[3]).toMatch(new RegExp(`^docs\\s+${ids.docs}\\s+-\\s+-\\s+never run`));
    const filtered = (await ok(["pipeline", "list", "--tag", "nightly", "--filter", "dep"])).stdout;
    expect(filtered).toBe('No pipeline carrying nightly has a name containing "dep".\n');

    const [message, hint] = await fails(["pipeline", "list", "--tag", "nope"], 3);
    expect(message).toBe('pipewright: no tag "nope" in this project (DEVPIPE.00020123)');
    expect(hint).toBe("Its tags: hotfix, nightly, release.");

    const shown = await ok(["pipeline", "show", "build"]);
    expect(shown.stdout.split("\n")).toContain("tags: hotfix, nightly");
    expect((await ok(["pipeline", "show", "docs"])).stdout).not.toContain("tags:");
  });

  it("tag rename renames and recolours, keeping the pipelines that carry it; refusals change nothing", async () => {
    const nightly = await tagId("nightly");
    expect((await ok(["tag", "rename", "nightly", "nightly-builds"])).stdout).toBe(
      `renamed tag nightly to nightly-builds (#7a3ee0, ${nightly})\n`,
    );
    expect((await ok(["tag", "rename", nightly, "--color", "#1A7F37"])).stdout).toBe(
      `tag nightly-builds (#1a7f37, ${nightly})\n`,
    );
    expect(await carrying("nightly-builds")).toEqual(["build"]);
    const before = await tags();
    expect(before.find((t) => t.tag_id === nightly)).toMatchObject({
      name: "nightly-builds",
      color: "#1a7f37",
    });

    expect(await fails(["tag", "rename", "release", "hotfix"], 3)).toEqual([
      'pipewright: The project has a tag named "hotfix". (DEVPIPE.00020124, HTTP 409)',
    ]);
    const [none] = await fails(["tag", "rename", "release"], 2);
    expect(none).toBe("pipewright: give NEW-NAME, --color or both");
    const [unknown] = await fails(["tag", "rename", "nightly", "x"], 3);
    expect(unknown).toContain('no tag "nightly"');
    expect(await tags()).toEqual(before);
  });

  it("tag delete deletes tags after finding all of them, saying how many pipelines carried each", async () => {
    const before = await tags();
    const [unknown] = await fails(["tag", "delete", "hotfix", "nope"], 3);
    expect(unknown).toContain('no tag "nope"');
    expect(await tags()).toEqual(before);

    const hotfix = await tagId("hotfix");
    expect((await ok(["tag", "delete", "hotfix"])).stdout).toBe(
      `deleted tag hotfix (${hotfix}); 1 pipeline carried it\n`,
    );
    const json = JSON.parse((await ok(["tag", "delete", "release", "nightly-builds", "--json"])).stdout);
    expect(json).toEqual([
      { tag_id: expect.any(String), name: "release", deleted: true, pipelines: 1 },
      { tag_id: expect.any(String), name: "nightly-builds", deleted: true, pipelines: 1 },
    ]);
    expect(await tags()).toEqual([]);
    // No tags left: the list has no TAGS column again.
    expect((await ok(["pipeline", "list"])).stdout.split("\n")[0]).toMatch(/^NAME\s+ID\s+LATEST RUN/);
  });

  it("a viewer may list tags but not change them (the server's 403, exit 3)", async () => {
    await ok(["tag", "create", "ops"]);
    const viewer = { PIPEWRIGHT_TOKEN: viewerToken };
    expect((await ok(["tag", "list"], viewer)).stdout).toContain("ops");
    for (const args of [
      ["tag", "create", "mine"],
      ["tag", "rename", "ops", "theirs"],
      ["tag", "delete", "ops"],
      ["pipeline", "tag", "build", "ops"],
    ]) {
      expect(await fails(args, 3, viewer), args.join(" ")).toEqual([
        "pipewright: Role viewer may not change pipelines. (DEVPIPE.30011011, HTTP 403)",
      ]);
    }
    expect((await tags()).map((t) => t.name)).toEqual(["ops"]);
    expect(await carrying("ops")).toEqual([]);
  });

  it("answers --help for the tag commands; the groups and the top-level help list them", async () => {
    for (const c of [
      ["tag", "list"],
      ["tag", "create"],
      ["tag", "rename"],
      ["tag", "delete"],
      ["pipeline", "tag"],
      ["tag"],
    ]) {
      const res = await ok([...c, "--help"]);
      expect(res.stdout, c.join(" ")).toMatch(/^Usage: pipewright/);
    }
    expect((await ok(["pipeline", "tag", "--help"])).stdout).toContain("--add TAG");
    expect((await ok(["pipeline", "list", "--help"])).stdout).toContain("--tag TAG");
    expect((await ok(["tag"])).stdout).toContain("rename TAG [NEW-NAME]");
    expect((await ok(["pipeline"])).stdout).toContain("tag PIPELINE [TAG...]");
    const top = await ok(["--help"]);
    expect(top.stdout).toContain("pipeline tag PIPELINE [TAG...]");
    expect(top.stdout).toContain("tag list|create|rename|delete");
    const typo = await cli(["tag", "remane"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('did you mean "tag rename"?');
  });
});
