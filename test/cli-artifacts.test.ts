// A run's artifacts through the `pipewright` CLI as a subprocess: against a real server, a job
// that keeps dist/** is listed and downloaded (to NAME.tar, another file, stdout), refused over an
// existing file, and a wrong name is the server's not-found; against a fake server that breaks
// off or sends other bytes than it announced, the download leaves no file behind.

import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import {
  type Client,
  client,
  createPipelineVia,
  definition,
  E2E_ADMIN_TOKEN,
  type ServerProcess,
  shellPipeline,
  startRun,
  startServerProcess,
  waitFor,
  waitForRun,
} from "./helpers/server.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const CLI = path.join(ROOT, "dist", "src", "cli", "main.js");

interface Result {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

let server: ServerProcess;
let work: string;
let baseEnv: Record<string, string>;
let api: Client;
let projectId: string;
let buildId: string;
let runId: string;

function cli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const proc = spawn(process.execPath, [CLI, ...args], {
    cwd: work,
    env: { ...baseEnv, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const out: Buffer[] = [];
  let stderr = "";
  proc.stdout.on("data", (d: Buffer) => out.push(d));
  proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  proc.stdin.end();
  const timer = setTimeout(() => proc.kill("SIGKILL"), 90_000);
  return new Promise<Result>((resolve) =>
    proc.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr });
    }),
  );
}

/** Runs the CLI and expects exit code 0, showing its output otherwise. */
async function ok(args: string[], env: Record<string, string> = {}): Promise<Result & { text: string }> {
  const res = await cli(args, env);
  expect(res.code, `pipewright ${args.join(" ")}\n${res.stdout.toString()}\n${res.stderr}`).toBe(0);
  return { ...res, text: res.stdout.toString() };
}

const sha256 = (b: Buffer): string => crypto.createHash("sha256").update(b).digest("hex");

/** The files a tar archive extracts to (with `tar -xf`), relative path → content. */
function extract(archive: string): Record<string, string> {
  const dir = tempDir("pipewright-untar-");
  const tar = spawnSync("tar", ["-xf", archive, "-C", dir], { encoding: "utf8" });
  expect(tar.status, tar.stderr).toBe(0);
  const files: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p);
      else files[p] = fs.readFileSync(path.join(dir, p), "utf8");
    }
  };
  walk("");
  return files;
}

/** Files of the work directory the downloads wrote (temporary ones included). */
const written = (): string[] =>
  fs
    .readdirSync(work)
    .filter((f) => f !== "home" && f !== "xdg")
    .sort();

async function serverArtifacts(): Promise<Record<string, unknown>[]> {
  const res = await api.get(`/v5/${projectId}/api/pipelines/${buildId}/pipeline-runs/${runId}/artifacts`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.artifacts;
}

beforeAll(async () => {
  server = await startServerProcess();
  work = tempDir("pipewright-cli-artifacts-");
  const admin = client(server.url, E2E_ADMIN_TOKEN);
  const p = await admin.post("/admin/v1/projects", { name: "artifacts-demo" });
  expect(p.status).toBe(200);
  projectId = p.body.project_id;
  const t = await admin.post("/admin/v1/tokens", { name: "ci", role: "admin", project_ids: [projectId] });
  api = client(server.url, t.body.token);
  // One job that writes dist/ and keeps it.
  const def = JSON.parse(
    definition([
      {
        identifier: "build",
        jobs: [{ identifier: "package", steps: [{ script: "mkdir -p dist && echo hi > dist/a.txt" }] }],
      },
    ]),
  );
  def.stages[0].jobs[0].artifacts = [{ name: "dist", paths: ["dist/**"] }];
  buildId = await createPipelineVia(api, projectId, { name: "build", definition: JSON.stringify(def) });
  runId = await startRun(api, projectId, buildId);
  const done = await waitForRun(api, projectId, buildId, runId);
  expect(done.status).toBe("COMPLETED");
  const plainId = await createPipelineVia(api, projectId, {
    name: "plain",
    definition: shellPipeline("true"),
  });
  const plainRun = await startRun(api, projectId, plainId);
  await waitForRun(api, projectId, plainId, plainRun);
  const home = path.join(work, "home");
  fs.mkdirSync(home);
  baseEnv = {
    PATH: process.env.PATH ?? "",
    HOME: home,
    XDG_CONFIG_HOME: path.join(work, "xdg"),
    PIPEWRIGHT_SERVER: server.url,
    PIPEWRIGHT_TOKEN: t.body.token,
    PIPEWRIGHT_PROJECT: "artifacts-demo",
  };
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe("pipewright artifacts", { timeout: 120_000 }, () => {
  it("list shows the archive the job kept; --json is the server's answer", async () => {
    const artifacts = await serverArtifacts();
    expect(artifacts).toEqual([
      expect.objectContaining({
        name: "dist",
        job_identifier: "package",
        build_no: 1,
        artifact_package_type: "tar",
        hash_code: [{ hash_type: "sha256", hash_value: expect.stringMatching(/^[0-9a-f]{64}$/) }],
      }),
    ]);
    const hash = (artifacts[0]!.hash_code as { hash_value: string }[])[0]!.hash_value;
    const res = await ok(["artifacts", "list", "build#1"]);
    const lines = res.text.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+JOB\s+SIZE\s+SHA256\s+CREATED$/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^dist {2}package {2}\\d+(\\.\\d)? (B|KiB) {2}${hash.slice(0, 12)} {2}\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d$`,
        ),
      ),
    ]);
    expect(res.stderr).toBe("");
    // The other ways of naming the run read the same.
    for (const ref of [["build"], [runId], [runId, "--pipeline", "build"], ["1", "--pipeline", "build"]]) {
      expect((await ok(["artifacts", "list", ...ref])).text, ref.join(" ")).toBe(res.text);
    }
    expect(JSON.parse((await ok(["artifacts", "list", "build#1", "--json"])).text)).toEqual({ artifacts });
  });

  it("download saves NAME.tar, checked, that tar extracts to the file the step wrote", async () => {
    const [artifact] = await serverArtifacts();
    const res = await ok(["artifacts", "download", "build#1", "dist"]);
    const file = path.join(work, "dist.tar");
    const bytes = fs.readFileSync(file);
    expect(res.text).toMatch(/^Saved build#1 dist to dist\.tar \(\d+(\.\d)? (B|KiB), sha256 verified\)\n$/);
    expect(res.stderr).toBe("");
    expect(String(bytes.length)).toBe(artifact!.file_size);
    expect(sha256(bytes)).toBe((artifact!.hash_code as { hash_value: string }[])[0]!.hash_value);
    expect(extract(file)).toEqual({ "dist/a.txt": "hi\n" });
    // Only the archive: no temporary file left beside it.
    expect(written()).toEqual(["dist.tar"]);
  });

  it("writes the archive to stdout with -o -, or to the file -o names", async () => {
    const whole = fs.readFileSync(path.join(work, "dist.tar"));
    const piped = await ok(["artifacts", "download", "build#1", "dist", "-o", "-"]);
    expect(piped.stdout.equals(whole)).toBe(true);
    expect(piped.stderr).toBe("");

    fs.mkdirSync(path.join(work, "out"));
    const json = await ok(["artifacts", "download", "build", "dist", "-o", "out/app.tar", "--json"]);
    expect(JSON.parse(json.text)).toEqual({
      name: "dist",
      file: path.join(work, "out", "app.tar"),
      bytes: whole.length,
      sha256: sha256(whole),
    });
    expect(fs.readFileSync(path.join(work, "out", "app.tar")).equals(whole)).toBe(true);
    fs.rmSync(path.join(work, "out"), { recursive: true });
  });

  it("refuses to replace a file unless --force", async () => {
    const file = path.join(work, "dist.tar");
    fs.writeFileSync(file, "mine");
    const refused = await cli(["artifacts", "download", "build#1", "dist"]);
    expect(refused.code).toBe(2);
    expect(refused.stdout.length).toBe(0);
    expect(refused.stderr).toBe(
      "pipewright: dist.tar exists\nPass --force to replace it, or -o another file.\n",
    );
    expect(fs.readFileSync(file, "utf8")).toBe("mine");

    await ok(["artifacts", "download", "build#1", "dist", "--force"]);
    expect(extract(file)).toEqual({ "dist/a.txt": "hi\n" });
    expect(written()).toEqual(["dist.tar"]);
  });

  it("a NAME the run does not have is the server's not-found, exit 3, with the names it has", async () => {
    const res = await cli(["artifacts", "download", "build#1", "dsit"]);
    expect(res.code).toBe(3);
    expect(res.stdout.length).toBe(0);
    const [message, hint, ...rest] = res.stderr.trimEnd().split("\n");
    expect(message).toMatch(
      /^pipewright: build#1 has no artifact "dsit" \(did you mean "dist"\?\) \(DEVPIPE\.\d{8}\)$/,
    );
    expect(hint).toBe("Its artifacts: dist.");
    expect(rest).toEqual([]);
    expect(written()).toEqual(["dist.tar"]);
  });

  it("a run that kept nothing says so", async () => {
    const listed = await ok(["artifacts", "list", "plain"]);
    expect(listed.text).toBe("plain#1 kept no artifacts.\n");
    expect(listed.stderr).toContain('"artifacts": [{"name": "dist", "paths": ["dist/**"]}]');
    expect(JSON.parse((await ok(["artifacts", "list", "plain", "--json"])).text)).toEqual({ artifacts: [] });
    const res = await cli(["artifacts", "download", "plain", "dist", "-o", "plain.tar"]);
    expect(res.code).toBe(3);
    const [message, hint] = res.stderr.split("\n");
    expect(message).toMatch(/^pipewright: plain#1 has no artifact "dist" \(DEVPIPE\.\d{8}\)$/);
    expect(hint).toMatch(/^It kept none\. A job keeps files with "artifacts"/);
    expect(written()).toEqual(["dist.tar"]);
  });

  it("refuses arguments that cannot work, before any download", async () => {
    for (const [args, message] of [
      [["artifacts", "download", "build#1"], "missing argument: pipewright artifacts download RUN NAME"],
      [["artifacts", "download", "build#1", "dist", "-o", "-", "--json"], "--json prints to stdout"],
      [["artifacts", "download", "build#1", "dist", "-o", "nowhere/x.tar"], "cannot write nowhere/x.tar"],
      [["artifacts", "download", "build#1", "dist", "-o", "."], ". is a directory"],
      [["artifacts", "list", "build#0"], '"build#0" is not PIPELINE#N'],
    ] as const) {
      const res = await cli([...args]);
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr, args.join(" ")).toContain(`pipewright: ${message}`);
    }
    const missing = await cli(["artifacts", "list", "build#9"]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("pipeline build has no run #9");
    expect(written()).toEqual(["dist.tar"]);
  });

  it("answers --help, and the top-level help lists the commands", async () => {
    const group = await ok(["artifacts"]);
    expect(group.text).toContain("list RUN");
    expect(group.text).toContain("download RUN NAME");
    const help = (await ok(["artifacts", "download", "--help"])).text;
    expect(help).toMatch(/^Usage: pipewright artifacts download RUN NAME \[options\]/);
    expect(help).toContain("-o, --output FILE");
    expect(help).toContain("--force");
    expect((await ok(["artifacts", "list", "--help"])).text).toMatch(/^Usage: pipewright artifacts list RUN/);
    const top = (await ok(["--help"])).text;
    expect(top).toContain("artifacts list RUN");
    expect(top).toContain("artifacts download RUN NAME");
    const typo = await cli(["artifact"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('did you mean "artifacts"?');
  });
});

describe("pipewright artifacts download from a server that misbehaves", { timeout: 60_000 }, () => {
  // A fake server: just the calls the CLI makes to find build#1, and a download that breaks off
  // halfway (cut), whose bytes are not the ones its checksum names (other), or that stalls (slow).
  const PID = "a".repeat(32);
  const RID = "b".repeat(32);
  const PROJECT = "c".repeat(32);
  const BYTES = Buffer.alloc(64 * 1024, 7);
  let fake: http.Server;
  let fakeUrl: string;

  beforeAll(async () => {
    fake = http.createServer((req, res) => {
      const json = (body: unknown): void => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const u = req.url ?? "";
      const base = `/v5/${PROJECT}/api/pipelines`;
      if (u === `${base}/list`) return json({ total: 1, pipelines: [{ pipeline_id: PID, name: "build" }] });
      if (u === `${base}/${PID}/pipeline-runs/list`)
        return json({
          total: 1,
          offset: 0,
          limit: 100,
          pipeline_runs: [{ pipeline_run_id: RID, run_number: 1 }],
        });
      if (u.startsWith(`${base}/${PID}/pipeline-runs/detail`))
        return json({ id: RID, run_number: 1, name: "build", status: "COMPLETED", stages: [] });
      const m = /\/artifacts\/(cut|other|slow)\/download$/.exec(u);
      if (!m) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error_code: "DEVPIPE.00020404", error_msg: `No route ${u}.` }));
        return;
      }
      res.writeHead(200, {
        "content-type": "application/x-tar",
        "content-length": String(BYTES.length),
        "x-checksum-sha256": m[1] === "cut" ? sha256(BYTES) : "0".repeat(64),
      });
      if (m[1] === "other") {
        res.end(BYTES);
        return;
      }
      // A kilobyte, then silence: the download is under way until the user gives up.
      if (m[1] === "slow") {
        res.write(BYTES.subarray(0, 1024));
        return;
      }
      res.write(BYTES.subarray(0, 1024), () => setTimeout(() => res.socket?.destroy(), 50));
    });
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
    fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    fake?.closeAllConnections();
    await new Promise((resolve) => fake?.close(resolve));
  });

  const env = () => ({
    PIPEWRIGHT_SERVER: fakeUrl,
    PIPEWRIGHT_TOKEN: "pw_fake",
    PIPEWRIGHT_PROJECT: PROJECT,
  });

  it("leaves no file, and the file --force would replace untouched, when the connection breaks off", async () => {
    const dir = tempDir("pipewright-cut-");
    const file = path.join(dir, "cut.tar");
    fs.writeFileSync(file, "the old one");
    const res = await cli(["artifacts", "download", "build#1", "cut", "-o", file, "--force"], env());
    expect(res.code).toBe(4);
    expect(res.stderr).toBe(
      "pipewright: artifact cut of build#1: the download broke off after 1.0 KiB of 64.0 KiB (the connection closed early); nothing was saved\n",
    );
    expect(fs.readdirSync(dir)).toEqual(["cut.tar"]);
    expect(fs.readFileSync(file, "utf8")).toBe("the old one");
  });

  it("leaves no file when the bytes are not the ones the checksum names, and says so on stdout too", async () => {
    const dir = tempDir("pipewright-other-");
    const res = await cli(
      ["artifacts", "download", "build#1", "other", "-o", path.join(dir, "x.tar")],
      env(),
    );
    expect(res.code).toBe(3);
    expect(res.stderr).toBe(
      `pipewright: artifact other of build#1: the SHA-256 of what arrived (${sha256(BYTES)}) is not the server's (${"0".repeat(64)}); nothing was saved\n`,
    );
    expect(fs.readdirSync(dir)).toEqual([]);

    const piped = await cli(["artifacts", "download", "build#1", "other", "-o", "-"], env());
    expect(piped.code).toBe(3);
    expect(piped.stdout.length).toBe(BYTES.length);
    expect(piped.stderr).toContain("; what was written is not the artifact\n");
  });

  it("leaves no file when interrupted (Ctrl-C) midway, exit 130", async () => {
    const dir = tempDir("pipewright-slow-");
    const proc = spawn(
      process.execPath,
      [CLI, "artifacts", "download", "build#1", "slow", "-o", path.join(dir, "slow.tar")],
      { cwd: work, env: { ...baseEnv, ...env() }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number | null>((resolve) => proc.once("close", resolve));
    // Under way: its temporary file is there.
    await waitFor(
      async () => fs.readdirSync(dir).some((f) => f.endsWith(".part")),
      20_000,
      "the download to start",
    );
    proc.kill("SIGINT");
    expect(await closed).toBe(130);
    expect(stderr).toBe("pipewright: interrupted\n");
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
