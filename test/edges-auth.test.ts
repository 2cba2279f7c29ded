// The edges of authentication (issue "close the gaps at the edges"): which Host names are
// answered (DNS rebinding), failed authentications logged and slowed per source, and how long
// a chosen admin token must be. Time is a test clock: the slow-down is held by moving it, never
// by measuring.

import fs from "node:fs";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AUTH_FAILURE_BURST,
  AUTH_FAILURE_REFILL_MS,
  createAuthGuard,
  sourceKey,
} from "../src/api/auth-guard.js";
import { createHostCheck, hostName } from "../src/api/host-check.js";
import { createTestClock, type TestClock } from "../src/clock.js";
import { ConfigError, loadConfig } from "../src/config.js";
import { type Server, startServer } from "../src/main.js";
import { ADMIN_TOKEN, createProject, tempDir } from "./helpers/app.js";
import { signRequest } from "./helpers/sdk-signer.js";

interface Booted {
  readonly server: Server;
  readonly lines: Array<Record<string, unknown>>;
  readonly raw: string[];
  readonly clock: TestClock;
  close(): Promise<void>;
}

/** A server (no socket, no runner) whose log lines the test reads, on a test clock. */
async function boot(args: string[] = []): Promise<Booted> {
  const dir = tempDir();
  const raw: string[] = [];
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split("\n").filter(Boolean)) {
        raw.push(l);
        lines.push(JSON.parse(l));
      }
      done();
    },
  });
  const clock = createTestClock();
  const config = loadConfig(
    ["--data-dir", dir, "--admin-token", ADMIN_TOKEN, "--no-local-runner", ...args],
    {},
    dir,
  );
  const server = await startServer(config, { listen: false, logger: pino({ level: "info" }, sink), clock });
  return {
    server,
    lines,
    raw,
    clock,
    async close() {
      await server.stop({ force: true });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const get = (b: Booted, url: string, headers: Record<string, string> = {}, remoteAddress?: string) =>
  b.server.app.inject({ method: "GET", url, headers, ...(remoteAddress ? { remoteAddress } : {}) });

describe("the Host header", () => {
  let b: Booted;
  beforeAll(async () => {
    b = await boot(["--allowed-hosts", "ci.example.com, *.corp.example"]);
  });
  afterAll(async () => {
    await b?.close();
  });

  it("answers loopback names with or without a port, and the configured names", async () => {
    const ok = [
      "localhost",
      "localhost:8080",
      "LOCALHOST.",
      "ui.localhost:3000",
      "127.0.0.1",
      "127.0.0.1:1",
      "127.9.8.7:80",
      "[::1]",
      "[::1]:8080",
      "ci.example.com",
      "CI.Example.COM.:443",
      "a.corp.example",
      "b.a.corp.example:8443",
    ];
    for (const host of ok) {
      for (const url of ["/healthz", "/", "/openapi.json"]) {
        const res = await get(b, url, { host });
        expect(res.statusCode, `${host} ${url}`).toBeLessThan(400);
      }
    }
  });

  it("refuses every other name on every route, credentials or not, saying what to configure", async () => {
    const refused = [
      "evil.example",
      "ci.example.com.evil.example",
      "corp.example",
      "xcorp.example",
      "localhost.evil.example",
      "127.0.0.1.nip.io",
      "10.0.0.1",
      "[::2]:80",
      "ci.example.com:notaport",
      "[::1",
      "a b",
    ];
    for (const host of refused) {
      for (const url of [
        "/",
        "/ui/index.html",
        "/openapi/",
        "/openapi/json",
        "/openapi.json",
        "/admin/v1/projects",
      ]) {
        const res = await get(b, url, { host, "x-auth-token": ADMIN_TOKEN });
        expect(res.statusCode, `${host} ${url}`).toBe(400);
        const body = JSON.parse(res.body);
        expect(body.error_code, host).toBe("DEVPIPE.00020170");
        expect(body.error_msg).toContain("--allowed-hosts");
        // The refusal carries the header policy like every answer.
        expect(res.headers["x-frame-options"]).toBe("DENY");
      }
    }
    // Load balancers probe replicas by address: the health check answers any Host.
    expect((await get(b, "/healthz", { host: "10.0.0.1:8080" })).statusCode).toBe(200);
    const logged = b.lines.filter((l) => l.msg === "refused a request for a host name not allowed");
    expect(logged.map((l) => l.host)).toContain("evil.example");
    // One line a minute per name, not one per request.
    expect(logged.filter((l) => l.host === "evil.example")).toHaveLength(1);
  });

  it("is one check with loopback always in, the listen address in, and * for none", () => {
    const check = createHostCheck([], "10.1.2.3");
    expect(check.allows("10.1.2.3:8080")).toBe(true);
    expect(check.allows("localhost")).toBe(true);
    expect(check.allows("10.1.2.4")).toBe(false);
    expect(check.allows(undefined)).toBe(false);
    expect(createHostCheck([], "0.0.0.0").allows("0.0.0.0")).toBe(false);
    expect(createHostCheck([], "::1").allows("[::1]:1")).toBe(true);
    expect(createHostCheck(["*"], "0.0.0.0").allows("anything.example")).toBe(true);
    expect(hostName("[fe80::1]:443")).toBe("fe80::1");
    expect(hostName("fe80::1")).toBeUndefined();
  });

  it("takes a webhook delivery addressed to the public name", async () => {
    const pid = await createProject(b.server.app);
    const res = await b.server.app.inject({
      method: "POST",
      url: `/hooks/v1/${pid}`,
      headers: {
        host: "ci.example.com",
        "content-type": "application/json",
        "x-pipewright-signature": "sha256=00",
      },
      payload: "{}",
    });
    // Past the Host check: the delivery's signature is what refuses it.
    expect(JSON.parse(res.body).error_code).toBe("DEVPIPE.00020001");
  });

  it("refuses a list entry that is not a host name", () => {
    for (const bad of ["http://ci.example.com", "a b", "ci..example.com", "/path"]) {
      expect(() => loadConfig(["--allowed-hosts", bad], {}, "/tmp"), bad).toThrow(ConfigError);
    }
    expect(
      loadConfig([], { PIPEWRIGHT_ALLOWED_HOSTS: "ci.example.com,*.corp.example" }, "/tmp").allowedHosts,
    ).toEqual(["ci.example.com", "*.corp.example"]);
    expect(() => loadConfig(["--trust-proxy", "10.0.0.0/99"], {}, "/tmp")).toThrow(ConfigError);
    expect(loadConfig(["--trust-proxy", "10.0.0.0/8, ::1"], {}, "/tmp").trustProxy).toBe("10.0.0.0/8,::1");
  });
});

describe("failed authentications", () => {
  let b: Booted;
  beforeAll(async () => {
    b = await boot();
  });
  afterAll(async () => {
    await b?.close();
  });

  const WRONG = "pw_wrong_token_guess_0123456789";
  const ATTACKER = "203.0.113.7";

  it("are logged with source, path and reason, never the token, and slow the source down", async () => {
    for (let i = 0; i < AUTH_FAILURE_BURST; i++) {
      const res = await get(b, "/admin/v1/projects?x=1", { "x-auth-token": `${WRONG}${i}` }, ATTACKER);
      expect(res.statusCode, `attempt ${i}`).toBe(401);
    }
    const failures = b.lines.filter((l) => l.msg === "authentication failed");
    expect(failures).toHaveLength(AUTH_FAILURE_BURST);
    expect(failures[0]).toMatchObject({
      ip: ATTACKER,
      method: "GET",
      path: "/admin/v1/projects",
      error_code: "DEVPIPE.00020001",
      reason: expect.stringContaining("unknown or revoked"),
    });
    expect(b.raw.join("\n")).not.toContain(WRONG);
    expect(b.lines.some((l) => String(l.msg).startsWith("too many failed authentications"))).toBe(true);

    // Held back: even the right token of this source is refused unread, with a time to wait.
    for (const token of [`${WRONG}x`, ADMIN_TOKEN]) {
      const held = await get(b, "/admin/v1/projects", { "x-auth-token": token }, ATTACKER);
      expect(held.statusCode).toBe(429);
      expect(JSON.parse(held.body).error_code).toBe("DEVPIPE.00020171");
      expect(Number(held.headers["retry-after"])).toBeGreaterThan(0);
    }
    // Other sources are not held back: right credentials pass, wrong ones are answered as ever.
    expect(
      (await get(b, "/admin/v1/projects", { "x-auth-token": ADMIN_TOKEN }, "198.51.100.1")).statusCode,
    ).toBe(200);
    expect((await get(b, "/admin/v1/projects", { "x-auth-token": WRONG }, "198.51.100.2")).statusCode).toBe(
      401,
    );
    // Routes that take no credentials stay open to the held source.
    expect((await get(b, "/healthz", {}, ATTACKER)).statusCode).toBe(200);

    // Time brings attempts back, one per refill period.
    await b.clock.advance(AUTH_FAILURE_REFILL_MS);
    expect((await get(b, "/admin/v1/projects", { "x-auth-token": ADMIN_TOKEN }, ATTACKER)).statusCode).toBe(
      200,
    );
    expect((await get(b, "/admin/v1/projects", { "x-auth-token": WRONG }, ATTACKER)).statusCode).toBe(401);
    expect((await get(b, "/admin/v1/projects", { "x-auth-token": ADMIN_TOKEN }, ATTACKER)).statusCode).toBe(
      429,
    );
  });

  it("count wrong signatures too, per IPv6 /64", async () => {
    for (let i = 0; i < AUTH_FAILURE_BURST; i++) {
      const headers = signRequest({
        ak: "AKNOTKNOWN0000000000",
        sk: "x",
        method: "GET",
        host: "localhost:80",
        path: "/admin/v1/projects",
      });
      const res = await get(b, "/admin/v1/projects", headers, `2001:db8:1:2::${i + 100}`);
      expect(res.statusCode, `attempt ${i}`).toBe(401);
    }
    const held = await get(b, "/admin/v1/projects", { "x-auth-token": ADMIN_TOKEN }, "2001:db8:1:2:0:0:0:10");
    expect(held.statusCode).toBe(429);
    const other = await get(b, "/admin/v1/projects", { "x-auth-token": ADMIN_TOKEN }, "2001:db8:1:3::10");
    expect(other.statusCode).toBe(200);
    const failures = b.lines.filter(
      (l) => l.msg === "authentication failed" && String(l.ip).startsWith("2001:db8"),
    );
    expect(failures.length).toBe(AUTH_FAILURE_BURST);
    expect(failures.every((l) => l.error_code === "DEVPIPE.00020002")).toBe(true);
  });

  it("of webhook deliveries never hold back a forge's shared address", async () => {
    const pid = await createProject(b.server.app);
    const forge = "192.0.2.50";
    for (let i = 0; i < AUTH_FAILURE_BURST + 5; i++) {
      const res = await b.server.app.inject({
        method: "POST",
        url: `/hooks/v1/${pid}`,
        headers: {
          "content-type": "application/json",
          "x-pipewright-signature": "sha256=00",
          authorization: "x",
        },
        payload: "{}",
        remoteAddress: forge,
      });
      expect(res.statusCode, `delivery ${i}`).toBe(401);
    }
    expect((await get(b, "/admin/v1/projects", { "x-auth-token": ADMIN_TOKEN }, forge)).statusCode).toBe(200);
  });

  it("are kept in a bounded table", () => {
    const clock = createTestClock();
    const guard = createAuthGuard(() => clock.now(), { burst: 2, refillMs: 1000, maxSources: 100 });
    for (let i = 0; i < 5000; i++) guard.failed(`10.0.${Math.floor(i / 250)}.${i % 250}`);
    expect(guard.size).toBeLessThanOrEqual(100);
    guard.failed("10.9.9.9");
    guard.failed("10.9.9.9");
    expect(guard.retryAfterMs("10.9.9.9")).toBeGreaterThan(0);
    expect(guard.retryAfterMs("10.9.9.8")).toBe(0);
    expect(sourceKey("::ffff:10.1.2.3")).toBe("10.1.2.3");
    expect(sourceKey("2001:db8:0:1::5")).toBe(sourceKey("2001:db8::1:ffff:1:2:3"));
    expect(sourceKey("2001:db8:0:1::5")).not.toBe(sourceKey("2001:db8:0:2::5"));
  });
});

describe("behind a trusted proxy", () => {
  it("keeps the account of the client the proxy names, not of the proxy", async () => {
    const b = await boot(["--trust-proxy", "10.0.0.5", "--allowed-hosts", "ci.example.com"]);
    try {
      const viaProxy = (client: string, token: string, host = "127.0.0.1") =>
        b.server.app.inject({
          method: "GET",
          url: "/admin/v1/projects",
          headers: { "x-auth-token": token, "x-forwarded-for": client, "x-forwarded-host": host },
          remoteAddress: "10.0.0.5",
        });
      for (let i = 0; i < AUTH_FAILURE_BURST; i++) {
        expect((await viaProxy("203.0.113.9", "pw_wrong_guess_0123456789")).statusCode).toBe(401);
      }
      expect((await viaProxy("203.0.113.9", ADMIN_TOKEN)).statusCode).toBe(429);
      expect((await viaProxy("198.51.100.3", ADMIN_TOKEN)).statusCode).toBe(200);
      expect(b.lines.find((l) => l.msg === "authentication failed")?.ip).toBe("203.0.113.9");
      // The Host the proxy was asked for is the one checked.
      expect((await viaProxy("198.51.100.3", ADMIN_TOKEN, "ci.example.com")).statusCode).toBe(200);
      expect((await viaProxy("198.51.100.3", ADMIN_TOKEN, "evil.example")).statusCode).toBe(400);
    } finally {
      await b.close();
    }
  });
});

describe("a chosen admin token", () => {
  it("must be long and varied enough to resist guessing", () => {
    const load = (token: string) => loadConfig(["--admin-token", token], {}, "/tmp");
    for (const weak of [
      "0123456789abcdef",
      "a".repeat(40),
      "abcabcabcabcabcabcabcabcabcabcabcabc",
      "x".repeat(31),
    ]) {
      expect(() => load(weak), weak).toThrow(/at least 32 characters.*10 different/);
    }
    expect(() => loadConfig([], { PIPEWRIGHT_ADMIN_TOKEN: "short-but-varied-1234" }, "/tmp")).toThrow(
      ConfigError,
    );
    expect(load("change-me-to-a-long-random-string").adminToken).toBe("change-me-to-a-long-random-string");
    expect(load(ADMIN_TOKEN).adminToken).toBe(ADMIN_TOKEN);
  });
});
