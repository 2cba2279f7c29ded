// Real git for tests: an identity and no config of the machine's (neither read nor written).

import { execFileSync } from "node:child_process";

export const GIT_ENV: Readonly<Record<string, string | undefined>> = {
  ...process.env,
  GIT_AUTHOR_NAME: "Pipewright Test",
  GIT_AUTHOR_EMAIL: "test@pipewright.invalid",
  GIT_COMMITTER_NAME: "Pipewright Test",
  GIT_COMMITTER_EMAIL: "test@pipewright.invalid",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
};

/** Runs git in `cwd`; answers its output, trimmed. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, env: GIT_ENV, stdio: "pipe", encoding: "utf8" }).trim();
}
