import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  call,
  createProject,
  createTestApp,
  issueToken,
  type TestApp,
} from "../../test/helpers/app.js";

describe("admin API", () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp({ localRunner: false });
  });
  afterEach(async () => {
    await t.close();
  });

  it("creates and lists projects; names are unique; only the bootstrap admin creates", async () => {
    const res = await call(t.app, "POST", "/admin/v1/projects", {
      token: ADMIN_TOKEN,
      body: { name: "web" },
    });
    expect(res.status).toBe(200);
    expect(res.body.project_id).toMatch(/^[0-9a-f]{32}$/);
    expect(res.body.name).toBe("web");

    const dup = await call(t.app, "POST", "/admin/v1/projects", {
      token: ADMIN_TOKEN,
      body: { name: "web" },
    });
    expect(dup.status).toBe(409);
    expect(dup.body.error_code).toBe("DEVPIPE.00020122");

    const admin = await issueToken(t.app, "admin", [res.body.project_id]);
    const denied = await call(t.app, "POST", "/admin/v1/projects", { token: admin, body: { name: "other" } });
    expect(denied.status).toBe(403);
    expect(denied.body.error_code).toBe("DEVPIPE.00020003");

    const list = await call(t.app, "GET", "/admin/v1/projects", { token: ADMIN_TOKEN });
    expect(list.body.projects.map((p: { name: string }) => p.name)).toEqual(["web"]);
    const listAdmin = await call(t.app, "GET", "/admin/v1/projects", { token: admin });
    expect(listAdmin.body.projects.length).toBe(1);
  });

  it("rejects a bad project body naming the field, creating nothing", async () => {
    for (const body of [{}, { name: "" }, { name: 5 }]) {
      const res = await call(t.app, "POST", "/admin/v1/projects", { token: ADMIN_TOKEN, body });
      expect(res.status).toBe(400);
      expect(res.body.error_code).toBe("DEVPIPE.00020100");
      expect(res.body.error_msg).toContain("name");
    }
    expect((await t.store.listProjects()).length).toBe(0);
  });

  it("issues tokens shown once and stored hashed; revoked tokens stop working", async () => {
    const pid = await createProject(t.app);
    const res = await call(t.app, "POST", "/admin/v1/tokens", {
      token: ADMIN_TOKEN,
      body: { name: "ci", role: "viewer", project_ids: [pid] },
    });
    expect(res.status).toBe(200);
    const token: string = res.body.token;
    expect(token).toMatch(/^pw_/);
    const list = await call(t.app, "GET", "/admin/v1/tokens", { token: ADMIN_TOKEN });
    expect(list.body.tokens).toHaveLength(1);
    expect(JSON.stringify(list.body)).not.toContain(token);
    const rows = await t.store.db.selectFrom("tokens").selectAll().execute();
    expect(rows[0]!.token_hash).not.toContain(token);

    expect((await call(t.app, "POST", `/v5/${pid}/api/pipelines/list`, { token, body: {} })).status).toBe(
      200,
    );
    const del = await call(t.app, "DELETE", `/admin/v1/tokens/${res.body.id}`, { token: ADMIN_TOKEN });
    expect(del.body).toEqual({ id: res.body.id, revoked: true });
    const after = await call(t.app, "POST", `/v5/${pid}/api/pipelines/list`, { token, body: {} });
    expect(after.status).toBe(401);
    expect(after.body.error_code).toBe("DEVPIPE.00020001");
    const again = await call(t.app, "DELETE", `/admin/v1/tokens/${res.body.id}`, { token: ADMIN_TOKEN });
    expect(again.status).toBe(404);
    expect(again.body.error_code).toBe("DEVPIPE.00020120");
  });

  it("rejects tokens for unknown projects, bad roles and duplicates, storing nothing", async () => {
    const pid = await createProject(t.app);
    const cases: [unknown, string][] = [
      [{ role: "root", project_ids: [pid] }, "role"],
      [{ role: "viewer", project_ids: ["f".repeat(32)] }, "project_ids[0]"],
      [{ role: "viewer", project_ids: ["nothex"] }, "project_ids[0]"],
      [{ role: "viewer", project_ids: [pid, pid] }, "project_ids"],
      [{ project_ids: [pid] }, "role"],
      [{ role: "viewer" }, "project_ids"],
    ];
    for (const [body, field] of cases) {
      const res = await call(t.app, "POST", "/admin/v1/tokens", { token: ADMIN_TOKEN, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error_msg).toContain(field);
    }
    expect(await t.store.listTokens()).toEqual([]);
  });

  it("lets a project admin issue credentials for its own projects only", async () => {
    const mine = await createProject(t.app);
    const theirs = await createProject(t.app);
    const admin = await issueToken(t.app, "admin", [mine]);
    const ok = await call(t.app, "POST", "/admin/v1/tokens", {
      token: admin,
      body: { role: "viewer", project_ids: [mine] },
    });
    expect(ok.status).toBe(200);
    const no = await call(t.app, "POST", "/admin/v1/tokens", {
      token: admin,
      body: { role: "viewer", project_ids: [theirs] },
    });
    expect(no.status).toBe(404);
    expect(no.body.error_code).toBe("DEVPIPE.00011412");
    const viewer = await issueToken(t.app, "viewer", [mine]);
    const v = await call(t.app, "POST", "/admin/v1/tokens", {
      token: viewer,
      body: { role: "viewer", project_ids: [mine] },
    });
    expect(v.status).toBe(403);
    expect(v.body.error_code).toBe("DEVPIPE.30011011");
    expect((await t.store.listTokens()).length).toBe(3);
    // The project admin sees the tokens of its project, not the bootstrap-issued ones of others.
    const list = await call(t.app, "GET", "/admin/v1/tokens", { token: admin });
    expect(
      list.body.tokens.every((x: { project_ids: string[] }) => x.project_ids.every((p) => p === mine)),
    ).toBe(true);
  });

  it("issues access keys (SK shown once), lists without SK, revokes", async () => {
    const pid = await createProject(t.app);
    const res = await call(t.app, "POST", "/admin/v1/access-keys", {
      token: ADMIN_TOKEN,
      body: { role: "operator", project_ids: [pid] },
    });
    expect(res.status).toBe(200);
    expect(res.body.ak).toMatch(/^[A-Z0-9]{20}$/);
    expect(res.body.sk.length).toBeGreaterThanOrEqual(40);
    const list = await call(t.app, "GET", "/admin/v1/access-keys", { token: ADMIN_TOKEN });
    expect(list.body.access_keys[0].ak).toBe(res.body.ak);
    expect(JSON.stringify(list.body)).not.toContain(res.body.sk);
    const del = await call(t.app, "DELETE", `/admin/v1/access-keys/${res.body.ak}`, { token: ADMIN_TOKEN });
    expect(del.body).toEqual({ ak: res.body.ak, revoked: true });
    const missing = await call(t.app, "DELETE", "/admin/v1/access-keys/NOPE", { token: ADMIN_TOKEN });
    expect(missing.status).toBe(404);
    expect(missing.body.error_code).toBe("DEVPIPE.00020121");
  });

  it("answers 401 without credentials", async () => {
    const res = await call(t.app, "GET", "/admin/v1/projects");
    expect(res.status).toBe(401);
    expect(res.body.error_code).toBe("DEVPIPE.00020001");
    const bad = await call(t.app, "GET", "/admin/v1/projects", { token: "pw_wrong" });
    expect(bad.status).toBe(401);
  });
});
