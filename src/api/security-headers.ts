// The one header policy of every answer, whatever route (or plugin, or error path) wrote it: set
// by one onSend hook, so a new route or a second path to the same page cannot forget it.

import type { FastifyInstance, FastifyReply } from "fastify";

/**
 * The UI loads nothing from elsewhere; inline styles set from script (CSSOM) are not affected.
 * `frame-ancestors 'none'`: no page of another origin (another port of the same host included)
 * may frame a signed-in UI and click for its user.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/**
 * Headers every answer carries. The CSP is meant for HTML, but it is harmless on JSON and keeps
 * the rule simple: no answer of this server can run inline script or be framed.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
  "Cross-Origin-Opener-Policy": "same-origin",
};

/**
 * Answers that set no caching of their own are never stored: API answers carry tokens, secret
 * keys and project data. Only the UI's files choose to be cached (their routes say how).
 */
export const DEFAULT_CACHE_CONTROL = "no-store";

/** Puts the policy on a reply; for the answers no hook sees (Fastify's framework errors). */
export function applySecurityHeaders(reply: FastifyReply): FastifyReply {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
  if (!reply.hasHeader("Cache-Control")) reply.header("Cache-Control", DEFAULT_CACHE_CONTROL);
  return reply;
}

export function registerSecurityHeaders(app: FastifyInstance): void {
  app.addHook("onSend", async (_req, reply, payload) => {
    applySecurityHeaders(reply);
    return payload;
  });
}
