import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAUNCHERS } from "../../test/helpers/launchers.js";
import type { Forkserver } from "./forkserver.js";
import type { Launcher, OutputStream } from "./process.js";
import { FALLBACK_PATH, isProcessGroupAlive, spawnLauncher } from "./process.js";
import type { ShellScriptOptions } from "./shell.js";
import { RUNNER_DIR, runShellScript } from "./shell.js";

const PATH = process.env.PATH ?? FALLBACK_PATH;

/** Every test runs with each way of starting processes (LAUNCHERS): the same promises hold. */
let current: Launcher = spawnLauncher;
const launcher = (): Launcher => current;

let workDir: string;
beforeAll(() => {
  workDir = realpathSync(mkdtempSync(join(tmpdir(), "pipewright-shell-")));
});
afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

function run(script: string, extra: Partial<ShellScriptOptions> = {}) {
  const chunks: Record<OutputStream, Buffer[]> = { stdout: [], stderr: [] };
  let pid: number | undefined;
  const result = runShellScript({
    launcher: launcher(),
    script,
    cwd: workDir,
    env: { PATH },
    onOutput: (chunk, stream) => {
      chunks[stream].push(chunk);
    },
    onSpawn: (p) => {
      pid = p;
    },
    ...extra,
  });
  const text = (stream: OutputStream) => Buffer.concat(chunks[stream]).toString("utf8");
  return { result, text, pid: () => pid };
}

/** Polls until `cond` holds; the limit only keeps a broken test from hanging, it asserts no timing. */
async function waitFor(cond: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function liveMembers(pgid: number): string[] {
  return execFileSync("ps", ["-eo", "pgid=,stat="], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([g, stat]) => Number(g) === pgid && stat !== undefined && !stat.startsWith("Z"))
    .map(([g]) => g ?? "");
}

async function expectGroupGone(pgid: number): Promise<void> {
  await waitFor(() => liveMembers(pgid).length === 0, `group ${pgid} to have no live member`);
  await waitFor(() => !isProcessGroupAlive(pgid), `group ${pgid} to disappear`);
}

describe.each(LAUNCHERS)("runShellScript, started %s", (_name, make) => {
  beforeAll(async () => {
    current = await make(workDir);
  });
  afterAll(() => {
    (current as Partial<Forkserver>).close?.();
    current = spawnLauncher;
  });

  it("runs the script in cwd and reports its exit code", async () => {
    const { result, text } = run("pwd\necho to-stderr >&2\nexit 7\n");
    expect(await result).toMatchObject({ exitCode: 7, signal: null, timedOut: false, aborted: false });
    expect(text("stdout")).toBe(`${workDir}\n`);
    expect(text("stderr")).toBe("to-stderr\n");
  });

  it("stops at the first failing command (bash -e)", async () => {
    const { result, text } = run("echo one\nfalse\necho two\n");
    expect((await result).exitCode).toBe(1);
    expect(text("stdout")).toBe("one\n");
  });

  it("runs the script verbatim", async () => {
    const { result, text } = run(`printf '%s\\n' 'a "b" $c \\d é' "it's"\n`);
    expect((await result).exitCode).toBe(0);
    expect(text("stdout")).toBe(`a "b" $c \\d é\nit's\n`);
  });

  it("gives the step exactly its env plus the host's PATH/HOME/LANG where unset", async () => {
    const { result, text } = run(
      'echo "FOO=$FOO HOME=${HOME-unset} LANG=${LANG-unset}"; env | cut -d= -f1 | sort',
      {
        env: { FOO: "x y", HOME: "/step-home" },
        hostEnv: { PATH, HOME: "/host-home", LANG: "C.UTF-8" },
      },
    );
    expect((await result).exitCode).toBe(0);
    const [first, ...names] = text("stdout").trim().split("\n");
    expect(first).toBe("FOO=x y HOME=/step-home LANG=C.UTF-8");
    // bash itself exports PWD, SHLVL and _; nothing else may come from the runner's environment.
    const allowed = new Set(["FOO", "HOME", "LANG", "PATH", "PWD", "OLDPWD", "SHLVL", "_"]);
    expect(names.filter((n) => !allowed.has(n))).toEqual([]);
  });

  it("finds bash and commands without any PATH from the step or the host", async () => {
    const { result, text } = run('command -v ls >/dev/null; echo "HOME=${HOME-unset}"', { env: {} });
    expect((await result).exitCode).toBe(0);
    expect(text("stdout")).toBe("HOME=unset\n");
  });

  it("runs scripts longer than a single command-line argument may be", async () => {
    const script = `# ${"x".repeat(300_000)}\necho long-ok\n`;
    const { result, text } = run(script);
    expect((await result).exitCode).toBe(0);
    expect(text("stdout")).toBe("long-ok\n");
  });

  it("runs nothing of the script before onSpawn has returned (the gate)", async () => {
    const marker = join(workDir, `gate-${Date.now()}`);
    let seenDuring: boolean | undefined;
    const { result } = run(`touch ${marker}`, {
      onSpawn: () => {
        // Long enough for an ungated bash to have run the script many times over.
        const until = Date.now() + 300;
        while (Date.now() < until);
        seenDuring = existsSync(marker);
      },
    });
    expect((await result).exitCode).toBe(0);
    expect(seenDuring).toBe(false);
    expect(existsSync(marker)).toBe(true);
  });

  it("removes its script file (and the gate's start-up file) afterwards", async () => {
    const { result, text } = run(`ls ${RUNNER_DIR} | wc -l`);
    expect((await result).exitCode).toBe(0);
    // The script and the start-up file bash sourced to wait at the gate (the forkserver holds
    // processes at a gate of its own: no file).
    expect(text("stdout").trim()).toBe(launcher().gatesItself ? "1" : "2");
    expect(readdirSync(join(workDir, RUNNER_DIR))).toEqual([]);
  });

  it("reports a missing workspace as a result and creates nothing", async () => {
    const missing = join(workDir, "does-not-exist");
    const r = await run("echo hi", { cwd: missing }).result;
    expect(r).toMatchObject({ exitCode: null, signal: null, timedOut: false, aborted: false });
    expect(r.spawnError).toContain("cannot write the step script");
    expect(existsSync(missing)).toBe(false);
  });

  it("timeout kills the script and the sleeps it left in the background", async () => {
    const { result, text, pid } = run("sleep 1000 &\nsleep 1000 &\necho started\nsleep 1000\n", {
      timeoutMs: 300,
    });
    const r = await result;
    expect(r).toMatchObject({ exitCode: null, signal: "SIGTERM", timedOut: true, aborted: false });
    expect(text("stdout")).toBe("started\n");
    await expectGroupGone(pid()!);
  });

  it("abort kills the script and its background processes", async () => {
    const controller = new AbortController();
    const { result, pid } = run("sleep 1000 &\necho started\nsleep 1000\n", {
      signal: controller.signal,
      // Were SIGTERM not enough, the test would run into its own timeout long before this.
      killGraceMs: 600_000,
      onOutput: (chunk) => {
        if (chunk.toString().includes("started")) controller.abort();
      },
    });
    expect(await result).toMatchObject({ exitCode: null, signal: "SIGTERM", aborted: true, timedOut: false });
    await expectGroupGone(pid()!);
  });

  it("kills background processes when the script ends normally", async () => {
    const { result, text, pid } = run("sleep 1000 &\necho done\n");
    expect((await result).exitCode).toBe(0);
    expect(text("stdout")).toBe("done\n");
    await expectGroupGone(pid()!);
  });
});
