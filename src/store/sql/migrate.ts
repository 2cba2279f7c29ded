// Brings a database to the latest schema with Kysely's migrator (which takes a lock, so replicas
// starting together apply each migration once); a failed migration closes the connection.

import { type Kysely, type Migration, Migrator } from "kysely";
import type { Database } from "../schema.js";

export async function migrateToLatest(
  db: Kysely<Database>,
  migrations: Record<string, Migration>,
): Promise<void> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy();
    throw error;
  }
}
