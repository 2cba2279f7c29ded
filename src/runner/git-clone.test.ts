import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GitCloneOptions } from "./git-clone.js";
import { gitClone } from "./git-clone.js";
import type { OutputStream } from "./process.js";
import { FALLBACK_PATH } from "./process.js";

let root: string;
let remoteUrl: string;
let gitEnv: Record<string, string>;
/** main's first commit (the branch has moved on since) and its head. */
let firstOnMain: string;
let headOfMain: string;

/** Identity and config come from the environment, never from the machine's global git config. */
function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, env: gitEnv, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

beforeAll(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), "pipewright-git-")));
  gitEnv = {
    PATH: process.env.PATH ?? FALLBACK_PATH,
    HOME: root,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_AUTHOR_NAME: "Pipewright Test",
    GIT_AUTHOR_EMAIL: "test@pipewright.invalid",
    GIT_COMMITTER_NAME: "Pipewright Test",
    GIT_COMMITTER_EMAIL: "test@pipewright.invalid",
  };
  const remote = join(root, "remote.git");
  const work = join(root, "work");
  git(root, "init", "--quiet", "--bare", "--initial-branch=main", remote);
  git(root, "init", "--quiet", "--initial-branch=main", work);
  writeFileSync(join(work, "README"), "v1\n");
  git(work, "add", "README");
  git(work, "commit", "--quiet", "-m", "first");
  git(work, "tag", "v1");
  firstOnMain = git(work, "rev-parse", "HEAD").trim();
  writeFileSync(join(work, "README"), "v2\n");
  git(work, "commit", "--quiet", "-am", "second");
  headOfMain = git(work, "rev-parse", "HEAD").trim();
  git(work, "checkout", "--quiet", "-b", "feature");
  writeFileSync(join(work, "FEATURE"), "feature\n");
  git(work, "add", "FEATURE");
  git(work, "commit", "--quiet", "-m", "feature");
  remoteUrl = pathToFileURL(remote).href;
  git(work, "push", "--quiet", remoteUrl, "main", "feature", "v1");
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function clone(extra: Partial<GitCloneOptions> & { dir: string }) {
  const chunks: Record<OutputStream, Buffer[]> = { stdout: [], stderr: [] };
  const result = gitClone({
    url: remoteUrl,
    cwd: root,
    env: { HOME: root, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
    hostEnv: { PATH: gitEnv.PATH },
    allowLocal: true,
    onOutput: (chunk, stream) => {
      chunks[stream].push(chunk);
    },
    ...extra,
  });
  return { result, stderr: () => Buffer.concat(chunks.stderr).toString("utf8") };
}

describe("gitClone", () => {
  it("clones the default branch, shallow", async () => {
    const r = await clone({ dir: "default" }).result;
    expect(r).toMatchObject({ exitCode: 0, timedOut: false, aborted: false });
    const dir = join(root, "default");
    expect(readFileSync(join(dir, "README"), "utf8")).toBe("v2\n");
    expect(existsSync(join(dir, "FEATURE"))).toBe(false);
    expect(git(dir, "rev-parse", "--is-shallow-repository").trim()).toBe("true");
    expect(git(dir, "rev-list", "--count", "HEAD").trim()).toBe("1");
  });

  it("clones a branch", async () => {
    const r = await clone({ dir: "branch", ref: "feature" }).result;
    expect(r.exitCode).toBe(0);
    expect(readFileSync(join(root, "branch", "FEATURE"), "utf8")).toBe("feature\n");
    expect(git(join(root, "branch"), "rev-parse", "--abbrev-ref", "HEAD").trim()).toBe("feature");
  });

  it("clones a tag", async () => {
    const r = await clone({ dir: join(root, "tag"), ref: "v1" }).result;
    expect(r.exitCode).toBe(0);
    expect(readFileSync(join(root, "tag", "README"), "utf8")).toBe("v1\n");
  });

  it("reports an unknown ref as a failed result", async () => {
    const { result, stderr } = clone({ dir: "unknown", ref: "no-such-branch" });
    const r = await result;
    expect(r.exitCode).not.toBe(0);
    expect(r.exitCode).not.toBeNull();
    expect(stderr()).toContain("no-such-branch");
  });

  it("reports an unreachable repository as a failed result", async () => {
    const r = await clone({ dir: "missing", url: pathToFileURL(join(root, "nope.git")).href }).result;
    expect(r.exitCode).not.toBe(0);
    expect(r.spawnError).toBeUndefined();
  });

  it("never reads a url or a ref as an option", async () => {
    const marker = join(root, "pwned");
    // Read as an option, this url would make git run `touch` and take dir for the repository.
    const url = await clone({ dir: join(root, "remote.git"), url: `--upload-pack=touch ${marker}` }).result;
    expect(url.exitCode).not.toBe(0);
    const ref = await clone({ dir: "inject-ref", ref: `--upload-pack=touch ${marker}` }).result;
    expect(ref.exitCode).not.toBe(0);
    expect(existsSync(marker)).toBe(false);
  });

  it("lets git use only network transports unless local clones are allowed", async () => {
    const { result, stderr } = clone({ dir: "refused", allowLocal: false });
    expect((await result).exitCode).not.toBe(0);
    expect(stderr()).toMatch(/transport 'file' not allowed/);
    expect(existsSync(join(root, "refused", "README"))).toBe(false);
    // ext:: runs a command; git refuses it even when local paths are allowed.
    const marker = join(root, "ext-ran");
    const ext = await clone({ dir: "ext", url: `ext::sh -c touch% ${marker}` }).result;
    expect(ext.exitCode).not.toBe(0);
    expect(existsSync(marker)).toBe(false);
  });

  it("does not hand git the variables that change how it starts", async () => {
    const marker = join(root, "ssh-ran");
    const r = await clone({
      dir: "no-ssh-command",
      url: "ssh://example.invalid/x.git",
      env: { HOME: root, GIT_SSH_COMMAND: `touch ${marker}` },
      timeoutMs: 20_000,
    }).result;
    expect(r.exitCode).not.toBe(0);
    expect(existsSync(marker)).toBe(false);
  });

  it("checks out the event's commit when the branch has moved on since", async () => {
    const { result } = clone({ dir: "pinned", ref: "main", commit: firstOnMain });
    expect((await result).exitCode).toBe(0);
    const dir = join(root, "pinned");
    expect(git(dir, "rev-parse", "HEAD").trim()).toBe(firstOnMain);
    expect(readFileSync(join(dir, "README"), "utf8")).toBe("v1\n");
    expect(git(dir, "rev-parse", "--is-shallow-repository").trim()).toBe("true");
  });

  it("keeps the branch checked out when its head is the commit", async () => {
    const r = await clone({ dir: "at-head", ref: "main", commit: headOfMain }).result;
    expect(r.exitCode).toBe(0);
    const dir = join(root, "at-head");
    expect(git(dir, "rev-parse", "HEAD").trim()).toBe(headOfMain);
    expect(git(dir, "rev-parse", "--abbrev-ref", "HEAD").trim()).toBe("main");
  });

  it("fails when the commit is not in the repository", async () => {
    const { result, stderr } = clone({ dir: "no-commit", ref: "main", commit: "f".repeat(40) });
    expect((await result).exitCode).not.toBe(0);
    expect(stderr()).toMatch(/f{40}|not our ref|couldn't find/i);
  });

  it("takes only a full commit id to pin", () => {
    expect(() => clone({ dir: "short", ref: "main", commit: "--upload-pack=touch x" })).toThrow(
      /full commit/,
    );
    expect(() => clone({ dir: "short", ref: "main", commit: firstOnMain.slice(0, 7) })).toThrow(
      /full commit/,
    );
  });
});
