// The `pipewright` CLI as a subprocess against a real server: admin set-up, login and profiles,
// pipelines from YAML, runs, batch runs with --wait, live logs, stop, retry, review, errors and
// the examples/ pipelines. Waits are upper bounds, never timing assertions.

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import {
  type Client,
  client,
  E2E_ADMIN_TOKEN,
  type ServerProcess,
  startServerProcess,
  waitFor,
} from "./helpers/server.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const CLI = path.join(ROOT, "dist", "src", "cli", "main.js");
const hasGit = fs.existsSync("/usr/bin/git") || fs.existsSync("/bin/git");

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let server: ServerProcess;
let work: string;
let baseEnv: Record<string, string>;
let api: Client;
let projectId: string;

function spawnCli(
  args: string[],
  env: Record<string, string> = {},
): { proc: ChildProcess; done: Promise<Result>; out: () => string } {
  const proc = spawn(process.execPath, [CLI, ...args], {
    cwd: work,
    // A clean environment: no colour settings or profiles of the machine running the tests leak in.
    env: { ...baseEnv, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  proc.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  proc.stdin!.end();
  const done = new Promise<Result>((resolve) =>
    proc.once("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { proc, done, out: () => stdout };
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const { proc, done } = spawnCli(args, env);
  const timer = setTimeout(() => proc.kill("SIGKILL"), 90_000);
  const res = await done;
  clearTimeout(timer);
  return res;
}

/** Runs the CLI and expects exit code 0, showing its output otherwise. */
async function ok(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const res = await cli(args, env);
  expect(res.code, `pipewright ${args.join(" ")}\n${res.stdout}\n${res.stderr}`).toBe(0);
  return res;
}

function write(name: string, text: string): string {
  const file = path.join(work, name);
  fs.writeFileSync(file, text);
  return file;
}

/** A one-stage, one-job, one-step pipeline in the YAML form. */
function shellYaml(name: string, script: string, extra = ""): string {
  return `name: ${name}
${extra}stages:
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

async function runStatus(pipelineName: string): Promise<{ status: string; id: string; pipeline_id: string }> {
  const res = await ok(["status", pipelineName, "--json"]);
  return JSON.parse(res.stdout);
}

async function waitForStatus(pipelineId: string, statuses: string[]): Promise<void> {
  await waitFor(
    async () => {
      const r = await api.get(`/v5/${projectId}/api/pipelines/${pipelineId}/pipeline-runs/detail`);
      return r.status === 200 && statuses.includes(r.body.status);
    },
    60_000,
    `a run of ${pipelineId} to reach ${statuses.join("/")}`,
  );
}

async function applyYaml(file: string): Promise<string> {
  const res = await ok(["pipeline", "apply", "-f", file, "--json"]);
  return JSON.parse(res.stdout)[0].pipeline_id;
}

beforeAll(async () => {
  server = await startServerProcess({ args: ["--allow-local-clone"] });
  work = tempDir("pipewright-cli-");
  const home = path.join(work, "home");
  fs.mkdirSync(home);
  baseEnv = { PATH: process.env.PATH ?? "", HOME: home, XDG_CONFIG_HOME: path.join(work, "xdg") };
});

afterAll(async () => {
  await server?.stop();
});

describe("pipewright CLI", { timeout: 120_000 }, () => {
  it("creates a project and a token with the admin commands (--json)", async () => {
    const admin = { PIPEWRIGHT_SERVER: server.url, PIPEWRIGHT_ADMIN_TOKEN: E2E_ADMIN_TOKEN };
    const p = await ok(["admin", "project", "create", "cli-demo", "--json"], admin);
    projectId = JSON.parse(p.stdout).project_id;
    expect(projectId).toMatch(/^[0-9a-f]{32}$/);
    // By name: the CLI looks the project up.
    const t = await ok(
      ["admin", "token", "create", "--role", "admin", "--project", "cli-demo", "--name", "ci", "--json"],
      admin,
    );
    const token = JSON.parse(t.stdout);
    expect(token.project_ids).toEqual([projectId]);
    expect(token.token).toMatch(/^pw_/);
    api = client(server.url, token.token);
    const list = await ok(["admin", "token", "list", "--json"], admin);
    expect(JSON.parse(list.stdout).map((x: { id: string }) => x.id)).toContain(token.id);
    const text = await ok(["admin", "project", "list"], admin);
    expect(text.stdout).toContain("cli-demo");
    const usage = await ok(["admin", "usage"], admin);
    expect(usage.stdout).toMatch(
      /^PROJECT\s+RUNS\s+LOGS\s+ARTIFACTS\s+ARTIFACT BYTES\s+CACHES\s+CACHE BYTES/,
    );
    expect(usage.stdout).toMatch(/cli-demo\s+0\s+0 B\s+0\s+0 B\s+0\s+0 B/);
    expect(usage.stdout).toMatch(/artifact store \(dir\): /);
    const usageJson = JSON.parse((await ok(["admin", "usage", "--json"], admin)).stdout);
    expect(usageJson.projects.find((x: { name: string }) => x.name === "cli-demo")).toMatchObject({
      runs: 0,
    });
    Object.assign(baseEnv, {
      PIPEWRIGHT_SERVER: server.url,
      PIPEWRIGHT_TOKEN: token.token,
      PIPEWRIGHT_PROJECT: projectId,
    });
  });

  it("login checks the token and writes a 0600 profile that later commands use", async () => {
    const { PIPEWRIGHT_TOKEN: token, PIPEWRIGHT_SERVER: url } = baseEnv;
    const noEnv = { PIPEWRIGHT_SERVER: "", PIPEWRIGHT_TOKEN: "", PIPEWRIGHT_PROJECT: "" };
    const res = await ok(["login", "--server", url!, "--token", token!], noEnv);
    expect(res.stdout).toContain("project cli-demo");
    const file = path.join(work, "xdg", "pipewright", "config.json");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(file, "utf8")).profiles.default).toEqual({
      server: url,
      token,
      project: projectId,
    });
    // Nothing in the environment now: server, token and project come from the profile.
    const list = await ok(["pipeline", "list", "--json"], noEnv);
    expect(JSON.parse(list.stdout)).toEqual([]);
    const bad = await cli(["login", "--server", url!, "--token", "pw_wrong"], noEnv);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/^pipewright: .*DEVPIPE\.00020001.*\n$/);
  });

  it("applies a YAML file: creates, then updates by name", async () => {
    const file = write(
      "hello.yaml",
      shellYaml("hello", 'echo "hello $who"', "variables:\n  who: { value: world, is_runtime: true }\n"),
    );
    const first = JSON.parse((await ok(["pipeline", "apply", "-f", file, "--json"])).stdout);
    expect(first).toEqual([
      { file, name: "hello", pipeline_id: expect.stringMatching(/^[0-9a-f]{32}$/), action: "created" },
    ]);
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("hello $who", "hi $who"));
    const second = JSON.parse((await ok(["pipeline", "apply", "-f", file, "--json"])).stdout);
    expect(second[0]).toMatchObject({ pipeline_id: first[0].pipeline_id, action: "updated" });
    const shown = JSON.parse((await ok(["pipeline", "show", "hello", "--json"])).stdout);
    expect(shown.definition).toContain("hi $who");
    const text = await ok(["pipeline", "apply", "-f", file]);
    expect(text.stdout).toBe(`updated pipeline hello (${first[0].pipeline_id})\n`);
    const yaml = await ok(["pipeline", "show", "hello", "--yaml"]);
    expect(yaml.stdout).toContain("uses: official_shell_plugin");
  });

  it("lists pipelines as JSON, with their latest run", async () => {
    const res = await ok(["pipeline", "list", "--json"]);
    const items = JSON.parse(res.stdout);
    expect(items.map((p: { name: string }) => p.name)).toEqual(["hello"]);
    expect(items[0].latest_run).toBeNull();
    expect(res.stdout).not.toContain("\x1b[");
  });

  it("run --wait --var: waits, exits 0, and the variable reached the step", async () => {
    const res = await ok(["run", "hello", "--wait", "--var", "who=cli", "--interval", "0.2"]);
    expect(res.stdout).toMatch(/hello#1 COMPLETED/);
    const logs = await ok(["logs", "hello"]);
    expect(logs.stdout).toBe("hi cli\n");
    const st = await runStatus("hello#1");
    expect(st.status).toBe("COMPLETED");
    const listed = JSON.parse((await ok(["pipeline", "list", "--json"])).stdout);
    expect(listed[0].latest_run).toMatchObject({ run_number: 1, status: "COMPLETED" });
  });

  it("batch-run --wait exits 0 when every run completes and 1 when one fails", async () => {
    for (const n of ["batch-a", "batch-b", "batch-c"]) {
      await applyYaml(write(`${n}.yaml`, shellYaml(n, `echo ${n}`)));
    }
    const good = await ok(["batch-run", "batch-a", "batch-b", "batch-c", "--wait", "--interval", "0.2"]);
    expect(good.stdout).toMatch(/PIPELINE\s+RUN\s+STATUS/);
    expect(good.stdout).toMatch(/batch-c\s+#1\s+COMPLETED/);
    expect(good.stdout).toContain("3 runs: 3 completed in");
    expect(good.stderr).toContain("Started 3 runs in one batch.");

    await applyYaml(write("batch-broken.yaml", shellYaml("batch-broken", "echo about to fail; exit 3")));
    const bad = await cli(["batch-run", "--filter", "batch-", "--wait", "--interval", "0.2"]);
    expect(bad.code, bad.stderr).toBe(1);
    expect(bad.stdout).toMatch(/batch-broken\s+#1\s+FAILED/);
    expect(bad.stdout).toContain("exit code 3");
    expect(bad.stdout).toContain("4 runs: 3 completed, 1 failed in");

    const json = await cli(["batch-run", "batch-a", "batch-broken", "--wait", "--json", "--interval", "0.2"]);
    expect(json.code).toBe(1);
    const rows = JSON.parse(json.stdout);
    expect(rows.map((r: { status: string }) => r.status)).toEqual(["COMPLETED", "FAILED"]);
    expect(rows[1]).toMatchObject({ pipeline_name: "batch-broken", run_number: 2 });
  });

  it("logs --follow streams a running step and ends when the step ends", async () => {
    const flag = path.join(work, "follow.flag");
    const file = write(
      "follow.yaml",
      shellYaml(
        "follow",
        'echo before; while [ ! -f "$FLAG" ]; do sleep 0.1; done; echo after',
        `variables:\n  FLAG: ${flag}\n`,
      ),
    );
    const id = await applyYaml(file);
    await ok(["run", "follow"]);
    await waitForStatus(id, ["RUNNING"]);
    const follow = spawnCli(["logs", "follow", "--follow", "--step", "Script"]);
    // The step holds until the follower has printed its first line, so "after" arrives live.
    await waitFor(
      async () => follow.out().includes("before"),
      60_000,
      "the follower to print the first line",
    );
    fs.writeFileSync(flag, "");
    const res = await follow.done;
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe("before\nafter\n");
  });

  it("status --json answers the run detail", async () => {
    const st = await runStatus("follow");
    expect(st.status).toBe("COMPLETED");
    const text = await ok(["status", "follow#1"]);
    expect(text.stdout).toMatch(/^follow#1 {2}COMPLETED/);
    expect(text.stdout).toContain("✓ Script");
  });

  it("stop cancels a running run; stopping it again is a server error on one line", async () => {
    const id = await applyYaml(write("slow.yaml", shellYaml("slow", "echo start; sleep 60")));
    await ok(["run", "slow"]);
    await waitForStatus(id, ["RUNNING"]);
    const res = await ok(["stop", "slow"]);
    expect(res.stdout).toBe("stopped slow#1\n");
    await waitForStatus(id, ["CANCELED"]);
    const again = await cli(["stop", "slow#1"]);
    expect(again.code).toBe(3);
    expect(again.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(again.stderr).toContain("DEVPIPE.00020220");
  });

  it("retry re-runs a failed run in place", async () => {
    const flag = path.join(work, "retry.flag");
    const id = await applyYaml(
      write(
        "flaky.yaml",
        shellYaml("flaky", 'test -f "$FLAG" && echo fixed', `variables:\n  FLAG: ${flag}\n`),
      ),
    );
    const first = await cli(["run", "flaky", "--wait", "--interval", "0.2"]);
    expect(first.code).toBe(1);
    expect(first.stdout).toContain("flaky#1 FAILED");
    fs.writeFileSync(flag, "");
    const res = await ok(["retry", "flaky#1", "--wait", "--interval", "0.2"]);
    expect(res.stdout).toContain("flaky#1 COMPLETED");
    const st = await runStatus(id);
    expect(st.status).toBe("COMPLETED");
  });

  it("review pass lets a run past its manual review (examples/manual-review.yaml)", async () => {
    const id = await applyYaml(path.join(ROOT, "examples", "manual-review.yaml"));
    await ok(["run", "release", "--var", "target=production"]);
    await waitForStatus(id, ["PAUSED"]);
    const waiting = await ok(["status", "release"]);
    expect(waiting.stdout).toContain("waiting for review");
    const res = await ok(["review", "pass", "release"]);
    expect(res.stdout).toBe('passed review "Manual review" of release#1\n');
    await waitForStatus(id, ["COMPLETED"]);
    expect((await ok(["logs", "release", "--step", "deploy"])).stdout).toBe("deploying to production\n");
    const none = await cli(["review", "refuse", "release"]);
    expect(none.code).toBe(3);
    expect(none.stderr).toContain("DEVPIPE.00020222");
  });

  it("applies every example; runs the fan-out one", async () => {
    const examples = fs.readdirSync(path.join(ROOT, "examples")).filter((f) => f.endsWith(".yaml"));
    expect(examples.sort()).toEqual([
      "delayed-deployment.yaml",
      "deploy-service.yaml",
      "fan-out.yaml",
      "git-build-test.yaml",
      "manual-review.yaml",
      "release-train.yaml",
      "two-approvers.yaml",
    ]);
    for (const f of examples) {
      const res = await ok(["pipeline", "apply", "-f", path.join(ROOT, "examples", f)]);
      expect(res.stdout).toMatch(/^(created|updated) pipeline /);
    }
    const res = await ok(["run", "fan-out", "--wait", "--interval", "0.2"]);
    expect(res.stdout).toContain("fan-out#1 COMPLETED");
    const logs = await ok(["logs", "fan-out", "--step", "test_macos"]);
    expect(logs.stdout).toContain("macos case 4 ok");
  });

  it.skipIf(!hasGit)("runs the git example against a local repository", async () => {
    const repo = path.join(work, "demo-repo");
    const git = (...args: string[]) =>
      new Promise<void>((resolve, reject) => {
        const p = spawn("git", args, { cwd: repo, stdio: "ignore" });
        p.once("close", (code) =>
          code === 0 ? resolve() : reject(new Error(`git ${args.join(" ")}: ${code}`)),
        );
      });
    fs.mkdirSync(repo);
    await git("init", "-q", "-b", "main");
    fs.writeFileSync(
      path.join(repo, "Makefile"),
      "build:\n\t@echo built > build.txt\ntest:\n\t@./check.sh\n",
    );
    fs.writeFileSync(
      path.join(repo, "check.sh"),
      '#!/bin/sh\ntest "$(cat build.txt)" = built && echo "1 test passed"\n',
      {
        mode: 0o755,
      },
    );
    await git("add", ".");
    await git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init");
    const text = fs.readFileSync(path.join(ROOT, "examples", "git-build-test.yaml"), "utf8");
    expect(text).toContain("file:///path/to/repo.git");
    const file = write("git.yaml", text.replaceAll("file:///path/to/repo.git", `file://${repo}`));
    await ok(["pipeline", "apply", "-f", file]);
    const res = await cli(["run", "git-build-test", "--wait", "--interval", "0.2"]);
    expect(res.code, `${res.stdout}\n${(await cli(["logs", "git-build-test"])).stdout}`).toBe(0);
    expect(res.stdout).toContain("COMPLETED");
    expect((await ok(["logs", "git-build-test", "--step", "Test"])).stdout).toContain("1 test passed");
  });

  it("reports errors on one line with the DEVPIPE code and a meaningful exit code", async () => {
    const missing = await cli(["run", "no-such-pipeline"]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(
      /^pipewright: no pipeline "no-such-pipeline" in this project \(DEVPIPE\.00011401\)\n$/,
    );
    const byId = await cli(["status", "0123456789abcdef0123456789abcdef"]);
    expect(byId.code).toBe(3);
    expect(byId.stderr).toMatch(/^pipewright: .*DEVPIPE\.00020200.*\n$/);
    const file = write(
      "bad.yaml",
      shellYaml("bad", "true").replace("official_shell_plugin", "official_devcloud_deploy"),
    );
    const invalid = await cli(["pipeline", "apply", "-f", file]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(
      /^pipewright: .*bad\.yaml:8:13: stages\[0\]\.jobs\[0\]\.steps\[0\]\.uses: unsupported task "official_devcloud_deploy".*DEVPIPE\.00020110\)\n$/,
    );
    const usage = await cli(["run"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("missing argument");
    const unknown = await cli(["pipline", "list"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('did you mean "pipeline"?');
  });

  it("names the server it could not reach, with exit code 4", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const res = await cli(["pipeline", "list"], { PIPEWRIGHT_SERVER: `http://127.0.0.1:${port}` });
    expect(res.code).toBe(4);
    expect(res.stderr).toContain(`cannot reach the server at http://127.0.0.1:${port} (connection refused)`);
  });

  it("answers --help on every command, and colours only when asked", async () => {
    const commands = [
      [],
      ["serve"],
      ["pipeline"],
      ["pipeline", "apply"],
      ["pipeline", "list"],
      ["pipeline", "show"],
      ["pipeline", "delete"],
      ["run"],
      ["batch-run"],
      ["status"],
      ["logs"],
      ["stop"],
      ["retry"],
      ["review"],
      ["review", "pass"],
      ["review", "refuse"],
      ["login"],
      ["admin"],
      ["admin", "project", "create"],
      ["admin", "token", "create"],
      ["admin", "access-key", "revoke"],
    ];
    for (const c of commands) {
      const res = await ok([...c, "--help"]);
      expect(res.stdout, c.join(" ")).toMatch(/^Usage: pipewright/);
    }
    const forced = await ok(["pipeline", "list"], { FORCE_COLOR: "1" });
    expect(forced.stdout).toContain("\x1b[");
    const off = await ok(["pipeline", "list"], { FORCE_COLOR: "1", NO_COLOR: "1" });
    expect(off.stdout).not.toContain("\x1b[");
  });

  it("deletes pipelines only with --yes when stdin is not a terminal", async () => {
    const refused = await cli(["pipeline", "delete", "batch-c"]);
    expect(refused.code).toBe(2);
    await ok(["pipeline", "delete", "batch-c", "--yes"]);
    const names = JSON.parse((await ok(["pipeline", "list", "--json"])).stdout).map(
      (p: { name: string }) => p.name,
    );
    expect(names).not.toContain("batch-c");
  });
});
