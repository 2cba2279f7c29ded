// Whether an error means the database could not be reached (down, restarting, cut off), as
// opposed to a refused statement or a bug. Those who wait out an outage ask this: the sweep owes
// the runners a lease of grace after one (their renewals failed too).

/** Socket-level codes of Node, and PostgreSQL's connection-exception and shutdown SQLSTATEs. */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "EAI_AGAIN",
  "08000", // connection_exception
  "08001", // sqlclient_unable_to_establish_sqlconnection
  "08003", // connection_does_not_exist
  "08006", // connection_failure
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down, in recovery)
]);

/** What node-postgres says when a connection dies without a code. */
const UNREACHABLE_MESSAGES = [
  /^Connection terminated/,
  /timeout exceeded when trying to connect/,
  /^Client has encountered a connection error and is not queryable/,
];

export function isDatabaseUnreachable(err: unknown, depth = 0): boolean {
  if (!(err instanceof Error) || depth > 4) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && UNREACHABLE_CODES.has(code)) return true;
  if (UNREACHABLE_MESSAGES.some((re) => re.test(err.message))) return true;
  // A refused connect to a host with several addresses comes as an AggregateError.
  if (err instanceof AggregateError && err.errors.some((e) => isDatabaseUnreachable(e, depth + 1)))
    return true;
  return isDatabaseUnreachable(err.cause, depth + 1);
}
