// What the AK/SK-signed API tests share: a request signed as the official SDKs sign it, and a
// check that an answer has exactly a model's fields, each of its kind.

import type { FastifyInstance } from "fastify";
import { expect } from "vitest";
import { type CallResult, call } from "./app.js";
import { signRequest } from "./sdk-signer.js";

/**
 * `signed(method, path, body?, query?)` against the app, with the access key of `who()` (read at
 * each call, so it may be set in a beforeAll).
 */
export function sdkCaller(
  who: () => {
    readonly app: FastifyInstance;
    readonly ak: string;
    readonly sk: string;
    readonly projectId: string;
  },
) {
  return (
    method: string,
    path: string,
    body?: unknown,
    query?: Record<string, string>,
  ): Promise<CallResult> => {
    const { app, ak, sk, projectId } = who();
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers = signRequest({
      ak,
      sk,
      method,
      host: "localhost:80",
      path,
      ...(query ? { query } : {}),
      ...(text === undefined ? {} : { body: text }),
      projectId,
    });
    const qs = query ? `?${new URLSearchParams(query).toString()}` : "";
    return call(app, method, path + qs, { headers, ...(text === undefined ? {} : { rawBody: text }) });
  };
}

/**
 * Exactly the model's fields, each of its kind: a `typeof` name, `array` or `null`, or several
 * joined by `|` (`string|null`). `object`, as typeof has it, also takes an array or null.
 */
export function holds(value: Record<string, unknown>, fields: Readonly<Record<string, string>>): void {
  expect(Object.keys(value).sort()).toEqual(Object.keys(fields).sort());
  for (const [k, kind] of Object.entries(fields)) {
    const v = value[k];
    const actual = v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
    const kinds = kind.split("|");
    const ok =
      kinds.includes(actual) || (kinds.includes("object") && (actual === "array" || actual === "null"));
    expect(ok, `${k} is ${actual}, not ${kind}`).toBe(true);
  }
}
