import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAUNCHERS } from "../../test/helpers/launchers.js";
import type { Forkserver } from "./forkserver.js";
import type { Launcher, OutputStream, RunProcessOptions } from "./process.js";
import { buildStepEnv, FALLBACK_PATH, isProcessGroupAlive, runProcess, spawnLauncher } from "./process.js";

const PATH = process.env.PATH ?? FALLBACK_PATH;

/** Every test runs with each way of starting processes (LAUNCHERS): the same promises hold. */
let current: Launcher = spawnLauncher;
const launcher = (): Launcher => current;

let workDir: string;
beforeAll(() => {
  workDir = realpathSync(mkdtempSync(join(tmpdir(), "pipewright-process-")));
});
afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

function collector() {
  const chunks: Record<OutputStream, Buffer[]> = { stdout: [], stderr: [] };
  return {
    onOutput: (chunk: Buffer, stream: OutputStream) => {
      chunks[stream].push(chunk);
    },
    text: (stream: OutputStream) => Buffer.concat(chunks[stream]).toString("utf8"),
    bytes: (stream: OutputStream) => Buffer.concat(chunks[stream]).length,
  };
}

function bash(script: string, extra: Partial<RunProcessOptions> = {}) {
  const out = collector();
  let pid: number | undefined;
  const result = runProcess({
    launcher: launcher(),
    command: "bash",
    args: ["-c", script],
    cwd: workDir,
    env: { PATH },
    onOutput: out.onOutput,
    onSpawn: (p) => {
      pid = p;
    },
    ...extra,
  });
  return { result, out, pid: () => pid };
}

/** Polls until `cond` holds; the limit only keeps a broken test from hanging, it asserts no timing. */
async function waitFor(cond: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Pids of the group's members that still run (zombies excluded: they are dead, just not reaped). */
function liveMembers(pgid: number): number[] {
  const ps = execFileSync("ps", ["-eo", "pid=,pgid=,stat="], { encoding: "utf8" });
  return ps
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([, g, stat]) => Number(g) === pgid && stat !== undefined && !stat.startsWith("Z"))
    .map(([p]) => Number(p));
}

function isRunning(pid: number): boolean {
  const stat = spawnSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" }).stdout.trim();
  return stat !== "" && !stat.startsWith("Z");
}

/** The group ends up empty: no live member, and (once init reaped the zombies) no member at all. */
async function expectGroupGone(pgid: number): Promise<void> {
  await waitFor(() => liveMembers(pgid).length === 0, `group ${pgid} to have no live member`);
  await waitFor(() => !isProcessGroupAlive(pgid), `group ${pgid} to disappear`);
}

function pidsAfter(label: string, text: string): number[] {
  return [...text.matchAll(new RegExp(`${label} (\\d+)`, "g"))].map((m) => Number(m[1]));
}

describe.each(LAUNCHERS)("runProcess, started %s", (_name, make) => {
  beforeAll(async () => {
    current = await make(workDir);
  });
  afterAll(() => {
    (current as Partial<Forkserver>).close?.();
    current = spawnLauncher;
  });

  it("captures stdout and stderr separately and reports the exit code", async () => {
    const { result, out } = bash("echo out; echo err >&2; exit 3");
    const r = await result;
    expect(r).toMatchObject({ exitCode: 3, signal: null, timedOut: false, aborted: false });
    expect(r.spawnError).toBeUndefined();
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
    expect(out.text("stdout")).toBe("out\n");
    expect(out.text("stderr")).toBe("err\n");
  });

  it("reports the signal that ended the leader", async () => {
    const r = await bash("kill -USR1 $$").result;
    expect(r).toMatchObject({ exitCode: null, signal: "SIGUSR1" });
  });

  it("passes exactly the given environment and no shell", async () => {
    const out = collector();
    const r = await runProcess({
      launcher: launcher(),
      command: "/usr/bin/env",
      args: [],
      cwd: workDir,
      env: { FOO: "bar baz", EMPTY: "" },
      onOutput: out.onOutput,
    });
    expect(r.exitCode).toBe(0);
    expect(out.text("stdout").split("\n").sort()).toEqual(["", "EMPTY=", "FOO=bar baz"]);

    // Arguments reach the program verbatim: no shell expands them.
    const echo = collector();
    await runProcess({
      launcher: launcher(),
      command: "echo",
      args: ["$HOME", "*", "a;b"],
      cwd: workDir,
      env: { PATH },
      onOutput: echo.onOutput,
    });
    expect(echo.text("stdout")).toBe("$HOME * a;b\n");
  });

  it("runs in cwd, with stdin at EOF, as leader of its own process group", async () => {
    let pgidAtSpawn = "";
    const { result, out } = bash("pwd; cat; echo cat=$?", {
      onSpawn: (pid) => {
        pgidAtSpawn = execFileSync("ps", ["-o", "pgid=", "-p", String(pid)], { encoding: "utf8" }).trim();
        expect(Number(pgidAtSpawn)).toBe(pid);
      },
    });
    expect((await result).exitCode).toBe(0);
    expect(pgidAtSpawn).not.toBe("");
    expect(out.text("stdout")).toBe(`${workDir}\ncat=0\n`);
  });

  it("loses no output, even megabytes written just before the exit", async () => {
    const out = collector();
    const r = await runProcess({
      launcher: launcher(),
      command: "head",
      args: ["-c", "3000000", "/dev/zero"],
      cwd: workDir,
      env: { PATH },
      onOutput: out.onOutput,
    });
    expect(r.exitCode).toBe(0);
    expect(out.bytes("stdout")).toBe(3_000_000);
  });

  it("kills background processes left behind when the leader exits normally", async () => {
    const { result, out, pid } = bash(
      'sleep 1000 & echo "bg $!"; (sleep 1000; echo never) & echo "bg $!"; echo done',
    );
    const r = await result;
    expect(r).toMatchObject({ exitCode: 0, timedOut: false, aborted: false });
    expect(out.text("stdout")).toContain("done\n");
    expect(out.text("stdout")).not.toContain("never");
    const background = pidsAfter("bg", out.text("stdout"));
    expect(background).toHaveLength(2);
    await expectGroupGone(pid()!);
    for (const p of background) expect(isRunning(p)).toBe(false);
  });

  it("timeout terminates the whole group, grandchildren included", async () => {
    const { result, out, pid } = bash(
      'sleep 1000 & echo "bg $!"; (sleep 1000) & echo "bg $!"; echo ready; sleep 1000',
      {
        timeoutMs: 300,
      },
    );
    const r = await result;
    expect(r).toMatchObject({ exitCode: null, signal: "SIGTERM", timedOut: true, aborted: false });
    expect(out.text("stdout")).toContain("ready\n");
    const background = pidsAfter("bg", out.text("stdout"));
    expect(background).toHaveLength(2);
    await expectGroupGone(pid()!);
    for (const p of background) expect(isRunning(p)).toBe(false);
  });

  it("abort terminates the group without waiting for the grace period", async () => {
    const controller = new AbortController();
    const out = collector();
    let pid = 0;
    const result = runProcess({
      launcher: launcher(),
      command: "bash",
      args: ["-c", "sleep 1000 & echo ready; sleep 1000"],
      cwd: workDir,
      env: { PATH },
      signal: controller.signal,
      // Were SIGTERM not enough, the test would run into its own timeout long before this.
      killGraceMs: 600_000,
      onSpawn: (p) => {
        pid = p;
      },
      onOutput: (chunk, stream) => {
        out.onOutput(chunk, stream);
        if (out.text("stdout").includes("ready")) controller.abort();
      },
    });
    const r = await result;
    expect(r).toMatchObject({ exitCode: null, signal: "SIGTERM", timedOut: false, aborted: true });
    await expectGroupGone(pid);
  });

  it("SIGKILLs the group after the grace period when SIGTERM is ignored", async () => {
    const { result, out, pid } = bash('trap "" TERM; sleep 1000 & echo "bg $!"; echo ready; sleep 1000', {
      timeoutMs: 200,
      killGraceMs: 200,
    });
    const r = await result;
    expect(r).toMatchObject({ exitCode: null, signal: "SIGKILL", timedOut: true });
    await expectGroupGone(pid()!);
    for (const p of pidsAfter("bg", out.text("stdout"))) expect(isRunning(p)).toBe(false);
  });

  it("does not hang on pipes held by a process that left the group", async () => {
    // The leader waits until the escapee has left the group (setsid) and written its pid, so the
    // group kill at the leader's exit cannot catch it first.
    rmSync(join(workDir, "escaped.pid"), { force: true });
    const { result, out } = bash(
      "setsid bash -c 'echo \"escaped $$\"; echo $$ > escaped.pid; exec sleep 1000' & " +
        "until [ -s escaped.pid ]; do sleep 0.01; done; echo done",
    );
    try {
      const r = await result;
      expect(r.exitCode).toBe(0);
      expect(out.text("stdout")).toContain("done\n");
      expect(out.text("stdout")).toContain("escaped ");
    } finally {
      const escaped = Number(readFileSync(join(workDir, "escaped.pid"), "utf8"));
      if (escaped > 0) process.kill(escaped, "SIGKILL");
    }
  });

  it("does not start at all when the signal is already aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    let spawned = false;
    const r = await bash("echo should-not-run", {
      signal: controller.signal,
      onSpawn: () => {
        spawned = true;
      },
    }).result;
    expect(r).toMatchObject({ exitCode: null, signal: null, aborted: true, timedOut: false });
    expect(spawned).toBe(false);
  });

  it("ignores timeouts that do not elapse, however large", async () => {
    expect((await bash("exit 0", { timeoutMs: 60_000 }).result).timedOut).toBe(false);
    // Above 2^31-1 ms setTimeout would fire at once.
    expect((await bash("exit 0", { timeoutMs: 2 ** 40 }).result).timedOut).toBe(false);
  });

  it("turns spawn failures into results, never exceptions", async () => {
    const noop = () => {};
    const missing = await runProcess({
      launcher: launcher(),
      command: "no-such-command-xyz",
      args: [],
      cwd: workDir,
      env: { PATH },
      onOutput: noop,
    });
    expect(missing).toMatchObject({ exitCode: null, signal: null, timedOut: false, aborted: false });
    expect(missing.spawnError).toContain("command not found: no-such-command-xyz");

    const noCwd = await runProcess({
      launcher: launcher(),
      command: "bash",
      args: [],
      cwd: join(workDir, "nope"),
      env: { PATH },
      onOutput: noop,
    });
    expect(noCwd.spawnError).toContain("working directory does not exist");

    const notExecutable = join(workDir, "plain.txt");
    writeFileSync(notExecutable, "echo hi\n");
    chmodSync(notExecutable, 0o644);
    const denied = await runProcess({
      launcher: launcher(),
      command: notExecutable,
      args: [],
      cwd: workDir,
      env: { PATH },
      onOutput: noop,
    });
    expect(denied.exitCode).toBeNull();
    expect(denied.spawnError).toContain("EACCES");

    const nul = await runProcess({
      launcher: launcher(),
      command: "echo",
      args: ["a\0b"],
      cwd: workDir,
      env: { PATH },
      onOutput: noop,
    });
    expect(nul.spawnError).toBeDefined();
  });
});

describe("buildStepEnv", () => {
  it("adds the host's PATH/HOME/LANG only where the step sets none", () => {
    expect(
      buildStepEnv({ HOME: "/step", A: "1" }, { PATH: "/host/bin", HOME: "/host", LANG: "C.UTF-8" }),
    ).toEqual({
      A: "1",
      HOME: "/step",
      PATH: "/host/bin",
      LANG: "C.UTF-8",
    });
  });

  it("falls back to some PATH when neither the step nor the host gives one", () => {
    const env = buildStepEnv({ A: "1" });
    expect(env.PATH).toBeTruthy();
    expect(Object.keys(env).sort()).toEqual(["A", "PATH"]);
  });
});
