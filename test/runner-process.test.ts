// The embedded runner process against the real `pipewright serve`: jobs outlive a kill -9 of the
// server and keep their real results; a kill -9 of the runner leaves no step process behind and
// its jobs are dispatched again once; and the sandbox, seen from inside a step.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import {
  type Client,
  createPipelineVia,
  definition,
  runDetail,
  serversPerTest,
  setupProject,
  shellPipeline,
  startRun,
  stepLog,
  waitFor,
  waitForRun,
} from "./helpers/server.js";

const started = serversPerTest();

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const lines = (file: string): string[] =>
  fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n").filter(Boolean) : [];

const sandboxed = fs.existsSync("/usr/bin/bwrap");

/** A dir the test shares with sandboxed steps (their /tmp is their own), writable by slot users. */
function sharedDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join("/var/tmp", prefix));
  fs.chmodSync(dir, 0o777);
  return dir;
}
const root = process.getuid?.() === 0;

describe("a kill -9 of the server", () => {
  it("leaves running steps running; their real results reach the next server, none is run twice", async () => {
    const dir = tempDir("pipewright-outlive-");
    const marks = sharedDir("pipewright-outlive-marks-");
    const gate = path.join(marks, "go");
    const server = await started({ dataDir: dir });
    const { projectId, api } = await setupProject(server.url);
    const runnerPid = await waitFor(async () => server.runnerPid(), 10_000, "the runner process");
    const wait = `while [ ! -e ${gate} ]; do sleep 0.05; done`;
    const ok = await createPipelineVia(api, projectId, {
      definition: shellPipeline(`${wait}; echo done >> ${marks}/$PIPELINE_RUN_ID; echo finished`),
    });
    const bad = await createPipelineVia(api, projectId, {
      definition: shellPipeline(`${wait}; echo done >> ${marks}/$PIPELINE_RUN_ID; exit 3`),
    });
    const runs = [
      ...(await Promise.all([1, 2, 3, 4].map(() => startRun(api, projectId, ok)))),
      await startRun(api, projectId, bad),
    ];
    // Each step has started (its start is stored: a step whose start no server acknowledged
    // waits for one, as its run may have been stopped meanwhile).
    for (const [i, run] of runs.entries()) {
      await waitFor(async () => {
        const d = await runDetail(api, projectId, i < 4 ? ok : bad, run);
        return d.stages[0].jobs[0].steps[0].status === "RUNNING";
      });
    }

    await server.kill9();
    // With no server, the steps finish: their side effects happen once, their ends are kept.
    fs.writeFileSync(gate, "");
    await waitFor(async () => runs.every((r) => lines(path.join(marks, r)).length === 1), 20_000, "marks");
    expect(alive(runnerPid)).toBe(true);

    const again = await started({ dataDir: dir });
    const api2 = api.at(again.url);
    for (const [i, run] of runs.entries()) {
      const d = await waitForRun(api2, projectId, i < 4 ? ok : bad, run);
      const job = d.stages[0].jobs[0];
      if (i < 4) {
        expect(d.status, JSON.stringify(job)).toBe("COMPLETED");
        expect(await stepLog(api2, projectId, ok, run, job.id, job.steps[0].id)).toContain("finished");
      } else {
        expect(d.status).toBe("FAILED");
        expect(job.steps[0].message).toBe("exit code 3");
      }
      expect(lines(path.join(marks, run))).toEqual(["done"]);
    }
    // The same runner process carried them over: the new server adopted it.
    expect(again.runnerPid()).toBe(runnerPid);
    expect(again.output()).not.toContain("interrupted");
  });
});

/** The lines of a running or ended step's log that start with `key=`, as values. */
async function logValues(
  api: Client,
  projectId: string,
  pl: string,
  run: string,
  key: string,
): Promise<string[]> {
  const d = await runDetail(api, projectId, pl, run);
  const job = d.stages[0].jobs[0];
  if (!job?.steps?.[0]) return [];
  const text = await stepLog(api, projectId, pl, run, job.id, job.steps[0].id);
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

describe("one runner per work dir", () => {
  it("refuses a second runner on the embedded runner's dir with exit 3, naming the holder; the first goes on", async () => {
    const dir = tempDir("pipewright-second-runner-");
    const server = await started({ dataDir: dir });
    const { projectId, api } = await setupProject(server.url);
    const runnerPid = await waitFor(async () => server.runnerPid(), 10_000, "the runner process");
    const cli = path.resolve("dist/src/cli/main.js");
    let code = 0;
    let stderr = "";
    try {
      execFileSync(process.execPath, [cli, "runner", "--embedded", dir], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        env: { PATH: process.env.PATH ?? "", PIPEWRIGHT_RUNNER_SANDBOX: "false" },
        timeout: 20_000,
      });
    } catch (err) {
      const e = err as { status: number; stderr: string };
      code = e.status;
      stderr = e.stderr;
    }
    expect(code).toBe(3);
    expect(stderr).toContain("another runner process works in");
    expect(stderr).toContain("runner.json");
    // The holder was not disturbed: it still runs jobs.
    expect(alive(runnerPid)).toBe(true);
    const pl = await createPipelineVia(api, projectId, { definition: shellPipeline("echo still here") });
    expect((await waitForRun(api, projectId, pl, await startRun(api, projectId, pl))).status).toBe(
      "COMPLETED",
    );
    expect(server.runnerPid()).toBe(runnerPid);
  });
});

describe("an embedded runner that keeps dying", () => {
  it("turns /healthz 503 degraded with why, and the server's log quotes the runner's; runs wait", async () => {
    const dir = tempDir("pipewright-runner-loop-");
    // A setting the runner refuses at start: it exits with 2, every time it is started again.
    const server = await started({ dataDir: dir, env: { PIPEWRIGHT_RUNNER_MAX_PROCESSES: "many" } });
    const { projectId, api } = await setupProject(server.url);
    const health = await waitFor(
      async () => {
        const res = await fetch(`${server.url}/healthz`);
        return res.status === 503
          ? { status: res.status, body: (await res.json()) as { reason: string } }
          : undefined;
      },
      20_000,
      "/healthz to report the runner",
    );
    expect(health.body).toMatchObject({ ok: false, status: "degraded" });
    expect(health.body.reason).toMatch(/^the embedded runner process keeps dying \(\d+ times in a row/);
    expect(health.body.reason).toContain("the last one exited with 2");
    // Nothing of the data dir's path or the runner's log is told without a token.
    expect(health.body.reason).not.toContain(dir);
    expect(server.output()).toContain("the runner process keeps dying");
    expect(server.output()).toContain("--max-processes must be an integer from 8 to 1000000");
    // The API goes on; a run is accepted and waits for a runner.
    const pl = await createPipelineVia(api, projectId, { definition: shellPipeline("echo waits") });
    const run = await startRun(api, projectId, pl);
    expect((await runDetail(api, projectId, pl, run)).status).toBe("QUEUED");
  });
});

describe("an orphaned embedded runner", () => {
  it("exits when its server is gone and its data dir is removed", async () => {
    const dir = tempDir("pipewright-orphan-");
    const server = await started({ dataDir: dir });
    const runnerPid = await waitFor(async () => server.runnerPid(), 10_000, "the runner process");
    await server.kill9();
    // Without its server the runner goes on (a restarted server adopts it) ...
    expect(alive(runnerPid)).toBe(true);
    // ... until what it works for is gone.
    fs.rmSync(dir, { recursive: true, force: true });
    await waitFor(async () => !alive(runnerPid), 20_000, "the orphaned runner to exit");
  });
});

describe("workspaces", () => {
  it("are removed when their jobs end, empty or not", async () => {
    const dir = tempDir("pipewright-workspaces-");
    const server = await started({ dataDir: dir });
    const { projectId, api } = await setupProject(server.url);
    const empty = await createPipelineVia(api, projectId, { definition: shellPipeline("true") });
    const full = await createPipelineVia(api, projectId, {
      definition: shellPipeline("mkdir -p a/b; echo x > a/b/c; echo y > .hidden"),
    });
    for (const pl of [empty, full]) {
      const run = await startRun(api, projectId, pl);
      const d = await waitForRun(api, projectId, pl, run);
      expect(d.status).toBe("COMPLETED");
      const ws = path.join(dir, "workspaces", run, d.stages[0].jobs[0].id);
      await waitFor(async () => !fs.existsSync(ws), 5000, `${ws} to be removed`);
    }
  });
});

describe("a kill -9 of the runner", () => {
  for (const mode of sandboxed ? ["sandboxed", "unsandboxed"] : ["unsandboxed"]) {
    it(`leaves no step process behind (${mode}) and dispatches its job again once`, async () => {
      const dir = tempDir("pipewright-runner-kill-");
      const env = { PIPEWRIGHT_RUNNER_SANDBOX: mode === "unsandboxed" ? "false" : "true" };
      const server = await started({ dataDir: dir, env });
      const { projectId, api } = await setupProject(server.url);
      const first = await waitFor(async () => server.runnerPid(), 10_000, "the runner process");
      // The first attempt leaves a file in its workspace and a background process, and hangs; the
      // second (told so by a file the test writes, readable in the sandbox) lists its workspace
      // (the next runner removes those the killed one left) and completes.
      const again = path.join(sharedDir("pipewright-runner-kill-marks-"), "again");
      const pl = await createPipelineVia(api, projectId, {
        definition: shellPipeline(
          `if [ -e ${again} ]; then ls -A; echo second; exit 0; fi\n` +
            `touch leftover; sleep 1000 & echo "pid=$!"; echo "pid=$$"; sleep 1000`,
        ),
      });
      const run = await startRun(api, projectId, pl);
      // Host pids of the step's processes: found by their run id (a sandbox has its own pid space).
      const stepPids = await waitFor(async () => {
        const p = processesOf(run);
        return (await logValues(api, projectId, pl, run, "pid")).length === 2 && p.length >= 2
          ? p
          : undefined;
      });
      fs.writeFileSync(again, "");
      process.kill(first, "SIGKILL");

      // The runner's steps are gone (at once in the sandbox, at the next runner's start without).
      await waitFor(async () => stepPids.every((p) => !alive(p)), 15_000, "the step processes to be gone");
      const d = await waitForRun(api, projectId, pl, run, ["COMPLETED", "FAILED"], 30_000);
      const job = d.stages[0].jobs[0];
      expect(d.status, JSON.stringify(job)).toBe("COMPLETED");
      const log = await stepLog(api, projectId, pl, run, job.id, job.steps[0].id);
      expect(log).toContain("second");
      expect(log).not.toContain("leftover");
      // A new runner process took over.
      const second = server.runnerPid();
      expect(second).not.toBe(first);
      expect(alive(second!)).toBe(true);
      expect(processesOf(run)).toEqual([]);
    });
  }
});

/** Processes whose environment names the run (readable as root or as the same user). */
function processesOf(runId: string): number[] {
  const out: number[] = [];
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (fs.readFileSync(`/proc/${pid}/environ`, "utf8").includes(`PIPELINE_RUN_ID=${runId}`))
        out.push(Number(pid));
    } catch {
      // gone, or not readable
    }
  }
  return out;
}

describe.skipIf(!sandboxed)("the sandbox, from inside a step", () => {
  it("hides the data dir and other jobs' workspaces, has a private /tmp, an unprivileged user and a process limit", async () => {
    const dir = tempDir("pipewright-sandbox-");
    const shared = sharedDir("pipewright-sandbox-gate-");
    const server = await started({
      dataDir: dir,
      env: { PIPEWRIGHT_RUNNER_SANDBOX: "true", PIPEWRIGHT_RUNNER_MAX_PROCESSES: "64" },
    });
    const { projectId, api } = await setupProject(server.url);
    const gate = path.join(shared, "go");
    // A job that leaves a file in its workspace and in /tmp and waits, so the other one can look.
    const holder = await createPipelineVia(api, projectId, {
      definition: shellPipeline(
        `echo secret > mine; echo tmp > /tmp/left; echo "ws=$(pwd)"; while [ ! -e ${gate} ]; do sleep 0.05; done`,
      ),
    });
    const holderRun = await startRun(api, projectId, holder);
    const [holderWs] = await waitFor(async () => {
      const v = await logValues(api, projectId, holder, holderRun, "ws");
      return v.length > 0 ? v : undefined;
    });
    const probe = await createPipelineVia(api, projectId, {
      definition: shellPipeline(
        [
          "set +e",
          `echo "data_dir=$(ls -A ${dir} 2>&1 | tr '\\n' ' ')"`,
          `echo "secret_key=$(cat ${dir}/secret.key 2>&1 | tail -c 40)"`,
          `cat ${dir}/pipewright.db > /dev/null 2>&1; echo "db=$?"`,
          `ls ${holderWs} > /dev/null 2>&1; echo "other_ws=$?"`,
          `echo "tmp=$(ls -A /tmp | tr '\\n' ' ')"`,
          `echo own > /tmp/own; echo "tmp_write=$?"`,
          `echo "uid=$(id -u)"`,
          `echo "nproc=$(ulimit -u)"`,
          `touch ${dir}/planted 2>/dev/null; echo "write_data_dir=$?"`,
          `touch ${shared}/planted 2>/dev/null; echo "write_host=$?"`,
          // Its output can be reopened by name, as scripts do with tee /dev/stderr.
          `echo "dev_stdout=ok" > /dev/stdout`,
          `echo "dev_stderr=ok" > /dev/stderr`,
        ].join("\n"),
      ),
    });
    const probeRun = await startRun(api, projectId, probe);
    expect((await waitForRun(api, projectId, probe, probeRun)).status).toBe("COMPLETED");
    fs.writeFileSync(gate, "");
    expect((await waitForRun(api, projectId, holder, holderRun)).status).toBe("COMPLETED");

    const value = async (key: string): Promise<string> =>
      ((await logValues(api, projectId, probe, probeRun, key))[0] ?? "").trim();
    // The data dir shows only the way to the step's own workspace: no database, no token, no key.
    expect(await value("data_dir")).toBe("workspaces");
    expect(fs.existsSync(path.join(dir, "secret.key"))).toBe(true);
    expect(await value("secret_key")).toContain("No such");
    expect(await value("db")).toBe("1");
    expect(await value("other_ws")).not.toBe("0");
    // /tmp is its own: not the host's, not the other job's (only the way to its workspace, when
    // the data dir is under /tmp as here), writable.
    expect(await value("tmp")).toBe(dir.startsWith("/tmp/") ? path.basename(dir) : "");
    expect(await value("tmp_write")).toBe("0");
    expect(fs.existsSync("/tmp/own")).toBe(false);
    // The rest of the machine is read-only.
    expect(await value("write_data_dir")).not.toBe("0");
    expect(await value("write_host")).not.toBe("0");
    expect(fs.existsSync(path.join(dir, "planted"))).toBe(false);
    expect(fs.existsSync(path.join(shared, "planted"))).toBe(false);
    expect(await value("dev_stdout")).toBe("ok");
    expect(await value("dev_stderr")).toBe("ok");
    if (root) {
      expect(await value("nproc")).toBe("64");
      expect(Number(await value("uid"))).toBeGreaterThanOrEqual(61000);
    }
  });
  // Root makes one sandbox per slot (a lane) and mounts each job's workspace into it (lanes.ts).
  it.skipIf(!root)(
    "reuses a slot's sandbox, cleared between steps and jobs; its helper is out of the steps' reach",
    async () => {
      const dir = tempDir("pipewright-lane-");
      const server = await started({
        dataDir: dir,
        env: { PIPEWRIGHT_RUNNER_SANDBOX: "true", PIPEWRIGHT_RUNNER_SLOTS: "1" },
      });
      const { projectId, api } = await setupProject(server.url);
      // Job A, step 1 leaves what a sandbox of its own would take along: files in /tmp and
      // /dev/shm, a System V segment, a process that left its group; and a file in its workspace.
      // Step 2 (the same job) finds only the workspace file.
      const leave = [
        "echo a > /tmp/left; echo a > /dev/shm/left; ipcmk -M 4096 > /dev/null",
        "setsid sleep 1000 > /dev/null 2>&1 < /dev/null &",
        "echo kept > in-workspace",
        // The runner's dir for step files (the lane's own, on its tmpfs) is the job's too.
        'echo a > "$(dirname "$PIPEWRIGHT_OUTPUT")/left"',
        // On the workspace directory itself: an extended attribute and a mode of its own.
        'perl -e \'my ($p, $n, $v) = (".", "user.note", "a"); syscall(188, $p, $n, $v, 1, 0) == 0 or die "setxattr: $!"\'',
        "chmod 0750 .",
        'echo "ns1=$(readlink /proc/self/ns/pid)"',
      ].join("\n");
      const look = [
        "set +e",
        "echo \"tmp=$(ls -A /tmp | tr '\\n' ' ')\"",
        "echo \"shm=$(ls -A /dev/shm | tr '\\n' ' ')\"",
        "echo \"ipc=$(ipcs -m | grep -c '^0x')\"",
        "echo \"sleepers=$(ps -eo args= | grep -c '^sleep 1000')\"",
        'echo "ws=$(cat in-workspace 2>&1)"',
        'echo "ns=$(readlink /proc/self/ns/pid)"',
        'echo "xattrs=$(perl -e \'my ($p, $b) = (".", "\\0" x 4096); print syscall(195, $p, $b, 4096)\')"',
        'echo "wsdir=$(stat -c "%i %a %U" .)"',
        "echo \"stepfiles=$(ls -A \"$(dirname \"$PIPEWRIGHT_OUTPUT\")\" | grep -v -e '^step-' -e '^start-' -e '^output-' | tr '\\n' ' ')\"",
      ].join("\n");
      const a = await createPipelineVia(api, projectId, {
        definition: definition([
          {
            identifier: "s",
            // (A third step empties the workspace: an empty one is kept for the next job.)
            jobs: [
              {
                identifier: "a",
                steps: [{ script: leave }, { script: look }, { script: "rm in-workspace" }],
              },
            ],
          },
        ]),
      });
      const aRun = await startRun(api, projectId, a);
      const aDetail = await waitForRun(api, projectId, a, aRun);
      const aJob = aDetail.stages[0].jobs[0];
      expect(
        aDetail.status,
        await stepLog(api, projectId, a, aRun, aJob.id, aJob.steps[0].id).catch(() => ""),
      ).toBe("COMPLETED");
      const valuesOf = (text: string, key: string): string =>
        (text.split("\n").find((l) => l.startsWith(`${key}=`)) ?? "").slice(key.length + 1).trim();
      const first = await stepLog(api, projectId, a, aRun, aJob.id, aJob.steps[0].id);
      const second = await stepLog(api, projectId, a, aRun, aJob.id, aJob.steps[1].id);
      // What `look` prints in a cleared lane: /tmp holds only the way to the work root (when the
      // data dir is under /tmp, as here), nothing else of the job before is left.
      const tmpNow = dir.startsWith("/tmp/") ? path.basename(dir) : "";
      const expectCleared = (log: string): void => {
        expect(valuesOf(log, "tmp")).toBe(tmpNow);
        expect(valuesOf(log, "shm")).toBe("");
        expect(valuesOf(log, "ipc")).toBe("0");
        expect(valuesOf(log, "sleepers")).toBe("0");
      };
      expectCleared(second);
      expect(valuesOf(second, "ws")).toBe("kept");
      expect(valuesOf(second, "stepfiles")).toBe("left");
      expect(Number(valuesOf(second, "xattrs"))).toBeGreaterThan(0);
      const [inode, mode] = valuesOf(second, "wsdir").split(" ");
      expect(mode).toBe("750");
      // The same sandbox served both steps (the same pid namespace).
      expect(valuesOf(second, "ns")).toBe(valuesOf(first, "ns1"));
      expect(valuesOf(first, "ns1")).not.toBe("");

      // Job B, in the same slot's lane: none of A's things, not A's workspace file; and its
      // helper (pid 2 of the lane, root) cannot be signalled or read.
      const b = await createPipelineVia(api, projectId, {
        definition: shellPipeline(
          [
            look,
            "echo \"helper=$(tr '\\0' ' ' < /proc/2/cmdline | cut -c1-7)\"",
            'kill -9 2 2>/dev/null; echo "kill_helper=$?"',
            'cat /proc/2/environ > /dev/null 2>&1; echo "read_helper=$?"',
          ].join("\n"),
        ),
      });
      const bRun = await startRun(api, projectId, b);
      expect((await waitForRun(api, projectId, b, bRun)).status).toBe("COMPLETED");
      const bJob = (await runDetail(api, projectId, b, bRun)).stages[0].jobs[0];
      const bLog = await stepLog(api, projectId, b, bRun, bJob.id, bJob.steps[0].id);
      expectCleared(bLog);
      expect(valuesOf(bLog, "ws")).toContain("No such file");
      expect(valuesOf(bLog, "stepfiles")).toBe("");
      // B got A's workspace directory (kept, not made anew: spare-dirs.ts), with nothing of A on it.
      expect(valuesOf(bLog, "wsdir")).toBe(`${inode} 755 ${valuesOf(second, "wsdir").split(" ")[2]}`);
      expect(valuesOf(bLog, "xattrs")).toBe("0");
      expect(valuesOf(bLog, "ns")).toBe(valuesOf(first, "ns1"));
      expect(valuesOf(bLog, "helper")).toBe("perl -e");
      expect(valuesOf(bLog, "kill_helper")).not.toBe("0");
      expect(valuesOf(bLog, "read_helper")).not.toBe("0");

      // The lane goes on after that: a third job runs in it.
      const c = await createPipelineVia(api, projectId, {
        definition: shellPipeline('echo "ns=$(readlink /proc/self/ns/pid)"'),
      });
      const cRun = await startRun(api, projectId, c);
      expect((await waitForRun(api, projectId, c, cRun)).status).toBe("COMPLETED");
      expect((await logValues(api, projectId, c, cRun, "ns"))[0]?.trim()).toBe(valuesOf(first, "ns1"));
      // Nothing of A's is left on the machine either (its daemon was in the lane's pid namespace).
      expect(execFileSync("ps", ["-eo", "args="], { encoding: "utf8" })).not.toMatch(/^sleep 1000$/m);
    },
  );

  it("clones a local repository of another user when the admin allows local clones", async () => {
    const repo = sharedDir("pipewright-sandbox-repo-");
    const git = (...args: string[]) =>
      execFileSync("git", ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@t", ...args]);
    git("init", "-q", "-b", "main");
    fs.writeFileSync(path.join(repo, "hello.txt"), "from the repo\n");
    git("add", ".");
    git("commit", "-q", "-m", "one");
    const dir = tempDir("pipewright-sandbox-clone-");
    const server = await started({
      dataDir: dir,
      args: ["--allow-local-clone"],
      env: { PIPEWRIGHT_RUNNER_SANDBOX: "true" },
    });
    const { projectId, api } = await setupProject(server.url);
    const pl = await createPipelineVia(api, projectId, {
      definition: definition([
        {
          identifier: "s",
          jobs: [
            {
              identifier: "j",
              steps: [
                { task: "official_git_clone", inputs: [] },
                { script: 'cat hello.txt; echo "uid=$(id -u)"' },
              ],
            },
          ],
        },
      ]),
      sources: [{ type: "code", params: { git_url: repo, default_branch: "main" } }],
    });
    const run = await startRun(api, projectId, pl);
    const d = await waitForRun(api, projectId, pl, run);
    const job = d.stages[0].jobs[0];
    expect(d.status, JSON.stringify(job)).toBe("COMPLETED");
    expect(await stepLog(api, projectId, pl, run, job.id, job.steps[1].id)).toContain("from the repo");
  });

  it("stops a fork bomb at the process limit, and the machine goes on", async () => {
    const dir = tempDir("pipewright-forkbomb-");
    const server = await started({
      dataDir: dir,
      env: { PIPEWRIGHT_RUNNER_SANDBOX: "true", PIPEWRIGHT_RUNNER_MAX_PROCESSES: "32" },
    });
    const { projectId, api } = await setupProject(server.url);
    const bomb = await createPipelineVia(api, projectId, {
      definition: definition([
        {
          identifier: "b",
          jobs: [
            {
              identifier: "bomb",
              timeout: "20",
              steps: [{ script: "bomb() { bomb | bomb & }; bomb; sleep 3" }],
            },
          ],
        },
      ]),
    });
    const run = await startRun(api, projectId, bomb);
    await waitForRun(api, projectId, bomb, run, ["COMPLETED", "FAILED"], 40_000);
    // The server answers and other jobs run meanwhile and after.
    const quick = await createPipelineVia(api, projectId, { definition: shellPipeline("echo alive") });
    const q = await startRun(api, projectId, quick);
    expect((await waitForRun(api, projectId, quick, q)).status).toBe("COMPLETED");
    if (root) {
      // Nothing of the bomb's user is left.
      const left = execFileSync("ps", ["-e", "-o", "uid="], { encoding: "utf8" })
        .split("\n")
        .map((u) => Number(u.trim()))
        .filter((u) => u >= 61000 && u < 62000);
      expect(left).toEqual([]);
    }
  });

  it("runs a job that asks for label no-network without network; others have it", async () => {
    const dir = tempDir("pipewright-nonet-");
    const server = await started({ dataDir: dir, env: { PIPEWRIGHT_RUNNER_SANDBOX: "true" } });
    const { projectId, api } = await setupProject(server.url);
    const port = new URL(server.url).port;
    const probe = `exec 3<>/dev/tcp/127.0.0.1/${port} && echo connected || echo refused`;
    const off = await createPipelineVia(api, projectId, {
      definition: definition([
        {
          identifier: "s",
          jobs: [
            {
              identifier: "offline",
              resource: JSON.stringify({ labels: ["no-network"] }),
              steps: [{ script: `set +e; ${probe}` }],
            },
          ],
        },
      ]),
    });
    const on = await createPipelineVia(api, projectId, { definition: shellPipeline(`set +e; ${probe}`) });
    const offRun = await startRun(api, projectId, off);
    const onRun = await startRun(api, projectId, on);
    const offDetail = await waitForRun(api, projectId, off, offRun);
    const onDetail = await waitForRun(api, projectId, on, onRun);
    const logOf = (
      pl: string,
      run: string,
      d: { stages: { jobs: { id: string; steps: { id: string }[] }[] }[] },
    ) => stepLog(api, projectId, pl, run, d.stages[0]!.jobs[0]!.id, d.stages[0]!.jobs[0]!.steps[0]!.id);
    expect(await logOf(off, offRun, offDetail)).toContain("refused");
    expect(await logOf(on, onRun, onDetail)).toContain("connected");
  });
});
