import net from "node:net";
import { Writable } from "node:stream";
import pg from "pg";
import { type Logger, pino } from "pino";
import { describe, expect, it } from "vitest";
import { createTestClock } from "./clock.js";
import {
  DatabaseStartError,
  openWhenReachable,
  publicReason,
  redact,
  StartAborted,
  safeUrl,
  startError,
} from "./startup.js";
import { KeyringError } from "./store/sealer.js";
import { isDatabaseUnreachable } from "./store/unreachable.js";

/** An error as PostgreSQL answers it (pg's own class), with its SQLSTATE. */
function pgError(code: string, message: string): Error {
  const e = new pg.DatabaseError(message, 0, "error");
  e.code = code;
  return e;
}
const socketError = (code: string): Error =>
  Object.assign(new Error(`connect ${code} 10.1.2.3:5432`), { code, address: "10.1.2.3", port: 5432 });

/** What connecting to a port nobody listens on really throws. */
async function refusedConnect(): Promise<unknown> {
  const port = await new Promise<number>((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const addr = srv.address() as net.AddressInfo;
      srv.close(() => resolve(addr.port));
    });
  });
  const c = new pg.Client({ connectionString: `postgres://u:pw@127.0.0.1:${port}/db` });
  return c.connect().then(
    () => new Error("connected"),
    (err: unknown) => err,
  );
}

function logSink(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { logger: pino({ level: "info" }, sink), lines };
}

describe("which failures to open the database are waited out", () => {
  it("waits out a database that is not reachable, or not ready, now", async () => {
    expect(isDatabaseUnreachable(await refusedConnect())).toBe(true);
    for (const code of ["ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"])
      expect(isDatabaseUnreachable(socketError(code)), code).toBe(true);
    expect(isDatabaseUnreachable(pgError("57P03", "the database system is starting up"))).toBe(true);
    expect(
      isDatabaseUnreachable(pgError("57P01", "terminating connection due to administrator command")),
    ).toBe(true);
    expect(isDatabaseUnreachable(pgError("57P02", "terminating connection due to crash"))).toBe(true);
    expect(isDatabaseUnreachable(pgError("53300", "sorry, too many clients already"))).toBe(true);
    expect(isDatabaseUnreachable(pgError("08006", "connection failure"))).toBe(true);
    expect(isDatabaseUnreachable(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(isDatabaseUnreachable(new Error("Connection terminated due to connection timeout"))).toBe(true);
    expect(isDatabaseUnreachable(new Error("timeout exceeded when trying to connect"))).toBe(true);
  });

  it("finds the cause inside a wrapper, and in each of an AggregateError's errors", () => {
    expect(isDatabaseUnreachable(new Error("migration failed", { cause: socketError("ECONNREFUSED") }))).toBe(
      true,
    );
    expect(
      isDatabaseUnreachable(new AggregateError([socketError("ECONNREFUSED"), socketError("ECONNREFUSED")])),
    ).toBe(true);
  });

  it("fails at once on what waiting does not fix", () => {
    expect(isDatabaseUnreachable(pgError("28P01", 'password authentication failed for user "pw"'))).toBe(
      false,
    );
    expect(isDatabaseUnreachable(pgError("28000", 'no pg_hba.conf entry for host "10.0.0.1"'))).toBe(false);
    expect(isDatabaseUnreachable(pgError("3D000", 'database "pw" does not exist'))).toBe(false);
    expect(isDatabaseUnreachable(pgError("42601", 'syntax error at or near "CREAT"'))).toBe(false);
    expect(isDatabaseUnreachable(pgError("42501", "permission denied for schema public"))).toBe(false);
    expect(isDatabaseUnreachable(pgError("08P01", "invalid startup packet layout"))).toBe(false);
    expect(isDatabaseUnreachable(new KeyringError("the secrets are sealed with key ab12cd34"))).toBe(false);
    expect(isDatabaseUnreachable(new Error("The server does not support SSL connections"))).toBe(false);
    expect(isDatabaseUnreachable("ECONNREFUSED")).toBe(false);
    expect(isDatabaseUnreachable(undefined)).toBe(false);
  });
});

describe("what a failed start says", () => {
  it("tells the public the code and the database's own words, never an address", async () => {
    expect(publicReason(await refusedConnect())).toBe("ECONNREFUSED");
    expect(publicReason(socketError("EHOSTUNREACH"))).toBe("EHOSTUNREACH");
    expect(publicReason(pgError("57P03", "the database system is starting up"))).toBe(
      "57P03 the database system is starting up",
    );
    expect(publicReason(new Error("Connection terminated unexpectedly"))).toBe(
      "Connection terminated unexpectedly",
    );
  });

  it("keeps the URL's password out of what it shows", () => {
    const url = "postgres://pipewright:p%40ss-w0rd@db.internal:5432/pw";
    expect(safeUrl(url)).toBe("postgres://pipewright:***@db.internal:5432/pw");
    expect(safeUrl("postgres://pipewright@db.internal/pw")).toBe("postgres://pipewright@db.internal/pw");
    expect(redact(`failed for ${url} with p@ss-w0rd and p%40ss-w0rd`, url)).toBe(
      "failed for postgres://pipewright:***@db.internal:5432/pw with *** and ***",
    );
  });

  it("names the database, its words and its code; a keyring's own error stays as it is", () => {
    const url = "postgres://pipewright:hunter22@db.internal:5432/nope";
    const err = startError(pgError("3D000", 'database "nope" does not exist'), url);
    expect(err).toBeInstanceOf(DatabaseStartError);
    expect(err.message).toBe(
      'cannot use the database postgres://pipewright:***@db.internal:5432/nope: database "nope" does not exist (3D000)',
    );
    const keyring = new KeyringError("the given keyring does not hold key ab12cd34");
    expect(startError(keyring, url)).toBe(keyring);
  });
});

describe("openWhenReachable", () => {
  const url = "postgres://pipewright:hunter22@db.internal:5432/pw";

  it("tries again after 0.5 s, 1 s, 2 s … at most 15 s apart, logging each failure once, until it opens", async () => {
    const clock = createTestClock();
    const { logger, lines } = logSink();
    const waits: Array<[string, number]> = [];
    let tries = 0;
    const opened = openWhenReachable(
      async () => {
        tries++;
        if (tries <= 7) throw socketError("ECONNREFUSED");
        return "store";
      },
      { clock, logger, url, onWaiting: (reason, ms) => waits.push([reason, ms]) },
    );
    for (let i = 0; i < 7; i++) await clock.advance(15_000);
    expect(await opened).toBe("store");
    expect(tries).toBe(8);
    expect(waits.map(([, ms]) => ms)).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000]);
    expect(waits[0]![0]).toBe("ECONNREFUSED");
    const warned = lines.filter(
      (l) => l.msg === "the database is unreachable: waiting for it (the server answers 503 meanwhile)",
    );
    expect(warned).toHaveLength(7);
    expect(warned[0]).toMatchObject({
      attempt: 1,
      retry_in_ms: 500,
      code: "ECONNREFUSED",
      database: "postgres://pipewright:***@db.internal:5432/pw",
    });
    expect(lines.at(-1)).toMatchObject({ msg: "the database is reachable: starting", attempts: 8 });
    expect(JSON.stringify(lines)).not.toContain("hunter22");
  });

  it("waits for the pause before trying again", async () => {
    const clock = createTestClock();
    let tries = 0;
    const opened = openWhenReachable(
      async () => {
        if (++tries === 1) throw pgError("57P03", "the database system is starting up");
        return tries;
      },
      { clock, logger: logSink().logger, url },
    );
    await clock.advance(0); // the first try has failed, its pause begun
    await clock.advance(499);
    expect(tries).toBe(1);
    await clock.advance(1);
    expect(await opened).toBe(2);
  });

  it("throws at once what waiting does not fix", async () => {
    const clock = createTestClock();
    const { logger, lines } = logSink();
    let tries = 0;
    const err = await openWhenReachable(
      async () => {
        tries++;
        throw pgError("28P01", 'password authentication failed for user "pipewright"');
      },
      { clock, logger, url },
    ).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe("28P01");
    expect(tries).toBe(1);
    expect(lines).toEqual([]);
  });

  it("an abort ends the wait at once, between tries and in the middle of one", async () => {
    const clock = createTestClock();
    const between = new AbortController();
    const waiting = openWhenReachable(
      async () => {
        throw socketError("ECONNREFUSED");
      },
      { clock, logger: logSink().logger, url, signal: between.signal },
    ).catch((e: unknown) => e);
    await clock.advance(10);
    between.abort();
    expect(await waiting).toBeInstanceOf(StartAborted);

    // A try that hangs (a black-holed host): the abort does not wait for it, and what it opens
    // later is closed.
    const during = new AbortController();
    let finish: (v: string) => void = () => {};
    const disposed: string[] = [];
    const hanging = openWhenReachable(() => new Promise<string>((resolve) => (finish = resolve)), {
      clock,
      logger: logSink().logger,
      url,
      signal: during.signal,
      dispose: async (v) => {
        disposed.push(v);
      },
    }).catch((e: unknown) => e);
    during.abort();
    expect(await hanging).toBeInstanceOf(StartAborted);
    finish("late store");
    await new Promise((r) => setImmediate(r));
    expect(disposed).toEqual(["late store"]);
  });
});
