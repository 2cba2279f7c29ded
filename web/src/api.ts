// The one door to the server: JSON requests with X-Auth-Token, errors as ApiError (the server's
// {error_code, error_msg}), and live streams read with fetch.

import { readSse, type SseEvent } from "./sse.js";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface Api {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
  put<T>(path: string, body?: unknown): Promise<T>;
  del<T>(path: string): Promise<T>;
  /**
   * Reads an SSE endpoint until it ends (answers true when an `end` event came) or the signal
   * aborts (answers false).
   */
  stream(path: string, signal: AbortSignal, onEvent: (e: SseEvent) => void): Promise<boolean>;
}

export interface ApiOptions {
  readonly token: () => string | null;
  /** Called when the server answers 401: the token is no longer good. */
  readonly onUnauthorized: (err: ApiError) => void;
}

async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  const b = body as { error_code?: unknown; error_msg?: unknown };
  const code = typeof b?.error_code === "string" ? b.error_code : `HTTP ${res.status}`;
  const msg = typeof b?.error_msg === "string" ? b.error_msg : text || res.statusText;
  return new ApiError(res.status, code, msg, body);
}

export function createApi(opts: ApiOptions): Api {
  function headers(extra: Record<string, string> = {}, json = false): Record<string, string> {
    const h: Record<string, string> = { ...extra };
    const token = opts.token();
    if (token) h["X-Auth-Token"] = token;
    if (json) h["Content-Type"] = "application/json";
    return h;
  }

  async function request<T>(
    method: string,
    path: string,
    body?: unknown,
    extra?: Record<string, string>,
  ): Promise<T> {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: headers(extra, body !== undefined),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new ApiError(0, "NETWORK", `The server did not answer: ${(err as Error).message}`, null);
    }
    if (!res.ok) {
      const err = await errorOf(res);
      if (res.status === 401) opts.onUnauthorized(err);
      throw err;
    }
    const text = await res.text();
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  return {
    get: (p) => request("GET", p),
    post: (p, b, h) => request("POST", p, b, h),
    put: (p, b) => request("PUT", p, b),
    del: (p) => request("DELETE", p),
    async stream(path, signal, onEvent) {
      let ended = false;
      let res: Response;
      try {
        res = await fetch(path, { headers: headers({ Accept: "text/event-stream" }), signal });
      } catch (err) {
        if (signal.aborted) return false;
        throw new ApiError(0, "NETWORK", `The server did not answer: ${(err as Error).message}`, null);
      }
      if (!res.ok) {
        const err = await errorOf(res);
        if (res.status === 401) opts.onUnauthorized(err);
        throw err;
      }
      await readSse(res, signal, (e) => {
        if (e.event === "end") ended = true;
        onEvent(e);
      });
      return ended;
    },
  };
}

/** Path helpers: every API path the UI uses, in one place. */
export const paths = {
  projects: () => "/admin/v1/projects",
  pipelines: (p: string) => `/v5/${p}/api/pipelines`,
  pipeline: (p: string, id: string) => `/v5/${p}/api/pipelines/${id}`,
  webhook: (p: string, id: string) => `/v5/${p}/api/pipelines/${id}/webhook`,
  list: (p: string) => `/v5/${p}/api/pipelines/list`,
  status: (p: string) => `/v5/${p}/api/pipelines/status`,
  batch: (p: string) => `/v5/${p}/api/pipelines/batch-runs`,
  batchResult: (p: string) => `/v5/${p}/api/pipelines/batch-runs/result`,
  run: (p: string, id: string) => `/v5/${p}/api/pipelines/${id}/run`,
  runs: (p: string, id: string) => `/v5/${p}/api/pipelines/${id}/pipeline-runs/list`,
  detail: (p: string, id: string, run: string) =>
    `/v5/${p}/api/pipelines/${id}/pipeline-runs/detail?pipeline_run_id=${run}`,
  runPath: (p: string, id: string, run: string) => `/v5/${p}/api/pipelines/${id}/pipeline-runs/${run}`,
  stepPath: (p: string, id: string, run: string, job: string, step: string) =>
    `/v5/${p}/api/pipelines/${id}/pipeline-runs/${run}/jobs/${job}/steps/${step}`,
};
