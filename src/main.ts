// Composition root: config → store → engine → api → signals. The only place that picks the
// database backend and the runner, and the only place below the CLI that sees the process
// environment.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { type Logger, pino } from "pino";
import { buildApp } from "./api/app.js";
import { ADMIN_TOKEN_META_KEY, hashToken, newSecret } from "./api/auth.js";
import { type Clock, systemClock } from "./clock.js";
import type { Config } from "./config.js";
import { createEngine, type Engine } from "./engine/engine.js";
import { createLogHub, type LogHub } from "./engine/log-hub.js";
import { newId } from "./ids.js";
import { createLocalRunner } from "./runner/local-runner.js";
import { openPostgresStore } from "./store/postgres/open.js";
import { openSqliteStore } from "./store/sqlite/open.js";
import type { Store } from "./store/store.js";

export interface Server {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly engine: Engine;
  readonly logs: LogHub;
  /** The admin token when this start generated it (printed once), else undefined. */
  readonly generatedAdminToken: string | undefined;
  /** Drains: finishes running jobs, then closes. With force, cuts jobs short. */
  stop(opts?: { force?: boolean }): Promise<void>;
}

async function openStore(config: Config): Promise<Store> {
  if (config.databaseUrl.startsWith("sqlite:")) {
    return openSqliteStore(config.databaseUrl.slice("sqlite:".length));
  }
  return openPostgresStore(config.databaseUrl);
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
  /** Listen on config.host:config.port; false builds everything without a socket (tests use inject). */
  readonly listen?: boolean;
  readonly logger?: Logger;
  /** Time for everything that waits; tests move a test clock instead of waiting. */
  readonly clock?: Clock;
}

export async function startServer(config: Config, opts: ServerOptions = {}): Promise<Server> {
  const logger = opts.logger ?? pino({ level: config.logLevel });
  const clock = opts.clock ?? systemClock;
  const store = await openStore(config);
  const generatedAdminToken = await ensureAdminToken(store, config);
  const logs = createLogHub({ store, logger, clock });
  const runner = config.localRunner
    ? createLocalRunner({
        workRoot: path.join(config.dataDir, "workspaces"),
        hostEnv: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG },
        killGraceMs: 1000,
        clock,
      })
    : undefined;
  const engine = createEngine({
    store,
    runner,
    logs,
    logger,
    clock,
    newId: () => newId(clock.now()),
    config: {
      slots: config.runnerSlots,
      maxLogBytes: config.maxLogBytes,
      defaultJobTimeoutSeconds: config.defaultJobTimeoutSeconds,
      runnerId: `local:${os.hostname()}:${config.dataDir}`,
      leaseMs: config.leaseSeconds * 1000,
      sweepMs: 1000,
      maxBatchSize: config.maxBatchSize,
    },
  });
  const app = await buildApp({ store, logger, clock, newId: () => newId(clock.now()), engine, logs });
  await engine.start();
  let url = "";
  if (opts.listen !== false) {
    await app.listen({ host: config.host, port: config.port });
    const addr = app.server.address();
    const port = typeof addr === "object" && addr ? addr.port : config.port;
    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    url = `http://${host}:${port}`;
  } else {
    await app.ready();
  }
  let stopped: Promise<void> | undefined;
  return {
    url,
    app,
    store,
    engine,
    logs,
    generatedAdminToken,
    stop(stopOpts) {
      if (stopOpts?.force) void engine.stop({ force: true });
      stopped ??= (async () => {
        // Together: the engine stops handing out jobs (ending agents' long polls) while the
        // HTTP server closes, then local jobs drain.
        await Promise.all([app.close(), engine.stop(stopOpts)]);
        await logs.stop();
        await store.close();
      })();
      return stopped;
    },
  };
}
