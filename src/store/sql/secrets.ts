// The reseal pass: rewrites every stored secret that is not sealed with the active key (values
// written before sealing existed, or sealed with a key being rotated out). It reads in keyset
// pages and writes each row with a compare-and-swap on the text it read, so it can run beside
// live traffic (and beside another replica's pass) without overwriting a newer change.

import { sql } from "kysely";
import type { GroupVariable } from "../../pipeline/variable-groups.js";
import { mapSecretValues, mapSecretVariables } from "../sealer.js";
import type { PipelineSpec, ResealCounts, SecretStore } from "../store.js";
import { type SqlContext, yieldToEventLoop } from "./context.js";

const PAGE = 200;

export function secretQueries(ctx: SqlContext): SecretStore {
  const { db, sealer } = ctx;
  const stale = (text: string): boolean => !sealer.isCurrent(text);
  const reseal = (text: string): string => (stale(text) ? sealer.seal(sealer.open(text)) : text);

  async function pipelines(): Promise<number> {
    let changed = 0;
    let after = "";
    for (;;) {
      const rows = await db
        .selectFrom("pipelines")
        .select(["id", "spec"])
        .where("id", ">", after)
        .orderBy("id")
        .limit(PAGE)
        .execute();
      if (rows.length === 0) return changed;
      for (const row of rows) {
        const spec: PipelineSpec = JSON.parse(row.spec);
        const secrets = spec.variables.filter((v) => v.is_secret);
        if (!secrets.some((v) => stale(v.value) || stale(v.latest_value) || v.limits.some(stale))) continue;
        const text = JSON.stringify({ ...spec, variables: mapSecretVariables(spec.variables, reseal) });
        const res = await db
          .updateTable("pipelines")
          .set({ spec: text })
          .where("id", "=", row.id)
          .where("spec", "=", row.spec)
          .executeTakeFirst();
        changed += Number(res.numUpdatedRows);
      }
      after = rows[rows.length - 1]!.id;
      await yieldToEventLoop();
    }
  }

  async function runs(): Promise<number> {
    let changed = 0;
    let after = "";
    for (;;) {
      // Only runs with a secret variable can hold one; the others are not even parsed.
      const rows = await db
        .selectFrom("pipeline_runs")
        .select(["id", "context"])
        .where("id", ">", after)
        .where(sql<boolean>`context like '%"is_secret":true%'`)
        .orderBy("id")
        .limit(PAGE)
        .execute();
      if (rows.length === 0) return changed;
      for (const row of rows) {
        const context: { variables: { name: string; value: string; is_secret: boolean }[] } = JSON.parse(
          row.context,
        );
        if (!context.variables.some((v) => v.is_secret && stale(v.value))) continue;
        const text = JSON.stringify({ ...context, variables: mapSecretValues(context.variables, reseal) });
        const res = await db
          .updateTable("pipeline_runs")
          .set({ context: text })
          .where("id", "=", row.id)
          .where("context", "=", row.context)
          .executeTakeFirst();
        changed += Number(res.numUpdatedRows);
      }
      after = rows[rows.length - 1]!.id;
      await yieldToEventLoop();
    }
  }

  async function accessKeys(): Promise<number> {
    let changed = 0;
    const rows = await db.selectFrom("access_keys").select(["ak", "sk"]).execute();
    for (const row of rows) {
      if (!stale(row.sk)) continue;
      const res = await db
        .updateTable("access_keys")
        .set({ sk: reseal(row.sk) })
        .where("ak", "=", row.ak)
        .where("sk", "=", row.sk)
        .executeTakeFirst();
      changed += Number(res.numUpdatedRows);
    }
    return changed;
  }

  async function variableGroups(): Promise<number> {
    let changed = 0;
    let after = "";
    for (;;) {
      const rows = await db
        .selectFrom("variable_groups")
        .select(["id", "variables"])
        .where("id", ">", after)
        .orderBy("id")
        .limit(PAGE)
        .execute();
      if (rows.length === 0) return changed;
      for (const row of rows) {
        const vars: GroupVariable[] = JSON.parse(row.variables);
        if (!vars.some((v) => v.is_secret && stale(v.value))) continue;
        const res = await db
          .updateTable("variable_groups")
          .set({ variables: JSON.stringify(mapSecretValues(vars, reseal)) })
          .where("id", "=", row.id)
          .where("variables", "=", row.variables)
          .executeTakeFirst();
        changed += Number(res.numUpdatedRows);
      }
      after = rows[rows.length - 1]!.id;
      await yieldToEventLoop();
    }
  }

  /** Notification targets: their URL and HMAC secret, each sealed on its own. */
  async function noticeTargets(): Promise<number> {
    let changed = 0;
    let after = "";
    for (;;) {
      const rows = await db
        .selectFrom("notice_targets")
        .select(["id", "url", "secret"])
        .where("id", ">", after)
        .orderBy("id")
        .limit(PAGE)
        .execute();
      if (rows.length === 0) return changed;
      for (const row of rows) {
        const url = row.url === "" ? "" : reseal(row.url);
        const secret = row.secret === "" ? "" : reseal(row.secret);
        if (url === row.url && secret === row.secret) continue;
        const res = await db
          .updateTable("notice_targets")
          .set({ url, secret })
          .where("id", "=", row.id)
          .where("url", "=", row.url)
          .where("secret", "=", row.secret)
          .executeTakeFirst();
        changed += Number(res.numUpdatedRows);
      }
      after = rows[rows.length - 1]!.id;
      await yieldToEventLoop();
    }
  }

  return {
    async resealSecrets(): Promise<ResealCounts> {
      return {
        pipelines: await pipelines(),
        runs: await runs(),
        access_keys: await accessKeys(),
        variable_groups: await variableGroups(),
        notice_targets: await noticeTargets(),
      };
    },
  };
}
