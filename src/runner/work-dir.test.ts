import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { firstServer } from "./agent.js";
import { pausedMarker, readRunnerId, removeLeftovers, writeRunnerId } from "./work-dir.js";

const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "pipewright-work-dir-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) {
    fs.chmodSync(d, 0o700);
    fs.rmSync(d, { recursive: true, force: true });
  }
});

describe("the runner id kept in the work dir", () => {
  it("is written whole, 0600, and read back", () => {
    const file = path.join(tmp(), "runner-id");
    expect(readRunnerId(file)).toBeUndefined();
    const id = "0123456789abcdefABCDEF0123456789";
    writeRunnerId(file, id);
    expect(readRunnerId(file)).toBe(id);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(path.dirname(file))).toEqual(["runner-id"]);
  });

  it("is ignored when the file holds no id", () => {
    const file = path.join(tmp(), "runner-id");
    fs.writeFileSync(file, "../../etc/passwd\n");
    expect(readRunnerId(file)).toBeUndefined();
  });
});

describe("what a runner that died left in its work root", () => {
  it("goes, but for the workspaces of paused jobs; read-only trees too", () => {
    const root = tmp();
    const ws = (run: string, job: string): string => {
      const p = path.join(root, run, job);
      fs.mkdirSync(path.join(p, "sub"), { recursive: true });
      fs.writeFileSync(path.join(p, "sub", "file"), "x");
      return p;
    };
    ws("run1", "jobA");
    const b = ws("run1", "jobB");
    fs.writeFileSync(`${b}.gitconfig`, "[safe]\n");
    // A job paused before a review: it goes on in its workspace later.
    const paused = ws("run2", "jobC");
    fs.writeFileSync(pausedMarker(paused), "");
    const gone = ws("run2", "jobD");
    // A tree a step made read-only, as Go's module cache does (as root nothing is read-only to
    // us: then this shows only that such a tree goes).
    const ro = ws("run3", "jobE");
    fs.chmodSync(path.join(ro, "sub"), 0o555);
    fs.chmodSync(ro, 0o555);

    const left = removeLeftovers(root);
    expect(left).toEqual({ removed: 4, kept: 1, failed: [] });
    expect(fs.readdirSync(root).sort()).toEqual(["run2"]);
    expect(fs.readdirSync(path.join(root, "run2")).sort()).toEqual(["jobC", "jobC.paused"]);
    expect(fs.readFileSync(path.join(paused, "sub", "file"), "utf8")).toBe("x");
    expect(fs.existsSync(gone)).toBe(false);
  });

  it("is nothing when the work root is empty or missing", () => {
    const root = tmp();
    expect(removeLeftovers(root)).toEqual({ removed: 0, kept: 0, failed: [] });
    expect(removeLeftovers(path.join(root, "missing"))).toEqual({ removed: 0, kept: 0, failed: [] });
  });
});

describe("the server an agent starts on", () => {
  it("is one of the list, the same for the same name, and agents of many names use every one", () => {
    const names = Array.from({ length: 60 }, (_, i) => `build-${i}`);
    for (const count of [1, 2, 3]) {
      const picked = names.map((n) => firstServer(n, count));
      expect(picked.every((i) => i >= 0 && i < count)).toBe(true);
      expect(new Set(picked).size).toBe(count);
      expect(names.map((n) => firstServer(n, count))).toEqual(picked);
    }
    expect(firstServer("any", 0)).toBe(0);
  });
});
