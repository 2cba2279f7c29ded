// A client-side SDK-HMAC-SHA256 signer written from the spec (§6.3), as Huawei Cloud's SDKs sign:
// used by HTTP tests to call the server the way the official SDKs do.

import { createHash, createHmac } from "node:crypto";

const enc = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function sdkDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

export function signRequest(opts: {
  ak: string;
  sk: string;
  method: string;
  host: string;
  path: string;
  query?: Record<string, string>;
  body?: string;
  projectId?: string;
  date?: Date;
}): Record<string, string> {
  const date = sdkDate(opts.date ?? new Date());
  const headers: Record<string, string> = { host: opts.host, "x-sdk-date": date };
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  if (opts.projectId) headers["x-project-id"] = opts.projectId;
  const names = Object.keys(headers).sort();
  let uri = opts.path.split("/").map(enc).join("/");
  if (!uri.endsWith("/")) uri += "/";
  const query = Object.keys(opts.query ?? {})
    .sort()
    .map((k) => `${enc(k)}=${enc(opts.query![k]!)}`)
    .join("&");
  const canonical = [
    opts.method,
    uri,
    query,
    names.map((n) => `${n}:${headers[n]!.trim()}\n`).join(""),
    names.join(";"),
    createHash("sha256")
      .update(opts.body ?? "")
      .digest("hex"),
  ].join("\n");
  const toSign = `SDK-HMAC-SHA256\n${date}\n${createHash("sha256").update(canonical).digest("hex")}`;
  const signature = createHmac("sha256", opts.sk).update(toSign).digest("hex");
  return {
    ...headers,
    authorization: `SDK-HMAC-SHA256 Access=${opts.ak}, SignedHeaders=${names.join(";")}, Signature=${signature}`,
  };
}
