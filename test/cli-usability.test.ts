// The CLI fixes a new user asked for (issue 16), as a subprocess against a real server: a shell
// glob or a directory after -f, global flags before the command, logs without escape codes and
// with progress lines drawn once, and `logs --follow` saying that a run was canceled.

import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { tempDir } from "./helpers/app.js";
import { cliRunner } from "./helpers/cli.js";
import {
  type Client,
  client,
  E2E_ADMIN_TOKEN,
  type ServerProcess,
  startServerProcess,
  waitFor,
} from "./helpers/server.js";

let server: ServerProcess;
let work: string;
let baseEnv: Record<string, string>;
let api: Client;
let projectId: string;
let token: string;

const { cli, ok } = cliRunner(() => ({ cwd: work, env: baseEnv }));

function shellYaml(name: string, script: string): string {
  return `name: ${name}
stages:
  - name: Build
    jobs:
      - name: Main
        steps:
          - name: Script
            uses: official_shell_plugin
            with:
              script: ${JSON.stringify(script)}
`;
}

async function names(): Promise<string[]> {
  const res = await api.post(`/v5/${projectId}/api/pipelines/list`, { limit: 100 });
  return res.body.pipelines.map((p: { name: string }) => p.name).sort();
}

beforeAll(async () => {
  server = await startServerProcess();
  work = tempDir("pipewright-cli-usability-");
  const admin = client(server.url, E2E_ADMIN_TOKEN);
  const p = await admin.post("/admin/v1/projects", { name: "usability" });
  projectId = p.body.project_id;
  const t = await admin.post("/admin/v1/tokens", { name: "u", role: "admin", project_ids: [projectId] });
  token = t.body.token;
  api = client(server.url, token);
  const home = path.join(work, "home");
  fs.mkdirSync(home);
  baseEnv = {
    PATH: process.env.PATH ?? "",
    HOME: home,
    XDG_CONFIG_HOME: path.join(work, "xdg"),
    PIPEWRIGHT_SERVER: server.url,
    PIPEWRIGHT_TOKEN: token,
    PIPEWRIGHT_PROJECT: "usability",
  };
});

afterAll(async () => {
  await server?.stop();
});

describe("pipewright CLI: usability fixes", { timeout: 120_000 }, () => {
  it("apply takes what a shell glob after -f expands to, and directories of pipeline files", async () => {
    const dir = path.join(work, "pipelines");
    fs.mkdirSync(dir);
    for (const n of ["glob-a", "glob-b", "glob-c"])
      fs.writeFileSync(path.join(work, `${n}.yaml`), shellYaml(n, "true"));
    fs.writeFileSync(path.join(dir, "dir-one.yaml"), shellYaml("dir-one", "true"));
    fs.writeFileSync(path.join(dir, "dir-two.yml"), shellYaml("dir-two", "true"));
    fs.writeFileSync(path.join(dir, "README.md"), "not a pipeline");
    // `-f glob-*.yaml` as the shell passes it: one -f value, then more words.
    const res = await ok(["pipeline", "apply", "-f", "glob-a.yaml", "glob-b.yaml", "glob-c.yaml", "--json"]);
    expect(JSON.parse(res.stdout).map((r: { name: string }) => r.name)).toEqual([
      "glob-a",
      "glob-b",
      "glob-c",
    ]);
    const fromDir = await ok(["pipeline", "apply", "-f", "pipelines"]);
    expect(fromDir.stdout).toMatch(/created pipeline dir-one .*\ncreated pipeline dir-two /);
    expect(await names()).toEqual(["dir-one", "dir-two", "glob-a", "glob-b", "glob-c"]);
    const empty = path.join(work, "empty");
    fs.mkdirSync(empty);
    const none = await cli(["pipeline", "apply", "-f", "empty"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("empty holds no pipeline file");
  });

  it("takes global flags before the command as after it", async () => {
    const env = { PIPEWRIGHT_TOKEN: "", PIPEWRIGHT_PROJECT: "" };
    const res = await ok(["--token", token, "--project=usability", "--json", "pipeline", "list"], env);
    expect(JSON.parse(res.stdout).map((p: { name: string }) => p.name)).toContain("glob-a");
    const wrong = await cli(["--token", "pw_wrong", "--project", "usability", "pipeline", "list"], env);
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain("DEVPIPE.00020001");
    // An option no command knows is still an unknown command, not a silent skip.
    const unknown = await cli(["--frobnicate", "pipeline", "list"]);
    expect(unknown.code).toBe(2);
  });

  it("logs leave out escape codes and draw a progress line once when not printing to a terminal", async () => {
    const script = String.raw`printf '\033[32mgreen\033[0m text\n'; printf '10%%\r50%%\r100%%\n'; echo done`;
    fs.writeFileSync(path.join(work, "colors.yaml"), shellYaml("colors", script));
    await ok(["pipeline", "apply", "-f", "colors.yaml"]);
    const run = await ok(["run", "colors", "--wait", "--interval", "0.2"]);
    expect(run.stdout).toContain("COMPLETED");
    const logs = await ok(["logs", "colors", "--no-color"]);
    expect(logs.stdout).toBe("green text\n100%\ndone\n");
    // A pipe (stdout is not a terminal) gets the same.
    expect((await ok(["logs", "colors"])).stdout).toBe("green text\n100%\ndone\n");
    // The logs API keeps what the step wrote.
    const d = await api.get(`/v5/${projectId}/api/pipelines/${await idOf("colors")}/pipeline-runs/detail`);
    const job = d.body.stages[0].jobs[0];
    const raw = await api.post(
      `/v5/${projectId}/api/pipelines/${d.body.pipeline_id}/pipeline-runs/${d.body.id}/jobs/${job.id}/steps/${job.steps[0].id}/logs`,
      { sort: "asc", limit: 100 },
    );
    expect(raw.body.log).toContain("\x1b[32m");
    expect(raw.body.log).toContain("10%\r50%");
  });

  it("logs --follow of a run that gets canceled says so and exits 1", async () => {
    fs.writeFileSync(path.join(work, "slow.yaml"), shellYaml("slow", "echo start; sleep 60"));
    await ok(["pipeline", "apply", "-f", "slow.yaml"]);
    await ok(["run", "slow"]);
    const id = await idOf("slow");
    await waitFor(
      async () =>
        (await api.get(`/v5/${projectId}/api/pipelines/${id}/pipeline-runs/detail`)).body.status ===
        "RUNNING",
      60_000,
      "slow to run",
    );
    const follow = cli(["logs", "slow", "--follow"]);
    await ok(["stop", "slow"]);
    const res = await follow;
    expect(res.code, res.stderr).toBe(1);
    expect(res.stdout).toContain("start\n");
    expect(res.stderr).toMatch(/slow#1 ended CANCELED/);
    // Following a run that already ended canceled says the same at once.
    const again = await cli(["logs", "slow", "--follow"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/slow#1 ended CANCELED/);
  });

  it("runs list: the project's runs newest first, filtered, as a table, wide, or JSON", async () => {
    const all = await ok(["runs", "list"]);
    const lines = all.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^RUN\s+STATUS\s+TRIGGER\s+STARTED\s+DURATION$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([
      ["slow#1", "CANCELED", "Manual"],
      ["colors#1", "COMPLETED", "Manual"],
    ]);
    const canceled = await ok(["runs", "list", "--status", "canceled"]);
    expect(canceled.stdout).toContain("slow#1");
    expect(canceled.stdout).not.toContain("colors#1");
    const json = JSON.parse((await ok(["runs", "list", "-p", "colors", "--since", "1d", "--json"])).stdout);
    expect(
      json.map((r: { pipeline_name: string; run_number: number }) => `${r.pipeline_name}#${r.run_number}`),
    ).toEqual(["colors#1"]);
    const wide = await ok(["runs", "list", "--wide", "--limit", "1"]);
    expect(wide.stdout.split("\n")[0]).toMatch(/BRANCH\s+BY\s+ID$/);
    expect(wide.stdout).toMatch(/[0-9a-f]{32}/);
    expect(wide.stderr).toContain("1 of 2 runs");
    expect((await ok(["runs", "list", "--since", "1s", "--status", "FAILED"])).stdout).toBe(
      "No runs match.\n",
    );
    const bad = await cli(["runs", "list", "--status", "DONE"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--status DONE");
  });

  it("batch-run --wait counts a disabled pipeline's run as not started, not as failed", async () => {
    fs.writeFileSync(path.join(work, "quick.yaml"), shellYaml("quick", "true"));
    fs.writeFileSync(path.join(work, "off.yaml"), shellYaml("off", "true"));
    await ok(["pipeline", "apply", "-f", "quick.yaml", "off.yaml"]);
    expect((await api.put(`/v5/${projectId}/api/pipelines/${await idOf("off")}/ban`)).status).toBe(200);
    const res = await cli(["batch-run", "quick", "off", "--wait", "--interval", "0.2"]);
    expect(res.code, res.stderr).toBe(1);
    expect(res.stderr).toContain("Started 1 run in one batch; 1 did not start.");
    expect(res.stdout).toMatch(/off\s+\S+\s+NOT STARTED/);
    expect(res.stdout).toMatch(/2 runs: 1 completed, 1 not started in /);
    expect(res.stdout).not.toContain("failed");
  });

  it("completion scripts complete commands and options, and bash's works in bash", async () => {
    const script = path.join(work, "completion.bash");
    fs.writeFileSync(script, (await ok(["completion", "bash"])).stdout);
    const complete = (words: string[]) =>
      new Promise<string>((resolve, reject) => {
        const code = `source ${JSON.stringify(script)}; COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(" ")}); COMP_CWORD=${words.length - 1}; _pipewright; printf '%s\\n' "\${COMPREPLY[@]}"`;
        execFile("bash", ["-c", code], { cwd: work }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
      });
    expect(await complete(["pipewright", "pipe"])).toBe("pipeline\n");
    expect((await complete(["pipewright", "pipeline", ""])).split("\n")).toEqual(
      expect.arrayContaining(["apply", "list", "show", "delete"]),
    );
    expect(await complete(["pipewright", "--token", "T", "pipeline", "apply", "--dr"])).toBe("--dry-run\n");
    expect(await complete(["pipewright", "run", "build", "--wa"])).toBe("--wait\n");
    const fish = (await ok(["completion", "fish"])).stdout;
    expect(fish).toContain("complete -c pipewright -n __fish_use_subcommand -a 'serve runner help pipeline");
    expect(fish).toMatch(/-n '__fish_seen_subcommand_from apply' -l dry-run/);
    expect((await ok(["completion", "zsh"])).stdout).toContain("bashcompinit");
    const bad = await cli(["completion", "powershell"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown shell "powershell"');
  });

  it("--output json, yaml and wide, where --json is the same as --output json", async () => {
    const json = JSON.parse((await ok(["pipeline", "list", "--output", "json"])).stdout);
    expect(json).toEqual(JSON.parse((await ok(["pipeline", "list", "--json"])).stdout));
    const yaml = (await ok(["--output", "yaml", "pipeline", "list"])).stdout;
    expect(YAML.parse(yaml)).toEqual(json);
    expect(yaml).toMatch(/^- pipeline_id: [0-9a-f]{32}$/m);
    const wide = (await ok(["pipeline", "list", "--output", "wide"])).stdout;
    expect(wide.split("\n")[0]).toMatch(/UPDATED\s+CREATED\s+VERSION\s+PROJECT$/);
    expect((await ok(["runs", "list", "--output", "wide"])).stdout.split("\n")[0]).toMatch(
      /BRANCH\s+BY\s+ID$/,
    );
    const bad = await cli(["pipeline", "list", "--output", "xml"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--output xml");
    // The artifacts download keeps its own --output FILE.
    const help = await ok(["artifacts", "download", "--help"]);
    expect(help.stdout).toContain("-o, --output FILE");
    expect(help.stdout).not.toContain("--output FORMAT");
  });
});

async function idOf(name: string): Promise<string> {
  const res = await api.post(`/v5/${projectId}/api/pipelines/list`, { name, limit: 10 });
  return res.body.pipelines.find((p: { name: string }) => p.name === name).pipeline_id;
}
