// The one error type of the CLI and its exit codes (docs/cli.md). Every failure the user can hit
// ends as a CliError; main.ts prints its one-line message and exits with its code.

export const EXIT = {
  OK: 0,
  /** `--wait`: a run did not end COMPLETED (FAILED, CANCELED, IGNORED, or never started). */
  RUN_FAILED: 1,
  /** Bad flags or arguments, a missing setting, an invalid pipeline file. */
  USAGE: 2,
  /** The server answered with an error (`DEVPIPE.*`). */
  SERVER: 3,
  /** The server could not be reached. */
  NETWORK: 4,
  /** Interrupted (Ctrl-C) while waiting; the runs go on on the server. */
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  override name = "CliError";
  readonly exitCode: ExitCode;
  /** `DEVPIPE.*` code of a server answer (or of a local check that mirrors the server's). */
  readonly code: string | undefined;
  /** A second line shown under the message, e.g. how to get help. */
  readonly hint: string | undefined;
  /** The server's parsed error body, for the few answers that carry data (a queued run's id). */
  readonly body: unknown;

  constructor(
    exitCode: ExitCode,
    message: string,
    options: { code?: string | undefined; hint?: string | undefined; cause?: unknown; body?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = exitCode;
    this.code = options.code;
    this.hint = options.hint;
    this.body = options.body;
  }
}

export function usageError(message: string, hint?: string): CliError {
  return new CliError(EXIT.USAGE, message, { hint });
}
