// HTTP to a Pipewright (or CodeArts) server: JSON in and out with X-Auth-Token, Server-Sent Events
// for live logs, and the translation of every failure into a one-line CliError: a server answer
// names its DEVPIPE code, a network failure names the server it tried.

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

export interface HttpClient {
  readonly server: string;
  request<T>(method: string, path: string, opts?: RequestOptions): Promise<T>;
  /** Opens an event stream; the iterator ends when the server closes it. */
  events(path: string, signal?: AbortSignal): AsyncIterable<SseEvent>;
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

/** Why a request never got an answer, naming the server. Pure. */
export function networkErrorOf(server: string, err: unknown, timeoutMs: number): CliError {
  const e = err as { name?: string; cause?: { code?: string; message?: string }; message?: string };
  let why: string;
  if (e.name === "TimeoutError") why = `no answer within ${Math.round(timeoutMs / 1000)} s`;
  else {
    const code = e.cause?.code;
    const known: Record<string, string> = {
      ECONNREFUSED: "connection refused",
      ENOTFOUND: "host not found",
      EAI_AGAIN: "host name lookup failed",
      ECONNRESET: "connection reset",
      ETIMEDOUT: "connection timed out",
      EHOSTUNREACH: "host unreachable",
      ENETUNREACH: "network unreachable",
    };
    why = (code && known[code]) ?? e.cause?.message ?? e.message ?? String(err);
  }
  return new CliError(EXIT.NETWORK, `cannot reach the server at ${server} (${why})`, {
    hint: "Is it running? Set --server, PIPEWRIGHT_SERVER or run 'pipewright login'.",
    cause: err,
  });
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
  };
}
