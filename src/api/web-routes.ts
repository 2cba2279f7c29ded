// The web UI: `/` answers the built index.html and `/ui/…` its assets, read from `dist/web` (the
// output of `npm run build`). The UI talks only to the public API, so nothing here needs auth.

import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";
import { PipewrightError } from "../errors.js";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
};

/** Where the build writes the UI: `dist/web`, whether this module runs from `dist/` or from `src/`. */
export function defaultWebRoot(): string {
  const repoOrDist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
  return path.basename(repoOrDist) === "dist"
    ? path.join(repoOrDist, "web")
    : path.join(repoOrDist, "dist", "web");
}

export interface WebRoutesOptions {
  /** Directory holding the built index.html and assets/. */
  readonly root?: string;
}

export function registerWebRoutes(app: FastifyInstance, opts: WebRoutesOptions = {}): void {
  const root = path.resolve(opts.root ?? defaultWebRoot());

  async function send(reply: FastifyReply, rel: string, cache: string): Promise<FastifyReply> {
    const file = path.resolve(root, rel);
    // Only files below root: `..`, absolute parts and odd characters never reach the disk.
    if (!file.startsWith(root + path.sep) || !/^[A-Za-z0-9._/-]+$/.test(rel) || rel.includes("..")) {
      return notFound(reply, rel);
    }
    let body: Buffer;
    try {
      body = await fs.readFile(file);
    } catch {
      return notFound(reply, rel);
    }
    const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream";
    // The CSP, framing and sniffing headers come from the app's one policy (security-headers.ts).
    return reply.header("Content-Type", type).header("Cache-Control", cache).send(body);
  }

  function notFound(reply: FastifyReply, rel: string): FastifyReply {
    // The one error shape; the path quoted, so no byte of it (a NUL, a newline) goes out raw.
    const e = new PipewrightError(
      "ROUTE_NOT_FOUND",
      `The web UI has no file ${JSON.stringify(`/ui/${rel}`)}.`,
    );
    return reply.status(e.status).send(e.toBody());
  }

  app.get("/", { schema: { hide: true } }, async (_req, reply) => {
    try {
      await fs.access(path.join(root, "index.html"));
    } catch {
      return reply
        .status(503)
        .header("Content-Type", "text/plain; charset=utf-8")
        .send(`The web UI is not built (no ${path.join(root, "index.html")}); run "npm run build".\n`);
    }
    return send(reply, "index.html", "no-cache");
  });

  app.get("/ui/*", { schema: { hide: true } }, async (req, reply) => {
    const rel = (req.params as { "*": string })["*"];
    // Vite names built assets by content hash, so they never change under the same name.
    const cache = rel.startsWith("assets/") ? "public, max-age=31536000, immutable" : "no-cache";
    return send(reply, rel, cache);
  });
}
