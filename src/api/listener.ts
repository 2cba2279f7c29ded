// The server's socket, opened before its store (issue 18): a replica whose database is not
// reachable yet answers instead of refusing connections (/healthz 503 "starting" with the
// reason, every other request 503 with Retry-After), and serves the app once it is ready. On
// stop it takes no new connection or request and closes every connection within a grace:
// idle keep-alive ones at once, busy ones as soon as their answer is sent. Node's close()
// closes only the connections idle at the moment it is called, so one that finishes its answer
// later (an event stream, a request in flight) was held open for the whole keep-alive timeout.

import http from "node:http";
import { PipewrightError } from "../errors.js";
import { DEFAULT_CACHE_CONTROL, SECURITY_HEADERS } from "./security-headers.js";

/** Fastify's default: longer than load balancers' idle timeouts (AWS ALB: 60 s), so they close first. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;
/** How long requests in flight at a stop get to finish before their connections are cut. */
export const STOP_GRACE_MS = 5000;
/** How often a stopping server looks for connections that have become idle. */
const REAP_MS = 50;

export interface Listener {
  readonly server: http.Server;
  /** The port it listens on (the one the system chose when 0 was asked for). */
  readonly port: number;
  /** While starting: why the server does not serve yet (shown by /healthz), and when it tries again. */
  waiting(reason: string, retryAfterMs: number): void;
  /** From now on requests go to `handler` (the app). */
  serve(handler: http.RequestListener): void;
  /** Aborts when close() begins: event streams end then, so their clients reconnect (elsewhere). */
  readonly closing: AbortSignal;
  /**
   * Takes no new connection, answers requests that arrive on open ones with 503 SERVER_STOPPING
   * (Connection: close), closes each connection once it is idle and cuts those still busy after
   * `graceMs`. Resolves when every connection is closed.
   */
  close(graceMs?: number): Promise<void>;
}

function answer(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "Cache-Control": DEFAULT_CACHE_CONTROL,
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export async function openListener(host: string, port: number): Promise<Listener> {
  let handler: http.RequestListener | undefined;
  let reason = "connecting to the database";
  let retryAfterS = 1;
  const closing = new AbortController();
  const server = http.createServer((req, res) => {
    if (closing.signal.aborted) {
      const e = new PipewrightError("SERVER_STOPPING");
      return answer(res, e.status, e.toBody(), { Connection: "close", "Retry-After": "1" });
    }
    if (handler) return handler(req, res);
    // Starting: the load balancer's probe learns why; every other caller is told to come back.
    if ((req.url ?? "").split("?")[0] === "/healthz") {
      return answer(res, 503, { ok: false, status: "starting", reason });
    }
    const e = new PipewrightError(
      "SERVER_STARTING",
      `The server is starting and cannot serve yet (${reason}); try again in ${retryAfterS} s.`,
    );
    answer(res, e.status, e.toBody(), { "Retry-After": String(retryAfterS) });
  });
  // As Fastify sets up the servers it makes: no timeout on a request's time (uploads, streams).
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.requestTimeout = 0;
  server.setTimeout(0);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  let closed: Promise<void> | undefined;
  return {
    server,
    port: typeof addr === "object" && addr ? addr.port : port,
    closing: closing.signal,
    waiting(why, retryAfterMs) {
      reason = `database unreachable: ${why}`;
      retryAfterS = Math.max(1, Math.ceil(retryAfterMs / 1000));
    },
    serve(h) {
      handler = h;
    },
    close(graceMs = STOP_GRACE_MS) {
      closed ??= new Promise<void>((resolve) => {
        closing.abort();
        const reap = setInterval(() => server.closeIdleConnections(), REAP_MS);
        const cut = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearInterval(reap);
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closed;
    },
  };
}
