// The container-image task (ExecuteImage, `official_docker_executor`): its command runs in its
// image through the container runtime the runner was started with (`--container-runtime`, docker
// or podman). The runtime is started from a bash script the shell task's path runs, so the step has
// the shell step's process group, timeout, stop, log and outputs.

import { imageProblem } from "../pipeline/task-inputs.js";

/** Quotes `s` for bash: inside single quotes nothing is special but the quote itself. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The script that runs `command` with `sh -c` in `image`: the workspace mounted at its own path
 * and the working directory, so `$WORKSPACE` and `$PIPEWRIGHT_OUTPUT` name the same files inside;
 * as the step's user, so what it writes stays the step's (its outputs file, its artifacts); the
 * step's variables passed by name (`-e NAME`: the runtime takes the value from its own
 * environment, so no value, a secret's neither, is on a command line). The runtime's client is
 * the script's last process: stopping the step signals it, and docker and podman hand the signal
 * to the container (their default --sig-proxy), which `--rm` then removes.
 */
export function containerScript(o: {
  readonly runtime: string;
  readonly image: string;
  readonly command: string;
  readonly workspace: string;
  readonly envNames: readonly string[];
}): string {
  const problem = imageProblem(o.image);
  if (problem) throw new Error(`image ${problem}`);
  const args = [
    "run",
    "--rm",
    "--user",
    '"$(id -u):$(id -g)"',
    "-v",
    shellQuote(`${o.workspace}:${o.workspace}`),
    "-w",
    shellQuote(o.workspace),
    ...o.envNames.filter((n) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(n)).flatMap((n) => ["-e", n]),
    shellQuote(o.image),
    "sh",
    "-c",
    shellQuote(o.command),
  ];
  return `exec ${shellQuote(o.runtime)} ${args.join(" ")} </dev/null\n`;
}
