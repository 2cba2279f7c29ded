import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ArtifactRefused, artifactStream, collectArtifact, extractArtifact } from "./artifacts.js";
import { entryHeader, safeEntryPath } from "./tar.js";

let root: string;
let ws: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "pw-art-"));
  ws = join(root, "ws");
  mkdirSync(join(ws, "dist", "deep", "er"), { recursive: true });
  writeFileSync(join(ws, "dist", "a.txt"), "alpha\n");
  writeFileSync(join(ws, "dist", "deep", "er", "b.bin"), crypto.randomBytes(70_000));
  writeFileSync(join(ws, "dist", ".hidden"), "h");
  writeFileSync(join(ws, "other.txt"), "not kept");
  mkdirSync(join(ws, ".pipewright"));
  writeFileSync(join(ws, ".pipewright", "step.sh"), "never kept");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

async function archive(patterns: string[], to = join(root, "a.tar")) {
  const c = await collectArtifact(ws, "dist", patterns, undefined, 10_000_000);
  await pipeline(artifactStream(c), createWriteStream(to));
  return { c, to };
}

describe("artifacts", () => {
  it("keeps the files the patterns match (a directory name: all of it) as a tar that tar reads", async () => {
    const { c, to } = await archive(["dist"]);
    expect(c.entries.map((e) => e.path)).toEqual(["dist/.hidden", "dist/a.txt", "dist/deep/er/b.bin"]);
    const listed = execFileSync("tar", ["-tf", to], { encoding: "utf8" }).trim().split("\n").sort();
    expect(listed).toEqual(["dist/.hidden", "dist/a.txt", "dist/deep/er/b.bin"]);
    const out = join(root, "x");
    mkdirSync(out);
    execFileSync("tar", ["-xf", to, "-C", out]);
    expect(readFileSync(join(out, "dist", "deep", "er", "b.bin"))).toEqual(
      readFileSync(join(ws, "dist", "deep", "er", "b.bin")),
    );
  });

  it("reads its own archive back into another workspace", async () => {
    const { to } = await archive(["dist/**/*.bin", "dist/a.txt"]);
    const other = join(root, "other");
    mkdirSync(other);
    expect(await extractArtifact(other, createReadStream(to), undefined)).toBe(2);
    expect(readFileSync(join(other, "dist", "a.txt"), "utf8")).toBe("alpha\n");
    // Twice: what is there is not overwritten.
    await expect(extractArtifact(other, createReadStream(to), undefined)).rejects.toThrow(
      /already in the workspace/,
    );
  });

  it("keeps a long path (a pax header)", async () => {
    const long = Array.from({ length: 12 }, (_, i) => `directory-number-${i}`).join("/");
    mkdirSync(join(ws, long), { recursive: true });
    writeFileSync(join(ws, long, "f.txt"), "deep");
    const { to } = await archive([`${long.split("/")[0]}/**`]);
    expect(execFileSync("tar", ["-tf", to], { encoding: "utf8" }).trim()).toBe(`${long}/f.txt`);
    const other = join(root, "o2");
    mkdirSync(other);
    await extractArtifact(other, createReadStream(to), undefined);
    expect(readFileSync(join(other, long, "f.txt"), "utf8")).toBe("deep");
  });

  it("refuses a link out of the workspace, takes one inside it", async () => {
    symlinkSync("a.txt", join(ws, "dist", "inside"));
    const { c } = await archive(["dist/*"]);
    expect(c.entries.map((e) => e.path)).toContain("dist/inside");
    symlinkSync("/etc/passwd", join(ws, "dist", "out"));
    await expect(collectArtifact(ws, "dist", ["dist/*"], undefined, 1e9)).rejects.toThrow(
      /dist\/out is a link out/,
    );
  });

  it("refuses more than the cap, naming it, and no match at all", async () => {
    const big = collectArtifact(ws, "dist", ["dist"], undefined, 1000);
    await expect(big).rejects.toBeInstanceOf(ArtifactRefused);
    await expect(big).rejects.toThrow(/more than 1000 bytes, the cap/);
    await expect(collectArtifact(ws, "dist", ["nothing/**"], undefined, 1e9)).rejects.toThrow(
      /no file matches/,
    );
  });

  it("refuses an archive with a path out of the workspace or a link", async () => {
    const evil = Buffer.concat([
      entryHeader({ path: "ok.txt", type: "file", size: 0, mode: 0o644, mtime: 0 }),
      Buffer.alloc(0),
    ]);
    const climb = Buffer.from(evil);
    climb.write("../escape.txt\0", 0, "utf8");
    // Fix the checksum for the changed name.
    climb.write("        ", 148, "ascii");
    let sum = 0;
    for (const b of climb.subarray(0, 512)) sum += b;
    climb.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
    const other = join(root, "o3");
    mkdirSync(other);
    await expect(
      extractArtifact(other, Readable.from([climb, Buffer.alloc(1024)]), undefined),
    ).rejects.toThrow(/not inside it/);
    expect(safeEntryPath("a/../b")).toBeUndefined();
    expect(safeEntryPath("/etc/x")).toBeUndefined();
    expect(safeEntryPath("a/b/")).toBe("a/b");
    // A symlink entry (type 2) made by tar itself.
    symlinkSync("/etc/passwd", join(ws, "link"));
    const tarred = join(root, "l.tar");
    execFileSync("tar", ["-cf", tarred, "-C", ws, "link"]);
    await expect(extractArtifact(other, createReadStream(tarred), undefined)).rejects.toThrow(
      /neither a file nor a directory/,
    );
  });
});
