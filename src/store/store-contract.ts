// The store contract: one suite every backend must pass unchanged. A backend's test file calls
// describeStoreContract with a factory that opens a fresh, empty, migrated store.

import crypto from "node:crypto";
import { type Kysely, sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildRunGraph } from "../engine/create-runs.js";
import { parseDefinition } from "../pipeline/definition.js";
import {
  DuplicateKey,
  type NewPipeline,
  type NoticeDeliveryRecord,
  type NoticeTargetRecord,
  type Store,
  type TemplateRecord,
} from "./store.js";

export const id = (): string => crypto.randomUUID().replaceAll("-", "");

export function pipeline(projectId: string, name: string, t: number): NewPipeline {
  return {
    id: id(),
    project_id: projectId,
    name,
    description: "",
    is_publish: false,
    manifest_version: "3.0",
    definition: "{}",
    spec: {
      sources: [],
      variables: [],
      schedules: [],
      triggers: [],
      concurrency_control: null,
      group_id: null,
      component_id: "",
      project_name: "",
    },
    creator_id: "u",
    creator_name: "u",
    updater_id: "u",
    create_time: t,
    update_time: t,
  };
}

export function describeStoreContract(name: string, open: () => Promise<Store>): void {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it("meta: putMetaIfAbsent keeps the first value, setMeta overwrites", async () => {
      expect(await store.getMeta("k")).toBeUndefined();
      expect(await store.putMetaIfAbsent("k", "a")).toBe("a");
      expect(await store.putMetaIfAbsent("k", "b")).toBe("a");
      await store.setMeta("k", "c");
      expect(await store.getMeta("k")).toBe("c");
    });

    it("projects: create, get, find by name, list in creation order; names are unique", async () => {
      await store.createProject({ id: "a".repeat(32), name: "one", create_time: 1 });
      await store.createProject({ id: "b".repeat(32), name: "two", create_time: 2 });
      expect(await store.getProject("a".repeat(32))).toEqual({
        id: "a".repeat(32),
        name: "one",
        create_time: 1,
      });
      expect((await store.findProjectByName("two"))?.id).toBe("b".repeat(32));
      expect((await store.listProjects()).map((p) => p.name)).toEqual(["one", "two"]);
      await expect(
        store.createProject({ id: "c".repeat(32), name: "one", create_time: 3 }),
      ).rejects.toThrow();
    });

    it("tokens: found by hash until revoked; revoke is idempotent-false", async () => {
      const rec = {
        id: id(),
        name: "ci",
        role: "operator" as const,
        project_ids: ["p1"],
        create_time: 5,
        revoked_time: null,
      };
      await store.createToken(rec, "hash1");
      expect(await store.findTokenByHash("hash1")).toEqual(rec);
      expect(await store.findTokenByHash("nope")).toBeUndefined();
      expect(await store.revokeToken(rec.id, 9)).toBe(true);
      expect(await store.revokeToken(rec.id, 10)).toBe(false);
      expect((await store.findTokenByHash("hash1"))?.revoked_time).toBe(9);
      expect((await store.listTokens()).length).toBe(1);
    });

    it("access keys: stored with their SK, revocable", async () => {
      const rec = {
        id: "AKAKAKAKAKAKAKAKAKAK",
        sk: "secret",
        name: "sdk",
        role: "viewer" as const,
        project_ids: [],
        create_time: 1,
        revoked_time: null,
      };
      await store.createAccessKey(rec);
      expect(await store.findAccessKey(rec.id)).toEqual(rec);
      expect(await store.revokeAccessKey(rec.id, 2)).toBe(true);
      expect((await store.listAccessKeys())[0]?.revoked_time).toBe(2);
    });

    it("pipeline permissions: switch and rows, replaced in place, the list filtered by them, gone with the pipeline", async () => {
      const pid = id();
      await store.createProject({ id: pid, name: "p", create_time: 1 });
      const [a, b] = [pipeline(pid, "a", 1), pipeline(pid, "b", 2)];
      await store.createPipeline(a);
      await store.createPipeline(b);
      expect((await store.permissionsOf([a.id, b.id])).size).toBe(0);
      const none = { query: false, execute: false, update: false, delete: false, authorize: false };
      const all = { query: true, execute: true, update: true, delete: true, authorize: true };
      await store.setPermissionSwitch(a.id, true, 5);
      await store.setPermissions([
        { pipeline_id: a.id, subject_kind: "role", subject_id: "viewer", operations: none, update_time: 5 },
        { pipeline_id: a.id, subject_kind: "user", subject_id: "tok1", operations: all, update_time: 5 },
      ]);
      // Written again: replaced, not doubled.
      await store.setPermissions([
        {
          pipeline_id: a.id,
          subject_kind: "user",
          subject_id: "tok1",
          operations: { ...none, query: true },
          update_time: 6,
        },
      ]);
      const got = (await store.permissionsOf([a.id, b.id])).get(a.id);
      expect(got?.enabled).toBe(true);
      expect(got?.roles.get("viewer")).toEqual(none);
      expect(got?.users.get("tok1")).toEqual({ ...none, query: true });
      const visible = async (role: string, credential: string) =>
        (
          await store.listPipelines({
            project_id: pid,
            visible_to: { role, credential_id: credential },
            offset: 0,
            limit: 10,
            sort_key: "name",
            sort_dir: "asc",
          })
        ).items.map((p) => p.name);
      expect(await visible("viewer", "other")).toEqual(["b"]);
      expect(await visible("viewer", "tok1")).toEqual(["a", "b"]);
      expect(await visible("operator", "other")).toEqual(["a", "b"]);
      await store.setPermissionSwitch(a.id, false, 7);
      expect(await visible("viewer", "other")).toEqual(["a", "b"]);
      expect((await store.permissionsOf([a.id])).get(a.id)?.roles.get("viewer")).toEqual(none);
      expect(await store.deletePipeline(a.id)).toBeTruthy();
      expect((await store.permissionsOf([a.id])).size).toBe(0);
    });

    it("pipelines: create, get, update, ban, delete; names unique per project", async () => {
      const pid = id();
      await store.createProject({ id: pid, name: "p", create_time: 1 });
      const p = pipeline(pid, "build", 10);
      await store.createPipeline(p);
      const got = await store.getPipeline(p.id);
      expect(got).toMatchObject({ ...p, banned: false, run_counter: 0 });
      await expect(store.createPipeline({ ...pipeline(pid, "build", 11) })).rejects.toThrow();
      expect((await store.findPipelineByName(pid, "build"))?.id).toBe(p.id);
      expect(
        await store.updatePipeline(p.id, {
          name: "build2",
          description: "d",
          is_publish: true,
          manifest_version: "3.0",
          definition: '{"x":1}',
          spec: p.spec,
          updater_id: "v",
          update_time: 20,
        }),
      ).toBe(true);
      expect(await store.getPipeline(p.id)).toMatchObject({
        name: "build2",
        is_publish: true,
        definition: '{"x":1}',
        update_time: 20,
      });
      expect(await store.setPipelineBanned(p.id, true, 30)).toBe(true);
      expect((await store.getPipeline(p.id))?.banned).toBe(true);
      expect((await store.getPipelines([p.id, id()])).length).toBe(1);
      expect(await store.deletePipeline(p.id)).toBe(true);
      expect(await store.getPipeline(p.id)).toBeUndefined();
      expect(await store.deletePipeline(p.id)).toBe(false);
    });

    it("pipelines: list filters by name (literal, case-insensitive), banned; sorts and pages", async () => {
      const pid = id();
      await store.createProject({ id: pid, name: "p", create_time: 1 });
      const names = ["alpha", "Beta", "gamma_1", "gamma%2", "delta"];
      for (const [i, n] of names.entries()) await store.createPipeline(pipeline(pid, n, 100 + i));
      const other = id();
      await store.createProject({ id: other, name: "other", create_time: 1 });
      await store.createPipeline(pipeline(other, "alpha", 1));
      const q = {
        project_id: pid,
        offset: 0,
        limit: 10,
        sort_key: "name" as const,
        sort_dir: "asc" as const,
      };
      const all = await store.listPipelines(q);
      expect(all.total).toBe(5);
      expect(all.items.map((p) => p.name)).toEqual(["Beta", "alpha", "delta", "gamma%2", "gamma_1"].sort());
      expect((await store.listPipelines({ ...q, name: "BET" })).items.map((p) => p.name)).toEqual(["Beta"]);
      expect((await store.listPipelines({ ...q, name: "a%" })).items.map((p) => p.name)).toEqual(["gamma%2"]);
      expect((await store.listPipelines({ ...q, name: "a_" })).items.map((p) => p.name)).toEqual(["gamma_1"]);
      const page = await store.listPipelines({
        ...q,
        sort_key: "create_time",
        sort_dir: "desc",
        offset: 1,
        limit: 2,
      });
      expect(page.total).toBe(5);
      expect(page.items.map((p) => p.name)).toEqual(["gamma%2", "gamma_1"]);
      const alpha = (await store.findPipelineByName(pid, "alpha"))!;
      await store.setPipelineBanned(alpha.id, true, 1);
      expect((await store.listPipelines({ ...q, banned: true })).items.map((p) => p.name)).toEqual(["alpha"]);
      expect((await store.listPipelines({ ...q, banned: false })).total).toBe(4);
    });

    it("runs: applyManyRunChanges writes each run's own columns, bumps each version, skips runs that are gone", async () => {
      const pid = id();
      await store.createProject({ id: pid, name: "p", create_time: 1 });
      const p = {
        ...pipeline(pid, "build", 10),
        definition: JSON.stringify({
          stages: [
            {
              name: "s",
              identifier: "s",
              jobs: ["a", "b"].map((j) => ({
                name: j,
                identifier: j,
                steps: [0, 1].map((k) => ({
                  name: `x${k}`,
                  task: "official_shell_plugin",
                  inputs: [{ key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: "true" }],
                })),
              })),
            },
          ],
        }),
      };
      await store.createPipeline(p);
      const record = (await store.getPipeline(p.id))!;
      const graph = (runId: string, runNumber: number) =>
        buildRunGraph({
          pipeline: record,
          definition: parseDefinition(record.definition),
          runId,
          runNumber,
          options: {},
          variables: [],
          executor: { id: "u", name: "u" },
          now: 100,
          queueSeq: 1,
          start: { kind: "admitted" },
          newId: id,
        });
      const [one, two] = [graph(id(), 1), graph(id(), 2)];
      await store.insertRunGraphs([one, two]);
      const versions = await store.applyManyRunChanges([
        {
          runId: one.run.id,
          changes: {
            run: { id: one.run.id, status: "RUNNING", stop_requested: true },
            stages: [{ id: one.stages[0]!.id, status: "RUNNING", start_time: 5 }],
            jobs: [
              { id: one.jobs[0]!.id, status: "RUNNING", labels: ["gpu"], lease_expires: 9 },
              { id: one.jobs[1]!.id, status: "QUEUED" },
            ],
            steps: [{ id: one.steps[0]!.id, status: "RUNNING", start_time: 6 }],
          },
        },
        {
          runId: two.run.id,
          changes: {
            run: { id: two.run.id, status: "FAILED", end_time: 7, message: "m" },
            jobs: [{ id: two.jobs[1]!.id, status: "FAILED", message: "x", end_time: 7 }],
          },
        },
        { runId: id(), changes: { run: { status: "FAILED" } as never } },
      ]);
      expect([...versions.entries()].sort()).toEqual(
        [
          [one.run.id, 1],
          [two.run.id, 1],
        ].sort(),
      );
      const g1 = (await store.getRunGraph(one.run.id))!;
      expect(g1.run).toMatchObject({ status: "RUNNING", stop_requested: true, version: 1 });
      expect(g1.stages[0]).toMatchObject({ status: "RUNNING", start_time: 5 });
      const jobs1 = new Map(g1.jobs.map((j) => [j.id, j]));
      expect(jobs1.get(one.jobs[0]!.id)).toMatchObject({
        status: "RUNNING",
        labels: ["gpu"],
        lease_expires: 9,
      });
      expect(jobs1.get(one.jobs[1]!.id)).toMatchObject({ status: "QUEUED" });
      expect(g1.steps.find((x) => x.id === one.steps[0]!.id)).toMatchObject({
        status: "RUNNING",
        start_time: 6,
      });
      const g2 = (await store.getRunGraph(two.run.id))!;
      expect(g2.run).toMatchObject({ status: "FAILED", end_time: 7, message: "m", version: 1 });
      // What no change named stays as it was.
      expect(g2.jobs.find((j) => j.id === two.jobs[0]!.id)).toEqual(two.jobs[0]);
      expect(g2.jobs.find((j) => j.id === two.jobs[1]!.id)).toMatchObject({
        status: "FAILED",
        message: "x",
        end_time: 7,
      });
      // A second round bumps again, also when the run's own row changes nothing.
      const again = await store.applyManyRunChanges([
        { runId: one.run.id, changes: { steps: [{ id: one.steps[1]!.id, status: "RUNNING" }] } },
        { runId: two.run.id, changes: {} },
      ]);
      expect(again.get(one.run.id)).toBe(2);
      expect(again.get(two.run.id)).toBe(2);
      expect((await store.lockRuns([two.run.id, one.run.id, id()])).size).toBe(2);
    });

    describe("templates", () => {
      const template = (projectId: string, name: string, t: number): TemplateRecord => ({
        id: id(),
        project_id: projectId,
        name,
        description: "d",
        language: "go",
        definition: "{}",
        variables: [
          {
            name: "token",
            sequence: 1,
            type: "string",
            value: "s3cret",
            is_secret: true,
            description: "",
            is_runtime: false,
            limits: [],
            is_reset: false,
            latest_value: "",
          },
        ],
        is_show_source: true,
        creator_id: "u",
        creator_name: "U",
        updater_id: "u",
        create_time: t,
        update_time: t,
      });
      const P = "c".repeat(32);
      const Q = "d".repeat(32);
      beforeEach(async () => {
        await store.createProject({ id: P, name: "p", create_time: 1 });
        await store.createProject({ id: Q, name: "q", create_time: 1 });
      });

      it("create, get, list by project with name and language filters, names unique per project", async () => {
        const a = template(P, "Go Service", 1);
        const b = template(P, "50%_off", 2);
        await store.createTemplate(a);
        await store.createTemplate(b);
        await store.createTemplate(template(Q, "Go Service", 3));
        await expect(store.createTemplate(template(P, "Go Service", 4))).rejects.toBeInstanceOf(DuplicateKey);
        expect(await store.getTemplate(a.id)).toEqual(a);
        expect(await store.getTemplate(id())).toBeUndefined();
        expect((await store.listTemplates(P, {})).map((t) => t.name)).toEqual(["50%_off", "Go Service"]);
        expect((await store.listTemplates(P, { name: "service" })).map((t) => t.id)).toEqual([a.id]);
        expect((await store.listTemplates(P, { name: "%" })).map((t) => t.id)).toEqual([b.id]);
        expect((await store.listTemplates(P, { name: "0_" })).map((t) => t.id)).toEqual([]);
        expect(await store.listTemplates(P, { language: "java" })).toEqual([]);
      });

      it("seals secret variable values at rest", async () => {
        const a = template(P, "sealed", 1);
        await store.createTemplate(a);
        const rows = await (store as unknown as { db: Kysely<{ templates: { variables: string } }> }).db
          .selectFrom("templates")
          .select("variables")
          .execute();
        expect(rows[0]!.variables).not.toContain("s3cret");
        expect((await store.getTemplate(a.id))!.variables[0]!.value).toBe("s3cret");
      });

      it("update and delete only in the owning project; favourites per principal go with the template", async () => {
        const a = template(P, "one", 1);
        const b = template(P, "two", 1);
        await store.createTemplate(a);
        await store.createTemplate(b);
        const change = {
          name: "uno",
          description: "",
          language: "none",
          definition: "{}",
          variables: [],
          is_show_source: false,
          updater_id: "v",
          update_time: 9,
        };
        expect(await store.updateTemplate(Q, a.id, change)).toBe(false);
        expect(await store.updateTemplate(P, a.id, change)).toBe(true);
        expect(await store.getTemplate(a.id)).toMatchObject({ ...change, creator_id: "u", create_time: 1 });
        await expect(store.updateTemplate(P, b.id, { ...change, name: "uno" })).rejects.toBeInstanceOf(
          DuplicateKey,
        );

        await store.setTemplateFavorite(a.id, "me", true);
        await store.setTemplateFavorite(a.id, "me", true);
        await store.setTemplateFavorite(b.id, "me", true);
        await store.setTemplateFavorite(b.id, "me", false);
        await store.setTemplateFavorite(a.id, "you", true);
        expect(await store.favoriteTemplates("me", [a.id, b.id])).toEqual(new Set([a.id]));
        expect(await store.deleteTemplate(Q, a.id)).toBe(false);
        expect(await store.deleteTemplate(P, a.id)).toBe(true);
        expect(await store.getTemplate(a.id)).toBeUndefined();
        expect(await store.favoriteTemplates("you", [a.id])).toEqual(new Set());
      });
    });

    describe("pipeline groups", () => {
      const group = (projectId: string, name: string, parent?: { id: string; path_id: string }) => {
        const gid = id();
        return store.createGroup({
          id: gid,
          project_id: projectId,
          parent_id: parent?.id ?? "",
          path_id: parent ? `${parent.path_id}.${gid}` : gid,
          name,
          creator: "u",
          updater: null,
          create_time: 1,
          update_time: null,
        });
      };

      it("ordinals follow creation among siblings; names are unique among siblings only", async () => {
        const pid = id();
        await store.createProject({ id: pid, name: "p", create_time: 1 });
        const a = await group(pid, "a");
        const b = await group(pid, "b");
        const a1 = await group(pid, "x", a);
        expect([a.ordinal, b.ordinal, a1.ordinal]).toEqual([1, 2, 1]);
        await group(pid, "x", b);
        await expect(group(pid, "x", a)).rejects.toBeInstanceOf(DuplicateKey);
        await expect(group(pid, "a")).rejects.toBeInstanceOf(DuplicateKey);
        expect(await store.getGroup(pid, a1.id)).toEqual(a1);
        expect(await store.getGroup(id(), a1.id)).toBeUndefined();
        await expect(store.renameGroup(pid, b.id, "a", "v", 5)).rejects.toBeInstanceOf(DuplicateKey);
        expect(await store.renameGroup(pid, b.id, "c", "v", 5)).toBe(true);
        expect(await store.getGroup(pid, b.id)).toMatchObject({ name: "c", updater: "v", update_time: 5 });
        await store.swapGroups(a, { ...b, name: "c" }, "w", 6);
        expect((await store.listGroups(pid)).filter((g) => g.parent_id === "").map((g) => g.name)).toEqual([
          "c",
          "a",
        ]);
      });

      it("pipelines move between groups; a deleted group takes the groups below it and ungroups pipelines", async () => {
        const pid = id();
        await store.createProject({ id: pid, name: "p", create_time: 1 });
        const top = await group(pid, "top");
        const sub = await group(pid, "sub", top);
        const other = await group(pid, "other");
        const [p1, p2, p3] = [pipeline(pid, "p1", 1), pipeline(pid, "p2", 2), pipeline(pid, "p3", 3)];
        for (const p of [p1, p2, p3]) await store.createPipeline(p);
        await store.movePipelinesToGroup([p1.id], top.id);
        await store.movePipelinesToGroup([p2.id], sub.id);
        await store.movePipelinesToGroup([p3.id], other.id);
        expect((await store.getPipeline(p2.id))?.spec.group_id).toBe(sub.id);
        expect(await store.pipelineIdsInGroup(pid, top.path_id, 10)).toEqual([p1.id, p2.id]);
        expect(await store.pipelineIdsInGroup(pid, top.path_id, 1)).toEqual([p1.id]);
        const counts = await store.countPipelinesByGroup(pid);
        expect([counts.get(top.id), counts.get(sub.id), counts.get(null) ?? 0]).toEqual([1, 1, 0]);
        const listed = async (path_id: string | null, subgroups: boolean) =>
          (
            await store.listPipelines({
              project_id: pid,
              group: { path_id, subgroups },
              offset: 0,
              limit: 10,
              sort_key: "name",
              sort_dir: "asc",
            })
          ).items.map((p) => p.name);
        expect(await listed(top.path_id, true)).toEqual(["p1", "p2"]);
        expect(await listed(top.path_id, false)).toEqual(["p1"]);
        expect(await listed(null, false)).toEqual([]);
        expect(await store.deleteGroup(pid, top.id)).toBe(2);
        expect(await store.deleteGroup(pid, top.id)).toBe(0);
        expect((await store.listGroups(pid)).map((g) => g.name)).toEqual(["other"]);
        expect((await store.getPipeline(p1.id))?.spec.group_id).toBeNull();
        expect((await store.getPipeline(p2.id))?.spec.group_id).toBeNull();
        expect((await store.getPipeline(p3.id))?.spec.group_id).toBe(other.id);
        expect(await listed(null, false)).toEqual(["p1", "p2"]);
      });
    });

    it("variable groups: unique names per project, filtered pages, ordered relations that go with a deleted group or pipeline", async () => {
      const pj = id();
      await store.createProject({ id: pj, name: `vg${pj}`, create_time: 1 });
      const group = (name: string, t: number) => ({
        id: id(),
        project_id: pj,
        name,
        description: "",
        variables: [
          {
            name: "A",
            sequence: 1,
            type: "string" as const,
            value: "plain",
            is_secret: false,
            description: "",
          },
          {
            name: "S",
            sequence: 2,
            type: "string" as const,
            value: "hush",
            is_secret: true,
            description: "",
          },
        ],
        creator_id: "u",
        creator_name: "u",
        updater_id: "u",
        updater_name: "u",
        create_time: t,
        update_time: t,
      });
      const a = group("Alpha", 1);
      const b = group("beta", 2);
      await store.createVariableGroup(a);
      await store.createVariableGroup(b);
      await expect(store.createVariableGroup({ ...group("beta", 3) })).rejects.toThrow(DuplicateKey);
      expect(await store.getVariableGroup(pj, a.id)).toEqual(a);
      expect(await store.getVariableGroup(id(), a.id)).toBeUndefined();
      const page = await store.listVariableGroups(pj, { name: "ALP", offset: 0, limit: 10 });
      expect(page).toEqual({ total: 1, items: [a] });
      expect((await store.listVariableGroups(pj, { offset: 1, limit: 1 })).items.map((g) => g.name)).toEqual([
        "beta",
      ]);
      await expect(store.updateVariableGroup({ ...a, name: "beta" })).rejects.toThrow(DuplicateKey);
      expect(await store.updateVariableGroup({ ...a, description: "d", update_time: 5 })).toBe(true);
      expect((await store.getVariableGroup(pj, a.id))?.description).toBe("d");

      const p1 = pipeline(pj, "one", 1);
      const p2 = pipeline(pj, "two", 1);
      await store.createPipeline(p1);
      await store.createPipeline(p2);
      await store.setPipelineVariableGroups(p1.id, [b.id, a.id]);
      await store.setPipelineVariableGroups(p2.id, [a.id]);
      const of = await store.variableGroupsOfPipelines([p1.id, p2.id]);
      expect(of.get(p1.id)?.map((g) => g.name)).toEqual(["beta", "Alpha"]);
      expect(of.get(p2.id)?.map((g) => g.name)).toEqual(["Alpha"]);
      expect((await store.pipelinesOfVariableGroups([a.id])).get(a.id)).toEqual([
        { id: p1.id, name: "one" },
        { id: p2.id, name: "two" },
      ]);
      // Setting again replaces; deleting a group takes its relations along.
      await store.setPipelineVariableGroups(p1.id, [a.id]);
      expect((await store.pipelinesOfVariableGroups([b.id])).get(b.id)).toBeUndefined();
      expect(await store.deleteVariableGroup(pj, a.id)).toBe(true);
      expect(await store.deleteVariableGroup(pj, a.id)).toBe(false);
      expect((await store.variableGroupsOfPipelines([p1.id])).get(p1.id)).toBeUndefined();
    });

    describe("notices", () => {
      const target = (
        pj: string,
        pl: string,
        extra: Partial<NoticeTargetRecord> = {},
      ): NoticeTargetRecord => ({
        id: id(),
        project_id: pj,
        pipeline_id: pl,
        kind: "webhook",
        enabled: true,
        url: "https://hooks.example.com/T0/B0/token",
        secret: "s3cr3t",
        events: ["pipelineRun.failed"],
        contents: [],
        users: [],
        sort_index: 0,
        create_time: 1,
        update_time: 1,
        ...extra,
      });
      const delivery = (t: NoticeTargetRecord, n: number): NoticeDeliveryRecord => ({
        id: id(),
        project_id: t.project_id,
        pipeline_id: t.pipeline_id,
        target_id: t.id,
        run_id: id(),
        event: "pipelineRun.failed",
        message: "{}",
        status: "PENDING",
        attempts: 0,
        next_attempt: 100 + n,
        last_error: null,
        history: [],
        create_time: n,
        update_time: n,
      });

      it("targets: put (insert, then replace), list in order, secrets sealed at rest, delete", async () => {
        const pj = id();
        await store.createProject({ id: pj, name: "n", create_time: 1 });
        const p = pipeline(pj, "one", 1);
        await store.createPipeline(p);
        const a = target(pj, p.id, { sort_index: 1 });
        const b = target(pj, p.id, {
          sort_index: 0,
          kind: "email",
          url: "",
          secret: "",
          users: ["a@example.com"],
        });
        await store.putNoticeTarget(a);
        await store.putNoticeTarget(b);
        expect(await store.listNoticeTargets(p.id)).toEqual([b, a]);
        await store.putNoticeTarget({ ...a, enabled: false, events: ["pipelineRun.start"], update_time: 2 });
        expect((await store.listNoticeTargets(p.id))[1]).toMatchObject({ enabled: false, update_time: 2 });
        const raw = await sql<{
          url: string;
          secret: string;
        }>`SELECT url, secret FROM notice_targets`.execute((store as unknown as { db: Kysely<unknown> }).db);
        const text = JSON.stringify(raw.rows);
        expect(text).not.toContain("s3cr3t");
        expect(text).not.toContain("token");
        expect(await store.deleteNoticeTarget(p.id, a.id)).toBe(true);
        expect(await store.deleteNoticeTarget(p.id, a.id)).toBe(false);
        expect((await store.listNoticeTargets(p.id)).map((t) => t.id)).toEqual([b.id]);
      });

      it("deliveries: due ones are claimed once, the claim fences the result, the list pages newest first", async () => {
        const pj = id();
        await store.createProject({ id: pj, name: "n", create_time: 1 });
        const p = pipeline(pj, "one", 1);
        await store.createPipeline(p);
        const t = target(pj, p.id);
        await store.putNoticeTarget(t);
        const d1 = delivery(t, 1);
        const d2 = delivery(t, 2);
        await store.enqueueNoticeDeliveries([d1, d2]);
        expect(await store.dueNoticeDeliveries(100, 10)).toEqual([]);
        expect(await store.dueNoticeDeliveries(101, 10)).toEqual([d1.id]);
        expect(await store.dueNoticeDeliveries(200, 10)).toEqual([d1.id, d2.id]);
        // Two senders race for d1: one wins.
        const [x, y] = await Promise.all([
          store.claimNoticeDelivery(d1.id, 200, 300, "claim-x"),
          store.claimNoticeDelivery(d1.id, 200, 300, "claim-y"),
        ]);
        expect([x, y].filter((c) => c !== undefined)).toHaveLength(1);
        const winner = x ? "claim-x" : "claim-y";
        expect(await store.dueNoticeDeliveries(200, 10)).toEqual([d2.id]);
        const patch = {
          status: "PENDING" as const,
          attempts: 1,
          next_attempt: 250,
          last_error: "HTTP 500",
          history: [{ time: 200, outcome: "failed" as const, status_code: 500, error: "HTTP 500" }],
          update_time: 200,
        };
        expect(await store.finishNoticeAttempt(d1.id, "someone-else", patch)).toBe(false);
        expect(await store.finishNoticeAttempt(d1.id, winner, patch)).toBe(true);
        // Released, due again at 250; a lease that ran out frees a row too.
        expect(await store.dueNoticeDeliveries(249, 10)).toEqual([d2.id]);
        expect(await store.claimNoticeDelivery(d2.id, 249, 260, "c2")).toBeDefined();
        expect(await store.dueNoticeDeliveries(261, 10)).toEqual([d2.id, d1.id]);
        const page = await store.listNoticeDeliveries(p.id, { limit: 1, offset: 0 });
        expect(page.total).toBe(2);
        expect(page.items.map((d) => d.id)).toEqual([d2.id]);
        const all = await store.listNoticeDeliveries(p.id, { limit: 10, offset: 0 });
        expect(all.items[1]).toMatchObject({
          id: d1.id,
          attempts: 1,
          last_error: "HTTP 500",
          history: patch.history,
        });
        // A removed target takes its deliveries along.
        await store.deleteNoticeTarget(p.id, t.id);
        expect((await store.listNoticeDeliveries(p.id, { limit: 10, offset: 0 })).total).toBe(0);
      });
    });
  });
}

/** A database migrated only up to `migration`, and a way to open it as a Store (migrating the rest). */
export interface LegacyDatabase {
  readonly db: Kysely<unknown>;
  open(): Promise<Store>;
}

/** Migrations carry the data of earlier schemas forward; run against every backend. */
export function describeMigrationContract(
  name: string,
  openAt: (migration: string) => Promise<LegacyDatabase>,
): void {
  describe(`migrations: ${name}`, () => {
    it("003 keeps the runs of batches stored before it, in request order", async () => {
      const legacy = await openAt("002_runs");
      const answer = {
        result: [
          { pipeline_id: "a".repeat(32), pipeline_run_id: "r2" },
          { pipeline_id: "b".repeat(32), pipeline_run_id: "r1" },
          { pipeline_id: "c".repeat(32), pipeline_run_id: "r3" },
        ],
      };
      await sql`INSERT INTO batches (project_id, idempotency_key, body_hash, response, create_time)
        VALUES ('p', 'k', 'h', ${JSON.stringify(answer)}, 1)`.execute(legacy.db);
      await legacy.db.destroy();
      const store = await legacy.open();
      try {
        expect(await store.findBatch("p", "k")).toEqual({
          project_id: "p",
          idempotency_key: "k",
          body_hash: "h",
          run_ids: ["r2", "r1", "r3"],
          create_time: 1,
        });
      } finally {
        await store.close();
      }
    });
  });
}
