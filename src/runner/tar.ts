// Artifacts travel as tar archives (POSIX ustar, with a pax header for a path too long for it):
// what `tar -xf` reads, made and read here as streams so an artifact is never whole in memory.
// Only what artifacts hold is written and read: directories and regular files.

import { Readable, Transform, type TransformCallback } from "node:stream";

const BLOCK = 512;

export interface TarEntry {
  /** Relative path, `/`-separated, no `..`; a directory's ends without a slash. */
  readonly path: string;
  readonly type: "file" | "directory";
  readonly size: number;
  readonly mode: number;
  readonly mtime: number;
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, "0")}\0`;
}

function header(
  name: string,
  prefix: string,
  e: { size: number; mode: number; mtime: number },
  flag: string,
): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, "utf8");
  h.write(octal(e.mode & 0o7777, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii");
  h.write(octal(0, 8), 116, "ascii");
  h.write(octal(e.size, 12), 124, "ascii");
  h.write(octal(Math.floor(e.mtime / 1000), 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write(flag, 156, "ascii");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return h;
}

/** ustar's name/prefix split of a path, or undefined when it does not fit (a pax header then). */
function split(p: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(p) <= 100) return { name: p, prefix: "" };
  for (let i = p.indexOf("/"); i >= 0; i = p.indexOf("/", i + 1)) {
    const prefix = p.slice(0, i);
    const name = p.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== "")
      return { name, prefix };
  }
  return undefined;
}

const pad = (size: number): Buffer => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

/** The header blocks of an entry (a pax record first when its path needs one). */
export function entryHeader(e: TarEntry): Buffer {
  const p = e.type === "directory" ? `${e.path}/` : e.path;
  const fits = split(p);
  const flag = e.type === "directory" ? "5" : "0";
  if (fits) return header(fits.name, fits.prefix, e, flag);
  // A pax record: "<len> path=<path>\n", its length counting itself.
  const body = ` path=${p}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (`${len}${body}`.length !== len) len = Buffer.byteLength(`${len}${body}`);
  const record = Buffer.from(`${len}${body}`);
  return Buffer.concat([
    header("PaxHeader", "", { size: record.length, mode: 0o644, mtime: e.mtime }, "x"),
    record,
    pad(record.length),
    header(p.slice(-100), "", e, flag),
  ]);
}

/**
 * A tar stream of `entries`, each file's bytes from `open` (read as it goes). A file whose size
 * changed while it was read fails the stream (its header promised another size).
 */
export function tarStream(
  entries: readonly TarEntry[],
  open: (e: TarEntry) => Promise<AsyncIterable<Buffer>>,
): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    for (const e of entries) {
      yield entryHeader(e);
      if (e.type !== "file") continue;
      let n = 0;
      for await (const chunk of await open(e)) {
        n += chunk.length;
        if (n > e.size) throw new Error(`${e.path} grew while it was archived`);
        yield chunk;
      }
      if (n !== e.size) throw new Error(`${e.path} shrank while it was archived`);
      yield pad(e.size);
    }
    yield Buffer.alloc(2 * BLOCK);
  }
  return Readable.from(gen(), { objectMode: false });
}

function readOctal(b: Buffer, off: number, len: number): number {
  const s = b
    .toString("ascii", off, off + len)
    .replace(/\0.*$/s, "")
    .trim();
  return s === "" ? 0 : Number.parseInt(s, 8);
}

function cString(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString("utf8", off, end < 0 || end > off + len ? off + len : end);
}

/** A path from an archive, checked: relative, `/`-separated, without `.`, `..` or empty parts. */
export function safeEntryPath(raw: string): string | undefined {
  const p = raw.replace(/\/+$/, "");
  if (p === "" || p.startsWith("/") || p.includes("\\") || p.includes("\0")) return undefined;
  const parts = p.split("/");
  if (parts.some((x) => x === "" || x === "." || x === "..")) return undefined;
  return p;
}

export type TarSink = {
  /** A directory entry. */
  directory(e: TarEntry): Promise<void>;
  /** A file entry: its bytes follow as chunks to `write`, then `end`. */
  file(e: TarEntry): Promise<{ write(chunk: Buffer): Promise<void>; end(): Promise<void> }>;
};

/**
 * Reads a tar stream into `sink`, entry by entry (never more than one block and one chunk held).
 * Directories and regular files are taken; any other entry, or a path that is absolute or climbs
 * out (`..`), fails the read naming it.
 */
export function untar(sink: TarSink): Transform {
  let buf: Buffer = Buffer.alloc(0);
  let state: "header" | "data" | "pad" | "end" = "header";
  let left = 0;
  let padLeft = 0;
  let out: { write(chunk: Buffer): Promise<void>; end(): Promise<void> } | undefined;
  let paxPath: string | undefined;
  let paxBody: Buffer[] | undefined;

  async function step(): Promise<void> {
    for (;;) {
      if (state === "end") {
        buf = Buffer.alloc(0);
        return;
      }
      if (state === "header") {
        if (buf.length < BLOCK) return;
        const h = buf.subarray(0, BLOCK);
        buf = buf.subarray(BLOCK);
        if (h.every((b) => b === 0)) {
          state = "end";
          continue;
        }
        const flag = String.fromCharCode(h[156]!);
        const size = readOctal(h, 124, 12);
        const name = cString(h, 0, 100);
        const prefix = h.toString("ascii", 257, 262) === "ustar" ? cString(h, 345, 155) : "";
        const full = paxPath ?? (prefix ? `${prefix}/${name}` : name);
        paxPath = undefined;
        left = size;
        padLeft = (BLOCK - (size % BLOCK)) % BLOCK;
        if (flag === "x") {
          paxBody = [];
          state = "data";
          continue;
        }
        if (flag === "g") {
          out = undefined;
          state = "data";
          continue;
        }
        const p = safeEntryPath(full);
        if (p === undefined)
          throw new Error(`the archive holds a path that is not inside it: ${JSON.stringify(full)}`);
        const e: TarEntry = {
          path: p,
          type: flag === "5" ? "directory" : "file",
          size,
          mode: readOctal(h, 100, 8),
          mtime: readOctal(h, 136, 12) * 1000,
        };
        if (flag === "5") {
          await sink.directory(e);
          out = undefined;
        } else if (flag === "0" || flag === "\0") {
          out = await sink.file(e);
        } else {
          throw new Error(`the archive holds ${p}, which is neither a file nor a directory`);
        }
        state = "data";
        continue;
      }
      if (state === "data") {
        if (left === 0) {
          if (paxBody) {
            const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(Buffer.concat(paxBody).toString("utf8"));
            paxPath = m?.[1];
            paxBody = undefined;
          } else await out?.end();
          out = undefined;
          state = "pad";
          continue;
        }
        if (buf.length === 0) return;
        const chunk = buf.subarray(0, Math.min(left, buf.length));
        buf = buf.subarray(chunk.length);
        left -= chunk.length;
        if (paxBody) paxBody.push(Buffer.from(chunk));
        else await out?.write(chunk);
        continue;
      }
      // pad
      if (padLeft > 0) {
        if (buf.length === 0) return;
        const n = Math.min(padLeft, buf.length);
        buf = buf.subarray(n);
        padLeft -= n;
        continue;
      }
      state = "header";
    }
  }

  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      step().then(() => done(), done);
    },
    flush(done: TransformCallback) {
      if (state !== "end" && (state !== "header" || buf.length > 0)) {
        done(new Error("the archive ends in the middle of an entry"));
        return;
      }
      done();
    },
  });
}
