// Whether an error means the database cannot be reached now (down, restarting, starting up, out
// of connection slots, its host not resolvable yet), as opposed to a refused statement, a wrong
// password or a bug. Who waits out an outage asks this: a replica starting (src/startup.ts waits
// instead of exiting) and the engine's sweep (the runners' renewals failed as long as ours did, so
// it owes them a lease of grace). docs/decisions.md, "Starting while the database is
// unreachable", says why each code is where it is.

/** Socket errors of Node that say the database cannot be reached now. */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "EPIPE",
  // The database's host name does not resolve: a compose or cluster service whose container is
  // not up yet has no name. A name typed wrong looks the same, and waits (the log says so).
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * SQLSTATEs of a database that is there but cannot take us now: shutting down (57P01, 57P02),
 * starting up or in recovery (57P03), out of connection slots (53300).
 */
const BUSY_SQLSTATES: ReadonlySet<string> = new Set(["57P01", "57P02", "57P03", "53300"]);

/** What pg says, without a code, when a connection broke or did not open in time. */
const UNREACHABLE_MESSAGES: readonly RegExp[] = [
  /^Connection terminated/,
  /timeout exceeded when trying to connect/i,
  /^Client has encountered a connection error/,
];

/** The error and what it wraps (cause, AggregateError's errors), outermost first. */
export function errorChain(err: unknown): unknown[] {
  const out: unknown[] = [];
  const todo = [err];
  while (todo.length > 0 && out.length < 10) {
    const e = todo.shift();
    if (typeof e !== "object" || e === null) continue;
    out.push(e);
    const { cause, errors } = e as { cause?: unknown; errors?: unknown };
    if (cause !== undefined) todo.push(cause);
    if (Array.isArray(errors)) todo.push(...errors);
  }
  return out;
}

export const errorCode = (e: unknown): string | undefined => {
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
};
export const isSqlState = (code: string | undefined): code is string =>
  code !== undefined && /^[0-9A-Z]{5}$/.test(code);

/**
 * Whether a failure to open the database is worth waiting out: it is unreachable or not ready
 * now, and nothing about our side is wrong. Connection exceptions (SQLSTATE class 08) count, but
 * not a protocol violation (08P01): that is a client and server that do not fit.
 */
export function isDatabaseUnreachable(err: unknown): boolean {
  return errorChain(err).some((e) => {
    const code = errorCode(e);
    if (code !== undefined && UNREACHABLE_CODES.has(code)) return true;
    if (isSqlState(code)) return BUSY_SQLSTATES.has(code) || (code.startsWith("08") && code !== "08P01");
    const message = (e as { message?: unknown }).message;
    return typeof message === "string" && UNREACHABLE_MESSAGES.some((m) => m.test(message));
  });
}
