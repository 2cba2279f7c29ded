// Per-pipeline permissions (CodeArts's pipeline-permissions API) over HTTP: the switch, the role
// and user matrices (AK/SK-signed as the SDKs sign, answers held against the documented fields),
// and their enforcement on every endpoint they guard: one check per guarded action, refused
// without the operation and let through with it. A pipeline its matrix hides answers like a
// missing one, and lists leave it out.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  type CallResult,
  call,
  createPipeline,
  createProject,
  createTestApp,
  type TestApp,
} from "./helpers/app.js";
import { holds, sdkCaller } from "./helpers/sdk-calls.js";

let t: TestApp;
let pid: string;
let ak: string;
let sk: string;
/** Project members: two operators, a viewer and an admin, by token. */
const member: Record<"opA" | "opB" | "viewer" | "admin", { id: string; token: string }> = {} as never;

beforeAll(async () => {
  t = await createTestApp({ localRunner: false });
  pid = await createProject(t.app);
  const key = await call(t.app, "POST", "/admin/v1/access-keys", {
    token: ADMIN_TOKEN,
    body: { role: "admin", project_ids: [pid], name: "sdk" },
  });
  ({ ak, sk } = key.body);
  for (const [name, role] of [
    ["opA", "operator"],
    ["opB", "operator"],
    ["viewer", "viewer"],
    ["admin", "admin"],
  ] as const) {
    const res = await call(t.app, "POST", "/admin/v1/tokens", {
      token: ADMIN_TOKEN,
      body: { name, role, project_ids: [pid] },
    });
    member[name] = { id: res.body.id, token: res.body.token };
  }
});
afterAll(async () => {
  await t?.close();
});

const signed = sdkCaller(() => ({ app: t.app, ak, sk, projectId: pid }));

const as = (who: keyof typeof member, method: string, path: string, body?: unknown) =>
  call(t.app, method, path, { token: member[who].token, ...(body === undefined ? {} : { body }) });

const perms = (pl: string) => `/v5/${pid}/api/pipeline-permissions/${pl}`;
const ops = (query: boolean, execute: boolean, update: boolean, del: boolean, authorize: boolean) => ({
  operation_query: query,
  operation_execute: execute,
  operation_update: update,
  operation_delete: del,
  operation_authorize: authorize,
});
const OPERATOR = 2;
const VIEWER = 3;

async function setRole(pl: string, role: number, o: ReturnType<typeof ops>) {
  const res = await signed("POST", `${perms(pl)}/update-role-permission`, {
    pipeline_id: null,
    role_id: role,
    ...o,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body).toEqual({ status: "success" });
}
async function setUser(pl: string, who: keyof typeof member, o: ReturnType<typeof ops>) {
  const res = await signed("POST", `${perms(pl)}/update-user-permission`, { user_id: member[who].id, ...o });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}
async function setSwitch(pl: string, on: boolean) {
  const res = await signed("PUT", `${perms(pl)}/update-permission-switch`, undefined, { flag: String(on) });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

const OPS_FIELDS = {
  operation_query: "boolean",
  operation_execute: "boolean",
  operation_update: "boolean",
  operation_delete: "boolean",
  operation_authorize: "boolean",
};
const ROLE_FIELDS = { pipeline_id: "string", role_id: "number", role_name: "string", ...OPS_FIELDS };

/** Refused for want of an operation: 403 DEVPIPE.30011011. */
function refused(res: CallResult) {
  expect(res.status, JSON.stringify(res.body)).toBe(403);
  expect(res.body.error_code).toBe("DEVPIPE.30011011");
}
/** Let past the permission check (whatever the action then answers). */
function allowed(res: CallResult) {
  expect([403, 404], JSON.stringify(res.body)).not.toContain(res.status);
  expect(res.status).toBeLessThan(500);
}

/** A pipeline with one (queued: no runner here) run, and that run's step. */
async function pipelineWithRun() {
  const pl = await createPipeline(t.app, pid);
  const run = await signed("POST", `/v5/${pid}/api/pipelines/${pl}/run`, {});
  expect(run.status).toBe(200);
  const runId: string = run.body.pipeline_run_id;
  const d = await signed("GET", `/v5/${pid}/api/pipelines/${pl}/pipeline-runs/detail`, undefined, {
    pipeline_run_id: runId,
  });
  const job = d.body.stages.flatMap((s: { jobs: unknown[] }) => s.jobs)[0];
  return { pl, runId, jobId: job.id as string, stepId: job.steps[0].id as string };
}

describe("pipeline permissions: the API", () => {
  it("answers the role matrix, the user matrix and the switch with the documented fields", async () => {
    const pl = await createPipeline(t.app, pid);
    const sw = await signed("GET", `${perms(pl)}/permission-switch`);
    expect(sw.status).toBe(200);
    // Off by default: the pipeline follows the project's roles (CodeArts's is_use_devuc).
    expect(sw.body).toEqual({ is_use_devuc: true, is_allow_edit: true });
    const roles = await signed("GET", `${perms(pl)}/role-permission`);
    expect(roles.status).toBe(200);
    expect(Object.keys(roles.body)).toEqual(["roles"]);
    for (const r of roles.body.roles) holds(r, ROLE_FIELDS);
    expect(
      roles.body.roles.map((r: { role_id: number; role_name: string }) => [r.role_id, r.role_name]),
    ).toEqual([
      [1, "admin"],
      [2, "operator"],
      [3, "viewer"],
    ]);
    // The project roles' defaults.
    expect(roles.body.roles[1]).toMatchObject(ops(true, true, false, false, false));
    expect(roles.body.roles[2]).toMatchObject(ops(true, false, false, false, false));

    const users = await signed("GET", `${perms(pl)}/user-permission`, undefined, {
      limit: "10",
      offset: "0",
      subject: "",
    });
    expect(users.status).toBe(200);
    holds(users.body, { offset: "number", limit: "number", total: "number", users: "object" });
    for (const u of users.body.users) holds(u, { user_id: "string", user_name: "string", ...ROLE_FIELDS });
    const names = users.body.users.map((u: { user_name: string }) => u.user_name);
    expect(names).toEqual(expect.arrayContaining(["opA", "opB", "viewer", "admin", "sdk"]));
    const opA = users.body.users.find((u: { user_name: string }) => u.user_name === "opA");
    expect(opA).toMatchObject({ user_id: member.opA.id, role_id: OPERATOR, role_name: "operator" });
    // subject filters by name, paging by offset and limit.
    const one = await signed("GET", `${perms(pl)}/user-permission`, undefined, {
      subject: "OPb",
      limit: "10",
      offset: "0",
    });
    expect(one.body.users.map((u: { user_name: string }) => u.user_name)).toEqual(["opB"]);
    const page = await signed("GET", `${perms(pl)}/user-permission`, undefined, { limit: "2", offset: "1" });
    expect(page.body).toMatchObject({ offset: 1, limit: 2, total: users.body.total });
    expect(page.body.users).toEqual(users.body.users.slice(1, 3));

    await setSwitch(pl, true);
    await setRole(pl, VIEWER, ops(false, false, false, false, false));
    await setUser(pl, "opA", ops(true, true, true, false, false));
    expect((await signed("GET", `${perms(pl)}/permission-switch`)).body).toEqual({
      is_use_devuc: false,
      is_allow_edit: true,
    });
    const after = await signed("GET", `${perms(pl)}/role-permission`);
    expect(after.body.roles[2]).toMatchObject({ role_id: VIEWER, ...ops(false, false, false, false, false) });
    const rows = (
      await signed("GET", `${perms(pl)}/user-permission`, undefined, { limit: "100", offset: "0" })
    ).body.users as { user_name: string }[];
    expect(rows.find((u) => u.user_name === "opA")).toMatchObject(ops(true, true, true, false, false));
    // opB has no row of its own: its role's row.
    expect(rows.find((u) => u.user_name === "opB")).toMatchObject(ops(true, true, false, false, false));
    // An operator sees that it may not change the permissions.
    expect((await as("opB", "GET", `${perms(pl)}/permission-switch`)).body).toEqual({
      is_use_devuc: false,
      is_allow_edit: false,
    });
  });

  it("refuses bad input naming the field, and changes nothing", async () => {
    const pl = await createPipeline(t.app, pid);
    const admin = await signed("POST", `${perms(pl)}/update-role-permission`, {
      role_id: 1,
      ...ops(true, false, false, false, false),
    });
    expect(admin.status).toBe(400);
    expect(admin.body.error_msg).toContain("role_id");
    const unknown = await signed("POST", `${perms(pl)}/update-role-permission`, {
      role_id: 9,
      ...ops(true, true, true, true, true),
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error_msg).toContain("role_id");
    const partial = await signed("POST", `${perms(pl)}/update-role-permission`, {
      role_id: OPERATOR,
      operation_query: true,
    });
    expect(partial.status).toBe(400);
    expect(partial.body.error_msg).toContain("operation_execute");
    const noQuery = await signed("POST", `${perms(pl)}/update-role-permission`, {
      role_id: OPERATOR,
      ...ops(false, true, false, false, false),
    });
    expect(noQuery.status).toBe(400);
    expect(noQuery.body.error_msg).toContain("operation_query");
    const stranger = await signed("POST", `${perms(pl)}/update-user-permission`, {
      user_id: "nobody",
      ...ops(true, true, true, true, true),
    });
    expect(stranger.status).toBe(404);
    expect(stranger.body.error_code).toBe("DEVPIPE.00020160");
    const adminUser = await signed("POST", `${perms(pl)}/update-user-permission`, {
      user_id: member.admin.id,
      ...ops(true, false, false, false, false),
    });
    expect(adminUser.status).toBe(400);
    expect(adminUser.body.error_msg).toContain("user_id");
    const flag = await signed("PUT", `${perms(pl)}/update-permission-switch`, undefined, { flag: "yes" });
    expect(flag.status).toBe(400);
    expect(flag.body.error_msg).toContain("flag");
    // Nothing of the above was kept.
    expect((await signed("GET", `${perms(pl)}/permission-switch`)).body.is_use_devuc).toBe(true);
    expect((await signed("GET", `${perms(pl)}/role-permission`)).body.roles[1]).toMatchObject(
      ops(true, true, false, false, false),
    );
  });

  it("check-rights answers what the caller may do with each pipeline, and reveals nothing of others", async () => {
    const pl = await createPipeline(t.app, pid);
    await setSwitch(pl, true);
    await setUser(pl, "opA", ops(true, true, false, true, false));
    const missing = "0".repeat(32);
    const ask = (who: keyof typeof member, body: unknown) =>
      as(who, "POST", `/v5/${pid}/api/pipelines/check-rights`, body);
    const mine = await ask("opA", { resource_ids: [pl, missing], resource_type: "pipeline" });
    expect(mine.status, JSON.stringify(mine.body)).toBe(200);
    const RIGHTS = ["authorize", "banned", "copy", "delete", "execute", "query", "tag", "update"];
    expect(mine.body).toHaveLength(2);
    expect(Object.keys(mine.body[0])).toEqual([pl]);
    expect(Object.keys(mine.body[0][pl]).sort()).toEqual(RIGHTS);
    expect(mine.body[0][pl]).toEqual({
      query: true,
      update: false,
      execute: true,
      delete: true,
      banned: false,
      copy: false,
      authorize: false,
      tag: false,
    });
    expect(Object.values(mine.body[1][missing])).toEqual(RIGHTS.map(() => false));
    // The SDK-signed admin may do everything; the camel-case spelling of the body works too.
    const admin = await signed("POST", `/v5/${pid}/api/pipelines/check-rights`, { resourceIds: [pl] });
    expect(Object.values(admin.body[0][pl])).toEqual(RIGHTS.map(() => true));
    // A project the caller is not in answers as a missing one.
    const other = await createProject(t.app);
    const foreign = await as("opA", "POST", `/v5/${other}/api/pipelines/check-rights`, {
      resource_ids: [pl],
    });
    expect(foreign.status).toBe(404);
  });

  it("batch-role-permission sets the role matrix of several pipelines and their switch in one call", async () => {
    const a = await createPipeline(t.app, pid);
    const b = await createPipeline(t.app, pid);
    const res = await signed("POST", `/v5/${pid}/api/pipeline-permissions/pipeline/batch-role-permission`, {
      pipeline_ids: [a, b],
      is_project_switch: false,
      roles: [{ role_id: OPERATOR, ...ops(true, false, false, false, false) }],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    for (const pl of [a, b]) {
      expect((await signed("GET", `${perms(pl)}/permission-switch`)).body.is_use_devuc).toBe(false);
      refused(await as("opA", "POST", `/v5/${pid}/api/pipelines/${pl}/run`, {}));
    }
    // An operator may not do it (it needs authorize on each pipeline), and nothing changes.
    const denied = await as(
      "opA",
      "POST",
      `/v5/${pid}/api/pipeline-permissions/pipeline/batch-role-permission`,
      {
        pipeline_ids: [a],
        is_project_switch: true,
        roles: [],
      },
    );
    refused(denied);
    expect((await signed("GET", `${perms(a)}/permission-switch`)).body.is_use_devuc).toBe(false);
  });
});

describe("pipeline permissions: enforced on every guarded action", () => {
  it("query: a pipeline hidden from a role answers like a missing one, and lists leave it out", async () => {
    const { pl, runId, jobId, stepId } = await pipelineWithRun();
    const other = await createPipeline(t.app, pid);
    await setSwitch(pl, true);
    await setRole(pl, VIEWER, ops(false, false, false, false, false));
    const base = `/v5/${pid}/api/pipelines/${pl}`;
    const step = `${base}/pipeline-runs/${runId}/jobs/${jobId}/steps/${stepId}`;
    const reads: [string, string, unknown?][] = [
      ["GET", base],
      ["GET", `${base}/pipeline-runs/detail?pipeline_run_id=${runId}`],
      ["POST", `${base}/pipeline-runs/list`, {}],
      ["GET", `${base}/pipeline-runs/${runId}/steps/outputs`],
      ["GET", `${base}/pipeline-runs/${runId}/artifacts`],
      ["POST", `${step}/logs`, { sort: "asc", limit: 10 }],
      ["GET", `${base}/queued-pipeline`],
      ["GET", `${base}/trigger-failed-record`],
      ["GET", `${perms(pl)}/role-permission`],
      ["GET", `${perms(pl)}/permission-switch`],
      ["GET", `${base}/list-runtime-vars`],
      ["GET", `${base}/list-system-vars`],
      ["GET", `${base}/pipeline-runs/${runId}/run-variables?mode=0`],
      ["GET", `/v5/${pid}/api/pipeline/variable/group/pipeline?pipelineId=${pl}`],
    ];
    for (const [method, path, body] of reads) {
      const hidden = await as("viewer", method, path, body);
      expect(hidden.status, `${method} ${path}`).toBe(404);
      expect(hidden.body.error_code, `${method} ${path}`).toBe("DEVPIPE.00011401");
      allowed(await as("opA", method, path, body));
    }
    const listed = async (who: keyof typeof member) =>
      (
        (await as(who, "POST", `/v5/${pid}/api/pipelines/list`, { limit: 100 })).body.pipelines as {
          pipeline_id: string;
        }[]
      ).map((p) => p.pipeline_id);
    expect(await listed("viewer")).not.toContain(pl);
    expect(await listed("viewer")).toContain(other);
    expect(await listed("opA")).toContain(pl);
    // The total counts what the caller may see, so paging stays right.
    const total = async (who: keyof typeof member) =>
      (await as(who, "POST", `/v5/${pid}/api/pipelines/list`, { limit: 100 })).body.total;
    expect(await total("viewer")).toBe((await listed("viewer")).length);
    expect(await total("opA")).toBe((await listed("opA")).length);
    expect(await total("viewer")).toBeLessThan(await total("opA"));
    const status = await as("viewer", "POST", `/v5/${pid}/api/pipelines/status`, [pl]);
    expect(status.body).toEqual([]);
    expect((await as("opA", "POST", `/v5/${pid}/api/pipelines/status`, [pl])).body).toHaveLength(1);
    const result = await as("viewer", "POST", `/v5/${pid}/api/pipelines/batch-runs/result`, {
      query: [{ pipeline_id: pl, pipeline_run_id: runId }],
    });
    expect(result.body.result[0].status).toBe("START_FAILED");
    // A row of its own shows it again to that one member.
    await setUser(pl, "viewer", ops(true, false, false, false, false));
    expect((await as("viewer", "GET", base)).status).toBe(200);
    expect(await listed("viewer")).toContain(pl);
  });

  it("execute: run, batch-run, stop, cancel a queued run, retry, pass and refuse a review", async () => {
    const { pl, runId, jobId, stepId } = await pipelineWithRun();
    const base = `/v5/${pid}/api/pipelines/${pl}`;
    await setSwitch(pl, true);
    // Operators may only look at this pipeline; opB alone may run it.
    await setRole(pl, OPERATOR, ops(true, false, false, false, false));
    await setUser(pl, "opB", ops(true, true, false, false, false));
    const step = `${base}/pipeline-runs/${runId}/jobs/${jobId}/steps/${stepId}`;
    const actions: [string, string, unknown?][] = [
      ["POST", `${base}/run`, {}],
      ["POST", `/v5/${pid}/api/pipelines/batch-runs`, { pipeline_ids: [pl] }],
      ["POST", `${step}/pass`, {}],
      ["POST", `${step}/refuse`, {}],
      ["POST", `${base}/${runId}/cancel-queuing/${runId}`],
      ["POST", `${base}/pipeline-runs/${runId}/stop`],
      ["PUT", `${base}/pipeline-runs/${runId}/retry`],
    ];
    for (const [method, path, body] of actions) {
      const res = await as("opA", method, path, body);
      refused(res);
      expect(res.body.error_msg).toContain(`Your permissions on pipeline ${pl}`);
      allowed(await as("opB", method, path, body));
    }
    // The viewer's role lacks execute everywhere; a row may grant it on one pipeline.
    refused(await as("viewer", "POST", `${base}/run`, {}));
    await setUser(pl, "viewer", ops(true, true, false, false, false));
    expect((await as("viewer", "POST", `${base}/run`, {})).status).toBe(200);
    // A batch with one pipeline the caller may not run starts none of them.
    const free = await createPipeline(t.app, pid);
    const before = (await signed("POST", `/v5/${pid}/api/pipelines/${free}/pipeline-runs/list`, {})).body
      .total;
    refused(await as("opA", "POST", `/v5/${pid}/api/pipelines/batch-runs`, { pipeline_ids: [free, pl] }));
    expect((await signed("POST", `/v5/${pid}/api/pipelines/${free}/pipeline-runs/list`, {})).body.total).toBe(
      before,
    );
  });

  it("update: replace, ban, unban, the webhook, tags, its group, its parameter groups", async () => {
    const pl = await createPipeline(t.app, pid);
    const base = `/v5/${pid}/api/pipelines/${pl}`;
    const detail = (await signed("GET", base)).body;
    await setSwitch(pl, true);
    // opA may update this pipeline though an operator's role may not change pipelines.
    await setUser(pl, "opA", ops(true, false, true, false, false));
    const tag = await signed("POST", `/v5/${pid}/api/pipeline-tag/create`, {
      name: "perm",
      color: "#123456",
    });
    expect(tag.status).toBe(200);
    const tagId = (await signed("GET", `/v5/${pid}/api/pipeline-tag/list`)).body.find(
      (x: { name: string }) => x.name === "perm",
    ).tag_id;
    const actions: [string, string, unknown?][] = [
      ["PUT", base, { name: detail.name, is_publish: false, definition: detail.definition }],
      ["PUT", `${base}/ban`],
      ["PUT", `${base}/unban`],
      ["GET", `${base}/webhook`],
      ["POST", `/v5/${pid}/api/pipeline-tag/set-tags`, { pipelineList: [pl], tagList: [tagId] }],
      [
        "POST",
        `/v5/${pid}/api/pipeline-group/pipeline/move`,
        { group_id: "", pipelines: [{ pipeline_id: pl }] },
      ],
      [
        "POST",
        `/v5/${pid}/api/pipeline/variable/group/relation`,
        { pipeline_id: pl, pipeline_group_ids: [] },
      ],
    ];
    for (const [method, path, body] of actions) {
      refused(await as("opB", method, path, body));
      const res = await as("opA", method, path, body);
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(200);
    }
  });

  it("delete: DELETE and batch-delete, a result per pipeline", async () => {
    const a = await createPipeline(t.app, pid);
    const b = await createPipeline(t.app, pid);
    const names = Object.fromEntries(
      await Promise.all(
        [a, b].map(async (id) => [id, (await signed("GET", `/v5/${pid}/api/pipelines/${id}`)).body.name]),
      ),
    );
    for (const pl of [a, b]) {
      await setSwitch(pl, true);
      await setRole(pl, OPERATOR, ops(true, true, true, false, false));
    }
    await setUser(a, "opB", ops(true, true, true, true, false));
    refused(await as("opA", "DELETE", `/v5/${pid}/api/pipelines/${a}`));
    const missing = "0".repeat(32);
    const batch = await as("opB", "POST", `/v5/${pid}/api/pipelines/batch-delete`, {
      pipeline_ids: [a, b, missing],
    });
    expect(batch.status, JSON.stringify(batch.body)).toBe(200);
    for (const r of batch.body.result)
      holds(r, {
        pipeline_id: "string",
        pipeline_name: r.pipeline_name === null ? "object" : "string",
        status: "string",
        reason: r.reason === null ? "object" : "string",
      });
    expect(
      batch.body.result.map((r: { pipeline_id: string; status: string }) => [r.pipeline_id, r.status]),
    ).toEqual([
      [a, "DELETE_SUCCESS"],
      [b, "DELETE_FAILED"],
      [missing, "DELETE_FAILED"],
    ]);
    expect(batch.body.result[0]).toMatchObject({ pipeline_name: names[a], reason: null });
    expect(batch.body.result[1].reason).toContain("delete");
    expect(batch.body.result[2].reason).toContain("does not exist");
    expect((await signed("GET", `/v5/${pid}/api/pipelines/${a}`)).status).toBe(404);
    expect((await signed("GET", `/v5/${pid}/api/pipelines/${b}`)).status).toBe(200);
    // DELETE with the operation (a project admin has every one).
    expect((await as("admin", "DELETE", `/v5/${pid}/api/pipelines/${b}`)).status).toBe(200);
    // batch-delete refuses bad input as a whole, naming the field.
    const bad = await signed("POST", `/v5/${pid}/api/pipelines/batch-delete`, { pipeline_ids: ["x"] });
    expect(bad.status).toBe(400);
    expect(bad.body.error_msg).toContain("pipeline_ids[0]");
  });

  it("authorize: only a member with it changes the matrix or the switch; admins always may", async () => {
    const pl = await createPipeline(t.app, pid);
    await setSwitch(pl, true);
    const actions: [string, string, unknown?][] = [
      [
        "POST",
        `${perms(pl)}/update-role-permission`,
        { role_id: VIEWER, ...ops(true, false, false, false, false) },
      ],
      [
        "POST",
        `${perms(pl)}/update-user-permission`,
        { user_id: member.viewer.id, ...ops(true, false, false, false, false) },
      ],
      ["PUT", `${perms(pl)}/update-permission-switch?flag=true`],
      [
        "POST",
        `/v5/${pid}/api/pipeline-permissions/pipeline/batch-role-permission`,
        { pipeline_ids: [pl], is_project_switch: false, roles: [] },
      ],
    ];
    for (const [method, path, body] of actions) refused(await as("opA", method, path, body));
    await setUser(pl, "opA", ops(true, false, false, false, true));
    for (const [method, path, body] of actions) {
      const res = await as("opA", method, path, body);
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(200);
    }
    // No row locks a project admin out.
    expect((await as("admin", "PUT", `${perms(pl)}/update-permission-switch?flag=false`)).status).toBe(200);
    // Off again, the pipeline follows the project's roles: the rows are kept but do not count.
    allowed(await as("opB", "POST", `/v5/${pid}/api/pipelines/${pl}/run`, {}));
    refused(await as("opA", "PUT", `${perms(pl)}/update-permission-switch?flag=true`));
  });
});
