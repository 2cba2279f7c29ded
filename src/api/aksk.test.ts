// Tests the AK/SK verifier against a signer written here from the Node SDK's algorithm
// (huaweicloud-sdk-nodejs-v3 core/auth/AKSKSigner.ts + BasicCredentials.ts + DefaultHttpClient.ts),
// sharing no code with aksk.ts, plus known answers from the Python and Go SDKs' own signer tests.
import { createHash, createHmac } from "node:crypto";
import { stringify } from "node:querystring";
import { parse as legacyUrlParse } from "node:url";
import { describe, expect, it } from "vitest";
import { PipewrightError } from "../errors.js";
import type { SignedRequest } from "./aksk.js";
import { parseAuthorization, verifyAkSk } from "./aksk.js";

const NOW = new Date("2025-03-14T09:15:00Z");
const NOW_STAMP = "20250314T091500Z";
const AK = "HPUAEXAMPLEAK0000001";
const SK = "example-secret-key-0123456789abcdef";
const PROJECT = "0123456789abcdef0123456789abcdef";
const PIPELINE = "fedcba9876543210fedcba9876543210";
const ENDPOINT = "http://127.0.0.1:8080";
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const secrets: Record<string, string> = { [AK]: SK, "my ak": "my sk" };
const lookup = (ak: string): string | undefined => secrets[ak];

const sha256 = (s: string): string => createHash("sha256").update(s).digest("hex");
const hmac = (key: string, s: string): string => createHmac("sha256", key).update(s).digest("hex");

/** The SDK escape: RFC 3986 unreserved characters stay, the rest is UTF-8 `%XX` in upper case. */
function escapeLikeSdk(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

interface SdkCall {
  method: string;
  /** The path after the SDK filled its placeholders (project id already encodeURIComponent'ed). */
  path: string;
  query?: Record<string, string | string[]>;
  headers?: Record<string, string>;
  body?: unknown;
  ak?: string;
  sk?: string;
  at?: Date;
  endpoint?: string;
}

interface SdkSigned {
  request: SignedRequest;
  canonicalRequest: string;
  authorization: string;
}

/** Sign as the Node SDK does, then return what axios would put on the wire as Node receives it. */
function sdkSign(call: SdkCall): SdkSigned {
  const sdkDate = (call.at ?? NOW)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
  const full = (call.endpoint ?? ENDPOINT) + call.path;
  // Legacy url.parse on purpose: its pathname (not the one axios sends) is what the SDK signs.
  const parsed = legacyUrlParse(full);
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(call.headers ?? {})) headers.set(name.toLowerCase(), value);
  headers.set("x-sdk-date", sdkDate);
  headers.set("host", parsed.host ?? "");
  const names = [...headers.keys()].sort();

  const uri = (parsed.pathname ?? "/").split("/").map(escapeLikeSdk).join("/");
  const query = call.query ?? {};
  const canonicalQuery = Object.keys(query)
    .sort()
    .flatMap((key) => {
      const value = query[key] ?? "";
      const values = Array.isArray(value) ? [...value].sort() : [value];
      return values.map((v) => `${escapeLikeSdk(key)}=${escapeLikeSdk(v)}`);
    })
    .join("&");
  const bodyText = call.body === undefined ? undefined : JSON.stringify(call.body);
  const canonicalRequest = [
    call.method,
    uri.endsWith("/") ? uri : `${uri}/`,
    canonicalQuery,
    names.map((n) => `${n}:${headers.get(n)}\n`).join(""),
    names.join(";"),
    headers.get("x-sdk-content-sha256") ?? (bodyText === undefined ? EMPTY_SHA256 : sha256(bodyText)),
  ].join("\n");
  const signature = hmac(call.sk ?? SK, `SDK-HMAC-SHA256\n${sdkDate}\n${sha256(canonicalRequest)}`);
  const authorization = `SDK-HMAC-SHA256 Access=${call.ak ?? AK}, SignedHeaders=${names.join(";")}, Signature=${signature}`;

  const search = stringify(query);
  return {
    request: {
      method: call.method,
      url: new URL(full).pathname + (search === "" ? "" : `?${search}`),
      headers: { ...Object.fromEntries(headers), authorization },
      body: bodyText === undefined ? Buffer.alloc(0) : Buffer.from(bodyText, "utf8"),
    },
    canonicalRequest,
    authorization,
  };
}

/** Sign a hand-written canonical request, for clients that canonicalise differently from our signer. */
function signCanonical(
  canonicalRequest: string,
  sdkDate: string,
  signedHeaders: string,
  sk = SK,
  ak = AK,
): string {
  const signature = hmac(sk, `SDK-HMAC-SHA256\n${sdkDate}\n${sha256(canonicalRequest)}`);
  return `SDK-HMAC-SHA256 Access=${ak}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

function withHeaders(req: SignedRequest, changes: Record<string, string | undefined>): SignedRequest {
  return { ...req, headers: { ...req.headers, ...changes } };
}

function rejection(fn: () => unknown): PipewrightError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PipewrightError) return err;
    throw err;
  }
  throw new Error("expected a PipewrightError, nothing was thrown");
}

function expectInvalid(req: SignedRequest, message: RegExp, now = NOW): void {
  const err = rejection(() => verifyAkSk(req, lookup, now));
  expect(err.key).toBe("SIGNATURE_INVALID");
  expect(err.code).toBe("DEVPIPE.00020002");
  expect(err.status).toBe(401);
  expect(err.message).toMatch(message);
}

const detailPath = `/v5/${PROJECT}/api/pipelines/${PIPELINE}/pipeline-runs/detail`;

function signedGet(over: Partial<SdkCall> = {}): SdkSigned {
  return sdkSign({
    method: "GET",
    path: detailPath,
    query: { pipeline_run_id: "abc", b: "1" },
    headers: { "X-Project-Id": PROJECT },
    ...over,
  });
}

function signedPost(over: Partial<SdkCall> = {}): SdkSigned {
  return sdkSign({
    method: "POST",
    path: `/v5/${PROJECT}/api/pipelines/batch-runs`,
    headers: { "X-Project-Id": PROJECT, "content-type": "application/json" },
    body: { pipeline_ids: [PIPELINE], description: "nightly ✓" },
    ...over,
  });
}

describe("known answers from the SDKs' own signer tests", () => {
  // huaweicloud-sdk-python-v3 huaweicloud-sdk-core/tests/test_signer.py
  const pythonVector =
    "SDK-HMAC-SHA256 Access=my ak, SignedHeaders=host;x-sdk-date, " +
    "Signature=6d5bc610d3d4475346aae5cd7ed8d99585e60c0430a1d3d6e2f54e2bdd633701";

  it("verifies the Python SDK vector end to end", () => {
    const req: SignedRequest = {
      method: "GET",
      url: "/resources?size=1",
      headers: {
        host: "service.endpoint.myhuaweicloud.com",
        "x-sdk-date": "20200608T023900Z",
        authorization: pythonVector,
      },
      body: Buffer.alloc(0),
    };
    expect(verifyAkSk(req, lookup, new Date("2020-06-08T02:40:00Z"))).toEqual({ ak: "my ak" });
  });

  it("our test signer reproduces the Python SDK vector and its canonical request", () => {
    const signed = sdkSign({
      method: "GET",
      endpoint: "https://service.endpoint.myhuaweicloud.com",
      path: "/resources",
      query: { size: "1" },
      ak: "my ak",
      sk: "my sk",
      at: new Date("2020-06-08T02:39:00Z"),
    });
    expect(signed.authorization).toBe(pythonVector);
    expect(signed.canonicalRequest).toBe(
      "GET\n/resources/\nsize=1\nhost:service.endpoint.myhuaweicloud.com\nx-sdk-date:20200608T023900Z\n\n" +
        `host;x-sdk-date\n${EMPTY_SHA256}`,
    );
  });

  // huaweicloud-sdk-go-v3 core/auth/signer/signer_test.go: the Go signer signs no host header.
  const goCases = [
    {
      name: "GET /path?limit=1",
      canonical: `GET\n/path/\nlimit=1\nx-sdk-date:20060102T150405Z\n\nx-sdk-date\n${EMPTY_SHA256}`,
      signature: "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624",
      url: "/path?limit=1",
      body: "",
    },
    {
      name: "POST /path?key=value with a JSON body",
      canonical: `POST\n/path/\nkey=value\nx-sdk-date:20060102T150405Z\n\nx-sdk-date\n${sha256('{"Name":"test","Id":1}\n')}`,
      signature: "cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59",
      url: "/path?key=value",
      body: '{"Name":"test","Id":1}\n',
    },
  ];

  for (const c of goCases) {
    it(`the string to sign reproduces the Go SDK vector (${c.name})`, () => {
      expect(hmac("SecretKey", `SDK-HMAC-SHA256\n20060102T150405Z\n${sha256(c.canonical)}`)).toBe(
        c.signature,
      );
    });

    it(`verifies the Go SDK vector, which signs no host (${c.name})`, () => {
      const req: SignedRequest = {
        method: c.name.slice(0, c.name.indexOf(" ")),
        url: c.url,
        headers: {
          host: "example.huaweicloud.com",
          "x-sdk-date": "20060102T150405Z",
          authorization: `SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=${c.signature}`,
        },
        body: Buffer.from(c.body),
      };
      expect(
        verifyAkSk(
          req,
          (ak) => (ak === "AccessKey" ? "SecretKey" : undefined),
          new Date("2006-01-02T15:04:05Z"),
        ),
      ).toEqual({ ak: "AccessKey" });
    });
  }

  it("verifies a hand-written canonical request for a Pipewright call", () => {
    const canonical = [
      "GET",
      `/v5/${PROJECT}/api/pipelines/${PIPELINE}/pipeline-runs/detail/`,
      "b=1&pipeline_run_id=abc",
      `host:127.0.0.1:8080\nx-project-id:${PROJECT}\nx-sdk-date:${NOW_STAMP}\n`,
      "host;x-project-id;x-sdk-date",
      EMPTY_SHA256,
    ].join("\n");
    const req: SignedRequest = {
      method: "GET",
      url: `${detailPath}?pipeline_run_id=abc&b=1`,
      headers: {
        host: "127.0.0.1:8080",
        "x-project-id": PROJECT,
        "x-sdk-date": NOW_STAMP,
        "user-agent": "huaweicloud-usdk-nodejs/3.0",
        authorization: signCanonical(canonical, NOW_STAMP, "host;x-project-id;x-sdk-date"),
      },
      body: Buffer.alloc(0),
    };
    expect(verifyAkSk(req, lookup, NOW)).toEqual({ ak: AK });
    // And our signer builds the very same canonical request for that call.
    expect(signedGet().canonicalRequest).toBe(canonical);
  });
});

describe("verifyAkSk accepts what the SDK signs", () => {
  it("a GET with no body and a query string, sorted by key", () => {
    const { request, canonicalRequest } = signedGet();
    expect(request.url).toBe(`${detailPath}?pipeline_run_id=abc&b=1`);
    expect(canonicalRequest.split("\n")[2]).toBe("b=1&pipeline_run_id=abc");
    expect(canonicalRequest.endsWith(`\n${EMPTY_SHA256}`)).toBe(true);
    expect(verifyAkSk(request, lookup, NOW)).toEqual({ ak: AK });
  });

  it("a POST with a JSON body (hash of the exact bytes, content-type signed)", () => {
    const { request, canonicalRequest } = signedPost();
    expect(canonicalRequest).toContain("\ncontent-type:application/json\n");
    expect(canonicalRequest.endsWith(`\n${sha256(request.body.toString("utf8"))}`)).toBe(true);
    expect(verifyAkSk(request, lookup, NOW)).toEqual({ ak: AK });
  });

  it("a path whose characters need percent-encoding, escaped the Node SDK way", () => {
    const { request, canonicalRequest } = sdkSign({
      method: "DELETE",
      path: `/v5/${encodeURIComponent("my proj")}/api/pipelines/a:b(c)!*'|^x`,
    });
    expect(request.url).toBe("/v5/my%20proj/api/pipelines/a:b(c)!*'|^x");
    expect(canonicalRequest.split("\n")[1]).toBe(
      "/v5/my%2520proj/api/pipelines/a%3Ab%28c%29%21%2A%2527%257C%255Ex/",
    );
    expect(verifyAkSk(request, lookup, NOW)).toEqual({ ak: AK });
  });

  it("a raw non-ASCII path parameter (url.parse keeps it raw, the wire carries UTF-8 %XX)", () => {
    const { request, canonicalRequest } = sdkSign({ method: "GET", path: "/v5/p/api/pipelines/café" });
    expect(request.url).toBe("/v5/p/api/pipelines/caf%C3%A9");
    expect(canonicalRequest.split("\n")[1]).toBe("/v5/p/api/pipelines/caf%C3%A9/");
    expect(verifyAkSk(request, lookup, NOW)).toEqual({ ak: AK });
  });

  it("a Python/Go-style signature over the decoded path", () => {
    const canonical = `GET\n/v5/my%20proj/api/pipelines/\n\nhost:127.0.0.1:8080\nx-sdk-date:${NOW_STAMP}\n\nhost;x-sdk-date\n${EMPTY_SHA256}`;
    const req: SignedRequest = {
      method: "GET",
      url: "/v5/my%20proj/api/pipelines",
      headers: {
        host: "127.0.0.1:8080",
        "x-sdk-date": NOW_STAMP,
        authorization: signCanonical(canonical, NOW_STAMP, "host;x-sdk-date"),
      },
      body: Buffer.alloc(0),
    };
    expect(verifyAkSk(req, lookup, NOW)).toEqual({ ak: AK });
  });

  it("the canonical URI always ends in exactly one /", () => {
    const bare = sdkSign({ method: "GET", path: `/v5/${PROJECT}/api/pipelines` });
    const slashed = sdkSign({ method: "GET", path: `/v5/${PROJECT}/api/pipelines/` });
    const root = sdkSign({ method: "GET", path: "/" });
    expect(bare.canonicalRequest.split("\n")[1]).toBe(`/v5/${PROJECT}/api/pipelines/`);
    expect(slashed.canonicalRequest.split("\n")[1]).toBe(`/v5/${PROJECT}/api/pipelines/`);
    expect(root.canonicalRequest.split("\n")[1]).toBe("/");
    for (const s of [bare, slashed, root]) expect(verifyAkSk(s.request, lookup, NOW)).toEqual({ ak: AK });
  });

  it("refuses a signature over a canonical URI without the trailing /", () => {
    const canonical = `GET\n/v5/${PROJECT}/api/pipelines\n\nhost:127.0.0.1:8080\nx-sdk-date:${NOW_STAMP}\n\nhost;x-sdk-date\n${EMPTY_SHA256}`;
    const req: SignedRequest = {
      method: "GET",
      url: `/v5/${PROJECT}/api/pipelines`,
      headers: {
        host: "127.0.0.1:8080",
        "x-sdk-date": NOW_STAMP,
        authorization: signCanonical(canonical, NOW_STAMP, "host;x-sdk-date"),
      },
      body: Buffer.alloc(0),
    };
    expectInvalid(req, /signature does not match/);
  });

  it("repeated query keys: values sorted, as the SDK signs arrays", () => {
    const { request, canonicalRequest } = signedGet({ query: { status: ["RUNNING", "FAILED"], a: "" } });
    expect(request.url).toBe(`${detailPath}?status=RUNNING&status=FAILED&a=`);
    expect(canonicalRequest.split("\n")[2]).toBe("a=&status=FAILED&status=RUNNING");
    expect(verifyAkSk(request, lookup, NOW)).toEqual({ ak: AK });
  });

  it("query values with reserved and non-ASCII characters", () => {
    const { request, canonicalRequest } = signedGet({ query: { name: "a b+c/é~*(x)" } });
    expect(canonicalRequest.split("\n")[2]).toBe("name=a%20b%2Bc%2F%C3%A9~%2A%28x%29");
    expect(verifyAkSk(request, lookup, NOW)).toEqual({ ak: AK });
    // Go's url.Values.Encode sends a space as "+": same parameter, same signature.
    const plus = { ...request, url: request.url.replace("a%20b", "a+b") };
    expect(plus.url).toContain("name=a+b%2Bc");
    expect(verifyAkSk(plus, lookup, NOW)).toEqual({ ak: AK });
  });

  it("a date within the skew either way", () => {
    for (const minutes of [-14, 14]) {
      const { request } = signedGet({ at: new Date(NOW.getTime() + minutes * 60_000) });
      expect(verifyAkSk(request, lookup, NOW)).toEqual({ ak: AK });
    }
  });

  it("a non-JSON body sent as UNSIGNED-PAYLOAD, as the SDK does for other content types", () => {
    const { request } = sdkSign({
      method: "PUT",
      path: `/v5/${PROJECT}/api/pipelines/${PIPELINE}/upload`,
      headers: { "content-type": "application/octet-stream", "X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD" },
    });
    const withBody = { ...request, body: Buffer.from([1, 2, 3]) };
    expect(verifyAkSk(withBody, lookup, NOW)).toEqual({ ak: AK });
  });

  it("an empty body with UNSIGNED-PAYLOAD, hashed as empty the way the Python SDK does", () => {
    const signedHeaders = "content-type;host;x-sdk-content-sha256;x-sdk-date";
    const canonical = [
      "DELETE",
      `/v5/${PROJECT}/api/pipelines/${PIPELINE}/`,
      "",
      `content-type:text/plain\nhost:127.0.0.1:8080\nx-sdk-content-sha256:UNSIGNED-PAYLOAD\nx-sdk-date:${NOW_STAMP}\n`,
      signedHeaders,
      EMPTY_SHA256,
    ].join("\n");
    const req: SignedRequest = {
      method: "DELETE",
      url: `/v5/${PROJECT}/api/pipelines/${PIPELINE}`,
      headers: {
        "content-type": "text/plain",
        host: "127.0.0.1:8080",
        "x-sdk-content-sha256": "UNSIGNED-PAYLOAD",
        "x-sdk-date": NOW_STAMP,
        authorization: signCanonical(canonical, NOW_STAMP, signedHeaders),
      },
      body: Buffer.alloc(0),
    };
    expect(verifyAkSk(req, lookup, NOW)).toEqual({ ak: AK });
  });

  it("trims signed header values", () => {
    const { request } = signedGet();
    expect(verifyAkSk(withHeaders(request, { "x-project-id": `  ${PROJECT}\t` }), lookup, NOW)).toEqual({
      ak: AK,
    });
  });

  it("ignores headers that were not signed (user-agent, accept)", () => {
    const { request } = signedGet();
    const more = withHeaders(request, {
      "user-agent": "huaweicloud-usdk-nodejs/3.0",
      accept: "application/json",
    });
    expect(verifyAkSk(more, lookup, NOW)).toEqual({ ak: AK });
  });
});

describe("verifyAkSk refuses", () => {
  it("a tampered body", () => {
    const { request } = signedPost();
    const tampered = {
      ...request,
      body: Buffer.from(request.body.toString("utf8").replace("nightly", "nightlY")),
    };
    expectInvalid(tampered, /signature does not match/);
    expectInvalid({ ...request, body: Buffer.alloc(0) }, /signature does not match/);
  });

  it("a tampered path", () => {
    const { request } = signedGet();
    const other = "00000000000000000000000000000000";
    expectInvalid({ ...request, url: request.url.replace(PIPELINE, other) }, /signature does not match/);
    expectInvalid(
      { ...request, url: request.url.replace("/detail?", "/details?") },
      /signature does not match/,
    );
  });

  it("cannot tell a trailing / apart: the SDK rule makes /x and /x/ sign alike, so routes must not differ on it", () => {
    const { request } = signedGet();
    expect(
      verifyAkSk({ ...request, url: request.url.replace("/detail?", "/detail/?") }, lookup, NOW),
    ).toEqual({ ak: AK });
  });

  it("a tampered query", () => {
    const { request } = signedGet();
    expectInvalid(
      { ...request, url: request.url.replace("pipeline_run_id=abc", "pipeline_run_id=abd") },
      /signature does not match/,
    );
    expectInvalid({ ...request, url: `${request.url}&extra=1` }, /signature does not match/);
    expectInvalid(
      { ...request, url: request.url.slice(0, request.url.indexOf("?")) },
      /signature does not match/,
    );
  });

  it("a tampered method", () => {
    const { request } = signedGet();
    expectInvalid({ ...request, method: "DELETE" }, /signature does not match/);
  });

  it("a tampered signed header", () => {
    const { request } = signedGet();
    expectInvalid(withHeaders(request, { "x-project-id": PIPELINE }), /signature does not match/);
    expectInvalid(withHeaders(request, { host: "127.0.0.1:9090" }), /signature does not match/);
  });

  it("a wrong SK", () => {
    expectInvalid(signedGet({ sk: "not-the-secret" }).request, /signature does not match/);
  });

  it("an unknown AK", () => {
    expectInvalid(signedGet({ ak: "UNKNOWNAK" }).request, /access key UNKNOWNAK is unknown/);
  });

  it("a stale date (16 minutes old)", () => {
    const { request } = signedGet({ at: new Date(NOW.getTime() - 16 * 60_000) });
    expectInvalid(request, /X-Sdk-Date 20250314T085900Z is 960 s behind the server clock/);
  });

  it("a date in the future beyond the skew", () => {
    const { request } = signedGet({ at: new Date(NOW.getTime() + 16 * 60_000) });
    expectInvalid(request, /X-Sdk-Date 20250314T093100Z is 960 s ahead of the server clock/);
  });

  it("a missing or unparseable X-Sdk-Date", () => {
    const { request } = signedGet();
    expectInvalid(withHeaders(request, { "x-sdk-date": undefined }), /missing X-Sdk-Date/);
    for (const bad of [
      "2025-03-14T09:15:00Z",
      "20250314T091500",
      "20250230T091500Z",
      "20250314T246000Z",
      "",
    ]) {
      expectInvalid(
        withHeaders(request, { "x-sdk-date": bad }),
        /is not a UTC time of the form YYYYMMDDTHHmmssZ/,
      );
    }
  });

  it("a signed header that is absent from the request", () => {
    const { request } = signedGet();
    expectInvalid(
      withHeaders(request, { "x-project-id": undefined }),
      /signed header x-project-id is absent/,
    );
  });

  it("a missing or malformed Authorization header", () => {
    const { request, authorization } = signedGet();
    const signature = authorization.slice(authorization.indexOf("Signature=") + "Signature=".length);
    expectInvalid(withHeaders(request, { authorization: undefined }), /missing Authorization header/);
    const malformed = [
      "",
      "Bearer abc",
      `SDK-HMAC-SM3 Access=${AK}, SignedHeaders=host;x-sdk-date, Signature=${signature}`,
      `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=host;x-sdk-date`,
      `SDK-HMAC-SHA256 Access=${AK}, Signature=${signature}`,
      `SDK-HMAC-SHA256 SignedHeaders=host;x-sdk-date, Signature=${signature}`,
      `SDK-HMAC-SHA256 Access=, SignedHeaders=host;x-sdk-date, Signature=${signature}`,
      `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=host;x-sdk-date, Signature=${signature.slice(1)}`,
      `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=host;x-sdk-date, Signature=${"z".repeat(64)}`,
      `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=host;;x-sdk-date, Signature=${signature}`,
      `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=host;x-sdk-date, Signature=${signature}, Extra=1`,
      `SDK-HMAC-SHA256 Access=${AK}, Access=${AK}, SignedHeaders=host, Signature=${signature}`,
      `SDK-HMAC-SHA256 Access=${AK} SignedHeaders=host;x-sdk-date Signature=${signature}`,
    ];
    for (const value of malformed) {
      expectInvalid(withHeaders(request, { authorization: value }), /malformed Authorization header/);
    }
  });

  it("a signature whose signed headers leave out x-sdk-date (the date would not be protected)", () => {
    const { request } = signedGet();
    const noDate = signCanonical(
      `GET\n${detailPath}/\nb=1&pipeline_run_id=abc\nhost:127.0.0.1:8080\n\nhost\n${EMPTY_SHA256}`,
      NOW_STAMP,
      "host",
    );
    expectInvalid(withHeaders(request, { authorization: noDate }), /SignedHeaders must include x-sdk-date/);
  });

  it("a body that does not match a signed X-Sdk-Content-Sha256", () => {
    const { request } = signedPost({
      headers: { "content-type": "application/json", "X-Sdk-Content-Sha256": sha256("something else") },
    });
    expectInvalid(request, /X-Sdk-Content-Sha256 does not match/);
  });

  it("a query string with broken percent-encoding", () => {
    const { request } = signedGet();
    expectInvalid({ ...request, url: `${request.url}&x=%E0%A4%A` }, /malformed percent-encoding/);
  });
});

describe("parseAuthorization", () => {
  it("reads the three fields the SDK writes", () => {
    const signature = "AB".repeat(32);
    expect(
      parseAuthorization(
        `SDK-HMAC-SHA256 Access=my ak, SignedHeaders=host;x-project-id;x-sdk-date, Signature=${signature}`,
      ),
    ).toEqual({
      access: "my ak",
      signedHeaders: ["host", "x-project-id", "x-sdk-date"],
      signature: "ab".repeat(32),
    });
  });

  it("tolerates spacing and field order", () => {
    const parsed = parseAuthorization(
      `  SDK-HMAC-SHA256   Signature=${"0".repeat(64)},SignedHeaders=host ,  Access=AK `,
    );
    expect(parsed).toEqual({ access: "AK", signedHeaders: ["host"], signature: "0".repeat(64) });
  });

  it("returns undefined for anything else", () => {
    expect(parseAuthorization("Basic dXNlcjpwYXNz")).toBeUndefined();
    expect(parseAuthorization("SDK-HMAC-SHA256")).toBeUndefined();
    expect(
      parseAuthorization(`SDK-HMAC-SHA256 Access=AK, SignedHeaders=ho st, Signature=${"0".repeat(64)}`),
    ).toBeUndefined();
  });
});
