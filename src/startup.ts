// Opening the store of a replica whose database may not be there yet (issue 18): failures that
// mean "not reachable now" (the database is down, restarting, starting up, out of connection
// slots, its host not resolvable yet) are waited out with a growing pause, the server answering
// 503 meanwhile; every other failure (a wrong password, a missing database, a failed migration,
// a keyring that does not fit) ends the start at once, with its reason. docs/decisions.md,
// "Starting while the database is unreachable", says why each code is where it is.

import type { Logger } from "pino";
import type { Clock } from "./clock.js";
import { KeyringError } from "./store/sealer.js";
import {
  errorChain as chain,
  errorCode as codeOf,
  isDatabaseUnreachable,
  isSqlState,
} from "./store/unreachable.js";

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
      if (err instanceof StartAborted || !isDatabaseUnreachable(err)) throw err;
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
