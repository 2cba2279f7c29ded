// Caches over HTTP against a real server process and its runner: a job's `cache: {key, paths}`
// misses on the first run (no error) and is saved, hits on the next; a key may hash checked-out
// files (`hashFiles`), so a changed lock file misses again; runs of another branch have their
// own entries; an entry past the cap fails the step naming it; a project over its quota loses
// its least recently used entries first.

import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import { git } from "./helpers/git.js";
import {
  type Client,
  createPipelineVia,
  definition,
  type ServerProcess,
  setupProject,
  startServerProcess,
  stepLog,
  waitForRun,
} from "./helpers/server.js";

interface JobView {
  id: string;
  status: string;
  steps: { id: string; status: string }[];
}

let server: ServerProcess;
let api: Client;
let pid: string;
let root: string;
let bare: string;
let work: string;
function commitLock(content: string) {
  fs.writeFileSync(path.join(work, "lock.txt"), content);
  git(work, "add", "lock.txt");
  git(work, "commit", "--quiet", "-m", content);
  git(work, "push", "--quiet", bare, "main");
}

beforeAll(async () => {
  server = await startServerProcess({
    args: ["--allow-local-clone", "--max-cache-bytes", "100000", "--cache-quota-bytes", "200000"],
  });
  ({ projectId: pid, api } = await setupProject(server.url));
  root = tempDir("pw-cache-");
  bare = path.join(root, "repo.git");
  work = path.join(root, "work");
  git(root, "init", "--quiet", "--bare", "--initial-branch=main", bare);
  git(root, "init", "--quiet", "--initial-branch=main", work);
  commitLock("v1");
});
afterAll(async () => {
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

/** Reports HIT with the cached content, or MISS after writing `bytes` bytes to the cache. */
const USE = (bytes: number) =>
  `if [ -f deps/data ]; then echo "HIT $(head -c 20 deps/data | tr -dc a-z0-9)"; else mkdir -p deps; (echo "made$PIPELINE_RUN_NUMBER"; head -c ${bytes} /dev/zero) > deps/data; echo MISS; fi`;

async function run(pl: string, branch = "main") {
  const started = await api.post(`/v5/${pid}/api/pipelines/${pl}/run`, {
    sources: [
      {
        type: "code",
        params: {
          git_type: "gitlab",
          git_url: `file://${bare}`,
          default_branch: "main",
          build_params: { build_type: "branch", target_branch: branch },
        },
      },
    ],
  });
  expect(started.status, JSON.stringify(started.body)).toBe(200);
  const runId = started.body.pipeline_run_id as string;
  const d = await waitForRun(api, pid, pl, runId, undefined, 60_000);
  const job = (d.stages as { jobs: JobView[] }[])[0]!.jobs[0]!;
  const log = await stepLog(api, pid, pl, runId, job.id, job.steps.at(-1)!.id);
  const first = await stepLog(api, pid, pl, runId, job.id, job.steps[1]!.id);
  return { status: d.status as string, log, first };
}

function cachedPipeline(key: string, bytes = 1000) {
  return createPipelineVia(api, pid, {
    definition: definition([
      {
        identifier: "s",
        jobs: [
          {
            identifier: "j",
            cache: { key, paths: ["deps"] },
            steps: [{ task: "official_git_clone", inputs: [] }, { script: USE(bytes) }],
          },
        ],
      },
    ]),
  });
}

describe("caches", () => {
  it("miss, then hit; a changed lock file misses; another branch has its own", async () => {
    const pl = await cachedPipeline("deps-${{ hashFiles('lock.txt') }}");
    const first = await run(pl);
    expect(first.status).toBe("COMPLETED");
    expect(first.first).toMatch(
      /\[pipewright\] cache deps-[0-9a-f]{64}: not found, it is saved after the job/,
    );
    expect(first.log).toMatch(/MISS\n[\s\S]*\[pipewright\] cache deps-[0-9a-f]{64}: 1 files, .* saved/);
    const second = await run(pl);
    expect(second.status).toBe("COMPLETED");
    expect(second.first).toMatch(/cache deps-[0-9a-f]{64}: 1 files restored/);
    expect(second.log).toContain("HIT made1");
    expect(second.log).not.toContain("saved");
    commitLock("v2");
    const third = await run(pl);
    expect(third.log).toContain("MISS");
    // The same lock file on another branch: its runs have their own entries.
    git(work, "push", "--quiet", bare, "main:dev");
    const other = await run(pl, "dev");
    expect(other.log).toContain("MISS");
  });

  it("fails the last step past the cap, naming it", async () => {
    const pl = await cachedPipeline("big-v1", 150_000);
    const r = await run(pl);
    expect(r.status).toBe("FAILED");
    expect(r.log).toMatch(/cache big-v1 is more than 100000 bytes, the cap on a cache \(--max-cache-bytes\)/);
  });

  it("evicts the least recently used entries of a project over its quota", async () => {
    // Three pipelines' entries of 80 kB each in a 200 kB quota: the first one saved goes.
    const pls = [];
    for (const k of ["q1", "q2", "q3"]) pls.push(await cachedPipeline(k, 80_000));
    for (const pl of pls) expect((await run(pl)).log).toContain("MISS");
    expect((await run(pls[2]!)).log).toContain("HIT");
    expect((await run(pls[1]!)).log).toContain("HIT");
    expect((await run(pls[0]!)).log).toContain("MISS");
  });
});
