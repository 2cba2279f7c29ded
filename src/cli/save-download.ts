// Saving a download: the bytes go to a file (or stdout) as they arrive, through a SHA-256 that is
// checked against the server's when the last byte is in. A file is written beside its destination
// under a temporary name and renamed into place only when whole and matching, so a failed download
// leaves nothing behind and never destroys the file it would have replaced (`--force`).

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { type Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { formatBytes } from "./artifacts-format.js";
import { CliError, EXIT, usageError } from "./cli-error.js";
import { networkReason } from "./client.js";

export type Destination =
  /** `path` is absolute; `shown` is how the user wrote it, for messages. */
  | { readonly kind: "file"; readonly path: string; readonly shown: string; readonly force: boolean }
  /** A stream that stays open afterwards (stdout). */
  | { readonly kind: "stream"; readonly out: NodeJS.WritableStream };

export interface SaveOptions {
  /** What is downloaded, leading every message: `artifact dist of build#3`. */
  readonly what: string;
  /** From X-Checksum-Sha256; without one the bytes are saved unchecked (`verified: false`). */
  readonly expectedSha256: string | undefined;
  /** From Content-Length, when the server sent one. */
  readonly expectedBytes: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Called as bytes arrive, with the count so far. */
  readonly onProgress?: (bytes: number) => void;
}

export interface Saved {
  readonly bytes: number;
  readonly sha256: string;
  readonly verified: boolean;
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Writes into `out` with its backpressure, but is its own stream: a failed pipeline destroys it,
 * not stdout, which later output and the exit still go through.
 */
function keptOpen(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (out.write(chunk)) done();
      else out.once("drain", () => done());
    },
  });
}

/** Fails before anything is downloaded when the file cannot be written where asked. */
export function checkDestination(file: string, shown: string, force: boolean): void {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file);
  } catch (err) {
    if (errnoCode(err) !== "ENOENT") throw usageError(`cannot write ${shown}: ${(err as Error).message}`);
  }
  if (st?.isDirectory()) throw usageError(`${shown} is a directory`, "Give -o a file name.");
  if (st && !force) throw usageError(`${shown} exists`, "Pass --force to replace it, or -o another file.");
  const dir = path.dirname(file);
  let dirStat: fs.Stats | undefined;
  try {
    dirStat = fs.statSync(dir);
  } catch {
    // reported below
  }
  if (!dirStat?.isDirectory()) {
    throw usageError(`cannot write ${shown}: there is no directory ${path.dirname(shown)}`);
  }
}

/**
 * Pipes `body` into the destination with backpressure, hashing on the way; answers what was
 * written, or throws a CliError after removing what it wrote: EXIT.NETWORK when the body broke off
 * (or is shorter than announced), EXIT.SERVER when its SHA-256 is not the server's, EXIT.USAGE
 * when the file could not be written. A cancellation (the signal) is thrown as it is.
 */
export async function saveDownload(body: Readable, dest: Destination, o: SaveOptions): Promise<Saved> {
  const hash = crypto.createHash("sha256");
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      o.onProgress?.(bytes);
      done(null, chunk);
    },
  });
  // Which side failed first decides the message (pipeline then destroys the others with the same
  // error): the connection, or the file.
  let failedFirst: "body" | "output" | undefined;
  body.once("error", () => {
    failedFirst ??= "body";
  });
  const sofar = (): string =>
    `${formatBytes(bytes)}${o.expectedBytes === undefined ? "" : ` of ${formatBytes(o.expectedBytes)}`}`;
  const nothingKept = dest.kind === "file" ? "nothing was saved" : "what was written is not the artifact";

  const failure = (err: unknown): unknown => {
    if (o.signal?.aborted) return err;
    if (failedFirst === "body") {
      const cause = (err as { cause?: unknown }).cause ?? err;
      return new CliError(
        EXIT.NETWORK,
        `${o.what}: the download broke off after ${sofar()} (${networkReason(cause, 60_000)}); ${nothingKept}`,
        { cause: err },
      );
    }
    if (err instanceof CliError) return err;
    const shown = dest.kind === "file" ? dest.shown : "the output";
    return new CliError(EXIT.USAGE, `cannot write ${shown}: ${(err as Error).message}`, { cause: err });
  };

  const verify = (): Saved => {
    const sha256 = hash.digest("hex");
    if (o.expectedBytes !== undefined && bytes !== o.expectedBytes) {
      throw new CliError(EXIT.NETWORK, `${o.what}: the download ended after ${sofar()}; ${nothingKept}`);
    }
    const expected = o.expectedSha256?.trim().toLowerCase();
    if (expected !== undefined && sha256 !== expected) {
      throw new CliError(
        EXIT.SERVER,
        `${o.what}: the SHA-256 of what arrived (${sha256}) is not the server's (${expected}); ${nothingKept}`,
      );
    }
    return { bytes, sha256, verified: expected !== undefined };
  };

  const output = (w: Writable): Writable =>
    w.once("error", () => {
      failedFirst ??= "output";
    });

  if (dest.kind === "stream") {
    try {
      await pipeline(body, tap, output(keptOpen(dest.out)), { ...(o.signal ? { signal: o.signal } : {}) });
    } catch (err) {
      throw failure(err);
    }
    return verify();
  }

  const tmp = path.join(
    path.dirname(dest.path),
    `.${path.basename(dest.path)}.${process.pid}-${crypto.randomBytes(4).toString("hex")}.part`,
  );
  try {
    try {
      await pipeline(body, tap, output(fs.createWriteStream(tmp, { flags: "wx" })), {
        ...(o.signal ? { signal: o.signal } : {}),
      });
    } catch (err) {
      throw failure(err);
    }
    const saved = verify();
    // checkDestination ran before the download; a file that appeared since is not ours to replace.
    if (!dest.force && fs.existsSync(dest.path)) {
      throw usageError(
        `${dest.shown} appeared while downloading; it was kept`,
        "Pass --force to replace it.",
      );
    }
    try {
      fs.renameSync(tmp, dest.path);
    } catch (err) {
      throw new CliError(EXIT.USAGE, `cannot write ${dest.shown}: ${(err as Error).message}`, { cause: err });
    }
    return saved;
  } finally {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // Never created (its directory is not one): nothing to remove.
    }
  }
}
