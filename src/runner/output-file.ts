// A step's outputs file (`$PIPEWRIGHT_OUTPUT`): made empty by the runner in the step's files
// directory (the workspace's runner directory, or its lane's: shell.ts) before the step, owned by
// the step's user, and read back after it. The step may have
// replaced it with anything by then; reading takes only a regular file the step's user owns, not
// through a symlink, and at most one byte past the limit, so a step cannot make the runner (root
// in a sandbox) read a file the step itself may not.
//
// The calls are synchronous: each is a metadata operation or a read of at most 1 MiB in a local
// directory (microseconds), and through the thread pool the eight of them cost the runner more
// CPU per step than the rest of a short step's bookkeeping.

import { randomUUID } from "node:crypto";
import fs, { constants } from "node:fs";
import path from "node:path";
import { LIMITS } from "../pipeline/limits.js";
import { prepareFilesDir, type StepFilesDir } from "./shell.js";

type Owner = { readonly uid: number; readonly gid: number } | undefined;

/** A step's outputs file: where the runner reads it, and the path the step is given. */
export interface OutputFile {
  readonly path: string;
  readonly seen: string;
}

/** Makes the empty outputs file of a step in its files directory. */
export function createOutputFile(files: StepFilesDir, owner: Owner): OutputFile {
  prepareFilesDir(files, owner);
  const name = `output-${randomUUID()}`;
  const file = path.join(files.path, name);
  fs.closeSync(fs.openSync(file, "wx", 0o600));
  if (owner) fs.chownSync(file, owner.uid, owner.gid);
  return { path: file, seen: path.join(files.seen, name) };
}

type OutputRead = { readonly text: string; readonly bytes: number } | { readonly error: string };

/**
 * What the step wrote to its outputs file, then the file removed; an error (a sentence for the
 * step's log) when it is no longer a plain file of the step's user, or is past the limit.
 */
export function readOutputFile(files: StepFilesDir, out: OutputFile, owner: Owner): OutputRead {
  const file = out.path;
  try {
    if (!files.own) {
      // The runner directory (the step's to change) may have been swapped for a link elsewhere.
      let dir = "";
      try {
        dir = fs.realpathSync.native(path.dirname(file));
      } catch {
        // gone: not the runner directory
      }
      const expected = path.join(fs.realpathSync.native(path.dirname(files.path)), path.basename(files.path));
      if (dir !== expected) return { error: "the outputs file's directory was replaced" };
    }
    let fd: number;
    try {
      fd = fs.openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return { text: "", bytes: 0 };
      if (code === "ELOOP") return { error: "the outputs file was replaced by a link" };
      throw err;
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) return { error: "the outputs file is not a regular file" };
      if (owner && st.uid !== owner.uid) return { error: "the outputs file is not the step's own" };
      if (st.size > LIMITS.stepOutputBytes) return { error: tooLarge(st.size) };
      if (st.size === 0) return { text: "", bytes: 0 };
      // Unzeroed: only the bytes read are ever looked at.
      const buf = Buffer.allocUnsafe(LIMITS.stepOutputBytes + 1);
      let bytesRead = 0;
      // A step may still be writing (a process it left behind): read what is there, up to the limit.
      for (let n = 1; n > 0 && bytesRead < buf.length; bytesRead += n) {
        n = fs.readSync(fd, buf, bytesRead, buf.length - bytesRead, bytesRead);
      }
      if (bytesRead > LIMITS.stepOutputBytes) return { error: tooLarge(bytesRead) };
      return { text: buf.subarray(0, bytesRead).toString("utf8"), bytes: bytesRead };
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    return {
      error: `the outputs file could not be read (${(err as NodeJS.ErrnoException).code ?? "error"})`,
    };
  } finally {
    try {
      fs.unlinkSync(file);
    } catch {
      // gone already, or a directory the step put there: the workspace goes with the job
    }
  }
}

const tooLarge = (bytes: number): string =>
  `the outputs file holds ${bytes} bytes or more, past the limit of ${LIMITS.stepOutputBytes} (stepOutputBytes)`;
