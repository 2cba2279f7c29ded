// Checks out a run's source: a shallow `git clone` of one branch or tag, on top of runProcess.

import { allowedGitProtocols } from "../pipeline/environment.js";
import type { HostEnv, ProcessResult, StepProcessOptions } from "./process.js";
import { buildStepEnv, runProcess } from "./process.js";

export interface GitCloneOptions extends StepProcessOptions {
  url: string;
  /** A branch or a tag (what `git clone --branch` accepts, so not a commit id); the remote's HEAD when absent or "". */
  ref?: string | undefined;
  /** Target directory, relative to cwd or absolute. */
  dir: string;
  hostEnv?: HostEnv | undefined;
  /** Lets git use the file transport (local paths); otherwise only network transports. */
  allowLocal: boolean;
  /** A git config file that trusts every repository's owner (a sandboxed local clone). */
  trustConfig?: string | undefined;
}

/**
 * `git clone --depth 1 [--branch=<ref>] -- <url> <dir>`. The `--` and the `--branch=` form keep a
 * url or ref that starts with `-` from being read as an option (`--upload-pack=<command>` would run
 * a command). GIT_TERMINAL_PROMPT=0 makes git fail instead of waiting for credentials; ssh cannot
 * prompt either, as the process group has no controlling terminal. Credentials embedded in the url
 * can show up in git's messages: the caller should register them with the masker.
 */
export function gitClone(opts: GitCloneOptions): Promise<ProcessResult> {
  const args = ["clone", "--depth", "1"];
  if (opts.ref !== undefined && opts.ref !== "") args.push(`--branch=${opts.ref}`);
  args.push("--", opts.url, opts.dir);
  const { url: _url, ref: _ref, dir: _dir, hostEnv, allowLocal, trustConfig: _t, ...common } = opts;
  return runProcess({
    ...common,
    command: "git",
    args,
    // GIT_ALLOW_PROTOCOL holds for everything git fetches here (submodules and redirects too).
    env: {
      ...buildStepEnv(opts.env, hostEnv),
      GIT_TERMINAL_PROMPT: "0",
      GIT_ALLOW_PROTOCOL: allowedGitProtocols(allowLocal),
      // A sandboxed step runs as its slot's user: a local repository the admin allowed to be
      // cloned belongs to someone else, which git refuses ("dubious ownership") unless its global
      // config says otherwise (the only config the source side's upload-pack reads from us).
      ...(opts.trustConfig ? { GIT_CONFIG_GLOBAL: opts.trustConfig } : {}),
    },
  });
}
