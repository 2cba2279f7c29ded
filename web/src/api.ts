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

/** A body read whole, with the answer's headers. */
export interface Fetched {
  readonly blob: Blob;
  header(name: string): string | null;
}

export interface BytesOptions {
  readonly signal?: AbortSignal;
  /** As chunks arrive: bytes so far, and Content-Length when the server sent it. */
  readonly onProgress?: (received: number, total: number | undefined) => void;
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
  /**
   * GETs a body as bytes, with the token in its header as every call: a download link cannot
   * carry it (the token is not a cookie, and put in a URL it would land in logs and history).
   * The whole body ends up in memory, as a Blob: see the artifacts panel for what that bounds.
   */
  bytes(path: string, opts?: BytesOptions): Promise<Fetched>;
}

export interface ApiOptions {
  readonly token: () => string | null;
  /** Called when the server answers 401: the token is no longer good. */
  readonly onUnauthorized: (err: ApiError) => void;
  /** Called after each attempt: false when the server could not be reached at all. */
  readonly onReachable?: (reachable: boolean) => void;
}

/**
 * What a request that reached no server says. The browser's own words ("Failed to fetch",
 * "NetworkError when attempting…") differ by browser and name no cause the user can act on.
 */
export const UNREACHABLE = "The server is not answering: it may be stopped, or the network is down.";

function unreachable(): ApiError {
  return new ApiError(0, "NETWORK", UNREACHABLE, null);
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
    } catch {
      opts.onReachable?.(false);
      throw unreachable();
    }
    opts.onReachable?.(true);
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
      } catch {
        if (signal.aborted) return false;
        opts.onReachable?.(false);
        throw unreachable();
      }
      opts.onReachable?.(true);
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
    async bytes(path, o = {}) {
      let res: Response;
      try {
        res = await fetch(path, { headers: headers(), ...(o.signal ? { signal: o.signal } : {}) });
      } catch (err) {
        if (o.signal?.aborted) throw err;
        opts.onReachable?.(false);
        throw unreachable();
      }
      if (!res.ok) {
        const err = await errorOf(res);
        if (res.status === 401) opts.onUnauthorized(err);
        throw err;
      }
      const length = res.headers.get("content-length");
      const total = length !== null && /^\d+$/.test(length) ? Number(length) : undefined;
      const chunks: Uint8Array[] = [];
      let received = 0;
      if (res.body) {
        const reader = res.body.getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            chunks.push(value);
            received += value.length;
            o.onProgress?.(received, total);
          }
        } catch (err) {
          if (o.signal?.aborted) throw err;
          throw new ApiError(0, "NETWORK", `The download broke off: ${(err as Error).message}`, null);
        }
      }
      const blob = new Blob(chunks as BlobPart[], {
        type: res.headers.get("content-type") ?? "application/octet-stream",
      });
      return { blob, header: (name) => res.headers.get(name) };
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
  projectRuns: (p: string) => `/v5/${p}/api/pipeline-runs/list`,
  checkRights: (p: string) => `/v5/${p}/api/pipelines/check-rights`,
  detail: (p: string, id: string, run: string) =>
    `/v5/${p}/api/pipelines/${id}/pipeline-runs/detail?pipeline_run_id=${run}`,
  runPath: (p: string, id: string, run: string) => `/v5/${p}/api/pipelines/${id}/pipeline-runs/${run}`,
  artifacts: (p: string, id: string, run: string) =>
    `/v5/${p}/api/pipelines/${id}/pipeline-runs/${run}/artifacts`,
  artifactDownload: (p: string, id: string, run: string, name: string) =>
    `/v5/${p}/api/pipelines/${id}/pipeline-runs/${run}/artifacts/${encodeURIComponent(name)}/download`,
  tags: (p: string) => `/v5/${p}/api/pipeline-tag/list`,
  tagCreate: (p: string) => `/v5/${p}/api/pipeline-tag/create`,
  tagUpdate: (p: string) => `/v5/${p}/api/pipeline-tag/update`,
  tagDelete: (p: string, tagId: string) =>
    `/v5/${p}/api/pipeline-tag/delete?tagId=${encodeURIComponent(tagId)}`,
  setTags: (p: string) => `/v5/${p}/api/pipeline-tag/set-tags`,
  stepPath: (p: string, id: string, run: string, job: string, step: string) =>
    `/v5/${p}/api/pipelines/${id}/pipeline-runs/${run}/jobs/${job}/steps/${step}`,
};
