// Opens the scale-out store: PostgreSQL through a pg pool, migrated to the latest schema.

import { Kysely, Migrator, PostgresDialect } from "kysely";
import pg from "pg";
import { KyselyStore } from "../kysely-store.js";
import type { Database } from "../schema.js";
import { POSTGRES_MIGRATIONS } from "./migrations.js";

export async function openPostgresStore(url: string, opts: { poolSize?: number } = {}): Promise<KyselyStore> {
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10 });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => POSTGRES_MIGRATIONS },
  });
  const { error } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy();
    throw error;
  }
  return new KyselyStore(db, { supportsSkipLocked: true, dialect: "postgres" });
}
