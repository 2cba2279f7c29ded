// Who may do what: the server's meta values, projects, and the two kinds of credential (tokens,
// stored by hash, and AK/SK access keys), which share one shape and one set of queries.

import { type Kysely, sql } from "kysely";
import type { Database } from "../schema.js";
import type { CredentialStore, MetaStore, ProjectStore } from "../store.js";
import type { SqlContext } from "./context.js";
import { type CredentialRow, credentialRow, toCredential, toProject } from "./rows.js";

export function metaQueries({ db }: SqlContext): MetaStore {
  const getMeta = async (key: string): Promise<string | undefined> =>
    (await db.selectFrom("meta").select("value").where("key", "=", key).executeTakeFirst())?.value;
  return {
    getMeta,
    async setMeta(key, value) {
      await db
        .insertInto("meta")
        .values({ key, value })
        .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
        .execute();
    },
    async putMetaIfAbsent(key, value) {
      await db
        .insertInto("meta")
        .values({ key, value })
        .onConflict((oc) => oc.column("key").doNothing())
        .execute();
      return (await getMeta(key))!;
    },
  };
}

export function projectQueries({ db }: SqlContext): ProjectStore {
  const one = async (column: "id" | "name", value: string) => {
    const row = await db.selectFrom("projects").selectAll().where(column, "=", value).executeTakeFirst();
    return row && toProject(row);
  };
  return {
    async createProject(p) {
      await db.insertInto("projects").values(p).execute();
    },
    getProject: (id) => one("id", id),
    findProjectByName: (name) => one("name", name),
    async listProjects() {
      const rows = await db.selectFrom("projects").selectAll().orderBy("create_time").orderBy("id").execute();
      return rows.map(toProject);
    },
  };
}

/** The queries tokens and access keys have in common, over their table and key column. */
function credentialTable(db: Kysely<Database>, table: "tokens" | "access_keys", key: "id" | "ak") {
  return {
    async list<R extends CredentialRow>(): Promise<R[]> {
      const rows =
        await sql<R>`SELECT * FROM ${sql.table(table)} ORDER BY create_time, ${sql.ref(key)}`.execute(db);
      return rows.rows;
    },
    async revoke(id: string, now: number): Promise<boolean> {
      const res = await sql`UPDATE ${sql.table(table)} SET revoked_time = ${now}
        WHERE ${sql.ref(key)} = ${id} AND revoked_time IS NULL`.execute(db);
      return Number(res.numAffectedRows ?? 0) > 0;
    },
  };
}

export function credentialQueries({ db, sealer }: SqlContext): CredentialStore {
  const tokens = credentialTable(db, "tokens", "id");
  const keys = credentialTable(db, "access_keys", "ak");
  return {
    async createToken(t, tokenHash) {
      await db
        .insertInto("tokens")
        .values({ id: t.id, token_hash: tokenHash, ...credentialRow(t) })
        .execute();
    },
    async findTokenByHash(tokenHash) {
      const row = await db
        .selectFrom("tokens")
        .selectAll()
        .where("token_hash", "=", tokenHash)
        .executeTakeFirst();
      return row && toCredential(row.id, row);
    },
    async listTokens() {
      return (await tokens.list<Database["tokens"]>()).map((r) => toCredential(r.id, r));
    },
    revokeToken: (id, now) => tokens.revoke(id, now),

    async createAccessKey(k) {
      await db
        .insertInto("access_keys")
        .values({ ak: k.id, sk: sealer.seal(k.sk), ...credentialRow(k) })
        .execute();
    },
    async findAccessKey(ak) {
      const row = await db.selectFrom("access_keys").selectAll().where("ak", "=", ak).executeTakeFirst();
      return row && { ...toCredential(row.ak, row), sk: sealer.open(row.sk) };
    },
    async listAccessKeys() {
      return (await keys.list<Database["access_keys"]>()).map((r) => ({
        ...toCredential(r.ak, r),
        sk: sealer.open(r.sk),
      }));
    },
    revokeAccessKey: (ak, now) => keys.revoke(ak, now),
  };
}
