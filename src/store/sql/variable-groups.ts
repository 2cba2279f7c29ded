// Parameter groups: a project's named sets of variables (secret values sealed at rest, as a
// pipeline's secret variables are), and the ordered relation of groups to pipelines.

import { sql } from "kysely";
import type { GroupVariable } from "../../pipeline/variable-groups.js";
import type { VariableGroupTable } from "../schema.js";
import { mapSecretValues, type Sealer } from "../sealer.js";
import type { VariableGroupRecord, VariableGroupStore } from "../store.js";
import { DuplicateKey } from "../store.js";
import { CHUNK, inTransaction, type SqlContext } from "./context.js";
import { isUniqueViolation } from "./rows.js";

const unique = (err: unknown): never => {
  if (isUniqueViolation(err)) throw new DuplicateKey("variable group");
  throw err;
};

/** Escapes LIKE wildcards so a name filter matches literally. */
const likePattern = (s: string): string => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export function variablesText(vars: readonly GroupVariable[], sealer: Sealer): string {
  return JSON.stringify(mapSecretValues(vars, sealer.seal));
}

function toGroup(row: VariableGroupTable, sealer: Sealer): VariableGroupRecord {
  return {
    ...row,
    variables: mapSecretValues(JSON.parse(row.variables) as GroupVariable[], sealer.open),
    create_time: Number(row.create_time),
    update_time: Number(row.update_time),
  };
}

export function variableGroupQueries(ctx: SqlContext): VariableGroupStore {
  const { db, sealer } = ctx;
  const row = (g: VariableGroupRecord): VariableGroupTable => ({
    ...g,
    variables: variablesText(g.variables, sealer),
  });
  return {
    async createVariableGroup(g) {
      await db.insertInto("variable_groups").values(row(g)).execute().catch(unique);
    },
    async updateVariableGroup(g) {
      const res = await db
        .updateTable("variable_groups")
        .set({
          name: g.name,
          description: g.description,
          variables: variablesText(g.variables, sealer),
          updater_id: g.updater_id,
          updater_name: g.updater_name,
          update_time: g.update_time,
        })
        .where("project_id", "=", g.project_id)
        .where("id", "=", g.id)
        .executeTakeFirst()
        .catch(unique);
      return Number(res.numUpdatedRows) > 0;
    },
    async getVariableGroup(projectId, id) {
      const r = await db
        .selectFrom("variable_groups")
        .selectAll()
        .where("project_id", "=", projectId)
        .where("id", "=", id)
        .executeTakeFirst();
      return r && toGroup(r, sealer);
    },
    async listVariableGroups(projectId, q) {
      let base = db.selectFrom("variable_groups").where("project_id", "=", projectId);
      // lower() on both sides: SQLite LIKE ignores ASCII case, PostgreSQL LIKE does not.
      if (q.name) base = base.where(sql<boolean>`lower(name) like lower(${likePattern(q.name)}) escape '\\'`);
      const [count, rows] = await Promise.all([
        base.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
        base.selectAll().orderBy("name").orderBy("id").limit(q.limit).offset(q.offset).execute(),
      ]);
      return { total: Number(count.n), items: rows.map((r) => toGroup(r, sealer)) };
    },
    async deleteVariableGroup(projectId, id) {
      const res = await db
        .deleteFrom("variable_groups")
        .where("project_id", "=", projectId)
        .where("id", "=", id)
        .executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    },
    setPipelineVariableGroups: (pipelineId, groupIds) =>
      inTransaction(ctx, async ({ db: tx }) => {
        await tx.deleteFrom("pipeline_variable_groups").where("pipeline_id", "=", pipelineId).execute();
        const rows = groupIds.map((group_id, seq) => ({ pipeline_id: pipelineId, group_id, seq }));
        for (let i = 0; i < rows.length; i += CHUNK)
          await tx
            .insertInto("pipeline_variable_groups")
            .values(rows.slice(i, i + CHUNK))
            .execute();
      }),
    async variableGroupsOfPipelines(pipelineIds) {
      const out = new Map<string, VariableGroupRecord[]>();
      for (let i = 0; i < pipelineIds.length; i += CHUNK) {
        const rows = await db
          .selectFrom("pipeline_variable_groups as r")
          .innerJoin("variable_groups as g", "g.id", "r.group_id")
          .selectAll("g")
          .select("r.pipeline_id")
          .where("r.pipeline_id", "in", pipelineIds.slice(i, i + CHUNK))
          .orderBy("r.pipeline_id")
          .orderBy("r.seq")
          .execute();
        for (const { pipeline_id, ...g } of rows) {
          const list = out.get(pipeline_id) ?? [];
          list.push(toGroup(g, sealer));
          out.set(pipeline_id, list);
        }
      }
      return out;
    },
    async pipelinesOfVariableGroups(groupIds) {
      const out = new Map<string, { id: string; name: string }[]>();
      for (let i = 0; i < groupIds.length; i += CHUNK) {
        const rows = await db
          .selectFrom("pipeline_variable_groups as r")
          .innerJoin("pipelines as p", "p.id", "r.pipeline_id")
          .select(["r.group_id", "p.id", "p.name"])
          .where("r.group_id", "in", groupIds.slice(i, i + CHUNK))
          .orderBy("p.name")
          .orderBy("p.id")
          .execute();
        for (const { group_id, id, name } of rows) {
          const list = out.get(group_id) ?? [];
          list.push({ id, name });
          out.set(group_id, list);
        }
      }
      return out;
    },
  };
}
