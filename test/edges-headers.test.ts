// Every answer of every route carries the one header policy (issue "close the gaps at the
// edges"): the same CSP and framing refusal on every HTML page whatever its path, nosniff
// everywhere, and no answer that carries a token or a secret key may be cached. The routes are
// the ones the app registered, so a route added later is held too.

import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTENT_SECURITY_POLICY } from "../src/api/security-headers.js";
import { defaultWebRoot } from "../src/api/web-routes.js";
import {
  ADMIN_TOKEN,
  call,
  createPipeline,
  createProject,
  createTestApp,
  type TestApp,
} from "./helpers/app.js";

let t: TestApp;
let base: string;
let pid: string;
let plid: string;

beforeAll(async () => {
  // Listening (its runner's way in): the event streams are read over a real socket, as they
  // answer by hand, outside Fastify's reply.
  t = await createTestApp({ runnerSlots: 1 });
  const { port } = t.app.server.address() as net.AddressInfo;
  base = `http://127.0.0.1:${port}`;
  pid = await createProject(t.app);
  plid = await createPipeline(t.app, pid);
});
afterAll(async () => {
  await t?.close();
});

interface Answer {
  readonly status: number;
  readonly headers: Headers;
}

/** One request; only the head is read (an event stream never ends by itself). */
async function head(method: string, url: string, body?: unknown, token = ADMIN_TOKEN): Promise<Answer> {
  const ac = new AbortController();
  const res = await fetch(`${base}${url}`, {
    method,
    redirect: "manual",
    signal: ac.signal,
    headers: {
      "x-auth-token": token,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const answer = { status: res.status, headers: res.headers };
  ac.abort();
  await res.body?.cancel().catch(() => {});
  return answer;
}

/** What every answer must carry, named by where it came from when it does not. */
function holdPolicy(where: string, a: Answer): void {
  const h = a.headers;
  expect(h.get("content-security-policy"), where).toBe(CONTENT_SECURITY_POLICY);
  expect(h.get("content-security-policy"), where).toContain("frame-ancestors 'none'");
  expect(h.get("x-frame-options"), where).toBe("DENY");
  expect(h.get("referrer-policy"), where).toBe("no-referrer");
  expect(h.get("x-content-type-options"), where).toBe("nosniff");
  const type = h.get("content-type") ?? "";
  const cache = h.get("cache-control") ?? "";
  // Only the UI's own files may be kept; an HTML page is revalidated, everything else never stored.
  if (type.startsWith("text/html")) expect(["no-cache", "no-store"], where).toContain(cache);
  else if (!/immutable/.test(cache)) expect(cache, where).toBe("no-store");
}

/** A concrete path for a registered route: real ids where the route names them, else a stand-in. */
function concrete(url: string): string[] {
  if (url === "/ui/*") {
    const assets = fs.readdirSync(path.join(defaultWebRoot(), "assets"));
    return ["/ui/index.html", ...assets.map((a) => `/ui/assets/${a}`), "/ui/nothing-here.html"];
  }
  if (url === "/openapi/*") return ["/openapi/swagger-ui.css", "/openapi/nothing-here"];
  return [
    url
      .replace(/:project_id(\|:tenant_id)?|:tenant_id/g, pid)
      .replace(/:pipeline_id/g, plid)
      .replace(/:[a-z_]+/g, "x0000000000000000000000000000000"),
  ];
}

describe("the header policy", () => {
  it("is on every answer of every registered route, whatever it answers", async () => {
    const routes = t.app.registeredRoutes;
    expect(routes.length).toBeGreaterThan(60);
    let held = 0;
    for (const r of routes) {
      for (const url of concrete(r.url)) {
        const body = r.method === "GET" || r.method === "DELETE" ? undefined : {};
        holdPolicy(`${r.method} ${url}`, await head(r.method, url, body));
        held++;
      }
    }
    expect(held).toBeGreaterThanOrEqual(routes.length);
  });

  it("is the same on every path that serves the UI's page, and on the API's own page", async () => {
    const pages = [
      "/",
      "/ui/index.html",
      "/ui/./index.html",
      "/openapi/",
      "/openapi",
      "/openapi/static/index.html",
    ];
    for (const url of pages) {
      const a = await head("GET", url);
      holdPolicy(url, a);
      if (a.status === 200) expect(a.headers.get("content-type"), url).toMatch(/^text\/html/);
    }
    const root = await head("GET", "/");
    const ui = await head("GET", "/ui/index.html");
    for (const name of ["content-security-policy", "x-frame-options", "referrer-policy", "cache-control"]) {
      expect(ui.headers.get(name), name).toBe(root.headers.get(name));
    }
  });

  it("is on answers of errors, missing routes and refused URLs", async () => {
    for (const [method, url] of [
      ["GET", "/no/such/route"],
      ["GET", "/v5/%zz/api"],
      ["POST", `/v5/${pid}/api/pipelines/list`],
      ["GET", `/v5/${"a".repeat(150)}/api/pipelines/x`],
    ] as const) {
      holdPolicy(`${method} ${url}`, await head(method, url, method === "POST" ? { offset: -1 } : undefined));
    }
    holdPolicy("unauthenticated", await head("GET", "/admin/v1/projects", undefined, "wrong"));
  });

  it("is on the event streams, written outside Fastify's reply, and on the parser's own refusals", async () => {
    // A pipeline of its own: the test above sent DELETE to the first one.
    const fresh = await createPipeline(t.app, pid);
    const run = await call(t.app, "POST", `/v5/${pid}/api/pipelines/${fresh}/run`, {
      token: ADMIN_TOKEN,
      body: {},
    });
    expect(run.status).toBe(200);
    const events = await head(
      "GET",
      `/v5/${pid}/api/pipelines/${fresh}/pipeline-runs/${run.body.pipeline_run_id}/events`,
    );
    expect(events.status).toBe(200);
    expect(events.headers.get("content-type")).toMatch(/^text\/event-stream/);
    holdPolicy("event stream", events);

    const { port } = t.app.server.address() as net.AddressInfo;
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(port, "127.0.0.1", () => {
        sock.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
      });
      let data = "";
      sock.on("data", (d) => (data += d.toString()));
      sock.on("close", () => resolve(data));
      sock.on("error", reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    const lines = answer.slice(0, answer.indexOf("\r\n\r\n")).split("\r\n").slice(1);
    const headers = new Headers(
      lines.map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]),
    );
    holdPolicy("431 written on the socket", { status: 431, headers });
  });

  it("answers every malformed URL, in every shape and method, in the DEVPIPE shape", async () => {
    const urls = [
      "/%zz",
      "/v5/%zz/api",
      "/v5/%ff%fe/api/pipelines/list",
      "/%E2%82",
      "/ui/%zz",
      "/ui/%00",
      "/ui/a%0ab",
      "/openapi/%zz",
      "/openapi/static/%00",
      "/openapi/static/%ff",
      "/openapi/theme/%zz",
      "/hooks/v1/%zz",
      `/v5/${pid}/api/pipelines/%zz`,
    ];
    for (const url of urls) {
      for (const method of ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]) {
        const res = await t.app.inject({ method: method as "GET", url });
        const where = `${method} ${url}`;
        expect(res.statusCode, where).toBeGreaterThanOrEqual(400);
        expect(res.statusCode, where).toBeLessThan(500);
        const body = JSON.parse(res.body);
        expect(Object.keys(body).sort(), where).toEqual(["error_code", "error_msg"]);
        expect(body.error_code, where).toMatch(/^DEVPIPE\.\d{8}$/);
        // biome-ignore lint/suspicious/noControlCharactersInRegex: no raw control byte of the path goes back.
        expect(body.error_msg, where).not.toMatch(/[\x00-\x1f]/);
        expect(res.headers["x-content-type-options"], where).toBe("nosniff");
      }
      const head = await t.app.inject({ method: "HEAD", url });
      expect(head.statusCode, `HEAD ${url}`).toBeGreaterThanOrEqual(400);
    }
  });

  it("keeps answers that carry a token or a secret key out of every cache", async () => {
    const token = await head("POST", "/admin/v1/tokens", { role: "runner", project_ids: [] });
    expect(token.status).toBe(200);
    expect(token.headers.get("cache-control")).toBe("no-store");
    const ak = await head("POST", "/admin/v1/access-keys", { role: "viewer", project_ids: [pid] });
    expect(ak.status).toBe(200);
    expect(ak.headers.get("cache-control")).toBe("no-store");
  });
});
