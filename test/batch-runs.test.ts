// Batch runs over HTTP against a real server process: the contract of DESIGN.md.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Client,
  client,
  createPipelineVia,
  runDetail,
  type ServerProcess,
  setupProject,
  shellPipeline,
  startServerProcess,
  waitFor,
  waitForRun,
} from "./helpers/server.js";

const rand = (): string => Math.random().toString(36).slice(2, 10);
const randomId = (): string =>
  Array.from({ length: 32 }, () => Math.floor(Math.random() * 16).toString(16)).join("");

/** A script that blocks until `gate` exists (bounded), so a run stays active while a test looks. */
const waitScript = (gate: string, marker: string): string =>
  `touch "${marker}"; for i in $(seq 1 400); do [ -e "${gate}" ] && break; sleep 0.05; done; [ -e "${gate}" ]`;

describe("batch-runs", () => {
  let server: ServerProcess;
  let api: Client;
  let admin: Client;
  let pid: string;
  let tmp: string;
  beforeAll(async () => {
    server = await startServerProcess({ args: ["--max-batch-size", "50"] });
    ({ projectId: pid, api, admin } = await setupProject(server.url));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pw-batch-"));
  });
  afterAll(async () => {
    await server?.stop();
  });

  const batch = (ids: unknown, headers?: Record<string, string>, as: Client = api) =>
    as.post(`/v5/${pid}/api/pipelines/batch-runs`, { pipeline_ids: ids }, headers);

  const runCount = async (pipelineId: string, projectId = pid, as: Client = api): Promise<number> => {
    const res = await as.post(`/v5/${projectId}/api/pipelines/${pipelineId}/pipeline-runs/list`, {});
    expect(res.status).toBe(200);
    return res.body.total;
  };

  const startResults = async (
    result: { pipeline_id: string; pipeline_run_id: string }[],
  ): Promise<
    {
      pipeline_id: string;
      pipeline_run_id: string;
      pipeline_name: string;
      status: string;
      reason: string | null;
    }[]
  > => {
    const res = await api.post(`/v5/${pid}/api/pipelines/batch-runs/result`, { query: result });
    expect(res.status).toBe(200);
    return res.body.result;
  };

  const newPipelines = async (n: number, script = "true"): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++)
      ids.push(await createPipelineVia(api, pid, { definition: shellPipeline(script) }));
    return ids;
  };

  it("starts every pipeline, answers in request order, and every run really executes", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(await createPipelineVia(api, pid, { definition: shellPipeline(`echo run-${i}`) }));
    const res = await batch(ids);
    expect(res.status).toBe(200);
    expect(res.body.result.map((r: { pipeline_id: string }) => r.pipeline_id)).toEqual(ids);
    for (const r of res.body.result) expect(r.pipeline_run_id).toMatch(/^[0-9a-f]{32}$/);
    for (const [i, r] of res.body.result.entries()) {
      const d = await waitForRun(api, pid, r.pipeline_id, r.pipeline_run_id);
      expect(d.status).toBe("COMPLETED");
      const job = d.stages[0].jobs[0];
      const log = await api.post(
        `/v5/${pid}/api/pipelines/${r.pipeline_id}/pipeline-runs/${d.id}/jobs/${job.id}/steps/${job.steps[0].id}/logs`,
        { limit: 100, sort: "asc" },
      );
      expect(log.body.log).toBe(`run-${i}\n`);
    }
  });

  it("accepts 1 to max-batch-size ids: 0 and 51 are rejected with DEVPIPE.00020211 and start nothing, 50 start", async () => {
    const empty = await batch([]);
    expect(empty.status).toBe(400);
    expect(empty.body.error_code).toBe("DEVPIPE.00020211");

    const ids = await newPipelines(51);
    const tooMany = await batch(ids);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error_code).toBe("DEVPIPE.00020211");
    expect(tooMany.body.error_msg).toContain("51");
    for (const id of ids) expect(await runCount(id)).toBe(0);

    const fifty = ids.slice(0, 50);
    const ok = await batch(fifty);
    expect(ok.status).toBe(200);
    expect(ok.body.result.map((r: { pipeline_id: string }) => r.pipeline_id)).toEqual(fifty);
    expect(new Set(ok.body.result.map((r: { pipeline_run_id: string }) => r.pipeline_run_id)).size).toBe(50);
    await waitFor(
      async () => {
        const st = await api.post(`/v5/${pid}/api/pipelines/status`, fifty);
        return st.body.length === 50 && st.body.every((r: { status: string }) => r.status === "COMPLETED");
      },
      30_000,
      "50 batch runs to complete",
    );
    expect(await runCount(ids[50]!)).toBe(0);
  });

  describe("rejects the whole request when any id is bad, naming every bad id, and creates no run", () => {
    let valid: string[];
    let foreign: string;
    let other: { projectId: string; api: Client };
    beforeAll(async () => {
      valid = await newPipelines(2);
      other = await setupProject(server.url);
      foreign = await createPipelineVia(other.api, other.projectId, { definition: shellPipeline("true") });
    });

    const expectRejected = async (ids: unknown[], offending: string[]): Promise<void> => {
      const res = await batch(ids);
      expect(res.status).toBe(400);
      expect(res.body.error_code).toBe("DEVPIPE.00020210");
      for (const bad of offending) expect(res.body.error_msg).toContain(bad);
      const listed = Object.values(res.body.invalid_pipeline_ids as Record<string, string[]>).flat();
      expect([...new Set(listed)].sort()).toEqual([...new Set(offending)].sort());
      for (const id of valid) expect(await runCount(id)).toBe(0);
    };

    it("a malformed id", async () => {
      await expectRejected([valid[0], "not-a-pipeline-id", valid[1]], ["not-a-pipeline-id"]);
      await expectRejected([valid[0], valid[1]!.slice(1)], [valid[1]!.slice(1)]);
    });

    it("a duplicated id", async () => {
      await expectRejected([valid[0], valid[1], valid[0]], [valid[0]!]);
    });

    it("an unknown id", async () => {
      const unknown = randomId();
      await expectRejected([valid[0], unknown, valid[1]], [unknown]);
    });

    it("an id of another project", async () => {
      await expectRejected([valid[0], foreign, valid[1]], [foreign]);
      expect(await runCount(foreign, other.projectId, other.api)).toBe(0);
    });

    it("all kinds mixed in one request", async () => {
      const unknown = randomId();
      const malformed = `bad_${rand()}`;
      const res = await batch([valid[0], malformed, unknown, valid[1], foreign, valid[0]]);
      expect(res.status).toBe(400);
      expect(res.body.error_code).toBe("DEVPIPE.00020210");
      for (const bad of [malformed, unknown, foreign, valid[0]!]) expect(res.body.error_msg).toContain(bad);
      expect(res.body.invalid_pipeline_ids).toEqual({
        malformed: [malformed],
        duplicated: [valid[0]],
        unknown: [unknown],
        foreign: [foreign],
      });
      for (const id of valid) expect(await runCount(id)).toBe(0);
      expect(await runCount(foreign, other.projectId, other.api)).toBe(0);
    });
  });

  it("a banned pipeline and one at its ABORT limit get runs that end at once and report START_FAILED", async () => {
    const gate = path.join(tmp, `gate-${rand()}`);
    const normalName = `normal_${rand()}`;
    const bannedName = `banned_${rand()}`;
    const abortName = `abort_${rand()}`;
    const bannedMarker = path.join(tmp, `banned-ran-${rand()}`);
    const abortMarker = path.join(tmp, `abort-ran-${rand()}`);
    const normal = await createPipelineVia(api, pid, {
      name: normalName,
      definition: shellPipeline("echo hi"),
    });
    const banned = await createPipelineVia(api, pid, {
      name: bannedName,
      definition: shellPipeline(`touch "${bannedMarker}"`),
    });
    const abort = await createPipelineVia(api, pid, {
      name: abortName,
      definition: shellPipeline(waitScript(gate, abortMarker)),
      concurrency_control: { concurrency_number: 1, exceed_action: "ABORT", enable: true },
    });
    expect((await api.put(`/v5/${pid}/api/pipelines/${banned}/ban`)).status).toBe(200);
    let firstRunId = "";
    try {
      const first = await api.post(`/v5/${pid}/api/pipelines/${abort}/run`, {});
      expect(first.status).toBe(200);
      firstRunId = first.body.pipeline_run_id;
      await waitFor(async () => fs.existsSync(abortMarker), 20_000, "the first ABORT-pipeline run to start");
      fs.rmSync(abortMarker);

      const res = await batch([banned, normal, abort]);
      expect(res.status).toBe(200);
      const result = res.body.result as { pipeline_id: string; pipeline_run_id: string }[];
      expect(result.map((r) => r.pipeline_id)).toEqual([banned, normal, abort]);
      for (const r of result) expect(r.pipeline_run_id).toMatch(/^[0-9a-f]{32}$/);

      // Ended at once: the very first read is already terminal.
      const bannedRun = await runDetail(api, pid, banned, result[0]!.pipeline_run_id);
      expect(bannedRun.status).toBe("FAILED");
      expect(bannedRun.stages[0].jobs[0].status).toBe("IGNORED");
      const abortRun = await runDetail(api, pid, abort, result[2]!.pipeline_run_id);
      expect(abortRun.status).toBe("IGNORED");
      expect(abortRun.end_time).toBeGreaterThan(0);

      const report = await startResults(result);
      expect(report.map((r) => r.pipeline_run_id)).toEqual(result.map((r) => r.pipeline_run_id));
      expect(report[0]).toMatchObject({
        pipeline_id: banned,
        pipeline_name: bannedName,
        status: "START_FAILED",
        reason: "Current pipeline is banned.",
      });
      expect(report[1]).toMatchObject({
        pipeline_id: normal,
        pipeline_name: normalName,
        status: "START_SUCCESS",
        reason: null,
      });
      expect(report[2]).toMatchObject({
        pipeline_id: abort,
        pipeline_name: abortName,
        status: "START_FAILED",
      });
      expect(report[2]!.reason).toEqual(expect.stringContaining("ABORT"));

      const normalRun = await waitForRun(api, pid, normal, result[1]!.pipeline_run_id);
      expect(normalRun.status).toBe("COMPLETED");
    } finally {
      fs.writeFileSync(gate, "");
    }
    expect((await waitForRun(api, pid, abort, firstRunId)).status).toBe("COMPLETED");
    // Refused runs never executed their steps.
    expect(fs.existsSync(bannedMarker)).toBe(false);
    expect(fs.existsSync(abortMarker)).toBe(false);
    expect(await runCount(abort)).toBe(2);
    expect(await runCount(banned)).toBe(1);
  });

  it("Idempotency-Key: same key and body replays the first answer and starts nothing new; another body is 422", async () => {
    const [a, b, c] = await newPipelines(3);
    const key = `key-${rand()}`;
    const first = await batch([a, b], { "Idempotency-Key": key });
    expect(first.status).toBe(200);
    const again = await batch([a, b], { "Idempotency-Key": key });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await runCount(a!)).toBe(1);
    expect(await runCount(b!)).toBe(1);

    for (const other of [[a], [b, a], [a, b, c]]) {
      const res = await batch(other, { "Idempotency-Key": key });
      expect(res.status).toBe(422);
      expect(res.body.error_code).toBe("DEVPIPE.00020212");
    }
    expect(await runCount(a!)).toBe(1);
    expect(await runCount(b!)).toBe(1);
    expect(await runCount(c!)).toBe(0);

    // Another key is another request: it starts new runs.
    const fresh = await batch([a, b], { "Idempotency-Key": `key-${rand()}` });
    expect(fresh.status).toBe(200);
    expect(fresh.body.result[0].pipeline_run_id).not.toBe(first.body.result[0].pipeline_run_id);
    expect(await runCount(a!)).toBe(2);
    for (const r of [...first.body.result, ...fresh.body.result])
      await waitForRun(api, pid, r.pipeline_id, r.pipeline_run_id);
  });

  it("Idempotency-Key: requests sent at once with one key start the runs once and all answer them", async () => {
    const [a, b] = await newPipelines(2);
    const key = `race-${rand()}`;
    // On PostgreSQL the transactions overlap: the ones that lose the key read the winner's runs.
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => batch([a, b], { "Idempotency-Key": key })),
    );
    for (const res of answers) expect(res.status, JSON.stringify(res.body)).toBe(200);
    for (const res of answers) expect(res.body).toEqual(answers[0]!.body);
    expect(await runCount(a!)).toBe(1);
    expect(await runCount(b!)).toBe(1);
    for (const r of answers[0]!.body.result) await waitForRun(api, pid, r.pipeline_id, r.pipeline_run_id);
  });

  it("a viewer token gets 403 DEVPIPE.30011011 and no token 401, and neither starts anything", async () => {
    const [a] = await newPipelines(1);
    const t = await admin.post("/admin/v1/tokens", {
      name: `viewer_${rand()}`,
      role: "viewer",
      project_ids: [pid],
    });
    expect(t.status).toBe(200);
    const viewer = client(server.url, t.body.token);
    const denied = await batch([a], undefined, viewer);
    expect(denied.status).toBe(403);
    expect(denied.body.error_code).toBe("DEVPIPE.30011011");

    const anonymous = client(server.url, "");
    const unauth = await batch([a], undefined, anonymous);
    expect(unauth.status).toBe(401);
    expect(unauth.body.error_code).toMatch(/^DEVPIPE\.\d{8}$/);

    // The viewer may read, and sees that nothing ran.
    expect(await runCount(a!, pid, viewer)).toBe(0);
  });
});
