// Where the client commands find their server, token and project: flag > environment variable >
// profile file (written by `pipewright login`) > default. The profile file lives at
// $XDG_CONFIG_HOME/pipewright/config.json (~/.config/… by default) and is kept at mode 0600.

import fs from "node:fs";
import path from "node:path";
import { CliError, EXIT, usageError } from "./cli-error.js";

export const DEFAULT_SERVER = "http://127.0.0.1:8080";
export const DEFAULT_PROFILE = "default";

export interface Profile {
  readonly server?: string;
  readonly token?: string;
  readonly project?: string;
}

export interface ProfileFile {
  readonly profiles: Readonly<Record<string, Profile>>;
}

type Env = Readonly<Record<string, string | undefined>>;

/** `$XDG_CONFIG_HOME/pipewright`, or `~/.config/pipewright`; a relative XDG_CONFIG_HOME is ignored, as the spec says. */
export function configDir(env: Env, home: string): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || home, ".config");
  return path.join(base, "pipewright");
}

export function profileFilePath(env: Env, home: string): string {
  return path.join(configDir(env, home), "config.json");
}

export interface LoadedProfiles {
  readonly file: ProfileFile;
  /** Set when the file is readable by others than its owner. */
  readonly warning: string | undefined;
}

export function readProfiles(file: string): LoadedProfiles {
  let text: string;
  let mode: number;
  try {
    text = fs.readFileSync(file, "utf8");
    mode = fs.statSync(file).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      return { file: { profiles: {} }, warning: undefined };
    throw new CliError(EXIT.USAGE, `cannot read profile file ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw usageError(
      `profile file ${file} is not valid JSON (${(err as Error).message})`,
      "Fix it or run 'pipewright login' again.",
    );
  }
  const profiles = (parsed as { profiles?: unknown } | null)?.profiles;
  if (typeof profiles !== "object" || profiles === null || Array.isArray(profiles)) {
    throw usageError(
      `profile file ${file} has no "profiles" object`,
      "Fix it or run 'pipewright login' again.",
    );
  }
  const warning =
    (mode & 0o077) !== 0
      ? `warning: ${file} is readable by other users and holds tokens; run: chmod 600 ${file}`
      : undefined;
  return { file: { profiles: profiles as Record<string, Profile> }, warning };
}

/**
 * Writes one profile, keeping the others. The file is written to a temporary name with mode 0600
 * and renamed, so it is never briefly readable by others nor half-written.
 */
export function saveProfile(file: string, name: string, profile: Profile): void {
  const current = readProfiles(file).file;
  const next: ProfileFile = { profiles: { ...current.profiles, [name]: profile } };
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

export interface ConnectionFlags {
  readonly server?: string | undefined;
  readonly token?: string | undefined;
  readonly project?: string | undefined;
  readonly profile?: string | undefined;
}

export interface ClientSettings {
  readonly server: string;
  readonly token: string | undefined;
  readonly project: string | undefined;
  readonly profileName: string;
}

/** `localhost:8080` → `http://localhost:8080`; no trailing slash. */
export function normalizeServer(url: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch {
    throw usageError(`server "${url}" is not a URL (expected e.g. http://127.0.0.1:8080)`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw usageError(`server "${url}" must be an http:// or https:// URL`);
  }
  return withScheme.replace(/\/+$/, "");
}

/** Pure: flag > environment > profile > default, for each setting on its own. */
export function resolveSettings(flags: ConnectionFlags, env: Env, profiles: ProfileFile): ClientSettings {
  const profileName = flags.profile || env.PIPEWRIGHT_PROFILE || DEFAULT_PROFILE;
  const explicitProfile = Boolean(flags.profile || env.PIPEWRIGHT_PROFILE);
  const profile = profiles.profiles[profileName];
  if (explicitProfile && !profile) {
    const known = Object.keys(profiles.profiles);
    throw usageError(
      `no profile "${profileName}"${known.length ? ` (known: ${known.join(", ")})` : ""}`,
      `Create it with 'pipewright login --profile ${profileName} …'.`,
    );
  }
  const pick = (
    flag: string | undefined,
    envName: string,
    fromProfile: string | undefined,
  ): string | undefined => flag || env[envName] || fromProfile || undefined;
  return {
    server: normalizeServer(pick(flags.server, "PIPEWRIGHT_SERVER", profile?.server) ?? DEFAULT_SERVER),
    token: pick(flags.token, "PIPEWRIGHT_TOKEN", profile?.token),
    project: pick(flags.project, "PIPEWRIGHT_PROJECT", profile?.project),
    profileName,
  };
}
