// Parameter groups (CodeArts's variable groups) and the pipeline's variable queries over HTTP,
// signed with AK/SK as the official SDKs sign: create, show, list, update, relate to a pipeline,
// the groups of a pipeline, delete; list-runtime-vars and list-system-vars. Answers are held
// against the fields of the SDK models (and the Terraform provider's reads); secrets are sealed in
// the database and masked in every answer; bad input names the field and changes nothing.
// (Runs resolving groups, and run-variables: test/variable-group-runs.test.ts.)

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  call,
  createPipeline,
  createProject,
  createTestApp,
  issueToken,
  type TestApp,
} from "./helpers/app.js";
import { holds, sdkCaller } from "./helpers/sdk-calls.js";

let t: TestApp;
let pid: string;
let ak: string;
let sk: string;
beforeAll(async () => {
  t = await createTestApp({ localRunner: false });
  pid = await createProject(t.app);
  const res = await call(t.app, "POST", "/admin/v1/access-keys", {
    token: ADMIN_TOKEN,
    body: { name: "terraform", role: "admin", project_ids: [pid] },
  });
  ({ ak, sk } = res.body);
});
afterAll(async () => {
  await t?.close();
});

const signed = sdkCaller(() => ({ app: t.app, ak, sk, projectId: pid }));

/** ShowVariableGroupDetailResponse / ListVariableGroupsRespPipelineVariableGroups. */
const GROUP_FIELDS = {
  id: "string",
  project_id: "string",
  domain_id: "string",
  name: "string",
  description: "string",
  variables: "array",
  related_pipelines: "array",
  creator_id: "string",
  updater_id: "string",
  creator_name: "string",
  updater_name: "string",
  create_time: "number",
  update_time: "number",
} as const;
/** QueryVariableGroupDetailRespVariables. */
const GROUP_VARIABLE_FIELDS = {
  name: "string",
  sequence: "number",
  type: "string",
  value: "string",
  is_secret: "boolean",
  description: "string",
} as const;
/** ListPipelineSystemVarsResp. */
const SYSTEM_VARIABLE_FIELDS = {
  name: "string",
  value: "string|null",
  type: "string",
  description: "string",
  isShow: "boolean",
  ordinal: "number",
  isAlias: "boolean",
  kind: "string",
  contextName: "string",
  sourceIdentifier: "string|null",
} as const;
/** PipelineVariable (list-runtime-vars' variables). */
const PIPELINE_VARIABLE_FIELDS = {
  name: "string",
  sequence: "number",
  type: "string",
  value: "string",
  is_secret: "boolean",
  description: "string",
  is_runtime: "boolean",
  limits: "array",
  is_reset: "boolean",
  latest_value: "string",
  pipeline_id: "string",
} as const;

const base = () => `/v5/${pid}/api/pipeline/variable/group`;
const SECRET = "pw-group-secret-Zq81";

async function createGroup(name: string, variables: unknown[] = []): Promise<string> {
  const res = await signed("POST", `${base()}/create`, { name, description: `${name} vars`, variables });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  holds(res.body, { pipeline_variable_group_id: "string" });
  return res.body.pipeline_variable_group_id;
}

describe("parameter groups", () => {
  it("create, show, list, relate to a pipeline, update keeping a masked secret, delete", async () => {
    const id = await createGroup("release", [
      {
        sequence: 1,
        name: "REGION",
        type: "string",
        value: "eu-west",
        description: "where",
        is_secret: false,
      },
      { sequence: 2, name: "DEPLOY_TOKEN", type: "string", value: SECRET, is_secret: true },
    ]);

    const shown = await signed("GET", `${base()}/${id}`);
    expect(shown.status, JSON.stringify(shown.body)).toBe(200);
    holds(shown.body, GROUP_FIELDS);
    for (const v of shown.body.variables) holds(v, GROUP_VARIABLE_FIELDS);
    expect(shown.body).toMatchObject({
      id,
      project_id: pid,
      name: "release",
      description: "release vars",
      creator_id: ak,
      creator_name: "terraform",
      updater_id: ak,
      related_pipelines: [],
    });
    expect(shown.body.create_time).toBeGreaterThan(0);
    expect(shown.body.variables).toEqual([
      {
        sequence: 1,
        name: "REGION",
        type: "string",
        value: "eu-west",
        description: "where",
        is_secret: false,
      },
      {
        sequence: 2,
        name: "DEPLOY_TOKEN",
        type: "string",
        value: "******",
        description: "",
        is_secret: true,
      },
    ]);
    expect(JSON.stringify(shown.body)).not.toContain(SECRET);

    // At rest the secret is sealed: the row holds no clear value, the plain one stays readable.
    const row = await t.store.db
      .selectFrom("variable_groups")
      .select("variables")
      .where("id", "=", id)
      .executeTakeFirstOrThrow();
    expect(row.variables).not.toContain(SECRET);
    expect(row.variables).toContain("pwsec1.");
    expect(row.variables).toContain("eu-west");

    // Related to a pipeline: the group shows it, and the pipeline lists the group.
    const other = await createGroup("other");
    const pl = await createPipeline(t.app, pid, { name: "deployer" });
    const rel = await signed("POST", `${base()}/relation`, {
      pipeline_id: pl,
      pipeline_group_ids: [id, other],
    });
    expect(rel.status, JSON.stringify(rel.body)).toBe(200);
    holds(rel.body, { success: "boolean" });
    const ofPipeline = await signed("GET", `${base()}/pipeline`, undefined, { pipelineId: pl });
    expect(ofPipeline.status).toBe(200);
    expect(ofPipeline.body.map((g: { id: string }) => g.id)).toEqual([id, other]);
    for (const g of ofPipeline.body) holds(g, GROUP_FIELDS);
    expect((await signed("GET", `${base()}/${id}`)).body.related_pipelines).toEqual([
      { id: pl, name: "deployer" },
    ]);

    // List: a page of the project's groups, filtered by a part of the name.
    const listed = await signed("POST", `${base()}/list`, { offset: 0, limit: 50, name: "eleas" });
    expect(listed.status).toBe(200);
    holds(listed.body, {
      pipeline_variable_groups: "array",
      offset: "number",
      limit: "number",
      total: "number",
    });
    expect(listed.body).toMatchObject({ offset: 0, limit: 50, total: 1 });
    holds(listed.body.pipeline_variable_groups[0], GROUP_FIELDS);
    expect(listed.body.pipeline_variable_groups[0].variables[1].value).toBe("******");
    expect(listed.body.pipeline_variable_groups[0].related_pipelines).toEqual([{ id: pl, name: "deployer" }]);
    const paged = await signed("POST", `${base()}/list`, { offset: 1, limit: 1 });
    expect(paged.body).toMatchObject({ offset: 1, limit: 1, total: 2 });
    expect(paged.body.pipeline_variable_groups.map((g: { name: string }) => g.name)).toEqual(["release"]);

    // Update as Terraform does: the whole group back, the secret as the mask it read.
    const viewerName = await call(t.app, "POST", "/admin/v1/tokens", {
      token: ADMIN_TOKEN,
      body: { name: "editor", role: "admin", project_ids: [pid] },
    });
    const upd = await call(t.app, "PUT", `${base()}/update`, {
      token: viewerName.body.token,
      body: {
        project_id: pid,
        id,
        name: "release-eu",
        description: "",
        variables: [
          ...shown.body.variables.map((v: { name: string }) =>
            v.name === "REGION" ? { ...v, value: "eu-north" } : v,
          ),
          { name: "EXTRA", value: "1" },
        ],
      },
    });
    expect(upd.status, JSON.stringify(upd.body)).toBe(200);
    const after = await t.store.getVariableGroup(pid, id);
    expect(after?.name).toBe("release-eu");
    expect(after?.variables.map((v) => [v.name, v.value])).toEqual([
      ["REGION", "eu-north"],
      ["DEPLOY_TOKEN", SECRET],
      ["EXTRA", "1"],
    ]);
    const updated = (await signed("GET", `${base()}/${id}`)).body;
    expect(updated).toMatchObject({ creator_id: ak, updater_name: "editor", description: "" });
    expect(updated.update_time).toBeGreaterThanOrEqual(shown.body.update_time);

    // Deleting a group pipelines use is refused and changes nothing; once unrelated it goes.
    const refused = await signed("DELETE", `${base()}/delete`, undefined, { id });
    expect(refused.status).toBe(409);
    expect(refused.body.error_code).toBe("DEVPIPE.00020152");
    expect(refused.body.error_msg).toContain(pl);
    expect((await signed("GET", `${base()}/${id}`)).status).toBe(200);
    await signed("POST", `${base()}/relation`, { pipeline_id: pl, pipeline_group_ids: [other] });
    const del = await signed("DELETE", `${base()}/delete`, undefined, { id });
    expect(del.status, JSON.stringify(del.body)).toBe(200);
    holds(del.body, { success: "boolean" });
    const gone = await signed("GET", `${base()}/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error_code).toBe("DEVPIPE.00020150");
    expect((await signed("GET", `${base()}/pipeline`, undefined, { pipelineId: pl })).body).toHaveLength(1);
  });

  it("refuses bad input naming the field, a taken name, unknown groups, other projects and callers without rights", async () => {
    const count = async () => (await t.store.listVariableGroups(pid, { offset: 0, limit: 100 })).total;
    const before = await count();
    const cases: [unknown, string][] = [
      [{ name: "" }, "name"],
      [{ name: "x", variables: [{ name: "bad name", value: "1" }] }, "variables[0].name"],
      [{ name: "x", variables: [{ name: "LD_PRELOAD", value: "1" }] }, "variables[0].name"],
      [{ name: "x", variables: [{ name: "A" }, { name: "A" }] }, "variables[1].name"],
      [{ name: "x", variables: [{ name: "A", type: "enum" }] }, "variables[0].type"],
      [{ name: "x", variables: [{ name: "A", is_runtime: true }] }, "is_runtime"],
      [{ name: "x", variables: [{ name: "A", value: "******", is_secret: true }] }, "variables[0].value"],
      [{ name: "x", project_id: "f".repeat(32) }, "project_id"],
    ];
    for (const [body, field] of cases) {
      const res = await signed("POST", `${base()}/create`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error_msg, JSON.stringify(body)).toContain(field);
    }
    expect(await count()).toBe(before);

    await createGroup("dup");
    const dup = await signed("POST", `${base()}/create`, { name: "dup" });
    expect(dup.status).toBe(409);
    expect(dup.body.error_code).toBe("DEVPIPE.00020151");

    const pl = await createPipeline(t.app, pid);
    const unknown = await signed("POST", `${base()}/relation`, {
      pipeline_id: pl,
      pipeline_group_ids: ["e".repeat(32)],
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error_msg).toContain("pipeline_group_ids[0]");
    const upd = await signed("PUT", `${base()}/update`, { id: "e".repeat(32), name: "y" });
    expect(upd.status).toBe(404);
    expect(upd.body.error_code).toBe("DEVPIPE.00020150");

    // Another project's group is not there for this project.
    const other = await createProject(t.app);
    const theirs = await call(t.app, "POST", `/v5/${other}/api/pipeline/variable/group/create`, {
      token: ADMIN_TOKEN,
      body: { name: "theirs" },
    });
    const theirId = theirs.body.pipeline_variable_group_id;
    expect((await signed("GET", `${base()}/${theirId}`)).status).toBe(404);
    expect(
      (await signed("POST", `${base()}/relation`, { pipeline_id: pl, pipeline_group_ids: [theirId] })).status,
    ).toBe(404);
    // … nor is that project, for a key of this one.
    const foreign = await signed("GET", `/v5/${other}/api/pipeline/variable/group/${theirId}`);
    expect(foreign.status).toBe(404);

    const viewer = await issueToken(t.app, "viewer", [pid]);
    const denied = await call(t.app, "POST", `${base()}/create`, { token: viewer, body: { name: "v" } });
    expect(denied.status).toBe(403);
    expect((await call(t.app, "POST", `${base()}/list`, { token: viewer, body: {} })).status).toBe(200);
  });
});

describe("variable queries of a pipeline", () => {
  it("list-runtime-vars answers the runtime variables, a page of them, secrets masked", async () => {
    const pl = await createPipeline(t.app, pid, {
      variables: [
        { name: "FIXED", type: "string", value: "f", is_runtime: false },
        { name: "TARGET", type: "enum", value: "dev", limits: ["dev", "prod"], is_runtime: true },
        { name: "PASS", type: "string", value: SECRET, is_secret: true, is_runtime: true },
        { name: "NOTE", type: "string", value: "n", is_runtime: true },
      ],
    });
    const path = `/v5/${pid}/api/pipelines/${pl}/list-runtime-vars`;
    const all = await signed("GET", path);
    expect(all.status, JSON.stringify(all.body)).toBe(200);
    holds(all.body, { offset: "number", limit: "number", total: "number", variables: "array" });
    for (const v of all.body.variables) holds(v, PIPELINE_VARIABLE_FIELDS);
    expect(all.body.total).toBe(3);
    expect(all.body.variables.map((v: { name: string }) => v.name)).toEqual(["TARGET", "PASS", "NOTE"]);
    expect(all.body.variables[1].value).toBe("******");
    expect(JSON.stringify(all.body)).not.toContain(SECRET);
    const page = await signed("GET", path, undefined, { offset: "1", limit: "1" });
    expect(page.body).toMatchObject({ offset: 1, limit: 1, total: 3 });
    expect(page.body.variables.map((v: { name: string }) => v.name)).toEqual(["PASS"]);
    const bad = await signed("GET", path, undefined, { limit: "-1" });
    expect(bad.status).toBe(400);
    expect(bad.body.error_msg).toContain("limit");
  });

  it("list-system-vars answers the predefined variables, valued where the pipeline tells them", async () => {
    const pl = await createPipeline(t.app, pid, { name: "sysvars" });
    const res = await signed("GET", `/v5/${pid}/api/pipelines/${pl}/list-system-vars`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(Array.isArray(res.body)).toBe(true);
    for (const v of res.body) holds(v, SYSTEM_VARIABLE_FIELDS);
    const byName = Object.fromEntries(res.body.map((v: { name: string }) => [v.name, v]));
    expect(byName.PROJECT_ID).toMatchObject({ value: pid, kind: "pipeline" });
    expect(byName.PIPELINE_NAME.value).toBe("sysvars");
    expect(byName.PIPELINE_RUN_ID).toMatchObject({ value: null, kind: "run" });
    expect(byName.WORKSPACE).toMatchObject({ value: null, kind: "job", contextName: "runner" });
    expect(res.body.map((v: { ordinal: number }) => v.ordinal)).toEqual(
      res.body.map((_: unknown, i: number) => i),
    );
    const missing = await signed("GET", `/v5/${pid}/api/pipelines/${"d".repeat(32)}/list-system-vars`);
    expect(missing.status).toBe(404);
  });
});
