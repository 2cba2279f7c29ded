// Blobs in a directory: `<root>/<first two hex>/<sha256>`, written to a temp file beside them while
// the bytes are hashed, then renamed into place (a rename is atomic: a reader sees a whole blob or
// none, and two writers of the same bytes leave one).

import crypto from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type BlobInfo, type BlobStore, BlobTooLarge, isSha256 } from "./blobs.js";

/** Hashes and counts what passes; fails the pipeline past `maxBytes`. */
export function meter(maxBytes: number): Transform & { info(): BlobInfo } {
  const hash = crypto.createHash("sha256");
  let size = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > maxBytes) return done(new BlobTooLarge(maxBytes));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  let digest: string | undefined;
  return Object.assign(t, {
    info: (): BlobInfo => {
      digest ??= hash.digest("hex");
      return { sha256: digest, size };
    },
  });
}

/** Reads and writes in pieces of this many bytes: far fewer calls than the 64 KiB default. */
const CHUNK = 1024 * 1024;

export function createDirBlobStore(root: string): BlobStore {
  const file = (sha256: string) => path.join(root, sha256.slice(0, 2), sha256);
  return {
    kind: "dir",

    async put(body: Readable, maxBytes: number) {
      const tmpDir = path.join(root, "tmp");
      await mkdir(tmpDir, { recursive: true, mode: 0o700 });
      const tmp = path.join(tmpDir, crypto.randomUUID());
      const m = meter(maxBytes);
      try {
        await pipeline(body, m, createWriteStream(tmp, { mode: 0o600, flags: "wx", highWaterMark: CHUNK }));
        const info = m.info();
        await mkdir(path.dirname(file(info.sha256)), { recursive: true, mode: 0o700 });
        await rename(tmp, file(info.sha256));
        return info;
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    },

    async get(sha256) {
      if (!isSha256(sha256)) return undefined;
      const st = await stat(file(sha256)).catch(() => undefined);
      if (!st) return undefined;
      return { body: createReadStream(file(sha256), { highWaterMark: CHUNK }), size: st.size };
    },

    async delete(sha256) {
      if (isSha256(sha256)) await rm(file(sha256), { force: true });
    },

    async usage() {
      let total = 0;
      for (const d of await readdir(root).catch(() => [] as string[])) {
        if (!/^[0-9a-f]{2}$/.test(d)) continue;
        for (const f of await readdir(path.join(root, d)).catch(() => [] as string[])) {
          total += (await stat(path.join(root, d, f)).catch(() => ({ size: 0 }))).size;
        }
      }
      return total;
    },
  };
}
