import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, createProject, createTestApp, type TestApp } from "../../test/helpers/app.js";
import { LIMITS } from "../pipeline/limits.js";

describe("HTTP basics", () => {
  let t: TestApp;
  let pid: string;
  beforeEach(async () => {
    t = await createTestApp();
    pid = await createProject(t.app);
  });
  afterEach(async () => {
    await t.close();
  });

  const pipelines = async (): Promise<unknown[]> => t.store.db.selectFrom("pipelines").selectAll().execute();

  it("answers malformed JSON with 400 DEVPIPE.00020101 and changes nothing", async () => {
    const res = await call(t.app, "POST", `/v5/${pid}/api/pipelines`, {
      token: ADMIN_TOKEN,
      rawBody: '{"name": ',
    });
    expect(res.status).toBe(400);
    expect(res.body.error_code).toBe("DEVPIPE.00020101");
    expect(await pipelines()).toEqual([]);
  });

  it("answers an oversize body with 413 DEVPIPE.00020102", async () => {
    const res = await call(t.app, "POST", `/v5/${pid}/api/pipelines`, {
      token: ADMIN_TOKEN,
      body: { name: "big", is_publish: false, definition: "x".repeat(LIMITS.bodyBytes + 10) },
    });
    expect(res.status).toBe(413);
    expect(res.body.error_code).toBe("DEVPIPE.00020102");
    expect(await pipelines()).toEqual([]);
  });

  it("answers a non-JSON body with 415", async () => {
    const res = await call(t.app, "POST", `/v5/${pid}/api/pipelines`, {
      token: ADMIN_TOKEN,
      rawBody: "name=x",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).toBe(415);
    expect(res.body.error_code).toBe("DEVPIPE.00020103");
  });

  it("accepts application/json with an empty body where no body is needed", async () => {
    const res = await call(t.app, "POST", `/v5/${pid}/api/pipelines/list`, {
      token: ADMIN_TOKEN,
      rawBody: "",
      headers: { "content-type": "application/json;charset=UTF-8" },
    });
    expect(res.status).toBe(200);
  });

  it("sets X-Request-Id on successes, errors and unknown routes", async () => {
    const ok = await call(t.app, "GET", "/admin/v1/projects", { token: ADMIN_TOKEN });
    const err = await call(t.app, "GET", "/admin/v1/projects");
    const missing = await call(t.app, "GET", "/nope");
    for (const r of [ok, err, missing]) expect(r.headers["x-request-id"]).toMatch(/^[0-9a-f]{32}$/);
    expect(missing.status).toBe(404);
    expect(missing.body.error_code).toBe("DEVPIPE.00020404");
  });

  it("serves an OpenAPI document without auth that covers every route", async () => {
    const res = await call(t.app, "GET", "/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    const documented = new Set<string>();
    for (const [p, ops] of Object.entries(res.body.paths as Record<string, Record<string, unknown>>)) {
      for (const m of Object.keys(ops)) documented.add(`${m.toUpperCase()} ${p}`);
    }
    // Every route the app registered, but those hidden on purpose, is in the document.
    const visible = t.app.registeredRoutes.filter((r) => !r.hidden && !r.url.startsWith("/openapi"));
    expect(visible.length).toBeGreaterThan(30);
    for (const r of visible) {
      const key = `${r.method} ${r.url.replace(/:(\w+)/g, "{$1}")}`;
      expect(documented, key).toContain(key);
    }
    const page = await call(t.app, "GET", "/openapi/");
    expect(page.status).toBe(200);
    expect(String(page.body)).toContain("<html");
  });
});
