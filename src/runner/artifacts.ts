// A job's artifacts on the runner's side: the files of the workspace its patterns match, read into
// a tar stream (never whole in memory) for the server, and an artifact a later job needs written
// back into that job's workspace. The runner may be root (a sandbox's users are others): it takes
// only what the step could have handed over itself — files of the step's user, links that stay
// inside the workspace — and writes only inside the workspace, as the step's user.

import crypto from "node:crypto";
import { constants } from "node:fs";
import { chown, lstat, mkdir, open, readdir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import picomatch from "picomatch";
import { RUNNER_DIR } from "./shell.js";
import { type TarEntry, tarStream, untar } from "./tar.js";

type Owner = { readonly uid: number; readonly gid: number } | undefined;

export class ArtifactRefused extends Error {}
/** No file of the workspace matches the patterns. */
export class NothingMatches extends ArtifactRefused {}

/** What is collected, for messages: an artifact or a cache, and the setting that caps it. */
const KINDS = {
  artifact: { word: "artifact", cap: "the cap on an artifact (--max-artifact-bytes)" },
  cache: { word: "cache", cap: "the cap on a cache (--max-cache-bytes)" },
} as const;

/** What a pattern also matches: a directory named by it stands for everything under it. */
const withContents = (patterns: readonly string[]): string[] =>
  patterns.flatMap((p) => [p, `${p.replace(/\/+$/, "")}/**`]);

/**
 * The files of `workspace` the patterns match (relative paths, sorted), each with what to read.
 * Refused: a matched link that points out of the workspace, a file of another user (sandboxed),
 * more bytes than `maxBytes` in all, and no file at all.
 */
export async function collectArtifact(
  workspace: string,
  name: string,
  patterns: readonly string[],
  owner: Owner,
  maxBytes: number,
  kind: keyof typeof KINDS = "artifact",
): Promise<{ entries: TarEntry[]; sources: Map<string, string>; bytes: number }> {
  const what = `${KINDS[kind].word} ${name}`;
  const isMatch = picomatch(withContents(patterns), { dot: true });
  const root = await realpath(workspace);
  const entries: TarEntry[] = [];
  const sources = new Map<string, string>();
  let bytes = 0;
  const todo = [""];
  while (todo.length > 0) {
    const rel = todo.pop()!;
    const dir = path.join(root, rel);
    const names = (await readdir(dir)).sort();
    for (const n of names) {
      const relPath = rel === "" ? n : `${rel}/${n}`;
      if (relPath === RUNNER_DIR) continue;
      const full = path.join(dir, n);
      const st = await lstat(full);
      if (st.isDirectory()) {
        todo.push(relPath);
        continue;
      }
      if (!isMatch(relPath)) continue;
      let source = full;
      let size = st.size;
      let mode = st.mode;
      let uid = st.uid;
      if (st.isSymbolicLink()) {
        const target = await realpath(full).catch(() => undefined);
        if (target === undefined || !(target === root || target.startsWith(`${root}/`))) {
          throw new ArtifactRefused(`${what}: ${relPath} is a link out of the workspace`);
        }
        const t = await stat(target);
        if (!t.isFile()) continue;
        source = target;
        ({ size, mode, uid } = t);
      } else if (!st.isFile()) {
        continue;
      }
      if (owner && uid !== owner.uid) {
        throw new ArtifactRefused(`${what}: ${relPath} belongs to another user than the job's`);
      }
      bytes += size;
      if (bytes > maxBytes) {
        throw new ArtifactRefused(`${what} is more than ${maxBytes} bytes, ${KINDS[kind].cap}`);
      }
      entries.push({ path: relPath, type: "file", size, mode: mode & 0o777, mtime: st.mtimeMs });
      sources.set(relPath, source);
    }
  }
  if (entries.length === 0) {
    throw new NothingMatches(`${what}: no file matches ${patterns.join(", ")}`);
  }
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { entries, sources, bytes };
}

/** The tar stream of collected files; each file is opened without following a link. */
export function artifactStream(c: {
  entries: readonly TarEntry[];
  sources: ReadonlyMap<string, string>;
}): Readable {
  return tarStream(c.entries, async (e) => {
    const fh = await open(c.sources.get(e.path)!, constants.O_RDONLY | constants.O_NOFOLLOW);
    return fh.createReadStream({ autoClose: true });
  });
}

/**
 * Writes an artifact's archive into `workspace`: directories made as needed (never through a
 * link), files created new (an existing path is refused), owned by the job's user.
 */
export async function extractArtifact(
  workspace: string,
  body: Readable,
  owner: Owner,
  /** `fail`: a path already there fails the extraction (artifacts); `keep`: it is left as it is (caches). */
  existing: "fail" | "keep" = "fail",
): Promise<number> {
  const root = await realpath(workspace);
  let files = 0;
  /** Makes the directories of `rel` below the root, refusing any that is not a real directory. */
  const ensureDir = async (rel: string): Promise<void> => {
    let at = root;
    for (const part of rel.split("/")) {
      at = path.join(at, part);
      const st = await lstat(at).catch(() => undefined);
      if (!st) {
        await mkdir(at, { mode: 0o755 });
        if (owner) await chown(at, owner.uid, owner.gid);
      } else if (!st.isDirectory()) {
        throw new ArtifactRefused(`${path.relative(root, at)} is in the way of the artifact's files`);
      }
    }
  };
  await pipeline(
    body,
    untar({
      async directory(e) {
        await ensureDir(e.path);
      },
      async file(e) {
        const dir = path.posix.dirname(e.path);
        if (dir !== ".") await ensureDir(dir);
        const fh = await open(
          path.join(root, e.path),
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          (e.mode & 0o777) | 0o600,
        ).catch((err: NodeJS.ErrnoException) => {
          if (err.code === "EEXIST") {
            if (existing === "keep") return undefined;
            throw new ArtifactRefused(`${e.path} is already in the workspace`);
          }
          throw err;
        });
        if (!fh) return { write: async () => {}, end: async () => {} };
        if (owner) await fh.chown(owner.uid, owner.gid);
        files++;
        return {
          async write(chunk) {
            await fh.write(chunk);
          },
          async end() {
            await fh.close();
          },
        };
      },
    }),
  );
  return files;
}

/**
 * `hashFiles(globs)` of a cache key: the sha256 of the matched files of the workspace (their paths
 * and contents, in path order); "" when nothing matches, as GitHub's hashFiles answers.
 */
export async function hashWorkspaceFiles(workspace: string, globs: readonly string[]): Promise<string> {
  const isMatch = picomatch([...globs], { dot: true });
  const root = await realpath(workspace);
  const files: string[] = [];
  const todo = [""];
  while (todo.length > 0) {
    const rel = todo.pop()!;
    for (const n of await readdir(path.join(root, rel))) {
      const relPath = rel === "" ? n : `${rel}/${n}`;
      if (relPath === RUNNER_DIR) continue;
      const st = await lstat(path.join(root, relPath));
      if (st.isDirectory()) todo.push(relPath);
      else if (st.isFile() && isMatch(relPath)) files.push(relPath);
    }
  }
  if (files.length === 0) return "";
  files.sort();
  const all = crypto.createHash("sha256");
  for (const f of files) {
    const one = crypto.createHash("sha256");
    const fh = await open(path.join(root, f), constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      for await (const chunk of fh.createReadStream({ autoClose: false })) one.update(chunk as Buffer);
    } finally {
      await fh.close();
    }
    all.update(`${f}\0${one.digest("hex")}\n`);
  }
  return all.digest("hex");
}
