import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  call,
  createPipeline,
  createProject,
  createTestApp,
  issueToken,
  shellDefinition,
  type TestApp,
} from "../../test/helpers/app.js";

describe("pipeline endpoints", () => {
  let t: TestApp;
  let pid: string;
  const base = (): string => `/v5/${pid}/api/pipelines`;

  beforeEach(async () => {
    t = await createTestApp();
    pid = await createProject(t.app);
  });
  afterEach(async () => {
    await t.close();
  });

  /** Snapshot of every pipeline row, to prove that a rejected call changed nothing. */
  const snapshot = async (): Promise<unknown> =>
    t.store.db.selectFrom("pipelines").selectAll().orderBy("id").execute();

  it("creates a pipeline and shows its detail with secrets masked", async () => {
    const res = await call(t.app, "POST", `${base()}?component_id=svc1`, {
      token: ADMIN_TOKEN,
      body: {
        name: "build-web_1",
        is_publish: false,
        description: "builds the web",
        definition: shellDefinition(),
        variables: [
          { name: "TOKEN", value: "s3cret", is_secret: true, is_runtime: false },
          { name: "DEPLOY_ENV", type: "enum", value: "dev", limits: ["dev", "prod"], is_runtime: true },
        ],
        concurrency_control: { concurrency_number: 2, exceed_action: "QUEUE", enable: true },
        sources: [
          {
            type: "code",
            params: { git_type: "gitlab", git_url: "https://git.example/x.git", alias: "app" },
          },
        ],
      },
    });
    expect(res.status).toBe(200);
    const id = res.body.pipeline_id;
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const d = await call(t.app, "GET", `${base()}/${id}`, { token: ADMIN_TOKEN });
    expect(d.status).toBe(200);
    expect(d.body).toMatchObject({
      id,
      name: "build-web_1",
      description: "builds the web",
      project_id: pid,
      component_id: "svc1",
      is_publish: false,
      manifest_version: "3.0",
      banned: false,
      definition: shellDefinition(),
      concurrency_control: { concurrency_number: 2, exceed_action: "QUEUE", enable: true },
    });
    expect(d.body.variables[0]).toMatchObject({ name: "TOKEN", value: "******", is_secret: true });
    expect(d.body.variables[1]).toMatchObject({
      name: "DEPLOY_ENV",
      value: "dev",
      type: "enum",
      is_runtime: true,
    });
    expect(JSON.stringify(d.body)).not.toContain("s3cret");
    expect(typeof d.body.create_time).toBe("number");
  });

  it("updates as a full replace; a masked secret keeps its stored value", async () => {
    const id = await createPipeline(t.app, pid, {
      name: "one",
      description: "first",
      variables: [{ name: "TOKEN", value: "s3cret", is_secret: true }],
    });
    const d = await call(t.app, "GET", `${base()}/${id}`, { token: ADMIN_TOKEN });
    const { name: _n, description: _d, ...rest } = d.body;
    const upd = await call(t.app, "PUT", `${base()}/${id}?componentId=c2`, {
      token: ADMIN_TOKEN,
      body: { ...rest, name: "two", definition: shellDefinition("echo changed") },
    });
    expect(upd.status).toBe(200);
    expect(upd.body).toEqual({ pipeline_id: id });
    const after = (await t.store.getPipeline(id))!;
    expect(after.name).toBe("two");
    expect(after.description).toBe("");
    expect(after.definition).toBe(shellDefinition("echo changed"));
    expect(after.spec.variables[0]!.value).toBe("s3cret");
    expect(after.spec.component_id).toBe("c2");
  });

  it("deletes; a second delete and a detail answer DEVPIPE.00011401", async () => {
    const id = await createPipeline(t.app, pid);
    const del = await call(t.app, "DELETE", `${base()}/${id}`, { token: ADMIN_TOKEN });
    expect(del.body).toEqual({ pipeline_id: id });
    for (const [m, u] of [
      ["DELETE", `${base()}/${id}`],
      ["GET", `${base()}/${id}`],
    ] as const) {
      const res = await call(t.app, m, u, { token: ADMIN_TOKEN });
      expect(res.status).toBe(404);
      expect(res.body.error_code).toBe("DEVPIPE.00011401");
    }
  });

  it("bans and unbans; a banned pipeline cannot be updated", async () => {
    const id = await createPipeline(t.app, pid, { name: "x" });
    const ban = await call(t.app, "PUT", `${base()}/${id}/ban`, { token: ADMIN_TOKEN });
    expect(ban.status).toBe(200);
    expect(ban.body).toBe(true);
    expect((await call(t.app, "GET", `${base()}/${id}`, { token: ADMIN_TOKEN })).body.banned).toBe(true);
    const before = await snapshot();
    const upd = await call(t.app, "PUT", `${base()}/${id}`, {
      token: ADMIN_TOKEN,
      body: { name: "y", is_publish: false, definition: shellDefinition() },
    });
    expect(upd.status).toBe(409);
    expect(upd.body.error_code).toBe("DEVPIPE.00020112");
    expect(await snapshot()).toEqual(before);
    await call(t.app, "PUT", `${base()}/${id}/unban`, { token: ADMIN_TOKEN });
    expect((await t.store.getPipeline(id))!.banned).toBe(false);
  });

  it("lists with name filter, is_banned, sorting and paging (default limit 10, max 100)", async () => {
    for (let i = 0; i < 12; i++)
      await createPipeline(t.app, pid, { name: `svc_${String(i).padStart(2, "0")}` });
    await createPipeline(t.app, pid, { name: "other" });
    const first = await call(t.app, "POST", `${base()}/list`, { token: ADMIN_TOKEN, body: {} });
    expect(first.status).toBe(200);
    expect(first.body.total).toBe(13);
    expect(first.body.limit).toBe(10);
    expect(first.body.pipelines).toHaveLength(10);
    expect(first.body.pipelines[0]).toMatchObject({ name: "other", project_id: pid, latest_run: null });
    const named = await call(t.app, "POST", `${base()}/list`, {
      token: ADMIN_TOKEN,
      body: { name: "SVC_1", sort_key: "name", sort_dir: "asc" },
    });
    expect(named.body.pipelines.map((p: { name: string }) => p.name)).toEqual(["svc_10", "svc_11"]);
    const page = await call(t.app, "POST", `${base()}/list`, {
      token: ADMIN_TOKEN,
      body: { sort_key: "name", sort_dir: "asc", offset: 10, limit: 5 },
    });
    expect(page.body.pipelines.map((p: { name: string }) => p.name)).toEqual(["svc_09", "svc_10", "svc_11"]);
    const tooMany = await call(t.app, "POST", `${base()}/list`, { token: ADMIN_TOKEN, body: { limit: 101 } });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error_msg).toContain("limit");
    const badKey = await call(t.app, "POST", `${base()}/list`, {
      token: ADMIN_TOKEN,
      body: { sort_key: "size" },
    });
    expect(badKey.status).toBe(400);
    expect(badKey.body.error_msg).toMatch(/sort_key.*name, create_time, update_time/);
    const banned = (await call(t.app, "POST", `${base()}/list`, { token: ADMIN_TOKEN, body: {} })).body
      .pipelines[0].pipeline_id;
    await call(t.app, "PUT", `${base()}/${banned}/ban`, { token: ADMIN_TOKEN });
    // is_banned: whether disabled pipelines are included (the SDK's ListPipelineQuery).
    const withBanned = await call(t.app, "POST", `${base()}/list`, {
      token: ADMIN_TOKEN,
      body: { is_banned: true, limit: 100 },
    });
    expect(withBanned.body.total).toBe(13);
    expect(withBanned.body.pipelines.map((p: { pipeline_id: string }) => p.pipeline_id)).toContain(banned);
    const withoutBanned = await call(t.app, "POST", `${base()}/list`, {
      token: ADMIN_TOKEN,
      body: { is_banned: false, limit: 100 },
    });
    expect(withoutBanned.body.total).toBe(12);
    expect(withoutBanned.body.pipelines.map((p: { pipeline_id: string }) => p.pipeline_id)).not.toContain(
      banned,
    );
  });

  it("rejects invalid definitions naming the field path, creating nothing", async () => {
    const bad = JSON.parse(shellDefinition());
    bad.stages[0].jobs[0].steps[0].task = "official_docker_build";
    const cases: [string, string][] = [
      [JSON.stringify(bad), "definition.stages[0].jobs[0].steps[0].task"],
      ["{not json", "definition"],
      [JSON.stringify({ stages: [] }), "definition.stages"],
    ];
    for (const [definition, field] of cases) {
      const res = await call(t.app, "POST", base(), {
        token: ADMIN_TOKEN,
        body: { name: "p", is_publish: false, definition },
      });
      expect(res.status).toBe(400);
      expect(res.body.error_code).toBe("DEVPIPE.00020110");
      expect(res.body.error_msg).toContain(field);
    }
    expect(await snapshot()).toEqual([]);
  });

  it("rejects bad bodies with 400 naming the field, creating nothing", async () => {
    const good = { name: "p", is_publish: false, definition: shellDefinition() };
    const cases: [unknown, string][] = [
      [{ ...good, name: undefined }, "name"],
      [{ ...good, name: "has space" }, "name"],
      [{ ...good, name: "x".repeat(129) }, "name"],
      [{ ...good, is_publish: "no" }, "is_publish"],
      [{ ...good, definition: 5 }, "definition"],
      [{ ...good, description: "d".repeat(1025) }, "description"],
      [{ ...good, variables: [{ name: "bad name", value: "x" }] }, "variables[0].name"],
      [{ ...good, variables: [{ name: "A", value: "x", type: "number" }] }, "variables[0].type"],
      [
        { ...good, concurrency_control: { concurrency_number: 1, exceed_action: "DROP", enable: true } },
        "concurrency_control.exceed_action",
      ],
      [{ ...good, sources: [{ type: "svn" }] }, "sources[0].type"],
      [[1, 2], "body"],
    ];
    for (const [body, field] of cases) {
      const res = await call(t.app, "POST", base(), { token: ADMIN_TOKEN, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error_code).toMatch(/^DEVPIPE\.\d{8}$/);
      expect(res.body.error_msg, JSON.stringify(body)).toContain(field);
    }
    expect(await snapshot()).toEqual([]);
  });

  it("answers DEVPIPE.00020111 for a duplicate name", async () => {
    await createPipeline(t.app, pid, { name: "same" });
    const before = await snapshot();
    const res = await call(t.app, "POST", base(), {
      token: ADMIN_TOKEN,
      body: { name: "same", is_publish: false, definition: shellDefinition() },
    });
    expect(res.status).toBe(409);
    expect(res.body.error_code).toBe("DEVPIPE.00020111");
    expect(await snapshot()).toEqual(before);
  });

  it("answers DEVPIPE.00011136 for a pipeline of another project, changing nothing", async () => {
    const other = await createProject(t.app);
    const id = await createPipeline(t.app, other);
    const before = await snapshot();
    for (const [m, suffix] of [
      ["GET", ""],
      ["DELETE", ""],
      ["PUT", "/ban"],
    ] as const) {
      const res = await call(t.app, m, `${base()}/${id}${suffix}`, { token: ADMIN_TOKEN });
      expect(res.status).toBe(400);
      expect(res.body.error_code).toBe("DEVPIPE.00011136");
    }
    expect(await snapshot()).toEqual(before);
  });

  it("answers DEVPIPE.00011412 for a project the caller may not see or that does not exist", async () => {
    const other = await createProject(t.app);
    const token = await issueToken(t.app, "admin", [pid]);
    const res = await call(t.app, "POST", `/v5/${other}/api/pipelines/list`, { token, body: {} });
    expect(res.status).toBe(404);
    expect(res.body.error_code).toBe("DEVPIPE.00011412");
    const create = await call(t.app, "POST", `/v5/${other}/api/pipelines`, {
      token,
      body: { name: "x", is_publish: false, definition: shellDefinition() },
    });
    expect(create.body.error_code).toBe("DEVPIPE.00011412");
    const missing = await call(t.app, "POST", `/v5/${"e".repeat(32)}/api/pipelines/list`, {
      token: ADMIN_TOKEN,
      body: {},
    });
    expect(missing.body.error_code).toBe("DEVPIPE.00011412");
    expect(await snapshot()).toEqual([]);
  });

  it("lets a viewer read but not change (403 DEVPIPE.30011011)", async () => {
    const id = await createPipeline(t.app, pid, { name: "keep" });
    const viewer = await issueToken(t.app, "viewer", [pid]);
    expect((await call(t.app, "GET", `${base()}/${id}`, { token: viewer })).status).toBe(200);
    const before = await snapshot();
    const attempts: [string, string, unknown][] = [
      ["POST", base(), { name: "new", is_publish: false, definition: shellDefinition() }],
      ["PUT", `${base()}/${id}`, { name: "renamed", is_publish: false, definition: shellDefinition() }],
      ["DELETE", `${base()}/${id}`, undefined],
      ["PUT", `${base()}/${id}/ban`, undefined],
    ];
    for (const [m, u, body] of attempts) {
      const res = await call(t.app, m, u, { token: viewer, body });
      expect(res.status, `${m} ${u}`).toBe(403);
      expect(res.body.error_code).toBe("DEVPIPE.30011011");
    }
    expect(await snapshot()).toEqual(before);
    const operator = await issueToken(t.app, "operator", [pid]);
    expect((await call(t.app, "DELETE", `${base()}/${id}`, { token: operator })).status).toBe(403);
  });

  it("rejects malformed ids in the path with 400 naming the parameter", async () => {
    const res = await call(t.app, "GET", `${base()}/not-an-id`, { token: ADMIN_TOKEN });
    expect(res.status).toBe(400);
    expect(res.body.error_msg).toContain("pipeline_id");
    const bad = await call(t.app, "POST", "/v5/short/api/pipelines/list", { token: ADMIN_TOKEN, body: {} });
    expect(bad.status).toBe(400);
    expect(bad.body.error_msg).toContain("project_id");
  });
});
