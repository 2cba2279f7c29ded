// Pipeline groups (CodeArts's pipeline-group API) over HTTP, signed with AK/SK as the official
// SDKs sign: create (answering the group), rename, the tree (a bare array of PipelineGroupVo with
// its children), move pipelines, swap two groups, delete (subgroups too, pipelines ungrouped),
// the pipeline list filtered by group, and a group started as one batch whose runs all execute.
// Answers are held against the fields of the SDK's models; bad input names the field.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  type CallResult,
  call,
  createPipeline,
  createProject,
  createTestApp,
  issueToken,
  shellDefinition,
  type TestApp,
} from "./helpers/app.js";
import { holds, sdkCaller } from "./helpers/sdk-calls.js";
import { signRequest } from "./helpers/sdk-signer.js";

/** PipelineGroupVo and CreatePipelineGroupResponse (the same fields). */
const GROUP_FIELDS = {
  id: "string",
  domain_id: "string",
  project_id: "string",
  name: "string",
  parent_id: "string",
  path_id: "string",
  ordinal: "number",
  creator: "string",
  updater: "string|null",
  create_time: "number",
  update_time: "number|null",
  pipeline_count: "number",
  no_group_count: "number",
  children: "object",
} as const;
/** PipelineMoveToGroupResponseVo. */
const MOVE_FIELDS = { code: "string", pipeline_id: "string", pipeline_name: "string" } as const;

interface Group {
  id: string;
  name: string;
  parent_id: string;
  path_id: string;
  ordinal: number;
  creator: string;
  updater: string | null;
  update_time: number | null;
  pipeline_count: number;
  no_group_count: number;
  children: Group[];
}

/** Every node of a tree, each held against the model. */
function nodes(tree: Group[]): Group[] {
  return tree.flatMap((g) => {
    holds(g as unknown as Record<string, unknown>, GROUP_FIELDS);
    return [g, ...nodes(g.children)];
  });
}

let t: TestApp;
let pid: string;
let ak: string;
let sk: string;

const signed = sdkCaller(() => ({ app: t.app, ak, sk, projectId: pid }));

const base = () => `/v5/${pid}/api/pipeline-group`;
const create = (name: string, parent_id?: string) =>
  signed("POST", `${base()}/create`, {
    name,
    project_id: pid,
    ...(parent_id === undefined ? {} : { parent_id }),
  });
const tree = async (): Promise<Group[]> => {
  const res = await signed("GET", `${base()}/tree`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(Array.isArray(res.body)).toBe(true);
  return res.body;
};
const byName = async (): Promise<Record<string, Group>> =>
  Object.fromEntries(nodes(await tree()).map((g) => [g.name, g]));
const move = (group_id: string, ids: string[]) =>
  signed("POST", `${base()}/pipeline/move`, {
    group_id,
    pipelines: ids.map((pipeline_id) => ({ pipeline_id, pipeline_name: "as the console sends it" })),
  });
const listed = async (body: Record<string, unknown>): Promise<string[]> => {
  const res = await signed("POST", `/v5/${pid}/api/pipelines/list`, { limit: 100, ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return (res.body.pipelines as { pipeline_id: string }[]).map((p) => p.pipeline_id).sort();
};
const groupOf = async (pipelineId: string): Promise<string | null> =>
  (await signed("GET", `/v5/${pid}/api/pipelines/${pipelineId}`)).body.group_id;
const expectError = (res: CallResult, status: number, code: string, words: string) => {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.error_code).toBe(code);
  expect(res.body.error_msg).toContain(words);
};

beforeAll(async () => {
  t = await createTestApp({ maxBatchSize: 4 });
  pid = await createProject(t.app);
  const res = await call(t.app, "POST", "/admin/v1/access-keys", {
    token: ADMIN_TOKEN,
    body: { role: "admin", project_ids: [pid] },
  });
  ({ ak, sk } = res.body);
});
afterAll(async () => {
  await t?.close();
});

describe("pipeline groups", () => {
  it("create answers the group; the tree nests children by ordinal with paths, counts and who made them", async () => {
    const made = await create("backend");
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    holds(made.body, GROUP_FIELDS);
    expect(made.body).toMatchObject({
      name: "backend",
      project_id: pid,
      parent_id: "",
      path_id: made.body.id,
      ordinal: 1,
      creator: ak,
      updater: null,
      update_time: null,
      children: [],
    });
    expect((await create("frontend")).body.ordinal).toBe(2);
    const api = (await create("api", made.body.id)).body;
    expect(api).toMatchObject({ parent_id: made.body.id, path_id: `${made.body.id}.${api.id}`, ordinal: 1 });
    const v1 = (await create("v1", api.id)).body;
    expect(v1.path_id).toBe(`${made.body.id}.${api.id}.${v1.id}`);
    // The same name under another parent is another group.
    const rootApi = await create("api");
    expect(rootApi.status).toBe(200);

    const roots = await tree();
    expect(roots.map((g) => g.name)).toEqual(["backend", "frontend", "api"]);
    expect(roots[0]!.children.map((g) => g.name)).toEqual(["api"]);
    expect(roots[0]!.children[0]!.children.map((g) => g.name)).toEqual(["v1"]);
    expect((await signed("DELETE", `${base()}/delete`, undefined, { id: rootApi.body.id })).status).toBe(200);

    // Counts: a group's pipelines and those below it; the project's ungrouped on every node.
    const [p1, p2, p3] = [
      await createPipeline(t.app, pid),
      await createPipeline(t.app, pid),
      await createPipeline(t.app, pid),
    ];
    const moved = await move(v1.id, [p1!, p2!]);
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(Array.isArray(moved.body)).toBe(true);
    for (const m of moved.body) holds(m, MOVE_FIELDS);
    expect(moved.body.map((m: { code: string }) => m.code)).toEqual(["success", "success"]);
    // The answer carries the pipeline's own name, not what the request echoed.
    const detail = (await signed("GET", `/v5/${pid}/api/pipelines/${p1}`)).body;
    expect(moved.body[0]).toEqual({ code: "success", pipeline_id: p1, pipeline_name: detail.name });
    await move(api.id, [p3!]);
    const g = await byName();
    expect(g.backend!.pipeline_count).toBe(3);
    expect(g.api!.children.length).toBe(1);
    expect(g.v1!.pipeline_count).toBe(2);
    expect(g.frontend!.pipeline_count).toBe(0);
    const ungrouped = (await listed({ by_group: true })).length;
    for (const node of Object.values(g)) expect(node.no_group_count).toBe(ungrouped);
    expect(ungrouped).toBe(0);
  });

  it("refuses a fourth level, a sibling's name, an unknown parent and bad fields, naming them", async () => {
    const top = (await create("deep")).body;
    const two = (await create("two", top.id)).body;
    const three = (await create("three", two.id)).body;
    expectError(await create("four", three.id), 400, "DEVPIPE.00020142", "parent_id");
    expectError(await create("two", top.id), 409, "DEVPIPE.00020141", "two");
    expectError(await create("x", "f".repeat(32)), 404, "DEVPIPE.00020140", "parent_id");
    const blank = await create("   ");
    expect(blank.status).toBe(400);
    expect(blank.body.error_msg).toContain("name");
    const other = await signed("POST", `${base()}/create`, { name: "x", project_id: "e".repeat(32) });
    expectError(other, 400, "DEVPIPE.00020100", "project_id");
    const extra = await signed("POST", `${base()}/create`, { name: "x", project_id: pid, color: "#fff" });
    expect(extra.status).toBe(400);
    expect(extra.body.error_msg).toContain("color");
    // Nothing of these was made.
    expect(Object.keys(await byName()).filter((n) => ["four", "x", "   "].includes(n))).toEqual([]);
  });

  it("update renames (recording who and when); a sibling's name is refused", async () => {
    const a = (await create("rename-me")).body;
    await create("taken");
    const ok = await signed("POST", `${base()}/update`, { id: a.id, name: "renamed" });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    holds(ok.body, { success: "boolean" });
    const g = (await byName()).renamed!;
    expect(g).toMatchObject({ id: a.id, updater: ak });
    expect(typeof g.update_time).toBe("number");
    expectError(
      await signed("POST", `${base()}/update`, { id: a.id, name: "taken" }),
      409,
      "DEVPIPE.00020141",
      "taken",
    );
    expectError(
      await signed("POST", `${base()}/update`, { id: "f".repeat(32), name: "y" }),
      404,
      "DEVPIPE.00020140",
      "id",
    );
  });

  it("move takes a pipeline out of the group it was in; '' ungroups; an unknown pipeline moves none", async () => {
    const a = (await create("move-a")).body;
    const b = (await create("move-b")).body;
    const [p, q] = [await createPipeline(t.app, pid), await createPipeline(t.app, pid)];
    await move(a.id, [p, q]);
    expect(await groupOf(p)).toBe(a.id);
    await move(b.id, [p]);
    expect(await groupOf(p)).toBe(b.id);
    expect(await listed({ group_path_id: a.id })).toEqual([q]);
    await move("", [q]);
    expect(await groupOf(q)).toBeNull();
    expect(await listed({ by_group: true })).toContain(q);

    const unknown = await move(a.id, [p, "f".repeat(32)]);
    expect(unknown.status).toBe(404);
    expect(await groupOf(p)).toBe(b.id);
    const otherProject = await createProject(t.app);
    const foreign = await createPipeline(t.app, otherProject);
    expect((await move(a.id, [foreign])).status).toBeGreaterThanOrEqual(400);
    expect(await groupOf(p)).toBe(b.id);
    expectError(await move("e".repeat(32), [p]), 404, "DEVPIPE.00020140", "group_id");
  });

  it("the list filters by group_path_id (subgroups included) and by_group (that group only, or ungrouped)", async () => {
    const top = (await create("list-top")).body;
    const sub = (await create("list-sub", top.id)).body;
    const [inTop, inSub, loose] = [
      await createPipeline(t.app, pid),
      await createPipeline(t.app, pid),
      await createPipeline(t.app, pid),
    ];
    await move(top.id, [inTop]);
    await move(sub.id, [inSub]);
    expect(await listed({ group_path_id: top.id })).toEqual([inTop, inSub].sort());
    expect(await listed({ group_path_id: top.id, by_group: true })).toEqual([inTop]);
    expect(await listed({ group_path_id: sub.path_id })).toEqual([inSub]);
    expect(await listed({ group_path_id: sub.id })).toEqual([inSub]);
    const ungrouped = await listed({ by_group: true });
    expect(ungrouped).toContain(loose);
    expect(ungrouped).not.toContain(inTop);
    // An empty group_path_id is no filter.
    expect(await listed({ group_path_id: "" })).toEqual(expect.arrayContaining([inTop, inSub, loose]));
    const unknown = await signed("POST", `/v5/${pid}/api/pipelines/list`, { group_path_id: "f".repeat(32) });
    expectError(unknown, 404, "DEVPIPE.00020140", "group_path_id");
    const wrongPath = await signed("POST", `/v5/${pid}/api/pipelines/list`, {
      group_path_id: `${sub.id}.${top.id}`,
    });
    expect(wrongPath.status).toBe(404);
  });

  it("a pipeline is created in a group, and an update without group_id keeps it", async () => {
    const g = (await create("created-in")).body;
    const p = await createPipeline(t.app, pid, { group_id: g.id });
    expect(await groupOf(p)).toBe(g.id);
    const d = (await signed("GET", `/v5/${pid}/api/pipelines/${p}`)).body;
    const put = await signed("PUT", `/v5/${pid}/api/pipelines/${p}`, {
      name: d.name,
      is_publish: false,
      definition: d.definition,
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(await groupOf(p)).toBe(g.id);
    await signed("PUT", `/v5/${pid}/api/pipelines/${p}`, {
      name: d.name,
      is_publish: false,
      definition: d.definition,
      group_id: null,
    });
    expect(await groupOf(p)).toBeNull();
    const bad = await signed("POST", `/v5/${pid}/api/pipelines`, {
      name: "in-no-group",
      is_publish: false,
      definition: shellDefinition(),
      group_id: "f".repeat(32),
    });
    expectError(bad, 404, "DEVPIPE.00020140", "group_id");
  });

  it("swap exchanges two siblings' places; groups of different parents are refused", async () => {
    const before = (await tree()).map((g) => g.name);
    const g = await byName();
    const res = await signed("POST", `${base()}/swap`, undefined, {
      groupId1: g.backend!.id,
      groupId2: g.frontend!.id,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    holds(res.body, { success: "boolean" });
    const after = (await tree()).map((x) => x.name);
    const i = before.indexOf("backend");
    const j = before.indexOf("frontend");
    const expected = [...before];
    [expected[i], expected[j]] = [expected[j]!, expected[i]!];
    expect(after).toEqual(expected);
    const swapped = await byName();
    expect(swapped.backend!.ordinal).toBe(g.frontend!.ordinal);
    expect(swapped.frontend!.updater).toBe(ak);
    const notSiblings = await signed("POST", `${base()}/swap`, undefined, {
      groupId1: g.backend!.id,
      groupId2: g.v1!.id,
    });
    expectError(notSiblings, 400, "DEVPIPE.00020144", "groupId2");
    const self = await signed("POST", `${base()}/swap`, undefined, {
      groupId1: g.api!.id,
      groupId2: g.api!.id,
    });
    expect(self.status).toBe(400);
  });

  it("delete removes the group and the groups below it; their pipelines become ungrouped", async () => {
    const top = (await create("doomed")).body;
    const sub = (await create("doomed-sub", top.id)).body;
    const keep = (await create("kept")).body;
    const [a, b, c] = [
      await createPipeline(t.app, pid),
      await createPipeline(t.app, pid),
      await createPipeline(t.app, pid),
    ];
    await move(top.id, [a]);
    await move(sub.id, [b]);
    await move(keep.id, [c]);
    const del = await signed("DELETE", `${base()}/delete`, undefined, { id: top.id });
    expect(del.status, JSON.stringify(del.body)).toBe(200);
    holds(del.body, { success: "boolean" });
    const names = Object.keys(await byName());
    expect(names).not.toContain("doomed");
    expect(names).not.toContain("doomed-sub");
    expect(await groupOf(a)).toBeNull();
    expect(await groupOf(b)).toBeNull();
    expect(await groupOf(c)).toBe(keep.id);
    expect(await listed({ by_group: true })).toEqual(expect.arrayContaining([a, b]));
    expectError(
      await signed("DELETE", `${base()}/delete`, undefined, { id: top.id }),
      404,
      "DEVPIPE.00020140",
      "id",
    );
  });

  it("viewers read the tree but change nothing; another project's group is not found there", async () => {
    const viewer = await issueToken(t.app, "viewer", [pid]);
    expect((await call(t.app, "GET", `${base()}/tree`, { token: viewer })).status).toBe(200);
    const denied = await call(t.app, "POST", `${base()}/create`, {
      token: viewer,
      body: { name: "nope", project_id: pid },
    });
    expect(denied.status).toBe(403);
    const g = (await create("mine")).body;
    const other = await createProject(t.app);
    const theirs = await call(t.app, "POST", `/v5/${other}/api/pipeline-group/update`, {
      token: ADMIN_TOKEN,
      body: { id: g.id, name: "stolen" },
    });
    expect(theirs.status).toBe(404);
    expect((await byName()).mine).toBeDefined();
    expect(
      (await call(t.app, "GET", `/v5/${other}/api/pipeline-group/tree`, { token: ADMIN_TOKEN })).body,
    ).toEqual([]);
  });
});

describe("a group as a batch selector", () => {
  const batch = (body: unknown, key?: string) => {
    const text = JSON.stringify(body);
    const path = `/v5/${pid}/api/pipelines/batch-runs`;
    const headers = {
      ...signRequest({ ak, sk, method: "POST", host: "localhost:80", path, body: text, projectId: pid }),
      ...(key ? { "idempotency-key": key } : {}),
    };
    return call(t.app, "POST", path, { headers, rawBody: text });
  };
  const finished = async (pipelineId: string, runId: string) => {
    for (let i = 0; i < 400; i++) {
      const d = await signed(
        "GET",
        `/v5/${pid}/api/pipelines/${pipelineId}/pipeline-runs/detail`,
        undefined,
        { pipeline_run_id: runId },
      );
      if (["COMPLETED", "FAILED", "CANCELED"].includes(d.body.status)) return d.body;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`run ${runId} did not finish`);
  };

  it("starts every pipeline of the group and its subgroups in one idempotent batch; each run executes", async () => {
    const top = (await create("run-me")).body;
    const sub = (await create("run-me-sub", top.id)).body;
    const ids = [
      await createPipeline(t.app, pid, { name: "grp_a", definition: shellDefinition("echo a") }),
      await createPipeline(t.app, pid, { name: "grp_b", definition: shellDefinition("echo b") }),
      await createPipeline(t.app, pid, { name: "grp_c", definition: shellDefinition("echo c") }),
    ];
    const outside = await createPipeline(t.app, pid, { name: "grp_outside" });
    await move(top.id, [ids[0]!, ids[1]!]);
    await move(sub.id, [ids[2]!]);
    const res = await batch({ group_id: top.id }, "group-key-1");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    holds(res.body, { result: "object" });
    // By name, every one of the group and its subgroup, and no other.
    expect(res.body.result.map((r: { pipeline_id: string }) => r.pipeline_id)).toEqual(ids);
    for (const r of res.body.result) {
      holds(r, { pipeline_id: "string", pipeline_run_id: "string" });
      expect((await finished(r.pipeline_id, r.pipeline_run_id)).status).toBe("COMPLETED");
    }
    const runsOf = async (id: string) =>
      (await signed("POST", `/v5/${pid}/api/pipelines/${id}/pipeline-runs/list`, {})).body.total;
    expect(await runsOf(outside)).toBe(0);
    // The same key again answers the same runs and starts nothing, even after the group changed.
    await move("", [ids[1]!]);
    const again = await batch({ group_id: top.id }, "group-key-1");
    expect(again.status).toBe(200);
    expect(again.body).toEqual(res.body);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    for (const id of ids) expect(await runsOf(id)).toBe(1);
  });

  it("a disabled pipeline's run says it is banned; an empty or too large group, or both selectors, start nothing", async () => {
    const g = (await create("with-banned")).body;
    const on = await createPipeline(t.app, pid, { name: "ban_a_on" });
    const off = await createPipeline(t.app, pid, { name: "ban_b_off" });
    await move(g.id, [on, off]);
    await signed("PUT", `/v5/${pid}/api/pipelines/${off}/ban`);
    const res = await batch({ group_id: g.id });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const results = await signed("POST", `/v5/${pid}/api/pipelines/batch-runs/result`, {
      query: res.body.result,
    });
    const byPipeline = Object.fromEntries(
      results.body.result.map((r: { pipeline_id: string; status: string; reason: string | null }) => [
        r.pipeline_id,
        r,
      ]),
    );
    expect(byPipeline[on]).toMatchObject({ status: "START_SUCCESS" });
    expect(byPipeline[off]).toMatchObject({ status: "START_FAILED", reason: "Current pipeline is banned." });
    expect((await finished(on, byPipeline[on].pipeline_run_id)).status).toBe("COMPLETED");

    const empty = (await create("empty-group")).body;
    expectError(await batch({ group_id: empty.id }), 400, "DEVPIPE.00020145", "empty-group");
    const big = (await create("too-big")).body;
    const many: string[] = [];
    for (let i = 0; i < 5; i++) many.push(await createPipeline(t.app, pid));
    await move(big.id, many);
    expectError(await batch({ group_id: big.id }), 400, "DEVPIPE.00020146", "too-big");
    for (const id of many)
      expect((await signed("POST", `/v5/${pid}/api/pipelines/${id}/pipeline-runs/list`, {})).body.total).toBe(
        0,
      );
    expectError(await batch({ group_id: g.id, pipeline_ids: [on] }), 400, "DEVPIPE.00020100", "group_id");
    expectError(await batch({}), 400, "DEVPIPE.00020100", "pipeline_ids");
    expectError(await batch({ group_id: "f".repeat(32) }), 404, "DEVPIPE.00020140", "group_id");
  });
});
