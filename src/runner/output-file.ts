// A step's outputs file (`$PIPEWRIGHT_OUTPUT`): made empty by the runner in the workspace's runner
// directory before the step, owned by the step's user, and read back after it. The step may have
// replaced it with anything by then; reading takes only a regular file the step's user owns, not
// through a symlink, and at most one byte past the limit, so a step cannot make the runner (root
// in a sandbox) read a file the step itself may not.

import { randomUUID } from "node:crypto";
import { constants } from "node:fs";
import { chown, mkdir, open, realpath, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { LIMITS } from "../pipeline/limits.js";
import { RUNNER_DIR } from "./shell.js";

type Owner = { readonly uid: number; readonly gid: number } | undefined;

/** Makes the empty outputs file of a step; answers its path. */
export async function createOutputFile(workspace: string, owner: Owner): Promise<string> {
  const dir = path.join(workspace, RUNNER_DIR);
  await mkdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "EEXIST") throw err;
  });
  const file = path.join(dir, `output-${randomUUID()}`);
  await writeFile(file, "", { mode: 0o600, flag: "wx" });
  if (owner) {
    await chown(dir, owner.uid, owner.gid);
    await chown(file, owner.uid, owner.gid);
  }
  return file;
}

/**
 * What the step wrote to its outputs file, then the file removed; an error (a sentence for the
 * step's log) when it is no longer a plain file of the step's user, or is past the limit.
 */
export async function readOutputFile(
  workspace: string,
  file: string,
  owner: Owner,
): Promise<{ readonly text: string; readonly bytes: number } | { readonly error: string }> {
  try {
    // The runner directory (the step's to change) may have been swapped for a link elsewhere.
    const dir = await realpath(path.dirname(file)).catch(() => "");
    if (dir !== path.join(await realpath(workspace), RUNNER_DIR)) {
      return { error: "the outputs file's directory was replaced" };
    }
    const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") return undefined;
        if (err.code === "ELOOP") return "link" as const;
        throw err;
      },
    );
    if (!fh) return { text: "", bytes: 0 };
    if (fh === "link") return { error: "the outputs file was replaced by a link" };
    try {
      const st = await fh.stat();
      if (!st.isFile()) return { error: "the outputs file is not a regular file" };
      if (owner && st.uid !== owner.uid) return { error: "the outputs file is not the step's own" };
      if (st.size > LIMITS.stepOutputBytes) return { error: tooLarge(st.size) };
      const buf = Buffer.alloc(LIMITS.stepOutputBytes + 1);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      if (bytesRead > LIMITS.stepOutputBytes) return { error: tooLarge(bytesRead) };
      return { text: buf.subarray(0, bytesRead).toString("utf8"), bytes: bytesRead };
    } finally {
      await fh.close();
    }
  } catch (err) {
    return {
      error: `the outputs file could not be read (${(err as NodeJS.ErrnoException).code ?? "error"})`,
    };
  } finally {
    await rm(file, { force: true }).catch(() => {});
  }
}

const tooLarge = (bytes: number): string =>
  `the outputs file holds ${bytes} bytes or more, past the limit of ${LIMITS.stepOutputBytes} (stepOutputBytes)`;
