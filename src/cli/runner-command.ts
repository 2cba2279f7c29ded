// `pipewright runner`: a runner agent that takes jobs from a server (scale-out mode).

import { parseArgs } from "node:util";
import { findExecutable } from "../config.js";
import {
  defaultRunnerName,
  EXIT_LOCKED,
  RunnerLockedError,
  type RunnerProcess,
  startRunnerProcess,
} from "../runner/runner-process.js";

export const RUNNER_USAGE = `Usage: pipewright runner --server URL --token TOKEN [options]
       pipewright runner --embedded DATA_DIR [options]   (started by pipewright serve itself)

Takes jobs from a Pipewright server and runs them on this machine, each in a bubblewrap sandbox
where bwrap works; steps start from a small perl helper where perl is there (Debian and Ubuntu
always have it). See docs/operations.md.

Options (flag > environment variable > default):
  --server URL       PIPEWRIGHT_SERVER         the server (any replica); repeat it, or give URLs
                                               separated by commas, for several: the agent starts
                                               on the one its name picks, then tries them in turn
  --token TOKEN      PIPEWRIGHT_RUNNER_TOKEN   a token with role runner (pipewright admin token create --role runner)
  --slots N          PIPEWRIGHT_RUNNER_SLOTS   jobs at once (default 4)
  --labels a,b       PIPEWRIGHT_RUNNER_LABELS  labels this runner offers; jobs that ask for labels
                                               (resource {"labels": [...]}) go only to runners with all of them
  --name NAME        PIPEWRIGHT_RUNNER_NAME    shown in GET /admin/v1/runners (default host-pid)
  --work-dir DIR     PIPEWRIGHT_RUNNER_WORK_DIR  job workspaces and the runner's state (default ./.pipewright-runner);
                                               one runner per work dir, which keeps its runner id:
                                               started again on it, it is the same runner
  --no-network       PIPEWRIGHT_RUNNER_NO_NETWORK=true  run every job without network (needs the sandbox);
                                               with the sandbox, jobs asking for label no-network get none anyway
  --no-sandbox       PIPEWRIGHT_RUNNER_SANDBOX=false  run steps as this user on this file system
  --max-processes N  PIPEWRIGHT_RUNNER_MAX_PROCESSES  processes a job may have at once (default 1024)
  --allow-local-clone PIPEWRIGHT_ALLOW_LOCAL_CLONE=true  let checkouts clone local paths of this
                                               machine (off: https, http, ssh and git URLs only)
  --container-runtime PATH  PIPEWRIGHT_RUNNER_CONTAINER_RUNTIME  docker or podman for container-image
                                               steps (official_docker_executor); none: they fail

SIGTERM or Ctrl-C drains: no new jobs, running ones finish and are reported. A second one stops at once.
`;

export async function runnerCommand(
  argv: string[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: "string", multiple: true },
      token: { type: "string" },
      slots: { type: "string" },
      labels: { type: "string" },
      name: { type: "string" },
      "work-dir": { type: "string" },
      "allow-local-clone": { type: "boolean" },
      "container-runtime": { type: "string" },
      embedded: { type: "string" },
      "no-network": { type: "boolean" },
      "no-sandbox": { type: "boolean" },
      "max-processes": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(RUNNER_USAGE);
    return 0;
  }
  // Every --server counts (they used to overwrite each other), each may list several.
  const servers = (values.server?.length ? values.server : [env.PIPEWRIGHT_SERVER ?? ""])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter(Boolean);
  const badUrl = servers.find((s) => {
    try {
      return !["http:", "https:"].includes(new URL(s).protocol);
    } catch {
      return true;
    }
  });
  if (badUrl !== undefined) {
    process.stderr.write(`pipewright runner: --server ${JSON.stringify(badUrl)} is not an http(s) URL\n`);
    return 2;
  }
  const server = servers.length > 0 ? servers.join(",") : undefined;
  const token = values.token ?? env.PIPEWRIGHT_RUNNER_TOKEN;
  const slotsRaw = values.slots ?? env.PIPEWRIGHT_RUNNER_SLOTS ?? "4";
  if (!values.embedded && (!server || !token)) {
    process.stderr.write(`pipewright runner: --server and --token are required\n\n${RUNNER_USAGE}`);
    return 2;
  }
  if (!/^\d+$/.test(slotsRaw) || Number(slotsRaw) < 1 || Number(slotsRaw) > 1024) {
    process.stderr.write(`pipewright runner: --slots must be an integer from 1 to 1024, got "${slotsRaw}"\n`);
    return 2;
  }
  const labels = (values.labels ?? env.PIPEWRIGHT_RUNNER_LABELS ?? "")
    .split(",")
    .map((l) => l.trim())
    .filter(Boolean);
  const maxRaw = values["max-processes"] ?? env.PIPEWRIGHT_RUNNER_MAX_PROCESSES ?? "1024";
  if (!/^\d+$/.test(maxRaw) || Number(maxRaw) < 8 || Number(maxRaw) > 1_000_000) {
    process.stderr.write(
      `pipewright runner: --max-processes must be an integer from 8 to 1000000, got "${maxRaw}"\n`,
    );
    return 2;
  }
  const isTrue = (v: string | undefined): boolean => ["true", "1"].includes(v ?? "");
  const runtimeRaw = values["container-runtime"] ?? (env.PIPEWRIGHT_RUNNER_CONTAINER_RUNTIME || undefined);
  const containerRuntime = runtimeRaw === undefined ? undefined : findExecutable(runtimeRaw, env.PATH);
  if (runtimeRaw !== undefined && containerRuntime === undefined) {
    process.stderr.write(
      `pipewright runner: --container-runtime ${JSON.stringify(runtimeRaw)} is not an executable file (nor one on PATH)\n`,
    );
    return 2;
  }
  const kind = values.embedded ? "embedded" : "remote";
  let started: RunnerProcess;
  try {
    started = startRunnerProcess({
      target: values.embedded
        ? { kind: "embedded", dataDir: values.embedded }
        : {
            kind: "remote",
            server: server!,
            token: token!,
            workDir: values["work-dir"] ?? env.PIPEWRIGHT_RUNNER_WORK_DIR ?? ".pipewright-runner",
          },
      slots: Number(slotsRaw),
      labels,
      name: values.name ?? env.PIPEWRIGHT_RUNNER_NAME ?? defaultRunnerName(kind),
      hostEnv: { PATH: env.PATH, HOME: env.HOME, LANG: env.LANG },
      allowLocalClone: values["allow-local-clone"] ?? isTrue(env.PIPEWRIGHT_ALLOW_LOCAL_CLONE),
      containerRuntime,
      sandbox: !(values["no-sandbox"] ?? env.PIPEWRIGHT_RUNNER_SANDBOX === "false"),
      noNetwork: values["no-network"] ?? isTrue(env.PIPEWRIGHT_RUNNER_NO_NETWORK),
      maxProcesses: Number(maxRaw),
      version: "0.1.0",
      log: (msg) => process.stderr.write(`[runner ${new Date().toISOString()}] ${msg}\n`),
    });
  } catch (err) {
    process.stderr.write(`pipewright runner: ${(err as Error).message}\n`);
    return err instanceof RunnerLockedError ? EXIT_LOCKED : 1;
  }
  const { agent } = started;
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      process.stderr.write(
        `[runner] ${sig}: draining (${agent.running} running; send again to stop at once)\n`,
      );
      void agent.drain();
    } else {
      process.stderr.write(`[runner] ${sig} again: stopping now\n`);
      agent.stop();
      setTimeout(() => process.exit(1), 3000).unref();
    }
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    await started.run();
    return 0;
  } catch (err) {
    process.stderr.write(`pipewright runner: ${(err as Error).message}\n`);
    return 1;
  }
}
