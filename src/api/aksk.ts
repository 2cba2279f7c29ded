// Server-side check of Huawei Cloud "SDK-HMAC-SHA256" AK/SK signatures (spec §6.3): rebuilds the
// canonical request from what arrived on the wire, byte for byte as the official SDKs build it
// before sending, and compares HMAC-SHA256(SK, string to sign) with the Authorization header.
//
// Canonical request, as in huaweicloud-sdk-nodejs-v3 core/auth/AKSKSigner.ts (the Python and Go
// signers agree except where noted at canonicalUriCandidates):
//   METHOD \n canonical URI \n canonical query \n `name:value\n` per signed header \n
//   signed-header list \n hex(sha256(body))

import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { PipewrightError } from "../errors.js";

export interface SignedRequest {
  method: string;
  /** Raw path plus optional `?query`, exactly as received (e.g. `req.raw.url`). */
  url: string;
  /** Header names in lower case, as Node gives them. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Raw body bytes; an empty buffer when there is none. */
  body: Buffer;
}

export interface ParsedAuthorization {
  access: string;
  signedHeaders: string[];
  signature: string;
}

const ALGORITHM = "SDK-HMAC-SHA256";
const EMPTY_BODY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const CONTENT_SHA256_HEADER = "x-sdk-content-sha256";
/** The SDKs send this in X-Sdk-Content-Sha256 for non-JSON bodies, and sign it instead of the body hash. */
const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const SIGNATURE_HEX = /^[0-9a-fA-F]{64}$/;
const SDK_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/**
 * Parse `SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b;c>, Signature=<hex>`.
 * Returns undefined when the header is not in that shape (other algorithms included).
 */
export function parseAuthorization(header: string): ParsedAuthorization | undefined {
  const match = /^SDK-HMAC-SHA256\s+(.*)$/s.exec(header.trim());
  if (match === null) return undefined;
  const fields = new Map<string, string>();
  for (const part of (match[1] ?? "").split(",")) {
    const eq = part.indexOf("=");
    if (eq === -1) return undefined;
    const name = part.slice(0, eq).trim();
    if (fields.has(name)) return undefined;
    fields.set(name, part.slice(eq + 1).trim());
  }
  const access = fields.get("Access");
  const signedHeaderList = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  if (
    fields.size !== 3 ||
    access === undefined ||
    signedHeaderList === undefined ||
    signature === undefined
  ) {
    return undefined;
  }
  const signedHeaders = signedHeaderList.split(";");
  if (access === "" || !SIGNATURE_HEX.test(signature) || !signedHeaders.every((h) => HEADER_NAME.test(h))) {
    return undefined;
  }
  return { access, signedHeaders, signature: signature.toLowerCase() };
}

/**
 * Check the AK/SK signature of a request and return its access key.
 * Throws PipewrightError SIGNATURE_INVALID with a message naming what is wrong.
 */
export function verifyAkSk(
  req: SignedRequest,
  lookupSecret: (ak: string) => string | undefined,
  now: Date,
  maxSkewMs = 15 * 60 * 1000,
): { ak: string } {
  const authorization = headerValue(req.headers, "authorization");
  if (authorization === undefined) fail("missing Authorization header");
  const auth = parseAuthorization(authorization);
  if (auth === undefined) {
    fail(
      `malformed Authorization header: expected "${ALGORITHM} Access=<AK>, SignedHeaders=<h1;h2>, Signature=<64 hex>"`,
    );
  }
  // The date must be signed, or the freshness check means nothing. Host need not be: the Go SDK
  // signs only x-sdk-date, and its clients must work too.
  if (!auth.signedHeaders.some((h) => h.toLowerCase() === "x-sdk-date")) {
    fail("malformed Authorization header: SignedHeaders must include x-sdk-date");
  }

  const sdkDate = headerValue(req.headers, "x-sdk-date");
  if (sdkDate === undefined) fail("missing X-Sdk-Date header");
  const signedAt = parseSdkDate(sdkDate);
  if (signedAt === undefined) fail(`X-Sdk-Date "${sdkDate}" is not a UTC time of the form YYYYMMDDTHHmmssZ`);
  const skewMs = signedAt.getTime() - now.getTime();
  if (skewMs < -maxSkewMs) {
    fail(
      `X-Sdk-Date ${sdkDate} is ${Math.round(-skewMs / 1000)} s behind the server clock (allowed: ${maxSkewMs / 1000} s)`,
    );
  }
  if (skewMs > maxSkewMs) {
    fail(
      `X-Sdk-Date ${sdkDate} is ${Math.round(skewMs / 1000)} s ahead of the server clock (allowed: ${maxSkewMs / 1000} s)`,
    );
  }

  const secret = lookupSecret(auth.access);
  if (secret === undefined) fail(`access key ${auth.access} is unknown or revoked`);

  let canonicalHeaders = "";
  for (const name of auth.signedHeaders) {
    const value = headerValue(req.headers, name.toLowerCase());
    if (value === undefined) fail(`signed header ${name} is absent from the request`);
    canonicalHeaders += `${name}:${value.trim()}\n`;
  }

  const { path, query } = splitUrl(req.url);
  const canonicalQuery = canonicalQueryString(query);
  const payloadHashes = payloadHashCandidates(req, auth.signedHeaders);
  const expected = Buffer.from(auth.signature, "hex");
  let matched = false;
  // More than one candidate only where the SDKs themselves disagree (see the functions); every
  // candidate is computed from the bytes received, so none lets a different request through.
  for (const uri of canonicalUriCandidates(path)) {
    for (const payloadHash of payloadHashes) {
      const canonicalRequest = [
        req.method.toUpperCase(),
        uri,
        canonicalQuery,
        canonicalHeaders,
        auth.signedHeaders.join(";"),
        payloadHash,
      ].join("\n");
      const stringToSign = `${ALGORITHM}\n${sdkDate}\n${sha256Hex(canonicalRequest)}`;
      const actual = createHmac("sha256", secret).update(stringToSign, "utf8").digest();
      if (actual.length === expected.length && timingSafeEqual(actual, expected)) matched = true;
    }
  }
  if (!matched) {
    fail(
      "signature does not match: check the SK and that method, path, query, signed headers and body are sent as signed",
    );
  }
  return { ak: auth.access };
}

function fail(message: string): never {
  throw new PipewrightError("SIGNATURE_INVALID", message);
}

function headerValue(headers: SignedRequest["headers"], name: string): string | undefined {
  const value = headers[name];
  // Node already joins most repeated headers with ", "; do the same for the ones it keeps as arrays.
  return Array.isArray(value) ? value.join(", ") : value;
}

function parseSdkDate(value: string): Date | undefined {
  const m = SDK_DATE.exec(value);
  if (m === null) return undefined;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = m.slice(1).map(Number);
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC rolls 20240230 over to March; a real timestamp survives the round trip unchanged.
  const ok =
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    date.getUTCHours() === hour &&
    date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second;
  return ok ? date : undefined;
}

function splitUrl(url: string): { path: string; query: string } {
  // A request-target in absolute form (through a proxy) still signs only its path.
  const target = url.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/, "");
  const q = target.indexOf("?");
  const path = q === -1 ? target : target.slice(0, q);
  return { path: path === "" ? "/" : path, query: q === -1 ? "" : target.slice(q + 1) };
}

/**
 * The canonical URI: every `/`-separated segment SDK-encoded, always ending in `/`.
 *
 * The SDKs encode the path *before* it goes on the wire, so the server must guess that form:
 * - Node SDK: encodes the pathname of legacy `url.parse()`, which keeps `%XX` sequences (so the
 *   `%` is encoded again: `a%20b` → `a%2520b`) and has already turned ` "'<>^\`{|}` into `%XX`.
 *   axios sends the WHATWG form, which leaves `'^|` raw; we escape them as url.parse would.
 * - Python SDK (unquote first) and Go SDK (raw path parameters): encode the decoded path; the Node
 *   SDK does too for raw non-ASCII characters, which url.parse leaves alone but the wire carries
 *   as `%XX`.
 * Both forms are tried only when the path has a `%`. The Node form already maps `a b` and a literal
 * `a%20b` to the same string, so the second form adds no ambiguity the SDK does not have. Segments
 * are decoded after splitting, so `%2F` never turns into a separator.
 */
function canonicalUriCandidates(path: string): string[] {
  const segments = path.split("/");
  const asSent = joinCanonicalUri(
    segments.map((s) => sdkEncode(s.replace(/[ "'<>^`{|}]/g, (c) => percentByte(c.charCodeAt(0))))),
  );
  if (!path.includes("%")) return [asSent];
  const decoded: string[] = [];
  for (const s of segments) {
    const d = tryDecode(s);
    if (d === undefined) return [asSent];
    decoded.push(sdkEncode(d));
  }
  const asDecoded = joinCanonicalUri(decoded);
  return asDecoded === asSent ? [asSent] : [asSent, asDecoded];
}

function joinCanonicalUri(segments: string[]): string {
  const uri = segments.join("/");
  return uri.endsWith("/") ? uri : `${uri}/`;
}

/**
 * The SDKs sign query parameters from their unencoded values: keys sorted, the values of a
 * repeated key sorted, `key=value` pairs SDK-encoded and joined by `&`. So decode what arrived
 * (`+` as space, as form encoding and our query parser read it) and encode it again.
 */
function canonicalQueryString(query: string): string {
  const params = new Map<string, string[]>();
  for (const pair of query.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const key = decodeQueryComponent(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? "" : decodeQueryComponent(pair.slice(eq + 1));
    const values = params.get(key);
    if (values === undefined) params.set(key, [value]);
    else values.push(value);
  }
  const out: string[] = [];
  // Default sort (UTF-16 code units) is what the Node SDK's `keys.sort()` / `value.sort()` do.
  for (const key of [...params.keys()].sort()) {
    for (const value of (params.get(key) ?? []).sort()) out.push(`${sdkEncode(key)}=${sdkEncode(value)}`);
  }
  return out.join("&");
}

function decodeQueryComponent(s: string): string {
  const decoded = tryDecode(s.replace(/\+/g, " "));
  if (decoded === undefined) fail("query string has malformed percent-encoding");
  return decoded;
}

function tryDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/**
 * Hex SHA-256 of the raw body (the SDKs hash the JSON text they send). A signed
 * X-Sdk-Content-Sha256 replaces it, as in every SDK: `UNSIGNED-PAYLOAD` is signed literally (the
 * client chose not to protect the body); any other value must be the body's real hash. The Python
 * SDK ignores the header when the body is empty, hence the empty hash as a second candidate.
 */
function payloadHashCandidates(req: SignedRequest, signedHeaders: readonly string[]): string[] {
  const bodyHash = req.body.length === 0 ? EMPTY_BODY_SHA256 : sha256Hex(req.body);
  const declared = signedHeaders.some((h) => h.toLowerCase() === CONTENT_SHA256_HEADER)
    ? headerValue(req.headers, CONTENT_SHA256_HEADER)?.trim()
    : undefined;
  if (declared === undefined) return [bodyHash];
  if (declared !== UNSIGNED_PAYLOAD && declared.toLowerCase() !== bodyHash) {
    fail("X-Sdk-Content-Sha256 does not match the SHA-256 of the request body");
  }
  return req.body.length === 0 && declared !== EMPTY_BODY_SHA256 ? [declared, EMPTY_BODY_SHA256] : [declared];
}

function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * The SDKs' percent-encoding: UTF-8 bytes, everything but `A-Z a-z 0-9 - . _ ~` as `%XX` in upper
 * case (noEscape table of AKSKSigner.ts, `shouldEscape` of the Go signer, `quote(s, safe='~')`).
 */
function sdkEncode(s: string): string {
  let out = "";
  for (const byte of Buffer.from(s, "utf8")) {
    out += isUnreserved(byte) ? String.fromCharCode(byte) : percentByte(byte);
  }
  return out;
}

function isUnreserved(byte: number): boolean {
  return (
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    byte === 0x2d || // -
    byte === 0x2e || // .
    byte === 0x5f || // _
    byte === 0x7e // ~
  );
}

function percentByte(byte: number): string {
  return `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
}
