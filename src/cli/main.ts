#!/usr/bin/env node

// The `pipewright` command. `serve` starts the server; every other command is a client of a
// server's API (docs/cli.md). This is the CLI's composition root: the only module that reads
// process.argv, process.env and the process's streams, and that exits.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConfigError, loadConfig } from "../config.js";
import { adminCommands } from "./admin-commands.js";
import { closest, formatCommandHelp, formatGroupHelp, leadingOptionCount, parseCommandArgs } from "./args.js";
import { artifactCommands } from "./artifact-commands.js";
import { CliError, EXIT } from "./cli-error.js";
import {
  CLIENT_OPTIONS,
  type Command,
  createCtx,
  type Io,
  OUTPUT_FORMAT_OPTION,
  type Output,
} from "./command.js";
import { completionCommand } from "./completion.js";
import { colorWanted, createStyle } from "./format.js";
import { groupCommands } from "./group-commands.js";
import { noticeCommands } from "./notice-commands.js";
import { pipelineCommands } from "./pipeline-commands.js";
import { runCommands } from "./run-commands.js";
import { runControlCommands } from "./run-control-commands.js";
import { runInspectCommands } from "./run-inspect-commands.js";
import { runsCommands } from "./runs-commands.js";
import { pipelineTagCommands, tagCommands } from "./tag-commands.js";
import { pipelineTemplateCommands, templateCommands } from "./template-commands.js";
import { vargroupCommands } from "./vargroup-commands.js";
import { webhookCommands } from "./webhook-commands.js";

const SERVE_USAGE = `Usage: pipewright serve [options]

Starts the server (embedded SQLite store and runner by default).

Options (flag > environment variable > default):
  --host HOST                 HOST                           127.0.0.1
  --port PORT                 PORT                           8080
  --allowed-hosts NAMES       PIPEWRIGHT_ALLOWED_HOSTS       loopback and --host only; comma list of the
                              server's public names (the one forges deliver webhooks to, the UI's);
                              *.example.com for a domain's names, * for any (no Host check)
  --trust-proxy ADDRS         PIPEWRIGHT_TRUST_PROXY         none; proxies (addresses, CIDRs) whose
                              X-Forwarded-For / X-Forwarded-Host are believed
  --data-dir DIR              PIPEWRIGHT_DATA_DIR            ./.pipewright
  --admin-token TOKEN         PIPEWRIGHT_ADMIN_TOKEN         generated at first start (a chosen one: at
                              least 32 characters, 10 different; openssl rand -base64 32)
  --database-url URL          DATABASE_URL                   sqlite:<data dir>/pipewright.db
  --max-batch-size N          PIPEWRIGHT_MAX_BATCH_SIZE      1000
  --runner-slots N            PIPEWRIGHT_RUNNER_SLOTS        16
  --max-log-bytes N           PIPEWRIGHT_MAX_LOG_BYTES       67108864 (64 MiB per step)
  --default-job-timeout SECS  PIPEWRIGHT_DEFAULT_JOB_TIMEOUT 3600
  --no-local-runner           PIPEWRIGHT_LOCAL_RUNNER=false  start no runner process (jobs go to agents)
  --lease-seconds N           PIPEWRIGHT_LEASE_SECONDS       30 (a remote runner's hold on a job)
  --log-level LEVEL           PIPEWRIGHT_LOG_LEVEL           info
  --drain-timeout SECS        PIPEWRIGHT_DRAIN_TIMEOUT       600 (SIGTERM: how long running jobs may finish)
  --allow-local-clone         PIPEWRIGHT_ALLOW_LOCAL_CLONE   off: checkouts clone network URLs only
  --container-runtime PATH    PIPEWRIGHT_CONTAINER_RUNTIME   none: container-image steps fail (docker or podman)
  --artifacts-url DIR|URL     PIPEWRIGHT_ARTIFACTS_URL       <data dir>/artifacts (or s3://bucket/prefix?endpoint=…)
  --max-artifact-bytes N      PIPEWRIGHT_MAX_ARTIFACT_BYTES  1073741824 (1 GiB per artifact)
  --keep-runs-days N          PIPEWRIGHT_KEEP_RUNS_DAYS      365 (ended runs older go; 0: kept for ever)
  --keep-runs-per-pipeline N  PIPEWRIGHT_KEEP_RUNS_PER_PIPELINE 1000 (ended runs past the newest N go; 0: all kept)
  --keep-logs-days N          PIPEWRIGHT_KEEP_LOGS_DAYS      90 (logs of runs that ended before go)
  --keep-artifacts-days N     PIPEWRIGHT_KEEP_ARTIFACTS_DAYS 30
  --keep-idempotency-days N   PIPEWRIGHT_KEEP_IDEMPOTENCY_DAYS 7 (Idempotency-Key and delivery records)
  --max-cache-bytes N         PIPEWRIGHT_MAX_CACHE_BYTES     1073741824 (1 GiB per cache entry)
  --cache-quota-bytes N       PIPEWRIGHT_CACHE_QUOTA_BYTES   10737418240 (a project's caches; least recently used go)
  --keep-caches-days N        PIPEWRIGHT_KEEP_CACHES_DAYS    14 (cache entries unused that long go)
  --secret-key-file FILE      PIPEWRIGHT_SECRET_KEY_FILE     <data dir>/secret.key (generated; embedded only)
                              PIPEWRIGHT_SECRET_KEY          the keys themselves (base64, first one seals)
`;

const COMMANDS: readonly Command[] = [
  ...pipelineCommands,
  ...vargroupCommands,
  ...pipelineTagCommands,
  ...tagCommands,
  ...pipelineTemplateCommands,
  ...templateCommands,
  ...groupCommands,
  ...webhookCommands,
  ...noticeCommands,
  ...runCommands,
  ...runInspectCommands,
  ...runsCommands,
  ...runControlCommands,
  ...artifactCommands,
  ...adminCommands,
  completionCommand(() => COMMANDS, ["serve", "runner", "help"]),
];

const GROUPS: Readonly<Record<string, string>> = {
  pipeline: "Create or update, list, show, tag and delete pipelines; show their webhook.",
  tag: "Pipeline tags: list, create, rename or recolour, delete ('pipeline tag' sets a pipeline's).",
  notice: "A pipeline's notification targets (list, add, remove) and its deliveries.",
  template: "Pipeline templates: list, show, create, delete ('pipeline create --template' uses one).",
  vargroup: "Parameter groups (variable groups) pipelines share: list, show, create, delete.",
  group: "Pipeline groups: the tree, create, rename, delete, move pipelines in, swap two.",
  runs: "The project's runs across its pipelines (list, filtered by status, pipeline, trigger, age).",
  review: "Decide on a manual review (official_devcloud_checkpoint) a run waits on.",
  artifacts: "The archives of files a run's jobs kept: list them, download one.",
  admin: "Projects, tokens, access keys and usage: Pipewright's admin API (/admin/v1).",
  "admin project": "Projects (created with the server's admin token).",
  "admin token": "X-Auth-Tokens, each bound to projects with a role.",
  "admin access-key": "AK/SK pairs for the official Huawei Cloud SDKs.",
};

const TOP_USAGE = `Usage: pipewright <command> [options]

Pipewright runs CI/CD pipelines and speaks Huawei Cloud CodeArts Pipeline's v5 API.

Server:
  serve                              start the server ('pipewright serve --help' for its settings)
  runner                             run jobs of a server on this machine (scale-out mode)

Pipelines:
  pipeline apply -f FILE...          create or update pipelines from YAML or JSON files
  pipeline create --template T       create a pipeline from a template (--name, --git-url, --var)
  pipeline list                      list pipelines with their latest run (--tag TAG, --group GROUP)
  pipeline show PIPELINE             show a pipeline, its schedules and triggers (--yaml: YAML form)
  pipeline delete PIPELINE...        delete pipelines and their runs
  pipeline webhook PIPELINE          the webhook URL and secret forges deliver code events with
  pipeline tag PIPELINE [TAG...]     set the tags a pipeline carries (--add, --remove)
  tag list|create|rename|delete      the project's pipeline tags
  notice list|add|remove PIPELINE    where a pipeline's run events are notified
  notice deliveries PIPELINE         the notices sent and what came of them
  template list|show|create|delete   pipeline templates: the built-in ones and the project's
  group list|create|rename|delete    the project's pipeline groups as a tree
  group move GROUP PIPELINE...       move pipelines into a group (--ungroup); group swap A B
  vargroup list|show|create|delete   the project's parameter groups (--var, --secret)
  deliveries                         webhook deliveries and the runs they started (--status)

Runs:
  run PIPELINE                       start a run (--var, --stage, --job, --wait)
  batch-run PIPELINE...              start many pipelines in one call (--all, --filter, --group, --wait)
  status RUN                         a run's stages, jobs and steps
  runs list                          the project's runs (--status, --pipeline, --trigger, --since, --wide)
  logs RUN                           step logs (--step, --follow)
  stop RUN                           stop a run
  retry RUN                          retry a failed or canceled run
  review pass|refuse RUN             decide on a manual review
  artifacts list RUN                 the files a run's jobs kept: name, job, size, sha256
  artifacts download RUN NAME        save one as NAME.tar, checking its sha256 (-o FILE, -o -)

Set-up:
  login                              save server, token and project in a profile
  completion bash|zsh|fish           a shell completion script (eval "$(pipewright completion bash)")
  admin project create|list          projects
  admin token create|list|revoke     X-Auth-Tokens
  admin access-key create|list|revoke  AK/SK pairs for the official SDKs
  admin usage                        what each project keeps (runs, logs, artifacts)

PIPELINE is a pipeline name or id. RUN is PIPELINE (its latest run), PIPELINE#N or a run id.
Client commands take --server, --token and --project, else PIPEWRIGHT_SERVER, PIPEWRIGHT_TOKEN
and PIPEWRIGHT_PROJECT, else the profile written by 'pipewright login'.

Exit status: 0 success; 1 a run waited for did not complete; 2 usage error; 3 the server
answered an error; 4 the server could not be reached; 130 interrupted.

Run 'pipewright <command> --help' for a command's options; docs/cli.md has the details.
`;

function packageVersion(): string {
  // dist/src/cli/main.js and src/cli/main.ts sit at different depths: walk up to package.json.
  for (let dir = import.meta.dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file))
      return (JSON.parse(fs.readFileSync(file, "utf8")) as { version?: string }).version ?? "0";
  }
  return "0";
}

async function serve(argv: string[]): Promise<void> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(SERVE_USAGE);
    return;
  }
  const config = loadConfig(argv, process.env, process.cwd());
  // Loaded on demand: client commands start faster without the server's modules.
  const { startServer } = await import("../main.js");
  // A signal while the server starts (it may wait long for its database) ends the start.
  const starting = new AbortController();
  const onEarlySignal = (sig: NodeJS.Signals): void => {
    process.stderr.write(`${sig}: stopping before the server has started\n`);
    starting.abort();
  };
  process.on("SIGTERM", onEarlySignal);
  process.on("SIGINT", onEarlySignal);
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config, {
      signal: starting.signal,
      onWaitingForDatabase: (url, reason) =>
        process.stdout.write(
          `Pipewright waiting on ${url} for its database (${reason}): answering 503 until it is reachable\n`,
        ),
    });
  } catch (err) {
    if (starting.signal.aborted) process.exit(0);
    throw err;
  } finally {
    process.off("SIGTERM", onEarlySignal);
    process.off("SIGINT", onEarlySignal);
  }
  if (starting.signal.aborted) {
    // The signal came after the database answered: stop what has just started.
    await server.stop();
    process.exit(0);
  }
  const tokenFile = path.join(config.dataDir, "admin-token");
  process.stdout.write(`Pipewright listening on ${server.url}\n`);
  if (server.generatedAdminToken) {
    process.stdout.write(
      `Admin token (generated, shown once, also saved in ${tokenFile}):\n  ${server.generatedAdminToken}\n`,
    );
  } else if (config.adminToken === undefined) {
    process.stdout.write(`Admin token: see ${tokenFile}\n`);
  } else {
    process.stdout.write("Admin token: the one given in PIPEWRIGHT_ADMIN_TOKEN / --admin-token\n");
  }
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`${sig} again: stopping running jobs and exiting\n`);
      server.stop({ force: true }).finally(() => process.exit(1));
      setTimeout(() => process.exit(1), 5000).unref();
      return;
    }
    process.stderr.write(
      `${sig}: draining: the API keeps serving while running jobs finish (at most ${config.drainTimeoutSeconds} s; send again to stop them now)\n`,
    );
    server.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

function outputOf(stream: NodeJS.WriteStream): Output {
  return {
    write: (text) => {
      stream.write(text);
    },
    get isTTY() {
      return stream.isTTY === true;
    },
    get columns() {
      return stream.columns || 80;
    },
    get rows() {
      return stream.rows || 24;
    },
  };
}

type Found =
  | { readonly kind: "command"; readonly command: Command; readonly rest: string[] }
  | { readonly kind: "group"; readonly path: string[]; readonly next: string | undefined }
  | { readonly kind: "unknown"; readonly word: string };

/** The command named by the leading words of argv (the longest match), or the group they name. */
function findCommand(all: readonly string[]): Found {
  // Global options written before the command (`pipewright --token T pipeline list`) go to it
  // as if written after it.
  const skip = leadingOptionCount(all, CLIENT_OPTIONS);
  const before = all.slice(0, skip);
  const argv = all.slice(skip);
  const words: string[] = [];
  for (const a of argv) {
    if (a.startsWith("-") || words.length === 3) break;
    words.push(a);
  }
  for (let k = words.length; k > 0; k--) {
    const key = words.slice(0, k).join(" ");
    const command = COMMANDS.find((c) => c.spec.path.join(" ") === key);
    if (command) return { kind: "command", command, rest: [...before, ...argv.slice(k)] };
  }
  for (let k = words.length; k > 0; k--) {
    const key = words.slice(0, k).join(" ");
    if (GROUPS[key] !== undefined) return { kind: "group", path: words.slice(0, k), next: words[k] };
  }
  return { kind: "unknown", word: words[0] ?? argv[0] ?? "" };
}

function groupHelp(groupPath: readonly string[]): string {
  const key = groupPath.join(" ");
  const members = COMMANDS.filter((c) => c.spec.path.slice(0, groupPath.length).join(" ") === key);
  return formatGroupHelp(
    groupPath,
    GROUPS[key] ?? "",
    members.map((c) => c.spec),
  );
}

async function client(argv: string[]): Promise<number> {
  const version = packageVersion();
  const noColorFlag = argv.includes("--no-color");
  const style = createStyle(colorWanted(process.stdout.isTTY === true, process.env, noColorFlag));
  const errStyle = createStyle(colorWanted(process.stderr.isTTY === true, process.env, noColorFlag));
  const fail = (message: string, hint?: string): number => {
    process.stderr.write(`${errStyle.red("pipewright:")} ${message}\n${hint ? `${hint}\n` : ""}`);
    return EXIT.USAGE;
  };
  const [first] = argv;
  if (first === undefined || first === "--help" || first === "-h") {
    process.stdout.write(TOP_USAGE);
    return EXIT.OK;
  }
  if (first === "--version" || first === "-V" || first === "version") {
    process.stdout.write(`pipewright ${version}\n`);
    return EXIT.OK;
  }
  if (first === "help") {
    const found = findCommand(argv.slice(1));
    if (argv.length === 1) process.stdout.write(TOP_USAGE);
    else if (found.kind === "command") process.stdout.write(formatCommandHelp(found.command.spec));
    else if (found.kind === "group") process.stdout.write(groupHelp(found.path));
    else if (found.word === "serve") process.stdout.write(SERVE_USAGE);
    else if (found.word === "runner")
      process.stdout.write((await import("./runner-command.js")).RUNNER_USAGE);
    else return fail(`unknown command "${found.word}"`, "Run 'pipewright --help' for the commands.");
    return EXIT.OK;
  }
  const found = findCommand(argv);
  if (found.kind === "group") {
    if (found.next === undefined) {
      process.stdout.write(groupHelp(found.path));
      return EXIT.OK;
    }
    const children = COMMANDS.filter(
      (c) => c.spec.path.slice(0, found.path.length).join(" ") === found.path.join(" "),
    ).map((c) => c.spec.path[found.path.length]!);
    const guess = closest(found.next, [...new Set(children)]);
    return fail(
      `unknown command "${[...found.path, found.next].join(" ")}"${guess ? ` (did you mean "${[...found.path, guess].join(" ")}"?)` : ""}`,
      `Run 'pipewright ${found.path.join(" ")} --help' for its commands.`,
    );
  }
  if (found.kind === "unknown") {
    const tops = [...new Set([...COMMANDS.map((c) => c.spec.path[0]!), "serve", "runner", "help"])];
    const guess = closest(found.word, tops);
    return fail(
      `unknown command "${found.word}"${guess ? ` (did you mean "${guess}"?)` : ""}`,
      "Run 'pipewright --help' for the commands.",
    );
  }

  const { command, rest } = found;
  const controller = new AbortController();
  process.on("SIGINT", () => {
    // The first Ctrl-C lets a waiting command stop cleanly (cursor restored, summary printed);
    // one that does not stop within two seconds, or a second Ctrl-C, ends the process.
    if (controller.signal.aborted) process.exit(EXIT.INTERRUPTED);
    controller.abort();
    setTimeout(() => process.exit(EXIT.INTERRUPTED), 2000).unref();
  });
  const io: Io = {
    stdout: outputOf(process.stdout),
    binaryOut: process.stdout,
    stderr: outputOf(process.stderr),
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    home: os.homedir(),
    now: () => Date.now(),
    signal: controller.signal,
    version,
  };
  try {
    const args = parseCommandArgs(command.spec, rest);
    if (args.help) {
      process.stdout.write(formatCommandHelp(command.spec));
      return EXIT.OK;
    }
    const formats = command.spec.options.includes(OUTPUT_FORMAT_OPTION);
    return await command.run(createCtx(io, args, style, errStyle, formats));
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(
        `${errStyle.red("pipewright:")} ${err.message}\n${err.hint ? `${err.hint}\n` : ""}`,
      );
      return err.exitCode;
    }
    if (controller.signal.aborted) {
      process.stderr.write("pipewright: interrupted\n");
      return EXIT.INTERRUPTED;
    }
    throw err;
  }
}

async function runner(argv: string[]): Promise<void> {
  const { runnerCommand } = await import("./runner-command.js");
  let code: number;
  try {
    code = await runnerCommand(argv, process.env);
  } catch (err) {
    if (!String((err as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS")) throw err;
    process.stderr.write(
      `pipewright runner: ${(err as Error).message}\nRun 'pipewright runner --help' for usage.\n`,
    );
    code = EXIT.USAGE;
  }
  process.exit(code);
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === "serve") return serve(argv.slice(1));
  if (argv[0] === "runner") return runner(argv.slice(1));
  // A reader that went away (`pipewright pipeline list | head -1`) is not an error.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(EXIT.OK);
    throw err;
  });
  const code = await client(argv);
  // Exit explicitly: idle keep-alive sockets must not hold the process open. Writes to pipes and
  // files are synchronous on POSIX, so nothing printed is lost.
  process.stdout.write("", () => process.exit(code));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`pipewright: configuration error: ${err.message}\n`);
    process.exit(2);
  }
  // A server that refuses to start for a reason of its own says why, without a stack.
  if (
    err instanceof Error &&
    ["DataDirInUseError", "KeyringError", "DatabaseStartError"].includes(err.name)
  ) {
    process.stderr.write(`pipewright: ${err.message}\n`);
    process.exit(1);
  }
  // Anything else is a server that failed to start (exit 1, as always) or a bug in a client
  // command: exit 70 (EX_SOFTWARE) keeps it apart from their documented statuses.
  process.stderr.write(`pipewright: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(process.argv[2] === "serve" ? 1 : 70);
});
