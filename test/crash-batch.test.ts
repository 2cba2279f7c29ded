// A bounded kill -9 trial under batch load: rounds of batch-runs sent as fast as the server takes
// them, each round ended by SIGKILL at a random moment, then a restart on the same data dir. Every
// batch the server acknowledged keeps its runs (a resend with its Idempotency-Key answers the same
// ids), a batch whose answer was lost is either there whole or not at all, no run is created
// twice, every run ends, and no job executes twice.

import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import {
  type Client,
  client,
  createPipelineVia,
  E2E_ADMIN_TOKEN,
  runDetail,
  type ServerProcess,
  shellPipeline,
  startServerProcess,
  waitFor,
} from "./helpers/server.js";

const ROUNDS = 3;
const PIPELINES = 20;

describe("kill -9 under batch load", () => {
  const dataDir = tempDir("pipewright-crash-batch-");
  const marks = path.join(tempDir("pipewright-crash-batch-marks-"), "marks");
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.kill9();
  });

  it(`keeps every acknowledged batch whole and runs nothing twice, over ${ROUNDS} crashes`, async () => {
    server = await startServerProcess({ dataDir });
    const admin = client(server.url, E2E_ADMIN_TOKEN);
    const project = (await admin.post("/admin/v1/projects", { name: "crash-batch" })).body
      .project_id as string;
    const token = (await admin.post("/admin/v1/tokens", { name: "t", role: "admin", project_ids: [project] }))
      .body.token as string;
    let api: Client = client(server.url, token);
    const pipelines: string[] = [];
    for (let i = 0; i < PIPELINES; i++) {
      pipelines.push(
        await createPipelineVia(api, project, {
          definition: shellPipeline(`echo "$PIPELINE_RUN_ID" >> ${marks}; sleep 0.0$((RANDOM % 5))`),
        }),
      );
    }
    const batch = (key: string) =>
      api.post(
        `/v5/${project}/api/pipelines/batch-runs`,
        { pipeline_ids: pipelines },
        { "Idempotency-Key": key },
      );

    /** Key → the run ids its answer named; undefined while its answer was lost to a crash. */
    const answers = new Map<string, string[] | undefined>();
    for (let round = 0; round < ROUNDS; round++) {
      // Load until a random moment, then SIGKILL whatever the server is doing.
      const killAt = Date.now() + 300 + Math.floor(Math.random() * 700);
      let n = 0;
      const load = (async () => {
        while (Date.now() < killAt + 1000) {
          const key = `r${round}-${n++}`;
          answers.set(key, undefined);
          try {
            const res = await batch(key);
            if (res.status === 200)
              answers.set(
                key,
                res.body.result.map((r: { pipeline_run_id: string }) => r.pipeline_run_id),
              );
          } catch {
            return; // the server is gone
          }
        }
      })();
      await new Promise((r) => setTimeout(r, Math.max(0, killAt - Date.now())));
      await server.kill9();
      await load;

      server = await startServerProcess({ dataDir });
      api = api.at(server.url);
      // Resending every key: an acknowledged batch answers the same runs; one whose answer was
      // lost answers the runs it made if it was committed, or makes them now.
      for (const [key, known] of answers) {
        const res = await batch(key);
        expect(res.status, `${key}: ${JSON.stringify(res.body)}`).toBe(200);
        const ids = res.body.result.map((r: { pipeline_run_id: string }) => r.pipeline_run_id);
        if (known) expect(ids, `resend of acknowledged batch ${key}`).toEqual(known);
        answers.set(key, ids);
      }
    }

    // Every run of every batch ends; none was made twice (each pipeline has exactly the runs of the batches).
    const runIds = [...answers.values()].flatMap((ids) => ids!);
    expect(new Set(runIds).size).toBe(runIds.length);
    expect(runIds.length).toBe(answers.size * PIPELINES);
    for (const pl of pipelines) {
      const list = await api.post(`/v5/${project}/api/pipelines/${pl}/pipeline-runs/list`, { limit: 1 });
      expect(list.body.total).toBe(answers.size);
    }
    await waitFor(
      async () => {
        for (const pl of pipelines) {
          const open = await api.post(`/v5/${project}/api/pipelines/${pl}/pipeline-runs/list`, {
            status: ["QUEUED", "RUNNING", "PAUSED"],
            limit: 1,
          });
          if (open.status !== 200 || open.body.total > 0) return undefined;
        }
        return true;
      },
      120_000,
      "every run to end",
    );
    const byRun = new Map<string, number>();
    for (const line of fs.readFileSync(marks, "utf8").split("\n").filter(Boolean)) {
      byRun.set(line, (byRun.get(line) ?? 0) + 1);
    }
    // A sample of runs, every status checked: completed ones ran once, failed ones were cut short
    // by a crash and not run again.
    const sample = runIds.filter((_, i) => i % 7 === 0);
    for (const id of sample) {
      const pl = pipelines[runIds.indexOf(id) % PIPELINES]!;
      const d = await waitFor(async () => {
        const x = await runDetail(api, project, pl, id);
        return ["COMPLETED", "FAILED"].includes(x.status) ? x : undefined;
      }, 120_000);
      if (d.status === "COMPLETED") expect(byRun.get(id), id).toBe(1);
      else expect(d.stages[0].jobs[0].message).toContain("interrupted by server restart");
    }
    for (const [id, n] of byRun) expect(n, `job of run ${id} executed ${n} times`).toBe(1);
  }, 300_000);
});
