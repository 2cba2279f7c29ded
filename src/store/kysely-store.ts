// The Store port implemented once over Kysely. The queries here are plain SQL that SQLite and
// PostgreSQL both run; each backend folder only opens the connection and owns its migrations.

import { type Kysely, sql } from "kysely";
import type { Database, PipelineTable } from "./schema.js";
import type {
  AccessKeyRecord,
  CredentialRecord,
  NewPipeline,
  Page,
  PipelineQuery,
  PipelineRecord,
  ProjectRecord,
  Role,
  Store,
  StoreCapabilities,
} from "./store.js";

const bool = (b: boolean): number => (b ? 1 : 0);

function toPipeline(row: PipelineTable): PipelineRecord {
  return {
    id: row.id,
    project_id: row.project_id,
    name: row.name,
    description: row.description,
    is_publish: row.is_publish === 1,
    banned: row.banned === 1,
    manifest_version: row.manifest_version,
    definition: row.definition,
    spec: JSON.parse(row.spec),
    creator_id: row.creator_id,
    creator_name: row.creator_name,
    updater_id: row.updater_id,
    create_time: Number(row.create_time),
    update_time: Number(row.update_time),
    run_counter: Number(row.run_counter),
    latest_run_id: row.latest_run_id,
  };
}

interface CredentialRow {
  name: string;
  role: string;
  project_ids: string;
  create_time: number;
  revoked_time: number | null;
}

function toCredential(id: string, row: CredentialRow): CredentialRecord {
  return {
    id,
    name: row.name,
    role: row.role as Role,
    project_ids: JSON.parse(row.project_ids),
    create_time: Number(row.create_time),
    revoked_time: row.revoked_time === null ? null : Number(row.revoked_time),
  };
}

/** Escapes LIKE wildcards so a name filter matches literally. */
function likePattern(s: string): string {
  return `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export class KyselyStore implements Store {
  constructor(
    readonly db: Kysely<Database>,
    readonly capabilities: StoreCapabilities,
    private readonly onClose: () => Promise<void> = () => db.destroy(),
  ) {}

  async close(): Promise<void> {
    await this.onClose();
  }

  async getMeta(key: string): Promise<string | undefined> {
    const row = await this.db.selectFrom("meta").select("value").where("key", "=", key).executeTakeFirst();
    return row?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.db
      .insertInto("meta")
      .values({ key, value })
      .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
      .execute();
  }

  async putMetaIfAbsent(key: string, value: string): Promise<string> {
    await this.db
      .insertInto("meta")
      .values({ key, value })
      .onConflict((oc) => oc.column("key").doNothing())
      .execute();
    return (await this.getMeta(key))!;
  }

  async createProject(p: ProjectRecord): Promise<void> {
    await this.db.insertInto("projects").values(p).execute();
  }

  async getProject(id: string): Promise<ProjectRecord | undefined> {
    return this.db.selectFrom("projects").selectAll().where("id", "=", id).executeTakeFirst().then(numProject);
  }

  async findProjectByName(name: string): Promise<ProjectRecord | undefined> {
    return this.db.selectFrom("projects").selectAll().where("name", "=", name).executeTakeFirst().then(numProject);
  }

  async listProjects(): Promise<ProjectRecord[]> {
    const rows = await this.db.selectFrom("projects").selectAll().orderBy("create_time").orderBy("id").execute();
    return rows.map((r) => numProject(r)!);
  }

  async createToken(t: CredentialRecord, tokenHash: string): Promise<void> {
    await this.db
      .insertInto("tokens")
      .values({
        id: t.id,
        name: t.name,
        token_hash: tokenHash,
        role: t.role,
        project_ids: JSON.stringify(t.project_ids),
        create_time: t.create_time,
        revoked_time: t.revoked_time,
      })
      .execute();
  }

  async findTokenByHash(tokenHash: string): Promise<CredentialRecord | undefined> {
    const row = await this.db.selectFrom("tokens").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst();
    return row && toCredential(row.id, row);
  }

  async listTokens(): Promise<CredentialRecord[]> {
    const rows = await this.db.selectFrom("tokens").selectAll().orderBy("create_time").orderBy("id").execute();
    return rows.map((r) => toCredential(r.id, r));
  }

  async revokeToken(id: string, now: number): Promise<boolean> {
    const res = await this.db
      .updateTable("tokens")
      .set({ revoked_time: now })
      .where("id", "=", id)
      .where("revoked_time", "is", null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async createAccessKey(k: AccessKeyRecord): Promise<void> {
    await this.db
      .insertInto("access_keys")
      .values({
        ak: k.id,
        sk: k.sk,
        name: k.name,
        role: k.role,
        project_ids: JSON.stringify(k.project_ids),
        create_time: k.create_time,
        revoked_time: k.revoked_time,
      })
      .execute();
  }

  async findAccessKey(ak: string): Promise<AccessKeyRecord | undefined> {
    const row = await this.db.selectFrom("access_keys").selectAll().where("ak", "=", ak).executeTakeFirst();
    return row && { ...toCredential(row.ak, row), sk: row.sk };
  }

  async listAccessKeys(): Promise<AccessKeyRecord[]> {
    const rows = await this.db.selectFrom("access_keys").selectAll().orderBy("create_time").orderBy("ak").execute();
    return rows.map((r) => ({ ...toCredential(r.ak, r), sk: r.sk }));
  }

  async revokeAccessKey(ak: string, now: number): Promise<boolean> {
    const res = await this.db
      .updateTable("access_keys")
      .set({ revoked_time: now })
      .where("ak", "=", ak)
      .where("revoked_time", "is", null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async createPipeline(p: NewPipeline): Promise<void> {
    await this.db
      .insertInto("pipelines")
      .values({
        ...p,
        is_publish: bool(p.is_publish),
        banned: 0,
        spec: JSON.stringify(p.spec),
        run_counter: 0,
        latest_run_id: null,
      })
      .execute();
  }

  async getPipeline(id: string): Promise<PipelineRecord | undefined> {
    const row = await this.db.selectFrom("pipelines").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toPipeline(row);
  }

  async getPipelines(ids: readonly string[]): Promise<PipelineRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.selectFrom("pipelines").selectAll().where("id", "in", ids).execute();
    return rows.map(toPipeline);
  }

  async findPipelineByName(projectId: string, name: string): Promise<PipelineRecord | undefined> {
    const row = await this.db
      .selectFrom("pipelines")
      .selectAll()
      .where("project_id", "=", projectId)
      .where("name", "=", name)
      .executeTakeFirst();
    return row && toPipeline(row);
  }

  async updatePipeline(
    id: string,
    f: Pick<PipelineRecord, "name" | "description" | "is_publish" | "manifest_version" | "definition" | "spec" | "updater_id" | "update_time">,
  ): Promise<boolean> {
    const res = await this.db
      .updateTable("pipelines")
      .set({ ...f, is_publish: bool(f.is_publish), spec: JSON.stringify(f.spec) })
      .where("id", "=", id)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async deletePipeline(id: string): Promise<boolean> {
    const res = await this.db.deleteFrom("pipelines").where("id", "=", id).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async setPipelineBanned(id: string, banned: boolean, now: number): Promise<boolean> {
    const res = await this.db
      .updateTable("pipelines")
      .set({ banned: bool(banned), update_time: now })
      .where("id", "=", id)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async listPipelines(q: PipelineQuery): Promise<Page<PipelineRecord>> {
    let base = this.db.selectFrom("pipelines").where("project_id", "=", q.project_id);
    // lower() on both sides: SQLite LIKE ignores ASCII case, PostgreSQL LIKE does not.
    if (q.name) base = base.where(sql<boolean>`lower(name) like lower(${likePattern(q.name)}) escape '\\'`);
    if (q.banned !== undefined) base = base.where("banned", "=", bool(q.banned));
    if (q.is_publish !== undefined) base = base.where("is_publish", "=", bool(q.is_publish));
    const [count, rows] = await Promise.all([
      base.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
      base
        .selectAll()
        .orderBy(q.sort_key, q.sort_dir)
        .orderBy("id", q.sort_dir)
        .limit(q.limit)
        .offset(q.offset)
        .execute(),
    ]);
    return { total: Number(count.n), items: rows.map(toPipeline) };
  }
}

function numProject(row: ProjectRecord | undefined): ProjectRecord | undefined {
  return row && { id: row.id, name: row.name, create_time: Number(row.create_time) };
}
