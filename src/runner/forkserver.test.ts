import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Forkserver, startForkserver } from "./forkserver.js";
import { FALLBACK_PATH, isProcessGroupAlive, runProcess } from "./process.js";

const PATH = process.env.PATH ?? FALLBACK_PATH;

let dir: string;
beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), "pipewright-forkserver-")));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Polls until `cond` holds; the limit only keeps a broken test from hanging, it asserts no timing. */
async function waitFor(cond: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Pids of the perl helpers whose FIFO dir is `fifoDir`. */
function helpersOf(fifoDir: string): number[] {
  return execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" })
    .split("\n")
    .filter((l) => l.includes("perl -e") && l.trimEnd().endsWith(fifoDir))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

describe("the forkserver", () => {
  it("is not there without perl, and says so", async () => {
    const said: string[] = [];
    const f = await startForkserver({
      dir: join(dir, "none"),
      path: "/nonexistent",
      log: (m) => said.push(m),
    });
    expect(f).toBeUndefined();
    expect(said.join("\n")).toContain("perl is not available");
  });

  it("leaves no FIFO behind, and many steps at once each get their own output", async () => {
    const fifos = join(dir, "many");
    const f = (await startForkserver({ dir: fifos, path: PATH, log: () => {} })) as Forkserver;
    try {
      const outs = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          let text = "";
          const r = await runProcess({
            command: "bash",
            args: ["-c", `echo "step ${i}"; echo "err ${i}" >&2; exit $((${i} % 3))`],
            cwd: dir,
            env: { PATH },
            onOutput: (chunk, stream) => {
              text += `${stream}:${chunk.toString()}`;
            },
            onSpawn: () => {},
            launcher: f,
          });
          return { i, r, text };
        }),
      );
      for (const { i, r, text } of outs) {
        expect(r.exitCode).toBe(i % 3);
        expect(text).toContain(`stdout:step ${i}\n`);
        expect(text).toContain(`stderr:err ${i}\n`);
      }
      expect(readdirSync(fifos)).toEqual([]);
    } finally {
      f.close();
    }
  });

  it("when the helper dies, its running steps end killed instead of hanging, and the next one starts", async () => {
    const fifos = join(dir, "dies");
    const said: string[] = [];
    const f = (await startForkserver({ dir: fifos, path: PATH, log: (m) => said.push(m) })) as Forkserver;
    try {
      let pid = 0;
      const running = runProcess({
        command: "sleep",
        args: ["1000"],
        cwd: dir,
        env: { PATH },
        onOutput: () => {},
        onSpawn: (p) => {
          pid = p;
        },
        launcher: f,
      });
      await waitFor(() => pid > 0, "the step to start");
      const [helper] = helpersOf(fifos);
      expect(helper).toBeGreaterThan(0);
      process.kill(helper!, "SIGKILL");
      const r = await running;
      expect(r.spawnError).toContain("forkserver ended");
      await waitFor(() => !isProcessGroupAlive(pid), "the step's group to be gone");
      expect(said.join("\n")).toContain("the forkserver ended");

      const next = await runProcess({
        command: "true",
        args: [],
        cwd: dir,
        env: { PATH },
        onOutput: () => {},
        launcher: f,
      });
      expect(next.exitCode).toBe(0);
    } finally {
      f.close();
    }
  });
});
