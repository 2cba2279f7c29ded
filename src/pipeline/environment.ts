// What a run may put into a step's environment and where a checkout may clone from. Both are
// checked where a pipeline or a run request arrives (a 400 naming the field) and again by the
// runner (for runs stored before a rule existed, or an assignment from elsewhere).
//
// Variables are refused whose only use is to change how the shell, the dynamic loader or the
// runner's own git starts: an operator who may only set runtime variables could otherwise make
// bash source a file of their choice (BASH_ENV), preload a library (LD_PRELOAD) or have the
// checkout run a command (GIT_SSH_COMMAND). docs/definition.md lists them.

/** Shell start-up and parsing variables (bash, dash, sh). */
const SHELL = [
  "BASH_ENV",
  "ENV",
  "SHELLOPTS",
  "BASHOPTS",
  "BASH_XTRACEFD",
  "BASH_LOADABLES_PATH",
  "BASH_COMPAT",
  "BASH_ARGV0",
  "PS1",
  "PS2",
  "PS3",
  "PS4",
  "PROMPT_COMMAND",
  "IFS",
  "CDPATH",
  "GLOBIGNORE",
  "EXECIGNORE",
  "FUNCNEST",
  "POSIXLY_CORRECT",
  "INPUTRC",
  "HISTFILE",
];

/** Dynamic loader and C library variables that load code or files. */
const LOADER = [
  "GLIBC_TUNABLES",
  "GCONV_PATH",
  "NLSPATH",
  "LOCPATH",
  "HOSTALIASES",
  "RESOLV_HOST_CONF",
  "MALLOC_TRACE",
];

/** What the runner's git clone and ssh would run or read (the commit identity is allowed). */
const GIT_ALLOWED = new Set([
  "GIT_AUTHOR_NAME",
  "GIT_AUTHOR_EMAIL",
  "GIT_AUTHOR_DATE",
  "GIT_COMMITTER_NAME",
  "GIT_COMMITTER_EMAIL",
  "GIT_COMMITTER_DATE",
]);
const SSH = ["SSH_ASKPASS", "SSH_ASKPASS_REQUIRE"];

const RESERVED = new Set([...SHELL, ...LOADER, ...SSH]);
const RESERVED_PREFIXES = ["LD_", "BASH_FUNC_", "GIT_"];

/** The refused names and prefixes, for docs and messages. */
export const RESERVED_VARIABLE_NAMES = {
  names: [...RESERVED].sort(),
  prefixes: RESERVED_PREFIXES.map((p) => `${p}*`),
  allowed: [...GIT_ALLOWED].sort(),
} as const;

/** Why `name` may not be a variable of a run (undefined: it may). */
export function reservedVariableProblem(name: string): string | undefined {
  // Exact names: the shell and the loader read only these spellings (`env` is an ordinary name).
  if (GIT_ALLOWED.has(name)) return undefined;
  if (RESERVED.has(name) || RESERVED_PREFIXES.some((p) => name.startsWith(p))) {
    return `"${name}" changes how the shell, the loader or git starts, so it cannot be a variable (docs/definition.md#variables)`;
  }
  return undefined;
}

/** A step environment without the reserved names (the runner's second line of defence). */
export function withoutReservedVariables(env: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (reservedVariableProblem(k) === undefined) out[k] = v;
  return out;
}

/** The git transports a checkout may use; `file` only where the admin allows local clones. */
export function allowedGitProtocols(allowLocal: boolean): string {
  return allowLocal ? "https:http:ssh:git:file" : "https:http:ssh:git";
}

const NETWORK_URL = /^(https?|ssh|git):\/\/[^/\s]/i;
/** scp-like `[user@]host:path`: a host without a slash before the colon (and not a `x::` helper). */
const SCP_LIKE = /^(?:[A-Za-z0-9._~-]+@)?[A-Za-z0-9.-]+:(?!:)[^\s]/;
const LOCAL = /^(file:\/\/|\/|\.{1,2}\/)/i;

/**
 * Why `url` may not be cloned (undefined: it may). Network URLs (https, http, ssh, git, and the
 * scp-like `host:path`) always; local paths and file:// only when `allowLocal`. Anything else
 * (`ext::command`, other remote helpers, a leading `-`) never.
 */
export function cloneUrlProblem(url: string, allowLocal: boolean): string | undefined {
  if (url.startsWith("-") || /[\0\n\r]/.test(url)) return "is not a URL git may clone";
  if (NETWORK_URL.test(url)) return undefined;
  if (LOCAL.test(url)) {
    return allowLocal
      ? undefined
      : "is a local path: clones are limited to https, http, ssh and git URLs (the admin may allow local paths with --allow-local-clone)";
  }
  if (SCP_LIKE.test(url) && !url.includes("::")) return undefined;
  return "must be an https, http, ssh or git URL (or user@host:path)";
}

/** The first clone URL of `sources` (as a pipeline or run request names them) that may not be cloned. */
export function sourcesProblem(
  sources: readonly unknown[],
  allowLocal: boolean,
): { path: string; problem: string } | undefined {
  for (const [i, src] of sources.entries()) {
    const params = typeof src === "object" && src !== null ? (src as { params?: unknown }).params : undefined;
    const url =
      typeof params === "object" && params !== null ? (params as { git_url?: unknown }).git_url : undefined;
    if (typeof url !== "string" || url === "") continue;
    const problem = cloneUrlProblem(url, allowLocal);
    if (problem) return { path: `sources[${i}].params.git_url`, problem };
  }
  return undefined;
}

/** What the admin lets runs do beyond the defaults. */
export interface RunPolicy {
  /** Clones of local paths and file:// URLs (`--allow-local-clone`). */
  readonly allowLocalClone: boolean;
}
