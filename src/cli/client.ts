// HTTP to a Pipewright (or CodeArts) server: JSON in and out with X-Auth-Token, Server-Sent Events
// for live logs, streamed downloads, and the translation of every failure into a one-line
// CliError: a server answer names its DEVPIPE code, a network failure names the server it tried.

import http from "node:http";
import https from "node:https";
import { PassThrough, type Readable } from "node:stream";
import { createSseParser, type SseEvent } from "../wire/sse.js";
import { CliError, EXIT } from "./cli-error.js";

export type { SseEvent };

export interface RequestOptions {
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal | undefined;
  /** Upper bound for the whole request; default 60 s. */
  readonly timeoutMs?: number;
}

export interface StreamOptions {
  readonly signal?: AbortSignal | undefined;
  /** How long the connection may stay silent (before the answer, or between its chunks); default 60 s. */
  readonly idleTimeoutMs?: number;
}

/** A 2xx answer whose body is still to be read. */
export interface StreamedAnswer {
  readonly status: number;
  /** A response header (any case), its values joined with ", " when it came several times. */
  header(name: string): string | undefined;
  /**
   * The body as it arrives. It fails (with a CliError of EXIT.NETWORK) when the connection breaks
   * off or stays silent too long, so a reader never mistakes a cut body for a whole one.
   */
  readonly body: Readable;
}

export interface HttpClient {
  readonly server: string;
  request<T>(method: string, path: string, opts?: RequestOptions): Promise<T>;
  /** Opens an event stream; the iterator ends when the server closes it. */
  events(path: string, signal?: AbortSignal): AsyncIterable<SseEvent>;
  /**
   * GET that answers once the headers are in, for bodies too big to hold in memory (downloads).
   * It goes over node:http(s), not through `fetch` (nor an injected one).
   */
  getStream(path: string, opts?: StreamOptions): Promise<StreamedAnswer>;
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

const DEFAULT_TIMEOUT_MS = 60_000;

/** A server's error answer as one line: `message (DEVPIPE.x, HTTP 404)`. Pure. */
export function apiErrorOf(status: number, statusText: string, bodyText: string, what: string): CliError {
  let code: string | undefined;
  let message: string | undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
    const body = parsed as {
      error_code?: unknown;
      error_msg?: unknown;
      error?: { code?: unknown; message?: unknown };
    };
    // CodeArts answers {error_code, error_msg}; its SDKs also read {error: {code, message}}.
    const c = body.error_code ?? body.error?.code;
    const m = body.error_msg ?? body.error?.message;
    if (typeof c === "string") code = c;
    if (typeof m === "string") message = m;
  } catch {
    // Not JSON: a proxy's error page, say; a short excerpt is shown below.
  }
  const oneLine = (s: string): string => s.replace(/\s+/g, " ").trim();
  if (message === undefined) {
    const excerpt = oneLine(bodyText).slice(0, 160);
    message = `${what}: HTTP ${status} ${statusText}${excerpt ? `: ${excerpt}` : ""}`;
    return new CliError(EXIT.SERVER, message, { code, body: parsed });
  }
  return new CliError(EXIT.SERVER, `${oneLine(message)} (${code ? `${code}, ` : ""}HTTP ${status})`, {
    code,
    body: parsed,
  });
}

/** Why a request got no (whole) answer, in a few words: "connection refused". Pure. */
export function networkReason(err: unknown, timeoutMs: number): string {
  const e = err as {
    name?: string;
    code?: string;
    cause?: { code?: string; message?: string };
    message?: string;
  };
  if (e.name === "TimeoutError") {
    // Ours (streamedGet) say which silence it was; fetch's say only that time ran out.
    return e.message?.startsWith("no ") ? e.message : `no answer within ${Math.round(timeoutMs / 1000)} s`;
  }
  // fetch wraps the socket's error as its cause; node:http throws it as is.
  const code = e.cause?.code ?? e.code;
  // node:http reports a body cut short as ECONNRESET "aborted".
  if (code === "ECONNRESET" && e.message === "aborted") return "the connection closed early";
  const known: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "host name lookup failed",
    ECONNRESET: "connection reset",
    ECONNABORTED: "connection aborted",
    ETIMEDOUT: "connection timed out",
    EHOSTUNREACH: "host unreachable",
    ENETUNREACH: "network unreachable",
  };
  return (code && known[code]) ?? e.cause?.message ?? e.message ?? String(err);
}

/** Why a request never got an answer, naming the server. Pure. */
export function networkErrorOf(server: string, err: unknown, timeoutMs: number): CliError {
  return new CliError(
    EXIT.NETWORK,
    `cannot reach the server at ${server} (${networkReason(err, timeoutMs)})`,
    {
      hint: "Is it running? Set --server, PIPEWRIGHT_SERVER or run 'pipewright login'.",
      cause: err,
    },
  );
}

export function createHttpClient(opts: {
  server: string;
  token: string | undefined;
  fetch?: FetchLike;
  userAgent?: string;
}): HttpClient {
  const f: FetchLike = opts.fetch ?? ((input, init) => fetch(input, init));
  const baseHeaders: Record<string, string> = { accept: "application/json" };
  if (opts.token) baseHeaders["x-auth-token"] = opts.token;
  if (opts.userAgent) baseHeaders["user-agent"] = opts.userAgent;

  async function send(method: string, path: string, ro: RequestOptions, accept?: string): Promise<Response> {
    const url = opts.server + path;
    const timeoutMs = ro.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const signals = [AbortSignal.timeout(timeoutMs), ...(ro.signal ? [ro.signal] : [])];
    const headers: Record<string, string> = { ...baseHeaders, ...ro.headers };
    if (accept) headers.accept = accept;
    if (ro.body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await f(url, {
        method,
        headers,
        signal: AbortSignal.any(signals),
        ...(ro.body !== undefined ? { body: JSON.stringify(ro.body) } : {}),
      });
    } catch (err) {
      // Our own cancellation (Ctrl-C) is not a network failure; let the caller see it as is.
      if (ro.signal?.aborted) throw err;
      throw networkErrorOf(opts.server, err, timeoutMs);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => "");
      throw apiErrorOf(res.status, res.statusText, text, `${method} ${url}`);
    }
    return res;
  }

  return {
    server: opts.server,
    async request<T>(method: string, path: string, ro: RequestOptions = {}): Promise<T> {
      const res = await send(method, path, ro);
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        if (ro.signal?.aborted) throw err;
        throw networkErrorOf(opts.server, err, ro.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      }
      if (text === "") return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new CliError(
          EXIT.SERVER,
          `${method} ${opts.server}${path}: the answer is not JSON: ${text.slice(0, 120).replace(/\s+/g, " ")}`,
        );
      }
    },
    async *events(path: string, signal?: AbortSignal): AsyncIterable<SseEvent> {
      // A live stream may legitimately stay quiet for hours; only the connection set-up is bounded.
      const res = await send("GET", path, { signal, timeoutMs: 24 * 3600_000 }, "text/event-stream");
      if (!res.body) return;
      const decoder = new TextDecoder();
      const ready: SseEvent[] = [];
      const feed = createSseParser((e) => ready.push(e));
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        feed(decoder.decode(chunk, { stream: true }));
        yield* ready.splice(0);
      }
    },
    getStream(path: string, so: StreamOptions = {}): Promise<StreamedAnswer> {
      return streamedGet(opts.server, path, { ...baseHeaders, accept: "*/*" }, so);
    },
  };
}

/** Bytes of an error answer read for its message; the rest is dropped. */
const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * GET over node:http(s) rather than fetch: a download may take longer than any bound on a whole
 * request, so what is bounded here is silence (the socket's idle timeout), and the body is a Node
 * stream that pipes with backpressure into a file.
 */
function streamedGet(
  server: string,
  path: string,
  headers: Readonly<Record<string, string>>,
  so: StreamOptions,
): Promise<StreamedAnswer> {
  const url = new URL(server + path);
  const idleMs = so.idleTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const client = url.protocol === "https:" ? https : http;
  const aborted = (): boolean => so.signal?.aborted === true;
  return new Promise<StreamedAnswer>((resolve, reject) => {
    let answer: http.IncomingMessage | undefined;
    const req = client.request(url, {
      method: "GET",
      headers,
      ...(so.signal ? { signal: so.signal } : {}),
    });
    req.setTimeout(idleMs, () => {
      const secs = idleMs / 1000;
      const err = Object.assign(new Error(answer ? `no data for ${secs} s` : `no answer within ${secs} s`), {
        name: "TimeoutError",
      });
      // Once the answer has begun the reader is listening on its body: the error goes there.
      answer?.destroy(err);
      req.destroy(err);
    });
    req.once("error", (err) => {
      // Our own cancellation (Ctrl-C) is not a network failure; let the caller see it as is.
      reject(aborted() ? err : networkErrorOf(server, err, idleMs));
    });
    req.once("response", (res) => {
      answer = res;
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          if (size < ERROR_BODY_LIMIT) chunks.push(c);
          size += c.length;
        });
        res.once("end", () =>
          reject(
            apiErrorOf(
              status,
              res.statusMessage ?? "",
              Buffer.concat(chunks).toString("utf8").slice(0, ERROR_BODY_LIMIT),
              `GET ${url.href}`,
            ),
          ),
        );
        res.once("error", (err) => reject(aborted() ? err : networkErrorOf(server, err, idleMs)));
        return;
      }
      // A body that breaks off or goes silent fails naming the server, so a reader never takes a
      // cut body for a whole one; a cancellation passes as it is.
      const body = new PassThrough();
      res.on("error", (err) =>
        body.destroy(
          aborted()
            ? err
            : new CliError(
                EXIT.NETWORK,
                `the answer from ${server} broke off (${networkReason(err, idleMs)})`,
                { cause: err },
              ),
        ),
      );
      // A reader that gives up (a full disk, say) closes the connection instead of leaving it paused.
      body.once("close", () => {
        if (!res.complete) res.destroy();
      });
      res.pipe(body);
      resolve({
        status,
        header(name) {
          const v = res.headers[name.toLowerCase()];
          return Array.isArray(v) ? v.join(", ") : v;
        },
        body,
      });
    });
    req.end();
  });
}
