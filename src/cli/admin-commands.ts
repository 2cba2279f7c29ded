// `pipewright admin project|token|access-key …` (Pipewright's admin API, /admin/v1) and
// `pipewright login`, which checks a token and saves it in a profile.

import fs from "node:fs";
import path from "node:path";
import { type AdminApi, adminApi, type Credential } from "./api.js";
import type { OptionSpec } from "./args.js";
import { formatBytes } from "./artifacts-format.js";
import { EXIT, usageError } from "./cli-error.js";
import { CONNECTION_GROUP, type Command, type Ctx, OUTPUT_OPTIONS, resolveProjectId } from "./command.js";
import { formatTime, table } from "./format.js";
import { DEFAULT_PROFILE, profileFilePath, readProfiles, resolveSettings, saveProfile } from "./profile.js";

const ROLES = ["viewer", "operator", "admin", "runner"];

const ADMIN_OPTIONS: readonly OptionSpec[] = [
  {
    name: "server",
    type: "string",
    arg: "URL",
    help: "server URL (PIPEWRIGHT_SERVER; default http://127.0.0.1:8080)",
    group: CONNECTION_GROUP,
  },
  {
    name: "admin-token",
    type: "string",
    arg: "TOKEN",
    help: "the server's admin token, or a token with role admin (PIPEWRIGHT_ADMIN_TOKEN; else --token, PIPEWRIGHT_TOKEN, the profile, ./.pipewright/admin-token)",
    group: CONNECTION_GROUP,
  },
  {
    name: "token",
    type: "string",
    arg: "TOKEN",
    help: "used when no admin token is given (PIPEWRIGHT_TOKEN)",
    group: CONNECTION_GROUP,
  },
  {
    name: "profile",
    type: "string",
    arg: "NAME",
    help: "profile of the profile file (PIPEWRIGHT_PROFILE)",
    group: CONNECTION_GROUP,
  },
  ...OUTPUT_OPTIONS,
];

/**
 * The admin token: --admin-token > --token > PIPEWRIGHT_ADMIN_TOKEN > PIPEWRIGHT_TOKEN > profile >
 * the file a server started in this directory wrote (what `npm start` prints and keeps).
 */
function adminOf(ctx: Ctx): AdminApi {
  const s = ctx.settings();
  let token =
    ctx.args.str("admin-token") || ctx.args.str("token") || ctx.io.env.PIPEWRIGHT_ADMIN_TOKEN || s.token;
  if (!token) {
    const file = path.join(ctx.io.cwd, ".pipewright", "admin-token");
    if (fs.existsSync(file)) token = fs.readFileSync(file, "utf8").trim();
  }
  return ctx.admin(token);
}

function print(ctx: Ctx, value: unknown): void {
  ctx.out(`${JSON.stringify(value, null, 2)}\n`);
}

async function projectNames(admin: AdminApi): Promise<Map<string, string>> {
  return new Map((await admin.listProjects()).map((p) => [p.project_id, p.name]));
}

const projectCreate: Command = {
  spec: {
    path: ["admin", "project", "create"],
    summary: "Create a project (the bootstrap admin token only)",
    args: "NAME",
    options: ADMIN_OPTIONS,
    minArgs: 1,
    maxArgs: 1,
    examples: [
      "pipewright admin project create demo",
      "PROJECT=$(pipewright admin project create demo --json | jq -r .project_id)",
    ],
  },
  async run(ctx) {
    const res = await adminOf(ctx).createProject(ctx.args.positionals[0]!);
    if (ctx.json) print(ctx, res);
    else ctx.out(`created project ${ctx.style.bold(res.name)} (${res.project_id})\n`);
    return EXIT.OK;
  },
};

const projectList: Command = {
  spec: {
    path: ["admin", "project", "list"],
    summary: "List the projects the token may see",
    options: ADMIN_OPTIONS,
    maxArgs: 0,
  },
  async run(ctx) {
    const projects = await adminOf(ctx).listProjects();
    if (ctx.json) print(ctx, projects);
    else if (projects.length === 0)
      ctx.out("No projects: create one with 'pipewright admin project create NAME'.\n");
    else
      ctx.out(
        table(
          ["NAME", "ID", "CREATED"],
          projects.map((p) => [p.name, p.project_id, formatTime(p.create_time)]),
          ctx.style,
        ),
      );
    return EXIT.OK;
  },
};

type Kind = "tokens" | "access-keys";

function credentialCommands(kind: Kind): Command[] {
  const word = kind === "tokens" ? "token" : "access-key";
  const what = kind === "tokens" ? "X-Auth-Token" : "AK/SK pair (for the official Huawei Cloud SDKs)";
  const create: Command = {
    spec: {
      path: ["admin", word, "create"],
      summary: `Issue an ${what}; the secret is shown once`,
      options: [
        {
          name: "role",
          type: "string",
          arg: "ROLE",
          help: "viewer (read), operator (read, run), admin (everything, incl. pipelines) or runner (for pipewright runner; no --project)",
        },
        {
          name: "project",
          type: "string",
          multiple: true,
          arg: "ID|NAME",
          help: "a project it is for; repeat for several",
        },
        { name: "name", type: "string", arg: "NAME", help: `a label for the ${word}` },
        ...ADMIN_OPTIONS,
      ],
      maxArgs: 0,
      examples: [
        `pipewright admin ${word} create --role admin --project demo --name ci`,
        ...(kind === "tokens"
          ? ["TOKEN=$(pipewright admin token create --role operator --project demo --json | jq -r .token)"]
          : []),
      ],
    },
    async run(ctx) {
      const role = ctx.args.str("role");
      // The server checks the role's value; the CLI only needs to know that runners take no project.
      if (!role) throw usageError(`--role is required: ${ROLES.join(", ")}`);
      const refs = ctx.args.list("project");
      if (refs.length === 0 && role !== "runner") {
        throw usageError("--project is required (repeat it for several projects)");
      }
      const admin = adminOf(ctx);
      const projectIds: string[] = [];
      for (const ref of refs) projectIds.push(await resolveProjectId(admin, ref));
      const name = ctx.args.str("name");
      const res = await admin.createCredential(kind, {
        role,
        project_ids: projectIds,
        ...(name ? { name } : {}),
      });
      if (ctx.json) {
        print(ctx, res);
        return EXIT.OK;
      }
      const { style } = ctx;
      if (kind === "tokens") ctx.out(`token ${style.bold(res.token ?? "")}\n`);
      else ctx.out(`ak ${style.bold(res.ak ?? "")}\nsk ${style.bold(res.sk ?? "")}\n`);
      const scope = refs.length > 0 ? `, projects ${refs.join(", ")}` : "";
      ctx.note(
        style.dim(
          `${kind === "tokens" ? "The token" : "The SK"} is shown only now: store it. id ${res.id}, role ${res.role}${scope}`,
        ),
      );
      return EXIT.OK;
    },
  };
  const list: Command = {
    spec: {
      path: ["admin", word, "list"],
      summary: `List ${kind === "tokens" ? "tokens" : "access keys"} (never their secrets)`,
      options: ADMIN_OPTIONS,
      maxArgs: 0,
    },
    async run(ctx) {
      const admin = adminOf(ctx);
      const items = await admin.listCredentials(kind);
      if (ctx.json) {
        print(ctx, items);
        return EXIT.OK;
      }
      const names = await projectNames(admin);
      const { style } = ctx;
      ctx.out(
        table(
          [kind === "tokens" ? "ID" : "AK", "NAME", "ROLE", "PROJECTS", "CREATED", "REVOKED"],
          items.map((c: Credential) => [
            c.ak ?? c.id,
            c.name,
            c.role,
            c.project_ids.map((id) => names.get(id) ?? id).join(", ") || "-",
            formatTime(c.create_time),
            c.revoked_time ? style.yellow(formatTime(c.revoked_time)) : "-",
          ]),
          style,
        ),
      );
      return EXIT.OK;
    },
  };
  const revoke: Command = {
    spec: {
      path: ["admin", word, "revoke"],
      summary: `Revoke ${kind === "tokens" ? "a token (by id)" : "an access key (by AK)"}`,
      args: kind === "tokens" ? "ID" : "AK",
      options: ADMIN_OPTIONS,
      minArgs: 1,
      maxArgs: 1,
    },
    async run(ctx) {
      const id = ctx.args.positionals[0]!;
      const res = await adminOf(ctx).revokeCredential(kind, id);
      if (ctx.json) print(ctx, res);
      else ctx.out(`revoked ${word} ${id}\n`);
      return EXIT.OK;
    },
  };
  return [create, list, revoke];
}

async function readStdin(ctx: Ctx): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of ctx.io.stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString("utf8").trim();
}

const login: Command = {
  spec: {
    path: ["login"],
    summary: "Check a server, token and project, and save them in a profile",
    description: `The profile file is $XDG_CONFIG_HOME/pipewright/config.json (~/.config/pipewright/config.json
by default), mode 0600. Client commands read it when no flag or environment variable gives
a setting. Without --project, the token's only project is taken.`,
    options: [
      {
        name: "server",
        type: "string",
        arg: "URL",
        help: "server URL (PIPEWRIGHT_SERVER; default http://127.0.0.1:8080)",
      },
      { name: "token", type: "string", arg: "TOKEN", help: "X-Auth-Token (PIPEWRIGHT_TOKEN)" },
      {
        name: "token-stdin",
        type: "boolean",
        help: "read the token from stdin (keeps it out of the shell history)",
      },
      { name: "project", type: "string", arg: "ID|NAME", help: "project id or name (PIPEWRIGHT_PROJECT)" },
      {
        name: "profile",
        type: "string",
        arg: "NAME",
        help: 'profile to write (PIPEWRIGHT_PROFILE; default "default")',
      },
      ...OUTPUT_OPTIONS,
    ],
    maxArgs: 0,
    examples: [
      "pipewright login --server http://ci.example:8080 --token pw_… --project demo",
      "pass show pipewright | pipewright login --token-stdin --profile prod",
    ],
  },
  async run(ctx) {
    const { env, home } = ctx.io;
    const file = profileFilePath(env, home);
    const profileName = ctx.args.str("profile") || env.PIPEWRIGHT_PROFILE || DEFAULT_PROFILE;
    // The profile being written is the fallback for what is not given, so `login --project other`
    // switches projects and keeps server and token; it need not exist yet.
    const existing = readProfiles(file).file.profiles[profileName];
    const s = resolveSettings(
      { server: ctx.args.str("server"), token: ctx.args.str("token"), project: ctx.args.str("project") },
      { ...env, PIPEWRIGHT_PROFILE: undefined },
      { profiles: existing ? { [DEFAULT_PROFILE]: existing } : {} },
    );
    const token = ctx.args.bool("token-stdin") ? await readStdin(ctx) : s.token;
    if (!token) throw usageError("no token", "Pass --token or --token-stdin, or set PIPEWRIGHT_TOKEN.");
    const admin = adminApi(ctx.http({ ...s, token }));
    const projects = await admin.listProjects();
    let project = projects.find((p) => p.project_id === s.project || p.name === s.project);
    if (s.project && !project) {
      throw usageError(
        `the token may not see project "${s.project}"`,
        projects.length > 0 ? `It sees: ${projects.map((p) => p.name).join(", ")}` : undefined,
      );
    }
    if (!s.project) {
      if (projects.length !== 1) {
        throw usageError(
          projects.length === 0
            ? "the token sees no project"
            : `the token sees ${projects.length} projects; choose one with --project`,
          projects.length > 0 ? `Projects: ${projects.map((p) => p.name).join(", ")}` : undefined,
        );
      }
      project = projects[0];
    }
    const chosen = project!;
    saveProfile(file, profileName, { server: s.server, token, project: chosen.project_id });
    if (ctx.json) {
      print(ctx, {
        server: s.server,
        project_id: chosen.project_id,
        project_name: chosen.name,
        profile: profileName,
        file,
      });
    } else {
      ctx.out(
        `Logged in to ${s.server}, project ${ctx.style.bold(chosen.name)} (${chosen.project_id}).\nSaved as profile "${profileName}" in ${file}\n`,
      );
    }
    return EXIT.OK;
  },
};

const usage: Command = {
  spec: {
    path: ["admin", "usage"],
    summary: "What each project keeps: runs, log bytes, artifacts, caches (the server's admin token)",
    description: `Retention (serve --keep-*) removes what is old in the background; this shows what is left.
The artifact store's total counts a blob once, however many artifacts share it.`,
    options: ADMIN_OPTIONS,
    maxArgs: 0,
  },
  async run(ctx) {
    const u = await adminOf(ctx).usage();
    if (ctx.json) {
      print(ctx, u);
      return EXIT.OK;
    }
    ctx.out(
      table(
        ["PROJECT", "RUNS", "LOGS", "ARTIFACTS", "ARTIFACT BYTES", "CACHES", "CACHE BYTES"],
        u.projects.map((p) => [
          p.name,
          String(p.runs),
          formatBytes(p.log_bytes),
          String(p.artifacts),
          formatBytes(p.artifact_bytes),
          String(p.caches),
          formatBytes(p.cache_bytes),
        ]),
        ctx.style,
      ),
    );
    ctx.out(`\nartifact store (${u.artifact_store.kind}): ${formatBytes(u.artifact_store.bytes)}\n`);
    return EXIT.OK;
  },
};

export const adminCommands: readonly Command[] = [
  projectCreate,
  projectList,
  usage,
  ...credentialCommands("tokens"),
  ...credentialCommands("access-keys"),
  login,
];
