// Opening the store of a replica whose database may not be there yet (issue 18): failures that
// mean "not reachable now" (the database is down, restarting, starting up, out of connection
// slots, its host not resolvable yet) are waited out with a growing pause, the server answering
// 503 meanwhile; every other failure (a wrong password, a missing database, a failed migration,
// a keyring that does not fit) ends the start at once, with its reason. docs/decisions.md,
// "Starting while the database is unreachable", says why each code is where it is.

import type { Logger } from "pino";
import type { Clock } from "./clock.js";
import { KeyringError } from "./store/sealer.js";

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
function chain(err: unknown): unknown[] {
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

const codeOf = (e: unknown): string | undefined => {
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
};
const isSqlState = (code: string | undefined): code is string =>
  code !== undefined && /^[0-9A-Z]{5}$/.test(code);

/**
 * Whether a failure to open the database is worth waiting out: it is unreachable or not ready
 * now, and nothing about our side is wrong. Connection exceptions (SQLSTATE class 08) count, but
 * not a protocol violation (08P01): that is a client and server that do not fit.
 */
export function isTransientDatabaseError(err: unknown): boolean {
  return chain(err).some((e) => {
    const code = codeOf(e);
    if (code !== undefined && UNREACHABLE_CODES.has(code)) return true;
    if (isSqlState(code)) return BUSY_SQLSTATES.has(code) || (code.startsWith("08") && code !== "08P01");
    const message = (e as { message?: unknown }).message;
    return typeof message === "string" && UNREACHABLE_MESSAGES.some((m) => m.test(message));
  });
}

/**
 * Why the database cannot be used, short and fit for anyone to read (/healthz needs no token):
 * the database's own words with their SQLSTATE, or the socket error's code, but never an
 * address or the URL (Node's socket messages name the host and port; the log has them).
 */
export function publicReason(err: unknown): string {
  const e = chain(err).find((x) => codeOf(x) !== undefined) ?? chain(err)[0];
  const code = codeOf(e);
  const message = String((e as { message?: unknown } | undefined)?.message ?? err).slice(0, 160);
  if (isSqlState(code)) return `${code} ${message}`;
  return code ?? message;
}

/** The URL as it may be shown: its password replaced by `***`. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@\s]*):[^@\s]*@/, "//$1:***@");
  }
}

/** A text with the URL's password taken out (pg's messages do not carry it, but a wrapper might). */
export function redact(text: string, url: string): string {
  let out = text.replace(/\/\/([^:/@\s]*):[^@\s]*@/g, "//$1:***@");
  let password = "";
  try {
    password = new URL(url).password;
  } catch {
    // not a URL: nothing known to take out
  }
  for (const p of new Set([password, safeDecode(password)])) {
    if (p.length >= 3) out = out.split(p).join("***");
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A start that was asked to stop (SIGTERM) while it waited for the database. */
export class StartAborted extends Error {
  override name = "StartAborted";
  constructor() {
    super("the start was stopped while it waited for the database");
  }
}

/** The database cannot be used, for a reason waiting will not fix: the server does not start. */
export class DatabaseStartError extends Error {
  override name = "DatabaseStartError";
}

/**
 * What a failed start says: a keyring that does not fit says so itself; anything else is the
 * database's, named by its URL (without the password), with the database's words and code.
 */
export function startError(err: unknown, url: string): Error {
  if (err instanceof KeyringError || err instanceof StartAborted) return err;
  const e = chain(err).find((x) => codeOf(x) !== undefined) ?? chain(err)[0];
  const code = codeOf(e);
  const message = redact(String((e as { message?: unknown } | undefined)?.message ?? err), url);
  return new DatabaseStartError(
    `cannot use the database ${safeUrl(url)}: ${message}${code ? ` (${code})` : ""}`,
    { cause: err },
  );
}

export interface WaitOptions<T> {
  readonly clock: Clock;
  readonly logger: Logger;
  /** The database's URL: named (without its password) in the log, and kept out of every message. */
  readonly url: string;
  /** Aborting ends the wait at once (SIGTERM while the database is away). */
  readonly signal?: AbortSignal | undefined;
  readonly firstDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Told of each failure that is waited out: its public reason, and when the next try is. */
  readonly onWaiting?: (reason: string, retryInMs: number) => void;
  /** Closes what an attempt opened after the start was aborted under it. */
  readonly dispose?: (value: T) => Promise<void>;
}

export const FIRST_DELAY_MS = 500;
export const MAX_DELAY_MS = 15_000;

/**
 * Runs `attempt` until it succeeds, waiting out transient failures (0.5 s, doubling, at most
 * 15 s apart), each logged once at warn. A failure that is not transient ends it: thrown as is,
 * for startError to word. Aborting `signal` throws StartAborted at once, even mid-attempt (an
 * attempt that hangs on a black-holed host does not hold a SIGTERM up).
 */
export async function openWhenReachable<T>(attempt: () => Promise<T>, opts: WaitOptions<T>): Promise<T> {
  const { clock, logger, signal } = opts;
  const max = opts.maxDelayMs ?? MAX_DELAY_MS;
  let delay = opts.firstDelayMs ?? FIRST_DELAY_MS;
  for (let n = 1; ; n++) {
    if (signal?.aborted) throw new StartAborted();
    let value: T;
    try {
      value = await untilAborted(attempt(), signal, opts.dispose);
    } catch (err) {
      if (err instanceof StartAborted || !isTransientDatabaseError(err)) throw err;
      const e = chain(err).find((x) => codeOf(x) !== undefined) ?? chain(err)[0];
      logger.warn(
        {
          attempt: n,
          retry_in_ms: delay,
          database: safeUrl(opts.url),
          code: codeOf(e),
          err: redact(String((e as { message?: unknown })?.message ?? err), opts.url),
        },
        "the database is unreachable: waiting for it (the server answers 503 meanwhile)",
      );
      opts.onWaiting?.(publicReason(err), delay);
      await clock.sleep(delay, signal);
      delay = Math.min(max, delay * 2);
      continue;
    }
    if (n > 1) logger.warn({ attempts: n }, "the database is reachable: starting");
    return value;
  }
}

/** The attempt's outcome, or StartAborted as soon as the signal aborts (its value disposed of later). */
function untilAborted<T>(
  p: Promise<T>,
  signal: AbortSignal | undefined,
  dispose: ((value: T) => Promise<void>) | undefined,
): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(new StartAborted());
      p.then((v) => dispose?.(v)).catch(() => {});
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
