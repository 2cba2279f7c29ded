// `pipewright runner`: a runner agent that takes jobs from a server (scale-out mode).

import path from "node:path";
import { parseArgs } from "node:util";
import { createAgent, defaultRunnerName } from "../runner/agent.js";

export const RUNNER_USAGE = `Usage: pipewright runner --server URL --token TOKEN [options]

Takes jobs from a Pipewright server and runs them on this machine.

Options (flag > environment variable > default):
  --server URL       PIPEWRIGHT_SERVER         the server (any replica)
  --token TOKEN      PIPEWRIGHT_RUNNER_TOKEN   a token with role runner (pipewright admin token create --role runner)
  --slots N          PIPEWRIGHT_RUNNER_SLOTS   jobs at once (default 4)
  --labels a,b       PIPEWRIGHT_RUNNER_LABELS  labels this runner offers; jobs that ask for labels
                                               (resource {"labels": [...]}) go only to runners with all of them
  --name NAME        PIPEWRIGHT_RUNNER_NAME    shown in GET /admin/v1/runners (default host-pid)
  --work-dir DIR     PIPEWRIGHT_RUNNER_WORK_DIR  job workspaces (default ./.pipewright-runner)
  --allow-local-clone PIPEWRIGHT_ALLOW_LOCAL_CLONE=true  let checkouts clone local paths of this
                                               machine (off: https, http, ssh and git URLs only)

SIGTERM or Ctrl-C drains: no new jobs, running ones finish and are reported. A second one stops at once.
`;

export async function runnerCommand(
  argv: string[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: "string" },
      token: { type: "string" },
      slots: { type: "string" },
      labels: { type: "string" },
      name: { type: "string" },
      "work-dir": { type: "string" },
      "allow-local-clone": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(RUNNER_USAGE);
    return 0;
  }
  const server = values.server ?? env.PIPEWRIGHT_SERVER;
  const token = values.token ?? env.PIPEWRIGHT_RUNNER_TOKEN;
  const slotsRaw = values.slots ?? env.PIPEWRIGHT_RUNNER_SLOTS ?? "4";
  if (!server || !token) {
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
  const agent = createAgent({
    server,
    token,
    slots: Number(slotsRaw),
    labels,
    name: values.name ?? env.PIPEWRIGHT_RUNNER_NAME ?? defaultRunnerName(),
    workRoot: path.resolve(values["work-dir"] ?? env.PIPEWRIGHT_RUNNER_WORK_DIR ?? ".pipewright-runner"),
    hostEnv: { PATH: env.PATH, HOME: env.HOME, LANG: env.LANG },
    allowLocalClone:
      values["allow-local-clone"] ?? ["true", "1"].includes(env.PIPEWRIGHT_ALLOW_LOCAL_CLONE ?? ""),
    version: "0.1.0",
    log: (msg) => process.stderr.write(`[runner] ${msg}\n`),
  });
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
    await agent.run();
    return 0;
  } catch (err) {
    process.stderr.write(`pipewright runner: ${(err as Error).message}\n`);
    return 1;
  }
}
