// How notices leave the server: an HTTP POST to a target's URL, and a mail over SMTP. Outbound
// HTTP is a way into the server's network (SSRF), so addresses on loopback, link-local, private
// and other special ranges are refused unless the operator allows them; the check is made on
// the address actually connected to (in the socket's lookup), so a name that resolves to a
// public address once and a private one later gains nothing. Redirects are not followed. Every
// attempt has a timeout, and at most MAX_RESPONSE_BYTES of an answer are read.

import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import type { WebhookRequest } from "../pipeline/notices.js";

/** What of an answer is read (it is only kept to say why a delivery failed). */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export interface HttpOutcome {
  readonly statusCode: number;
  /** The answer's first bytes as text. */
  readonly body: string;
}

/** A failure that no retry mends (the address is refused): the delivery fails at once. */
export class UndeliverableError extends Error {
  override name = "UndeliverableError";
}

/** Ranges no notice goes to by default: loopback, private, link-local, CGNAT, multicast, reserved. */
function specialRanges(): net.BlockList {
  const b = new net.BlockList();
  for (const [addr, bits] of [
    ["0.0.0.0", 8],
    ["10.0.0.0", 8],
    ["100.64.0.0", 10],
    ["127.0.0.0", 8],
    ["169.254.0.0", 16],
    ["172.16.0.0", 12],
    ["192.0.0.0", 24],
    ["192.168.0.0", 16],
    ["198.18.0.0", 15],
    ["224.0.0.0", 4],
    ["240.0.0.0", 4],
  ] as const)
    b.addSubnet(addr, bits, "ipv4");
  for (const [addr, bits] of [
    ["::", 128],
    ["::1", 128],
    ["fc00::", 7],
    ["fe80::", 10],
    ["ff00::", 8],
    ["64:ff9b::", 96],
  ] as const)
    b.addSubnet(addr, bits, "ipv6");
  return b;
}
const SPECIAL = specialRanges();

/** Whether an address is in a refused range (IPv4-mapped IPv6 addresses count as their IPv4). */
export function isSpecialAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return SPECIAL.check(mapped[1]!, "ipv4");
  const family = net.isIP(address);
  if (family === 0) return true;
  return SPECIAL.check(address, family === 4 ? "ipv4" : "ipv6");
}

export interface HttpOptions {
  readonly timeoutMs: number;
  /** Let targets on loopback and private networks through (--allow-private-notice-targets). */
  readonly allowPrivate: boolean;
}

/** Posts the request; resolves with the answer (any status), rejects on no answer. */
export function postWebhook(req: WebhookRequest, opts: HttpOptions): Promise<HttpOutcome> {
  const url = new URL(req.url);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const refused = (addr: string) =>
    new UndeliverableError(
      `the target's address ${addr} is on a loopback, private or reserved network (the server refuses those unless started with --allow-private-notice-targets)`,
    );
  // Node does not call `lookup` for an address literal: it is checked here.
  if (net.isIP(host) !== 0 && !opts.allowPrivate && isSpecialAddress(host))
    return Promise.reject(refused(host));
  const lookup: net.LookupFunction = (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "", 0);
      const list = addresses as dns.LookupAddress[];
      const bad = opts.allowPrivate ? undefined : list.find((a) => isSpecialAddress(a.address));
      if (bad) return callback(refused(bad.address), "", 0);
      if ((options as dns.LookupAllOptions).all) return callback(null, list as never, 0);
      const first = list[0];
      if (!first) return callback(new Error(`${hostname} has no address`), "", 0);
      callback(null, first.address, first.family);
    });
  };
  const client = url.protocol === "https:" ? https : http;
  return new Promise<HttpOutcome>((resolve, reject) => {
    const r = client.request(
      url,
      {
        method: "POST",
        headers: {
          ...req.headers,
          "user-agent": "Pipewright-Notices/1",
          "content-length": String(Buffer.byteLength(req.body)),
        },
        lookup,
        signal: AbortSignal.timeout(opts.timeoutMs),
        // A fresh connection per attempt: a pooled one would skip the address check.
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () =>
          resolve({ statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
        res.on("data", (c: Buffer) => {
          if (size >= MAX_RESPONSE_BYTES) return;
          const part = c.subarray(0, MAX_RESPONSE_BYTES - size);
          chunks.push(part);
          size += part.length;
          if (size >= MAX_RESPONSE_BYTES) {
            // Enough to say why: the rest is not read.
            res.destroy();
            done();
          }
        });
        res.on("end", done);
        res.on("error", (err) => (size >= MAX_RESPONSE_BYTES ? done() : reject(err)));
      },
    );
    r.on("error", (err) =>
      reject(
        err.name === "AbortError" || err.name === "TimeoutError"
          ? new Error(`no answer within ${opts.timeoutMs} ms`)
          : err,
      ),
    );
    r.end(req.body);
  });
}

/** A mail to send. */
export interface Mail {
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
}

export interface Mailer {
  send(mail: Mail): Promise<void>;
  close(): void;
}

export interface SmtpConfig {
  /** smtp://user:password@host:port or smtps://… (nodemailer's URL form). */
  readonly url: string;
  readonly from: string;
  readonly timeoutMs: number;
}

/** A mailer over SMTP (nodemailer; loaded only when SMTP is configured). */
export async function createSmtpMailer(config: SmtpConfig): Promise<Mailer> {
  const nodemailer = await import("nodemailer");
  const transport = nodemailer.createTransport({
    url: config.url,
    connectionTimeout: config.timeoutMs,
    greetingTimeout: config.timeoutMs,
    socketTimeout: config.timeoutMs,
  });
  return {
    async send(mail) {
      await transport.sendMail({
        from: config.from,
        to: [...mail.to],
        subject: mail.subject,
        text: mail.text,
      });
    },
    close: () => transport.close(),
  };
}
