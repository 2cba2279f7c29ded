// Opens the embedded store: one SQLite file in WAL mode, migrated to the latest schema.

import fs from "node:fs";
import path from "node:path";
import SqliteDatabase from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import type { Database } from "../schema.js";
import type { Sealer } from "../sealer.js";
import { type BulkWriter, byColumns, ROWS_PER_TURN, yieldToEventLoop } from "../sql/context.js";
import { migrateToLatest } from "../sql/migrate.js";
import { createSqlStore, type SqlStore } from "../sql/sql-store.js";
import { SQLITE_MIGRATIONS } from "./migrations.js";

export interface SqliteStoreOptions {
  readonly sealer: Sealer;
}

export async function openSqliteStore(file: string, opts: SqliteStoreOptions): Promise<SqlStore> {
  if (file !== ":memory:") privateFiles(file);
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma("journal_mode = WAL");
  // NORMAL in WAL mode is durable against process crashes (kill -9); only an OS crash may lose
  // the last transactions, which is the trade SQLite recommends for WAL.
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  // Checkpoints run on a timer (below) rather than inside whichever commit crosses 1000 pages,
  // which put tens of milliseconds into random batch-runs calls.
  sqlite.pragma("wal_autocheckpoint = 20000");
  const checkpoints = setInterval(() => {
    try {
      sqlite.pragma("wal_checkpoint(PASSIVE)");
    } catch {
      // busy or closed: the next tick tries again
    }
  }, 2000);
  checkpoints.unref();
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) });
  try {
    await migrateToLatest(db, SQLITE_MIGRATIONS);
  } finally {
    if (!sqlite.open) clearInterval(checkpoints);
  }
  return createSqlStore({
    db,
    capabilities: { supportsSkipLocked: false, dialect: "sqlite" },
    bulk: sqliteBulkWriter(sqlite),
    sealer: opts.sealer,
    async onClose() {
      clearInterval(checkpoints);
      await db.destroy();
    },
  });
}

/**
 * The database and its journal files readable by the server's user only. SQLite creates the -wal
 * and -shm files with the mode of the database file, so creating that one 0600 covers them; files
 * left by an older version are tightened too.
 */
function privateFiles(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.closeSync(fs.openSync(file, "a", 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      fs.chmodSync(f, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
}

/**
 * Kysely prepares every query anew; preparing costs more than running most of ours. The same
 * few dozen SQL texts repeat on the hot paths, so prepared statements are kept by text.
 */
function cachingStatements(sqlite: SqliteDatabase.Database): SqliteDatabase.Database {
  const cache = new Map<string, SqliteDatabase.Statement>();
  // When a statement fails with SQLITE_FULL (or IOERR), SQLite may roll the whole transaction
  // back by itself; Kysely's ROLLBACK after it would then fail ("cannot rollback - no transaction
  // is active") and hide the real error. Without a transaction, a rollback has nothing to do.
  const noop = sqlite.prepare("SELECT 1 WHERE 0");
  const prepare = (source: string): SqliteDatabase.Statement => {
    if (source === "rollback" && !sqlite.inTransaction) return noop;
    let stmt = cache.get(source);
    if (!stmt) {
      stmt = sqlite.prepare(source);
      // Texts with long IN lists vary with their length; keep the cache bounded.
      if (cache.size >= 1000) cache.clear();
      cache.set(source, stmt);
    }
    return stmt;
  };
  return new Proxy(sqlite, {
    get(target, prop, receiver) {
      if (prop === "prepare") return prepare;
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * One prepared single-row INSERT per table and column set, run row by row. better-sqlite3 calls
 * are synchronous on the one connection Kysely also uses, so inside a Kysely transaction these
 * rows are part of it.
 */
function sqliteBulkWriter(sqlite: SqliteDatabase.Database): BulkWriter {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    async insert(_db, table, rows) {
      if (rows.length === 0) return;
      const cols = Object.keys(rows[0]!);
      const key = `${table}(${cols.join(",")})`;
      let stmt = statements.get(key);
      if (!stmt) {
        stmt = sqlite.prepare(
          `INSERT INTO ${table} (${cols.join(", ")}) VALUES (${cols.map((c) => `@${c}`).join(", ")})`,
        );
        statements.set(key, stmt);
      }
      for (let i = 0; i < rows.length; i++) {
        if (i > 0 && i % ROWS_PER_TURN === 0) await yieldToEventLoop();
        stmt.run(rows[i]!);
      }
    },
    // Row by row too: a prepared UPDATE per table and column set costs microseconds here.
    async update(_db, table, rows, opts) {
      const out = new Map<string, number>();
      for (const { cols, rows: group } of byColumns(rows).values()) {
        const bump = opts?.bumpVersion === true;
        if (cols.length === 0 && !bump) continue;
        const key = `update ${table}(${cols.join(",")})${bump ? " bump" : ""}`;
        let stmt = statements.get(key);
        if (!stmt) {
          const set = [...cols.map((c) => `${c} = @${c}`), ...(bump ? ["version = version + 1"] : [])];
          stmt = sqlite.prepare(
            `UPDATE ${table} SET ${set.join(", ")} WHERE id = @id${bump ? " RETURNING version" : ""}`,
          );
          statements.set(key, stmt);
        }
        for (const r of group) {
          const params = Object.fromEntries([["id", r.id], ...cols.map((c) => [c, r[c]])]);
          if (bump) {
            const row = stmt.get(params) as { version: number } | undefined;
            if (row) out.set(r.id, Number(row.version));
          } else {
            stmt.run(params);
          }
        }
      }
      return out;
    },
  };
}
