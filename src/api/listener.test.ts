import http from "node:http";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type Listener, openListener } from "./listener.js";

let listener: Listener | undefined;
const agents: http.Agent[] = [];

afterEach(async () => {
  for (const a of agents.splice(0)) a.destroy();
  await listener?.close(0);
  listener = undefined;
});

/** A client that keeps its connections alive, as browsers and runner agents do. */
function keepAliveAgent(): http.Agent {
  const a = new http.Agent({ keepAlive: true, maxSockets: 1 });
  agents.push(a);
  return a;
}

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(port: number, path: string, agent: http.Agent): Promise<Got> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path, agent }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.once("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .once("error", reject);
  });
}

describe("the server's socket", () => {
  it("answers while the app is not ready: /healthz says why, every other request 503 with Retry-After", async () => {
    listener = await openListener("127.0.0.1", 0);
    const agent = keepAliveAgent();
    const first = await get(listener.port, "/healthz", agent);
    expect(first.status).toBe(503);
    expect(JSON.parse(first.body)).toEqual({
      ok: false,
      status: "starting",
      reason: "connecting to the database",
    });
    listener.waiting("ECONNREFUSED", 4000);
    expect(JSON.parse((await get(listener.port, "/healthz?probe=1", agent)).body)).toEqual({
      ok: false,
      status: "starting",
      reason: "database unreachable: ECONNREFUSED",
    });
    const api = await get(listener.port, "/v5/p/api/pipelines/list", agent);
    expect(api.status).toBe(503);
    expect(api.headers["retry-after"]).toBe("4");
    expect(api.headers["x-frame-options"]).toBe("DENY");
    expect(api.headers["cache-control"]).toBe("no-store");
    expect(JSON.parse(api.body)).toEqual({
      error_code: "DEVPIPE.00020260",
      error_msg:
        "The server is starting and cannot serve yet (database unreachable: ECONNREFUSED); try again in 4 s.",
    });

    listener.serve((_req, res) => res.end("served"));
    expect((await get(listener.port, "/healthz", agent)).body).toBe("served");
  });

  it("closes an idle kept-alive connection at once, and one busy at the close as soon as its answer is sent", async () => {
    listener = await openListener("127.0.0.1", 0);
    let answer!: () => void;
    const arrived = new Promise<void>((resolve) => {
      listener!.serve((req, res) => {
        if (req.url === "/slow") {
          answer = () => res.end("late");
          resolve();
        } else res.end("ok");
      });
    });
    // One connection left idle, one with a request in flight when the close begins.
    await get(listener.port, "/", keepAliveAgent());
    const slow = get(listener.port, "/slow", keepAliveAgent());
    await arrived;
    // The grace is far longer than the test may take: only closing idle connections ends it.
    const closed = listener.close(10 * 60_000);
    expect(listener.closing.aborted).toBe(true);
    answer();
    expect((await slow).body).toBe("late");
    // Before, the busy connection stayed open for the keep-alive timeout (72 s) once answered.
    await closed;
  });

  it("answers a request that comes on an open connection while it stops with 503 SERVER_STOPPING, and closes it", async () => {
    listener = await openListener("127.0.0.1", 0);
    let hold!: () => void;
    const arrived = new Promise<void>((resolve) => {
      listener!.serve((_req, res) => {
        hold = () => res.end("first");
        resolve();
      });
    });
    // Two requests on one connection (pipelined): the second is read once the first is answered.
    const socket = net.connect(listener.port, "127.0.0.1");
    let got = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (got += d));
    const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write("GET /first HTTP/1.1\r\nHost: localhost\r\n\r\n");
    await arrived;
    socket.write("GET /v5/p/api/pipelines/list HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const closed = listener.close(10 * 60_000);
    hold();
    await ended;
    await closed;
    const [first, second] = got.split(/(?=HTTP\/1\.1 )/);
    expect(first).toMatch(/^HTTP\/1\.1 200/);
    expect(second).toMatch(/^HTTP\/1\.1 503/);
    expect(second).toMatch(/\r\nConnection: close\r\n/i);
    expect(second).toMatch(/\r\nRetry-After: 1\r\n/i);
    expect(JSON.parse(second!.slice(second!.indexOf("\r\n\r\n") + 4)).error_code).toBe("DEVPIPE.00020261");
  });

  it("cuts a connection still busy after the grace", async () => {
    listener = await openListener("127.0.0.1", 0);
    let arrived!: () => void;
    const inFlight = new Promise<void>((r) => (arrived = r));
    listener.serve(() => arrived()); // never answers
    const hung = get(listener.port, "/hang", keepAliveAgent()).then(
      () => "answered",
      () => "cut",
    );
    await inFlight;
    await listener.close(50);
    expect(await hung).toBe("cut");
  });
});
