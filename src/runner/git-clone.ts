// Checks out a run's source: a shallow `git clone` of one branch or tag, on top of runProcess.

import { allowedGitProtocols } from "../pipeline/environment.js";
import type { HostEnv, ProcessResult, StepProcessOptions } from "./process.js";
import { buildStepEnv, runProcess } from "./process.js";

export interface GitCloneOptions extends StepProcessOptions {
  url: string;
  /** A branch or a tag (what `git clone --branch` accepts, so not a commit id); the remote's HEAD when absent or "". */
  ref?: string | undefined;
  /**
   * The commit to check out (a full commit id): the clone is of `ref`, then, when its head is
   * another commit (the branch moved on since the event), that commit is fetched and checked out.
   */
  commit?: string | undefined;
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
  const { url: _url, ref: _ref, dir: _dir, commit, hostEnv, allowLocal, trustConfig: _t, ...common } = opts;
  if (commit !== undefined && !FULL_COMMIT.test(commit)) throw new Error(`not a full commit id: ${commit}`);
  return runProcess({
    ...common,
    // Pinned: one shell runs the clone, compares the head and fetches the commit when it differs
    // (a fetch by id, which protocol v2 servers and the forges allow), all as one step process.
    ...(commit
      ? { command: "sh", args: ["-c", PIN_SCRIPT, "git-checkout", commit, ...args] }
      : { command: "git", args }),
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

/** A full commit id (SHA-1 or SHA-256). */
export const FULL_COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

// $1 the commit, then git's clone arguments, the last one the directory. Arguments are never
// parsed by the shell, and the commit is hex (checked above), so it cannot be read as an option.
const PIN_SCRIPT = [
  'commit="$1"; shift',
  "for dir do :; done",
  'git "$@" || exit',
  'cd -- "$dir" || exit',
  'head="$(git rev-parse HEAD)" || exit',
  'if [ "$head" != "$commit" ]; then',
  '  echo "[pipewright] the branch head is $head: fetching $commit"',
  '  git fetch --quiet --depth 1 origin "$commit" && git checkout --quiet --detach "$commit" || exit',
  "fi",
  'echo "[pipewright] checked out $commit"',
].join("\n");
