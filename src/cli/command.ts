// What every CLI command is given: its parsed arguments, output streams, the environment (read
// once in main.ts), an abort signal for Ctrl-C, and a way to reach the server with the resolved
// settings. Commands return an exit code or throw a CliError.

import YAML from "yaml";
import { type AdminApi, adminApi, type ProjectApi, projectApi } from "./api.js";
import type { CommandSpec, OptionSpec, ParsedArgs } from "./args.js";
import { type ExitCode, usageError } from "./cli-error.js";
import { createHttpClient, type FetchLike, type HttpClient } from "./client.js";
import type { Style } from "./format.js";
import { type ClientSettings, profileFilePath, readProfiles, resolveSettings } from "./profile.js";

export type Env = Readonly<Record<string, string | undefined>>;

export interface Output {
  write(text: string): void;
  readonly isTTY: boolean;
  /** Terminal size; 80×24 when unknown. */
  readonly columns: number;
  readonly rows: number;
}

export interface Io {
  readonly stdout: Output;
  /** The same stdout, for bytes (a download to `-o -`), with its backpressure. */
  readonly binaryOut: NodeJS.WritableStream & { readonly isTTY?: boolean };
  readonly stderr: Output;
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean };
  readonly env: Env;
  readonly cwd: string;
  readonly home: string;
  readonly now: () => number;
  /** Aborted on SIGINT, so waiting commands can stop cleanly. */
  readonly signal: AbortSignal;
  readonly fetch?: FetchLike;
  readonly version: string;
}

export interface Ctx {
  readonly io: Io;
  readonly args: ParsedArgs;
  /** Machine-readable output asked for (--json, --output json or yaml): commands print JSON. */
  readonly json: boolean;
  /** Tables with their extra columns (--output wide). */
  readonly wide: boolean;
  /** Styles for stdout (colour off unless stdout is a terminal). */
  readonly style: Style;
  /** Styles for stderr. */
  readonly errStyle: Style;
  out(text: string): void;
  /** A line for humans on stderr (progress, notes, warnings), so stdout stays parseable. */
  note(text: string): void;
  settings(): ClientSettings;
  http(settings?: ClientSettings): HttpClient;
  /** The project API with token and project resolved (a project may be given by name). */
  project(): Promise<ProjectApi>;
  admin(token?: string): AdminApi;
}

export interface Command {
  readonly spec: CommandSpec;
  run(ctx: Ctx): Promise<ExitCode>;
}

export const CONNECTION_GROUP = "Connection (flag > environment variable > profile)";

export const CONNECTION_OPTIONS: readonly OptionSpec[] = [
  {
    name: "server",
    type: "string",
    arg: "URL",
    help: "server URL (PIPEWRIGHT_SERVER; default http://127.0.0.1:8080)",
    group: CONNECTION_GROUP,
  },
  {
    name: "token",
    type: "string",
    arg: "TOKEN",
    help: "X-Auth-Token (PIPEWRIGHT_TOKEN)",
    group: CONNECTION_GROUP,
  },
  {
    name: "project",
    type: "string",
    arg: "ID|NAME",
    help: "project id or name (PIPEWRIGHT_PROJECT)",
    group: CONNECTION_GROUP,
  },
  {
    name: "profile",
    type: "string",
    arg: "NAME",
    help: 'profile of the profile file (PIPEWRIGHT_PROFILE; default "default")',
    group: CONNECTION_GROUP,
  },
];

/** `--output FORMAT`; a command with an `--output FILE` of its own leaves it out. */
export const OUTPUT_FORMAT_OPTION: OptionSpec = {
  name: "output",
  type: "string",
  arg: "FORMAT",
  help: "text (default), wide (tables with more columns), json, or yaml",
  group: "Output",
};

export const OUTPUT_OPTIONS: readonly OptionSpec[] = [
  { name: "json", type: "boolean", help: "print JSON for scripts instead of text", group: "Output" },
  OUTPUT_FORMAT_OPTION,
  {
    name: "no-color",
    type: "boolean",
    help: "no colours (also NO_COLOR=1; colours are only used on a terminal)",
    group: "Output",
  },
];

/** Options of every command that talks to a project. */
export const CLIENT_OPTIONS: readonly OptionSpec[] = [...CONNECTION_OPTIONS, ...OUTPUT_OPTIONS];

export const ID_RE = /^[0-9a-f]{32}$/;

const FORMATS = ["text", "wide", "json", "yaml"] as const;
type OutputFormat = (typeof FORMATS)[number];

function outputFormat(args: ParsedArgs): OutputFormat {
  const o = args.str("output");
  if (o === undefined) return args.bool("json") ? "json" : "text";
  if (!(FORMATS as readonly string[]).includes(o))
    throw usageError(`--output ${o}: give one of ${FORMATS.join(", ")}`);
  if (args.bool("json") && o !== "json") throw usageError(`--json and --output ${o} disagree`);
  return o as OutputFormat;
}

function asYaml(text: string): string {
  try {
    return YAML.stringify(JSON.parse(text), { lineWidth: 0 });
  } catch {
    // Not a JSON document (a note, a table): as it is.
    return text;
  }
}

export function createCtx(
  io: Io,
  args: ParsedArgs,
  style: Style,
  errStyle: Style,
  /** Whether the command takes OUTPUT_FORMAT_OPTION (its --output is then the format). */
  formats = true,
): Ctx {
  let warned = false;
  let settings: ClientSettings | undefined;
  let project: ProjectApi | undefined;
  const format = formats ? outputFormat(args) : args.bool("json") ? "json" : "text";
  const ctx: Ctx = {
    io,
    args,
    json: format === "json" || format === "yaml",
    wide: format === "wide",
    style,
    errStyle,
    // Commands print JSON; --output yaml turns each JSON document they print into YAML.
    out: format === "yaml" ? (text) => io.stdout.write(asYaml(text)) : (text) => io.stdout.write(text),
    note: (text) => io.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
    settings() {
      if (settings) return settings;
      const file = profileFilePath(io.env, io.home);
      const loaded = readProfiles(file);
      if (loaded.warning && !warned) {
        warned = true;
        ctx.note(errStyle.yellow(loaded.warning));
      }
      settings = resolveSettings(
        {
          server: args.str("server"),
          token: args.str("token"),
          project: args.str("project"),
          profile: args.str("profile"),
        },
        io.env,
        loaded.file,
      );
      return settings;
    },
    http(s = ctx.settings()) {
      return createHttpClient({
        server: s.server,
        token: s.token,
        userAgent: `pipewright-cli/${io.version}`,
        ...(io.fetch ? { fetch: io.fetch } : {}),
      });
    },
    async project() {
      if (project) return project;
      const s = ctx.settings();
      if (!s.token) {
        throw usageError("no token", "Pass --token, set PIPEWRIGHT_TOKEN or run 'pipewright login'.");
      }
      if (!s.project) {
        throw usageError("no project", "Pass --project, set PIPEWRIGHT_PROJECT or run 'pipewright login'.");
      }
      const http = ctx.http(s);
      const id = await resolveProjectId(adminApi(http), s.project);
      project = projectApi(http, id);
      return project;
    },
    admin(token) {
      const s = ctx.settings();
      const t = token ?? s.token;
      if (!t) {
        throw usageError(
          "no admin token",
          "Pass --admin-token or --token, or set PIPEWRIGHT_ADMIN_TOKEN (the server's admin token is in <data dir>/admin-token).",
        );
      }
      return adminApi(ctx.http({ ...s, token: t }));
    },
  };
  return ctx;
}

/** A project id as is; a name through the projects the token may see. */
export async function resolveProjectId(admin: AdminApi, ref: string): Promise<string> {
  if (ID_RE.test(ref)) return ref;
  const projects = await admin.listProjects();
  const hit = projects.find((p) => p.name === ref);
  if (!hit) {
    throw usageError(
      `no project named "${ref}" among the ${projects.length} this token may see`,
      projects.length > 0 ? `Known: ${projects.map((p) => p.name).join(", ")}` : undefined,
    );
  }
  return hit.project_id;
}
