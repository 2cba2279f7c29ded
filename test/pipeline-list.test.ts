// ListPipelines (spec §4.14) with every filter of the SDK's ListPipelineQuery honoured — status,
// creators, executors, component, the latest run's time, several projects, disabled pipelines,
// security levels — or refused with a 400 naming it (groups, which do not exist yet; a field the
// query does not have). The server runs without a runner: runs stay QUEUED unless stopped.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  call,
  createPipeline,
  createProject,
  createTestApp,
  issueToken,
  shellDefinition,
  type TestApp,
} from "./helpers/app.js";

let t: TestApp;
let pid: string;
let other: string;
let alice: string;
let bob: string;
const ids: Record<string, string> = {};

const list = (body: Record<string, unknown>, token = ADMIN_TOKEN, project = pid) =>
  call(t.app, "POST", `/v5/${project}/api/pipelines/list`, { token, body });
const names = async (body: Record<string, unknown>, token = ADMIN_TOKEN) => {
  const res = await list(body, token);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return (res.body.pipelines as { name: string }[]).map((p) => p.name).sort();
};

beforeAll(async () => {
  t = await createTestApp({ localRunner: false });
  pid = await createProject(t.app);
  other = await createProject(t.app);
  alice = await issueToken(t.app, "admin", [pid, other]);
  bob = await issueToken(t.app, "admin", [pid]);
  ids.never = await createPipeline(t.app, pid, { name: "never" }, alice);
  ids.queued = await createPipeline(t.app, pid, { name: "queued" }, alice);
  ids.stopped = await createPipeline(t.app, pid, { name: "stopped" }, bob);
  ids.banned = await createPipeline(t.app, pid, { name: "banned" }, bob);
  const svc = await call(t.app, "POST", `/v5/${pid}/api/pipelines?component_id=svc-1`, {
    token: alice,
    body: { name: "component", is_publish: false, definition: shellDefinition() },
  });
  expect(svc.status).toBe(200);
  ids.component = svc.body.pipeline_id;
  ids.elsewhere = await createPipeline(t.app, other, { name: "elsewhere" }, alice);
  const run = (p: string, token: string, project = pid) =>
    call(t.app, "POST", `/v5/${project}/api/pipelines/${p}/run`, { token, body: {} });
  expect((await run(ids.queued!, alice)).status).toBe(200);
  const s = await run(ids.stopped!, bob);
  await call(
    t.app,
    "POST",
    `/v5/${pid}/api/pipelines/${ids.stopped}/pipeline-runs/${s.body.pipeline_run_id}/stop`,
    {
      token: bob,
      body: {},
    },
  );
  await run(ids.elsewhere!, alice, other);
  await call(t.app, "PUT", `/v5/${pid}/api/pipelines/${ids.banned}/ban`, { token: ADMIN_TOKEN });
});
afterAll(async () => {
  await t?.close();
});

describe("ListPipelines filters", () => {
  it("status matches each pipeline's latest run; a pipeline that never ran matches none", async () => {
    expect(await names({ status: ["QUEUED"] })).toEqual(["queued"]);
    expect(await names({ status: ["CANCELED", "QUEUED"] })).toEqual(["queued", "stopped"]);
    expect(await names({ status: ["COMPLETED"] })).toEqual([]);
  });

  it("is_banned says whether disabled pipelines are included (absent: they are)", async () => {
    expect(await names({})).toContain("banned");
    expect(await names({ is_banned: true })).toContain("banned");
    expect(await names({ is_banned: false })).not.toContain("banned");
  });

  it("filters by creator, executor and component", async () => {
    const detail = await call(t.app, "GET", `/v5/${pid}/api/pipelines/${ids.stopped}`, {
      token: ADMIN_TOKEN,
    });
    const bobId = detail.body.creator_id as string;
    const aliceId = (
      await call(t.app, "GET", `/v5/${pid}/api/pipelines/${ids.never}`, { token: ADMIN_TOKEN })
    ).body.creator_id as string;
    expect(bobId).not.toBe(aliceId);
    expect(await names({ creator_id: bobId })).toEqual(["banned", "stopped"]);
    expect(await names({ creator_ids: [aliceId] })).toEqual(["component", "never", "queued"]);
    expect(await names({ executor_ids: [bobId] })).toEqual(["stopped"]);
    expect(await names({ component_id: "svc-1" })).toEqual(["component"]);
  });

  it("filters by when the latest run started, in epoch ms or a date-time", async () => {
    const now = Date.now();
    expect(await names({ start_time: String(now - 3_600_000) })).toEqual(["queued", "stopped"]);
    expect(await names({ start_time: String(now + 3_600_000) })).toEqual([]);
    expect(await names({ end_time: "2000-01-01 00:00:00" })).toEqual([]);
    expect(
      await names({ start_time: "2000-01-01T00:00:00Z", end_time: new Date(now + 3_600_000).toISOString() }),
    ).toEqual(["queued", "stopped"]);
  });

  it("lists several projects the caller may read, and refuses one it may not as it refuses it elsewhere", async () => {
    expect(await names({ project_ids: [pid, other] }, alice)).toEqual([
      "banned",
      "component",
      "elsewhere",
      "never",
      "queued",
      "stopped",
    ]);
    // As when bob lists `other` itself: the project is not his to see.
    const direct = await list({}, bob, other);
    const denied = await list({ project_ids: [pid, other] }, bob);
    expect(direct.status).toBeGreaterThanOrEqual(403);
    expect(denied.status).toBe(direct.status);
    expect(denied.body.error_code).toBe(direct.body.error_code);
  });

  it("has no pipeline of a security level (0: none set); query_new is accepted", async () => {
    expect(await names({ security_level_list: [1, 2] })).toEqual([]);
    expect((await names({ security_level_list: [0] })).length).toBe(5);
    expect((await names({ query_new: false })).length).toBe(5);
  });

  it.each([
    [{ by_group: "yes" }, "by_group"],
    [{ unknown_filter: 1 }, "unknown_filter"],
    [{ status: ["DONE"] }, "status[0]"],
    [{ start_time: "yesterday" }, "start_time: must be epoch milliseconds or a date-time"],
    [{ project_id: "f".repeat(32) }, "project_id: must be the project of the path"],
  ])("refuses %j, naming the field", async (body, message) => {
    const res = await list(body);
    expect(res.status).toBe(400);
    expect(res.body.error_msg).toContain(message);
  });
});
