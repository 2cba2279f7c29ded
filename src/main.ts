// Composition root: config → store → engine → api → signals. The only place that picks the
// database backend and the only place below the CLI that sees the process environment.

import fs from "node:fs";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { buildApp } from "./api/app.js";
import { ADMIN_TOKEN_META_KEY, hashToken, newSecret } from "./api/auth.js";
import type { Config } from "./config.js";
import { openSqliteStore } from "./store/sqlite/open.js";
import type { Store } from "./store/store.js";

export interface Server {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly store: Store;
  /** The admin token when this start generated it (printed once), else undefined. */
  readonly generatedAdminToken: string | undefined;
  stop(): Promise<void>;
}

async function openStore(config: Config): Promise<Store> {
  if (config.databaseUrl.startsWith("sqlite:")) return openSqliteStore(config.databaseUrl.slice("sqlite:".length));
  throw new Error("PostgreSQL support arrives with the scale-out mode; use a sqlite: DATABASE_URL for now");
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

export async function startServer(config: Config): Promise<Server> {
  const logger = pino({ level: config.logLevel });
  const store = await openStore(config);
  const generatedAdminToken = await ensureAdminToken(store, config);
  const app = await buildApp({ store, logger, now: Date.now, maxBatchSize: config.maxBatchSize });
  await app.listen({ host: config.host, port: config.port });
  const addr = app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : config.port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  let stopped: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    app,
    store,
    generatedAdminToken,
    stop() {
      stopped ??= (async () => {
        await app.close();
        await store.close();
      })();
      return stopped;
    },
  };
}
