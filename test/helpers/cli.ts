// The built CLI as the e2e tests run it: a child process in a work dir with a clean environment,
// its output gathered, killed if it hangs.

import { spawn } from "node:child_process";
import path from "node:path";
import { expect } from "vitest";

export const CLI = path.resolve(import.meta.dirname, "..", "..", "dist", "src", "cli", "main.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `cli` and `ok` (expects exit 0, showing the output otherwise) for tests whose work dir and
 * environment are set in a beforeAll: `where` is read at each call.
 */
export function cliRunner(
  where: () => { readonly cwd: string; readonly env: Readonly<Record<string, string>> },
) {
  function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    const at = where();
    const proc = spawn(process.execPath, [CLI, ...args], {
      cwd: at.cwd,
      env: { ...at.env, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    proc.stdin.end();
    const timer = setTimeout(() => proc.kill("SIGKILL"), 90_000);
    return new Promise<CliResult>((resolve) =>
      proc.once("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      }),
    );
  }
  async function ok(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    const res = await cli(args, env);
    expect(res.code, `pipewright ${args.join(" ")}\n${res.stdout}\n${res.stderr}`).toBe(0);
    return res;
  }
  return { cli, ok };
}
