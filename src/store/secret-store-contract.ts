// The secrets-at-rest contract, run against every backend: no secret value is stored in clear,
// every value opens with a keyring that holds its key, the reseal pass moves values to the active
// key (plaintext of older versions included), and a keyring without the key opens nothing.

import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newTestSealer, sealerOf } from "../../test/helpers/sealer.js";
import type { RunGraph } from "./run-records.js";
import { KeyringError, newSecretKey, type Sealer } from "./sealer.js";
import type { SqlStore } from "./sql/sql-store.js";
import type { AccessKeyRecord, NewPipeline, VariableGroupRecord } from "./store.js";
import { id, pipeline } from "./store-contract.js";

/** One empty database, opened as many times as a test likes (each with its own keyring). */
export interface SecretDatabase {
  open(sealer: Sealer): Promise<SqlStore>;
}

const SECRET_VALUE = "hunter2-value";
const SECRET_LIMITS = ["blue-limit", "green-limit"];
const SECRET_LATEST = "build-0041";
const RUN_SECRET = "run-secret-override";

function secretPipeline(projectId: string): NewPipeline {
  const base = pipeline(projectId, "secrets", 1);
  const v = {
    sequence: 1,
    description: "",
    is_runtime: true,
    is_reset: false,
  };
  return {
    ...base,
    spec: {
      ...base.spec,
      variables: [
        {
          ...v,
          name: "TOKEN",
          type: "string",
          value: SECRET_VALUE,
          is_secret: true,
          limits: [],
          latest_value: "",
        },
        {
          ...v,
          name: "COLOR",
          type: "enum",
          value: SECRET_LIMITS[1]!,
          is_secret: true,
          limits: SECRET_LIMITS,
          latest_value: "",
        },
        {
          ...v,
          name: "BUILD",
          type: "autoIncrement",
          value: "build-1",
          is_secret: true,
          limits: [],
          latest_value: SECRET_LATEST,
        },
        {
          ...v,
          name: "PLAIN",
          type: "string",
          value: "visible",
          is_secret: false,
          limits: [],
          latest_value: "",
        },
      ],
    },
  };
}

function secretRun(p: NewPipeline): RunGraph {
  const runId = id();
  return {
    run: {
      id: runId,
      pipeline_id: p.id,
      project_id: p.project_id,
      pipeline_name: p.name,
      run_number: 1,
      status: "COMPLETED",
      trigger_type: "Manual",
      description: "",
      executor_id: "u",
      executor_name: "u",
      start_time: 1,
      end_time: 2,
      pause_time: 0,
      paused_since: null,
      admitted: true,
      queue_seq: 1,
      stop_requested: false,
      start_status: "START_SUCCESS",
      start_reason: null,
      parent_run_id: null,
      parent_pipeline_id: null,
      parent_job_id: null,
      parent_step_id: null,
      message: null,
      context: {
        definition: { stages: [] },
        variables: [
          { name: "TOKEN", value: RUN_SECRET, is_secret: true },
          { name: "PLAIN", value: "visible", is_secret: false },
        ],
        sources: [],
      },
      create_time: 1,
      update_time: 2,
      version: 0,
    },
    stages: [],
    jobs: [],
    steps: [],
  };
}

const accessKey: AccessKeyRecord = {
  id: "AKSECRETCONTRACT0001",
  sk: "sk-in-clear-never-stored",
  name: "sdk",
  role: "viewer",
  project_ids: [],
  create_time: 1,
  revoked_time: null,
};

const GROUP_SECRET = "group-secret-in-clear-never-stored";
const secretGroup = (projectId: string): VariableGroupRecord => ({
  id: "9".repeat(32),
  project_id: projectId,
  name: "shared",
  description: "",
  variables: [
    { name: "G_TOKEN", sequence: 1, type: "string", value: GROUP_SECRET, is_secret: true, description: "" },
    { name: "G_PLAIN", sequence: 2, type: "string", value: "visible", is_secret: false, description: "" },
  ],
  creator_id: "u",
  creator_name: "u",
  updater_id: "u",
  updater_name: "u",
  create_time: 1,
  update_time: 1,
});

const CLEAR = [SECRET_VALUE, ...SECRET_LIMITS, SECRET_LATEST, RUN_SECRET, accessKey.sk, GROUP_SECRET];

/** Every text column of the rows that hold secrets, as stored. */
async function rawTexts(store: SqlStore): Promise<string[]> {
  const specs = await store.db.selectFrom("pipelines").select("spec").execute();
  const contexts = await store.db.selectFrom("pipeline_runs").select("context").execute();
  const keys = await store.db.selectFrom("access_keys").select("sk").execute();
  const groups = await store.db.selectFrom("variable_groups").select("variables").execute();
  return [
    ...specs.map((r) => r.spec),
    ...contexts.map((r) => r.context),
    ...keys.map((r) => r.sk),
    ...groups.map((r) => r.variables),
  ];
}

export function describeSecretContract(name: string, fresh: () => Promise<SecretDatabase>): void {
  describe(`secrets at rest: ${name}`, () => {
    let database: SecretDatabase;
    let stores: SqlStore[];
    let p: NewPipeline;
    let run: RunGraph;
    let group: VariableGroupRecord;
    const open = async (sealer: Sealer): Promise<SqlStore> => {
      const s = await database.open(sealer);
      stores.push(s);
      return s;
    };
    const seed = async (store: SqlStore): Promise<void> => {
      const projectId = id();
      await store.createProject({ id: projectId, name: projectId, create_time: 1 });
      p = secretPipeline(projectId);
      run = secretRun(p);
      await store.createPipeline(p);
      await store.insertRunGraphs([run]);
      await store.createAccessKey(accessKey);
      group = secretGroup(projectId);
      await store.createVariableGroup(group);
    };
    const expectReadable = async (store: SqlStore): Promise<void> => {
      expect((await store.getPipeline(p.id))?.spec.variables).toEqual(p.spec.variables);
      expect((await store.getRun(run.run.id))?.context.variables).toEqual(run.run.context.variables);
      expect((await store.findAccessKey(accessKey.id))?.sk).toBe(accessKey.sk);
      expect((await store.getVariableGroup(group.project_id, group.id))?.variables).toEqual(group.variables);
    };

    beforeEach(async () => {
      database = await fresh();
      stores = [];
    });
    afterEach(async () => {
      for (const s of stores) await s.close();
    });

    it("stores no secret value in clear, and reads every one back", async () => {
      const sealer = newTestSealer();
      const store = await open(sealer);
      await seed(store);
      const raw = (await rawTexts(store)).join("\n");
      for (const secret of CLEAR) expect(raw).not.toContain(secret);
      expect(raw).toContain("visible"); // what is not secret stays readable (and queryable)
      await expectReadable(store);
      // Updating the spec seals again; the enum's limits and autoIncrement's latest_value too.
      await store.updatePipelineSpec(p.id, p.spec);
      const again = (await rawTexts(store)).join("\n");
      for (const secret of CLEAR) expect(again).not.toContain(secret);
      expect((await store.listAccessKeys())[0]?.sk).toBe(accessKey.sk);
      expect((await store.resealSecrets()).pipelines).toBe(0); // all current already
    });

    it("rotation: values sealed with an older key open, and the reseal pass moves them to the active key", async () => {
      const oldKey = newSecretKey();
      const newKey = newSecretKey();
      await seed(await open(sealerOf(oldKey)));

      const rotated = sealerOf(newKey, oldKey); // a new active key, the old one still listed
      const store = await open(rotated);
      await expectReadable(store);
      expect(await store.resealSecrets()).toEqual({
        pipelines: 1,
        runs: 1,
        access_keys: 1,
        variable_groups: 1,
        notice_targets: 0,
      });
      expect(await store.resealSecrets()).toEqual({
        pipelines: 0,
        runs: 0,
        access_keys: 0,
        variable_groups: 0,
        notice_targets: 0,
      });
      for (const text of await rawTexts(store)) {
        for (const sealed of text.match(/pwsec1\.[0-9a-f]+\./g) ?? []) {
          expect(sealed).toBe(`pwsec1.${rotated.activeKid}.`);
        }
      }
      // The old key can go now.
      const onlyNew = await open(sealerOf(newKey));
      await expectReadable(onlyNew);
    });

    it("values written in clear by an older version are sealed by the reseal pass", async () => {
      const sealer = newTestSealer();
      const store = await open(sealer);
      await seed(store);
      // As a version before sealing stored them:
      await store.db
        .updateTable("pipelines")
        .set({ spec: JSON.stringify(p.spec) })
        .execute();
      const { definition: _d, ...context } = run.run.context;
      await store.db
        .updateTable("pipeline_runs")
        .set({ context: JSON.stringify(context) })
        .execute();
      await store.db.updateTable("access_keys").set({ sk: accessKey.sk }).execute();
      await store.db
        .updateTable("variable_groups")
        .set({ variables: JSON.stringify(group.variables) })
        .execute();
      await expectReadable(store);
      expect(await store.resealSecrets()).toEqual({
        pipelines: 1,
        runs: 1,
        access_keys: 1,
        variable_groups: 1,
        notice_targets: 0,
      });
      const raw = (await rawTexts(store)).join("\n");
      for (const secret of CLEAR) expect(raw).not.toContain(secret);
      await expectReadable(store);
    });

    it("a keyring without the key opens nothing, and says which key is missing", async () => {
      const sealer = newTestSealer();
      await seed(await open(sealer));
      const stranger = await open(newTestSealer());
      await expect(stranger.getPipeline(p.id)).rejects.toThrow(KeyringError);
      await expect(stranger.findAccessKey(accessKey.id)).rejects.toThrow(
        new RegExp(`sealed with key ${sealer.activeKid}`),
      );
      // Nothing was changed by the failed reads; the right keyring still reads everything.
      await expectReadable(await open(sealer));
      const count = await sql<{ n: number }>`SELECT count(*) AS n FROM pipelines`.execute(stranger.db);
      expect(Number(count.rows[0]?.n)).toBe(1);
    });
  });
}
