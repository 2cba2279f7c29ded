// AK/SK and token authentication over HTTP, against the real app.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  call,
  createPipeline,
  createProject,
  createTestApp,
  type TestApp,
} from "../../test/helpers/app.js";
import { signRequest } from "../../test/helpers/sdk-signer.js";
import { createAuthenticator } from "./auth.js";

describe("AK/SK over HTTP", () => {
  let t: TestApp;
  let pid: string;
  let ak: string;
  let sk: string;
  beforeEach(async () => {
    t = await createTestApp();
    pid = await createProject(t.app);
    const res = await call(t.app, "POST", "/admin/v1/access-keys", {
      token: ADMIN_TOKEN,
      body: { role: "admin", project_ids: [pid] },
    });
    ak = res.body.ak;
    sk = res.body.sk;
  });
  afterEach(async () => {
    await t.close();
  });

  async function signed(
    method: string,
    path: string,
    body: unknown,
    over: { sk?: string; date?: Date; tamper?: string; query?: Record<string, string> } = {},
  ) {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers = signRequest({
      ak,
      sk: over.sk ?? sk,
      method,
      host: "localhost:80",
      path,
      ...(over.query ? { query: over.query } : {}),
      ...(text === undefined ? {} : { body: text }),
      projectId: pid,
      ...(over.date ? { date: over.date } : {}),
    });
    const qs = over.query ? `?${new URLSearchParams(over.query).toString()}` : "";
    return call(t.app, method, path + qs, {
      headers,
      ...(over.tamper !== undefined ? { rawBody: over.tamper } : text === undefined ? {} : { rawBody: text }),
    });
  }

  it("accepts a correctly signed create and list, as the official SDKs send them", async () => {
    const { shellDefinition } = await import("../../test/helpers/app.js");
    const created = await signed("POST", `/v5/${pid}/api/pipelines`, {
      name: "sdk",
      is_publish: false,
      definition: shellDefinition(),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const list = await signed("POST", `/v5/${pid}/api/pipelines/list`, { name: "sdk" });
    expect(list.status).toBe(200);
    expect(list.body.total).toBe(1);
    const detail = await signed("GET", `/v5/${pid}/api/pipelines/${created.body.pipeline_id}`, undefined);
    expect(detail.status).toBe(200);
    expect(detail.body.creator_id).toBe(ak);
  });

  it("refuses a tampered body, a wrong key, a stale date, an unknown or revoked key; nothing is created", async () => {
    const body = { name: "x", is_publish: false, definition: "{}" };
    const cases = [
      await signed("POST", `/v5/${pid}/api/pipelines`, body, {
        tamper: JSON.stringify({ ...body, name: "y" }),
      }),
      await signed("POST", `/v5/${pid}/api/pipelines`, body, { sk: `${sk}x` }),
      await signed("POST", `/v5/${pid}/api/pipelines`, body, { date: new Date(Date.now() - 16 * 60 * 1000) }),
    ];
    for (const res of cases) {
      expect(res.status).toBe(401);
      expect(res.body.error_code).toBe("DEVPIPE.00020002");
    }
    await call(t.app, "DELETE", `/admin/v1/access-keys/${ak}`, { token: ADMIN_TOKEN });
    const revoked = await signed("POST", `/v5/${pid}/api/pipelines/list`, {});
    expect(revoked.status).toBe(401);
    ak = "NOSUCHKEY00000000000";
    const unknown = await signed("POST", `/v5/${pid}/api/pipelines/list`, {});
    expect(unknown.status).toBe(401);
    expect(await t.store.db.selectFrom("pipelines").selectAll().execute()).toEqual([]);
  });

  it("scopes an access key to its projects", async () => {
    const other = await createProject(t.app);
    await createPipeline(t.app, other);
    const res = await signed("POST", `/v5/${other}/api/pipelines/list`, {});
    expect(res.status).toBe(404);
    expect(res.body.error_code).toBe("DEVPIPE.00011412");
  });
});

describe("tokens found valid are trusted for a moment", () => {
  it("a revocation made past this process (another replica) takes effect once the trust lapses", async () => {
    const t = await createTestApp();
    try {
      const pid = await createProject(t.app);
      const res = await call(t.app, "POST", "/admin/v1/tokens", {
        token: ADMIN_TOKEN,
        body: { name: "ci", role: "viewer", project_ids: [pid] },
      });
      const auth = createAuthenticator({ store: t.store, now: () => Date.now(), trustMs: 200 });
      const req = {
        method: "GET",
        url: "/",
        headers: { "x-auth-token": res.body.token as string },
        body: Buffer.alloc(0),
      };
      expect((await auth.authenticate(req)).id).toBe(res.body.id);
      // Revoked in the database directly, as another replica would: trusted still, then not.
      await t.store.revokeToken(res.body.id, Date.now());
      expect((await auth.authenticate(req)).id).toBe(res.body.id);
      await new Promise((r) => setTimeout(r, 250));
      await expect(auth.authenticate(req)).rejects.toMatchObject({ key: "UNAUTHENTICATED" });
      // Without trust, every request asks the store.
      const strict = createAuthenticator({ store: t.store, now: () => Date.now(), trustMs: 0 });
      await expect(strict.authenticate(req)).rejects.toMatchObject({ key: "UNAUTHENTICATED" });
    } finally {
      await t.close();
    }
  });
});
