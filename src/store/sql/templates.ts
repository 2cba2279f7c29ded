// Pipeline templates: a project's own templates (secret variable values sealed at rest, as a
// pipeline's are), and the favourite marks of callers.

import { sql } from "kysely";
import type { TemplateTable } from "../schema.js";
import { mapSecretVariables } from "../sealer.js";
import type { TemplateRecord, TemplateStore } from "../store.js";
import { DuplicateKey } from "../store.js";
import { CHUNK, type SqlContext } from "./context.js";
import { bool, isUniqueViolation } from "./rows.js";

const unique = (err: unknown): never => {
  if (isUniqueViolation(err)) throw new DuplicateKey("template");
  throw err;
};

/** `%` and `_` in a name filter are literal characters, not patterns. */
const likePattern = (s: string): string => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export function templateQueries(ctx: SqlContext): TemplateStore {
  const { db, sealer } = ctx;
  const toRecord = (r: TemplateTable): TemplateRecord => ({
    ...r,
    variables: mapSecretVariables(JSON.parse(r.variables), sealer.open),
    is_show_source: Number(r.is_show_source) === 1,
    create_time: Number(r.create_time),
    update_time: Number(r.update_time),
  });
  const sealed = (vars: TemplateRecord["variables"]): string =>
    JSON.stringify(mapSecretVariables(vars, sealer.seal));

  return {
    async createTemplate(t) {
      await db
        .insertInto("templates")
        .values({ ...t, variables: sealed(t.variables), is_show_source: bool(t.is_show_source) })
        .execute()
        .catch(unique);
    },
    async getTemplate(id) {
      const row = await db.selectFrom("templates").selectAll().where("id", "=", id).executeTakeFirst();
      return row ? toRecord(row) : undefined;
    },
    async listTemplates(projectId, filter) {
      let q = db.selectFrom("templates").selectAll().where("project_id", "=", projectId);
      if (filter.name !== undefined && filter.name !== "") {
        // lower() on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
        q = q.where(sql<boolean>`lower(name) like lower(${likePattern(filter.name)}) escape '\\'`);
      }
      if (filter.language !== undefined) q = q.where("language", "=", filter.language);
      const rows = await q.orderBy("name").execute();
      return rows.map(toRecord);
    },
    async updateTemplate(projectId, id, change) {
      const res = await db
        .updateTable("templates")
        .set({ ...change, variables: sealed(change.variables), is_show_source: bool(change.is_show_source) })
        .where("project_id", "=", projectId)
        .where("id", "=", id)
        .executeTakeFirst()
        .catch(unique);
      return Number(res.numUpdatedRows) > 0;
    },
    async deleteTemplate(projectId, id) {
      const res = await db
        .deleteFrom("templates")
        .where("project_id", "=", projectId)
        .where("id", "=", id)
        .executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) return false;
      await db.deleteFrom("template_favorites").where("template_id", "=", id).execute();
      return true;
    },
    async setTemplateFavorite(templateId, principalId, favorite) {
      if (!favorite) {
        await db
          .deleteFrom("template_favorites")
          .where("template_id", "=", templateId)
          .where("principal_id", "=", principalId)
          .execute();
        return;
      }
      await db
        .insertInto("template_favorites")
        .values({ template_id: templateId, principal_id: principalId })
        .onConflict((oc) => oc.doNothing())
        .execute();
    },
    async favoriteTemplates(principalId, templateIds) {
      const out = new Set<string>();
      for (let i = 0; i < templateIds.length; i += CHUNK) {
        const rows = await db
          .selectFrom("template_favorites")
          .select("template_id")
          .where("principal_id", "=", principalId)
          .where("template_id", "in", templateIds.slice(i, i + CHUNK))
          .execute();
        for (const r of rows) out.add(r.template_id);
      }
      return out;
    },
  };
}
