// Composition root: config → store → engine → api → signals. The only place that picks the
// database backend and the runner, and the only place below the CLI that sees the process
// environment.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { type Logger, pino } from "pino";
import { buildApp, type Health } from "./api/app.js";
import { ADMIN_TOKEN_META_KEY, hashToken, newSecret } from "./api/auth.js";
import { type Listener, openListener, STOP_GRACE_MS } from "./api/listener.js";
import { type Clock, systemClock } from "./clock.js";
import { type Config, ConfigError } from "./config.js";
import { type DataDirLock, lockDataDir, privateDataDir } from "./data-dir.js";
import { createEngine, type Engine } from "./engine/engine.js";
import { createLogHub, type LogHub } from "./engine/log-hub.js";
import { throttleErrors } from "./engine/log-throttle.js";
import { createSmtpMailer, postWebhook } from "./engine/notice-transport.js";
import { INTERRUPTED_MESSAGE } from "./engine/recovery.js";
import { newId } from "./ids.js";
import { embeddedRunnerFiles, readHolder } from "./runner/embedded.js";
import { createRunnerSupervisor, type RunnerSupervisor } from "./runner-supervisor.js";
import { openWhenReachable, startError } from "./startup.js";
import { createDirBlobStore } from "./store/blob-dir.js";
import type { BlobStore } from "./store/blobs.js";
import { openPostgresStore } from "./store/postgres/open.js";
import { createSealer, KeyringError, newSecretKey, parseKeyring, type Sealer } from "./store/sealer.js";
import { openSqliteStore } from "./store/sqlite/open.js";
import type { Store } from "./store/store.js";

export interface Server {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly engine: Engine;
  readonly logs: LogHub;
  /** The embedded runner's supervisor; undefined with --no-local-runner. */
  readonly runner: RunnerSupervisor | undefined;
  /** The admin token when this start generated it (printed once), else undefined. */
  readonly generatedAdminToken: string | undefined;
  /** Settles when the start-up reseal of stored secrets has ended (see checkSecrets). */
  readonly resealed: Promise<void>;
  /**
   * What SIGTERM does: the API keeps serving (reads, stop, review; new runs are accepted and
   * queued) and /healthz says draining, while the local runner takes no new job and its running
   * ones finish, for at most the drain timeout; then stop(), forced if jobs are still running.
   */
  shutdown(): Promise<{ readonly timedOut: boolean }>;
  /** Finishes running jobs, then closes. With force, cuts jobs short. */
  stop(opts?: { force?: boolean }): Promise<void>;
}

async function openStore(config: Config, sealer: Sealer, logger: Logger): Promise<Store> {
  if (config.databaseUrl.startsWith("sqlite:")) {
    return openSqliteStore(config.databaseUrl.slice("sqlite:".length), { sealer });
  }
  return openPostgresStore(config.databaseUrl, {
    sealer,
    // The request or job step under way fails (and is answered or retried); the server goes on.
    onConnectionError: (err) =>
      logger.warn(
        { err: { message: err.message, code: (err as { code?: string }).code } },
        "database connection lost",
      ),
    // Wakeups from other replicas wait for the poll (a second) until it is back.
    onListenerError: (err) =>
      logger.warn(
        { err: { message: err.message, code: (err as { code?: string }).code } },
        "lost the database connection that listens for other replicas' wakeups; reconnecting",
      ),
    onListening: (again) => {
      if (again) logger.info("listening for other replicas' wakeups again");
    },
  });
}

/**
 * The keyring that seals secrets at rest. In the embedded shape a missing key file is generated
 * (0600); a given file must exist. A key file others can read is used, with a warning.
 */
function loadSealer(config: Config, logger: Logger): Sealer {
  const source = config.secretKey;
  if (source.from === "env") return createSealer(parseKeyring(source.keys, "PIPEWRIGHT_SECRET_KEY"));
  let text: string;
  try {
    text = fs.readFileSync(source.file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT" || !source.generate) {
      throw new KeyringError(`cannot read the secret key file ${source.file}: ${(err as Error).message}`);
    }
    text = `# Pipewright's key for secrets at rest. Keep it with (but not in) your backups: without it\n# the stored secrets cannot be read. Rotation: see docs/operations.md.\n${newSecretKey()}\n`;
    try {
      fs.writeFileSync(source.file, text, { mode: 0o600, flag: "wx" });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      text = fs.readFileSync(source.file, "utf8"); // another process generated it first
    }
  }
  const mode = fs.statSync(source.file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    logger.warn(
      { file: source.file, mode: mode.toString(8) },
      "the secret key file is readable by other users; chmod 600 it",
    );
  }
  return createSealer(parseKeyring(text, source.file));
}

/** Meta key: the kid every stored secret was sealed with at the end of the last reseal pass. */
const SEALED_WITH_META_KEY = "secrets_sealed_with";

/**
 * Refuses a keyring that cannot open what is stored; brings every stored secret under the active
 * key in the background (legacy plaintext after an upgrade, or values of a key being rotated out).
 */
async function checkSecrets(store: Store, sealer: Sealer, logger: Logger): Promise<() => Promise<void>> {
  const sealedWith = await store.getMeta(SEALED_WITH_META_KEY);
  if (sealedWith !== undefined && !sealer.kids.includes(sealedWith)) {
    throw new KeyringError(
      `the secrets in this database are sealed with key ${sealedWith}, which the given keyring ` +
        `(${sealer.kids.join(", ")}) does not hold: give this server the same secret key as the others`,
    );
  }
  if (sealedWith === sealer.activeKid) return async () => {};
  return async () => {
    const counts = await store.resealSecrets();
    await store.setMeta(SEALED_WITH_META_KEY, sealer.activeKid);
    logger.info({ kid: sealer.activeKid, ...counts }, "stored secrets are sealed with the active key");
  };
}

/**
 * Makes sure a bootstrap admin token exists. A configured one wins (its hash replaces the stored
 * one); otherwise one is generated the first time, stored hashed, and written to
 * `<dataDir>/admin-token` (mode 0600) so the operator can find it again.
 */
async function ensureAdminToken(store: Store, config: Config): Promise<string | undefined> {
  if (config.adminToken !== undefined) {
    await store.setMeta(ADMIN_TOKEN_META_KEY, hashToken(config.adminToken));
    return undefined;
  }
  if ((await store.getMeta(ADMIN_TOKEN_META_KEY)) !== undefined) return undefined;
  const token = `pw_admin_${newSecret()}`;
  const stored = await store.putMetaIfAbsent(ADMIN_TOKEN_META_KEY, hashToken(token));
  if (stored !== hashToken(token)) return undefined; // another replica won the race
  fs.mkdirSync(config.dataDir, { recursive: true });
  fs.writeFileSync(path.join(config.dataDir, "admin-token"), `${token}\n`, { mode: 0o600 });
  return token;
}

export interface ServerOptions {
  /**
   * Listen on config.host:config.port; false builds everything without a socket (tests use
   * inject), and then no embedded runner starts (it reaches its server over HTTP).
   */
  readonly listen?: boolean;
  readonly logger?: Logger;
  /** Time for everything that waits; tests move a test clock instead of waiting. */
  readonly clock?: Clock;
  /**
   * Aborting it while the start waits for the database ends the start at once: startServer
   * rejects with StartAborted (SIGTERM during an outage).
   */
  readonly signal?: AbortSignal;
  /**
   * Told once, at the first failed try, that the database is not reachable: the server answers
   * 503 on `url` (/healthz says why) until it is.
   */
  readonly onWaitingForDatabase?: (url: string, reason: string) => void;
}

export async function startServer(config: Config, opts: ServerOptions = {}): Promise<Server> {
  const logger = opts.logger ?? pino({ level: config.logLevel });
  const clock = opts.clock ?? systemClock;
  const warning = privateDataDir(config.dataDir);
  if (warning) logger.warn({ dir: config.dataDir }, warning);
  const lock = lockDataDir(config.dataDir, () => clock.now());
  let listener: Listener | undefined;
  let opened: { store: Store; reseal: () => Promise<void> } | undefined;
  try {
    const sealer = loadSealer(config, logger);
    // The socket before the store: a replica whose database is away answers 503 meanwhile.
    if (opts.listen !== false) listener = await openListener(config.host, config.port);
    opened = await openStoreWhenReachable(config, sealer, { logger, clock, listener, opts });
    return await assemble(config, { logger, clock, ...opened, lock, listener });
  } catch (err) {
    await opened?.store.close();
    await listener?.close(0);
    lock.release();
    throw err;
  }
}

/** The base URL of a socket on `host` (IPv6 in brackets). */
function urlOf(host: string, port: number): string {
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * The store, opened and its secrets checked. SQLite opens at once (or fails); PostgreSQL is
 * tried until it is reachable (src/startup.ts), /healthz saying why meanwhile, and a failure
 * waiting cannot fix ends the start with the database's reason.
 */
async function openStoreWhenReachable(
  config: Config,
  sealer: Sealer,
  parts: { logger: Logger; clock: Clock; listener: Listener | undefined; opts: ServerOptions },
): Promise<{ store: Store; reseal: () => Promise<void> }> {
  const { logger, clock, listener, opts } = parts;
  const attempt = async (): Promise<{ store: Store; reseal: () => Promise<void> }> => {
    const store = await openStore(config, sealer, logger);
    try {
      return { store, reseal: await checkSecrets(store, sealer, logger) };
    } catch (err) {
      await store.close().catch(() => {});
      throw err;
    }
  };
  if (config.databaseUrl.startsWith("sqlite:")) return attempt();
  let told = false;
  try {
    return await openWhenReachable(attempt, {
      clock,
      logger,
      url: config.databaseUrl,
      signal: opts.signal,
      dispose: (opened) => opened.store.close(),
      onWaiting(reason, retryInMs) {
        listener?.waiting(reason, retryInMs);
        if (told || !listener) return;
        told = true;
        opts.onWaitingForDatabase?.(urlOf(config.host, listener.port), reason);
      },
    });
  } catch (err) {
    throw startError(err, config.databaseUrl);
  }
}

/**
 * Kills what is left of a step group of the in-process runner of earlier versions: only while its
 * leader's environment still names the job (a recycled process id must never be hit).
 */
function reapLegacyGroup(jobRunId: string, pgid: number): void {
  let environ: string;
  try {
    environ = fs.readFileSync(`/proc/${pgid}/environ`, "utf8");
  } catch {
    return; // gone, or not readable: nothing we may touch
  }
  if (!environ.split("\0").includes(`JOB_RUN_ID=${jobRunId}`)) return;
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // already gone
  }
}

async function assemble(
  config: Config,
  parts: {
    logger: Logger;
    clock: Clock;
    store: Store;
    reseal: () => Promise<void>;
    lock: DataDirLock;
    listener: Listener | undefined;
  },
): Promise<Server> {
  const { logger, clock, store, reseal, lock, listener } = parts;
  const generatedAdminToken = await ensureAdminToken(store, config);
  // The background work (scheduler, sweeps, log writes) retries every second: a failure that
  // lasts (a full disk) is logged once a minute, with a count.
  const engineLogger = throttleErrors(logger, () => clock.now());
  const logs = createLogHub({ store, logger: engineLogger, clock });
  const policy = { allowLocalClone: config.allowLocalClone };
  const legacyRunnerId = `local:${os.hostname()}:${config.dataDir}`;
  const blobs = await openBlobStore(config);
  const mailer = config.smtpUrl
    ? await createSmtpMailer({
        url: config.smtpUrl,
        from: config.smtpFrom,
        timeoutMs: config.noticeTimeoutSeconds * 1000,
      })
    : undefined;
  let url = "";
  const engine = createEngine({
    blobs,
    notices: { post: postWebhook, mailer, publicUrl: () => config.publicUrl ?? url },
    store,
    reapLegacyGroup,
    logs,
    logger: engineLogger,
    clock,
    newId: () => newId(clock.now()),
    config: {
      maxLogBytes: config.maxLogBytes,
      defaultJobTimeoutSeconds: config.defaultJobTimeoutSeconds,
      legacyRunnerId,
      leaseMs: config.leaseSeconds * 1000,
      heartbeatMs: Math.min(config.heartbeatMs, Math.floor((config.leaseSeconds * 1000) / 3)),
      sweepMs: config.dispatchPollMs,
      pollMs: config.dispatchPollMs,
      maxBatchSize: config.maxBatchSize,
      policy,
      maxArtifactBytes: config.maxArtifactBytes,
      retention: config.retention,
      maxCacheBytes: config.maxCacheBytes,
      cacheQuotaBytes: config.cacheQuotaBytes,
      noticeHttp: {
        timeoutMs: config.noticeTimeoutSeconds * 1000,
        allowPrivate: config.allowPrivateNoticeTargets,
      },
    },
  });
  const runner =
    config.localRunner && listener
      ? createRunnerSupervisor(
          {
            dataDir: config.dataDir,
            slots: config.runnerSlots,
            allowLocalClone: config.allowLocalClone,
            containerRuntime: config.containerRuntime,
            runnerArgs: [],
            env: process.env,
          },
          { store, engine, logger, clock, newId: () => newId(clock.now()) },
        )
      : undefined;
  /** The embedded runner's jobs now (what a drain waits for). */
  const embeddedRunnerId = (): string | undefined =>
    readHolder(embeddedRunnerFiles(config.dataDir).holder)?.runner_id ?? undefined;
  const runningJobs = async (): Promise<number> => {
    const id = embeddedRunnerId();
    return id ? (await store.listRunningJobsOf(id)).length : 0;
  };
  let draining = false;
  // Without a socket (tests that inject) nothing closes but the streams.
  const closing = listener ? undefined : new AbortController();
  const health = async (): Promise<Health> => {
    if (draining) return { status: "draining", running_jobs: await runningJobs() };
    const failing = runner?.failing;
    if (failing) {
      // No path and no log text: /healthz needs no token.
      const reason = `the embedded runner process keeps dying (${failing.deaths} times in a row, each within seconds of its start; the last one ${failing.why}): no job runs until it stays up; its log is runner/runner.log in the data dir`;
      return { status: "degraded", reason };
    }
    return { status: "ok" };
  };
  const app = await buildApp({
    store,
    logger,
    clock,
    newId: () => newId(clock.now()),
    engine,
    logs,
    policy,
    health,
    allowedHosts: config.allowedHosts,
    listenHost: config.host,
    ...(config.trustProxy ? { trustProxy: config.trustProxy } : {}),
    ...(listener ? { server: listener.server } : {}),
    closing: listener?.closing ?? closing!.signal,
  });
  await engine.start();
  await app.ready();
  if (listener) {
    listener.serve((req, res) => app.routing(req, res));
    url = urlOf(config.host, listener.port);
  }
  if (runner && listener) {
    // The runner reaches the server over loopback whatever address it listens on.
    const wildcard = ["0.0.0.0", "::", ""].includes(config.host);
    await runner.start(urlOf(wildcard ? "127.0.0.1" : config.host, listener.port));
  }
  // A failed pass is tried again at the next start; the values it did not reach still open.
  const resealed = reseal().catch((err: unknown) =>
    logger.error({ err: String(err) }, "resealing stored secrets failed; the next start tries again"),
  );
  let stopped: Promise<void> | undefined;
  let shutdown: Promise<{ timedOut: boolean }> | undefined;
  const server: Server = {
    resealed,
    url,
    app,
    store,
    engine,
    logs,
    runner,
    generatedAdminToken,
    shutdown() {
      shutdown ??= (async () => {
        draining = true;
        const limit = config.drainTimeoutSeconds;
        logger.info(
          { running_jobs: await runningJobs(), drain_timeout_s: limit },
          "draining: the API keeps serving while running jobs finish",
        );
        const runnerId = embeddedRunnerId();
        const timedOut = runner ? !(await runner.drain(limit * 1000)) : false;
        if (timedOut) {
          logger.warn(
            { running_jobs: await runningJobs() },
            "drain timeout passed: stopping the jobs still running (they fail as interrupted)",
          );
          await runner?.stop({ force: true });
          if (runnerId) {
            await engine.interruptJobsOf(runnerId, `${INTERRUPTED_MESSAGE} (the drain timeout passed)`);
          }
        }
        await server.stop({ force: timedOut });
        logger.info("stopped");
        return { timedOut };
      })();
      return shutdown;
    },
    stop(stopOpts) {
      draining = true;
      stopped ??= (async () => {
        try {
          // The runner first (forced: at once, its jobs killed; else it is left running, and a
          // next server adopts it); then the engine stops handing out jobs while the socket
          // closes: every event stream ends (runner agents and browsers connect again, to
          // another replica), idle connections close at once, busy ones when their answer is
          // sent, any still busy after the grace are cut. Then the app's own hooks.
          await runner?.stop(stopOpts);
          closing?.abort();
          await Promise.all([listener?.close(STOP_GRACE_MS), engine.stop()]);
          await app.close();
          await logs.stop();
          await resealed;
          await store.close();
          blobs.close?.();
          mailer?.close();
        } finally {
          lock.release();
        }
      })();
      return stopped;
    },
  };
  return server;
}

/**
 * The artifacts' blob store the config names: a directory, or S3-compatible storage (the AWS SDK
 * is loaded only then: it adds a tenth of a second to every start).
 */
async function openBlobStore(config: Config): Promise<BlobStore & { close?(): void }> {
  if (!config.artifactsUrl.startsWith("s3://")) return createDirBlobStore(config.artifactsUrl);
  const { createS3BlobStore, S3_MAX_BLOB_BYTES, s3OptionsFromUrl } = await import("./store/blob-s3.js");
  if (config.maxArtifactBytes > S3_MAX_BLOB_BYTES) {
    throw new ConfigError(
      `--max-artifact-bytes may be at most ${S3_MAX_BLOB_BYTES} (5 GiB) with S3 storage, got ${config.maxArtifactBytes}`,
    );
  }
  try {
    return createS3BlobStore(s3OptionsFromUrl(config.artifactsUrl));
  } catch (err) {
    throw new ConfigError(`--artifacts-url: ${(err as Error).message}`);
  }
}
