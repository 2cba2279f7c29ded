#!/usr/bin/env node

// The `pipewright` command. `serve` starts the server; more commands arrive with the CLI issue.

import path from "node:path";
import { ConfigError, loadConfig } from "../config.js";
import { startServer } from "../main.js";

const USAGE = `Usage: pipewright <command> [options]

Commands:
  serve     start the server (embedded SQLite store and runner by default)

serve options (flag > environment variable > default):
  --host HOST                 HOST                           127.0.0.1
  --port PORT                 PORT                           8080
  --data-dir DIR              PIPEWRIGHT_DATA_DIR            ./.pipewright
  --admin-token TOKEN         PIPEWRIGHT_ADMIN_TOKEN         generated at first start
  --database-url URL          DATABASE_URL                   sqlite:<data dir>/pipewright.db
  --max-batch-size N          PIPEWRIGHT_MAX_BATCH_SIZE      1000
  --runner-slots N            PIPEWRIGHT_RUNNER_SLOTS        16
  --max-log-bytes N           PIPEWRIGHT_MAX_LOG_BYTES       67108864 (64 MiB per step)
  --default-job-timeout SECS  PIPEWRIGHT_DEFAULT_JOB_TIMEOUT 3600
  --no-local-runner           PIPEWRIGHT_LOCAL_RUNNER=false  run no jobs in this process
  --log-level LEVEL           PIPEWRIGHT_LOG_LEVEL           info
`;

async function serve(argv: string[]): Promise<void> {
  const config = loadConfig(argv, process.env, process.cwd());
  const server = await startServer(config);
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
    process.stderr.write(`${sig}: draining (waiting for running jobs; send again to force)\n`);
    server.stop().then(
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

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
      return serve(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`pipewright: unknown command "${command}"\n\n${USAGE}`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`pipewright: configuration error: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`pipewright: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
