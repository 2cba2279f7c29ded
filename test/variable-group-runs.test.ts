// Runs resolve their pipeline's parameter groups, against a real server process and its runner,
// with AK/SK-signed requests as the SDK sends them: a group's plain and secret variables reach the
// step's environment, the secret masked in the step's log and in run-variables; a pipeline
// variable wins over a group's of the same name; a run keeps the values it was created with when
// the group changes later; every variable list-system-vars names is in the step's environment.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signRequest } from "./helpers/sdk-signer.js";
import {
  type Client,
  createPipelineVia,
  definition,
  type ServerProcess,
  setupProject,
  startServerProcess,
  stepLog,
  waitForRun,
} from "./helpers/server.js";

let server: ServerProcess;
let api: Client;
let pid: string;
let ak: string;
let sk: string;
beforeAll(async () => {
  server = await startServerProcess();
  let admin: Client;
  ({ projectId: pid, api, admin } = await setupProject(server.url));
  const key = await admin.post("/admin/v1/access-keys", { name: "sdk", role: "admin", project_ids: [pid] });
  ({ ak, sk } = key.body);
});
afterAll(async () => {
  await server?.stop();
});

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON shapes
type Json = any;

/** A request signed as the SDK signs it; the answer must be a 200. */
async function signed(
  method: string,
  path: string,
  body?: unknown,
  query?: Record<string, string>,
): Promise<Json> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const url = new URL(server.url);
  const headers = signRequest({
    ak,
    sk,
    method,
    host: url.host,
    path,
    ...(query ? { query } : {}),
    ...(text === undefined ? {} : { body: text }),
    projectId: pid,
  });
  const qs = query ? `?${new URLSearchParams(query).toString()}` : "";
  const res = await fetch(server.url + path + qs, {
    method,
    headers,
    ...(text === undefined ? {} : { body: text }),
  });
  const answer = await res.json();
  expect(res.status, JSON.stringify(answer)).toBe(200);
  return answer;
}

const SECRET = "grp-Secret-7Hq2x";
const SCRIPT = [
  'echo "region=$REGION"',
  'echo "token=$DEPLOY_TOKEN"',
  'echo "shadow=$SHADOW"',
  // The names of the step's environment, on one line, for the system-variable check.
  'echo "names=$(env | cut -d= -f1 | sort | tr "\\n" " ")"',
].join("\n");

async function runAndLog(pl: string): Promise<{ runId: string; log: string }> {
  const { pipeline_run_id: runId } = await signed("POST", `/v5/${pid}/api/pipelines/${pl}/run`, {});
  const detail = await waitForRun(api, pid, pl, runId);
  expect(detail.status).toBe("COMPLETED");
  const job = detail.stages[0].jobs[0];
  return { runId, log: await stepLog(api, pid, pl, runId, job.id, job.steps[0].id) };
}

describe("runs resolve parameter groups", () => {
  it("put a group's plain and secret variables into the step's environment, masked in its log and in run-variables", async () => {
    const groups = `/v5/${pid}/api/pipeline/variable/group`;
    const { pipeline_variable_group_id: gid } = await signed("POST", `${groups}/create`, {
      name: "deploy",
      variables: [
        { name: "REGION", value: "eu-west", is_secret: false },
        { name: "DEPLOY_TOKEN", value: SECRET, is_secret: true },
        { name: "SHADOW", value: "from-group" },
      ],
    });
    const pl = await createPipelineVia(api, pid, {
      variables: [{ name: "SHADOW", type: "string", value: "from-pipeline" }],
      definition: definition([
        { identifier: "build", jobs: [{ identifier: "job", steps: [{ script: SCRIPT }] }] },
      ]),
    });
    await signed("POST", `${groups}/relation`, { pipeline_id: pl, pipeline_group_ids: [gid] });

    const first = await runAndLog(pl);
    expect(first.log).toContain("region=eu-west\n");
    expect(first.log).toContain("token=***\n");
    expect(first.log).toContain("shadow=from-pipeline\n");
    expect(first.log).not.toContain(SECRET);

    // Every system variable the API lists is in the step's environment.
    const names = new Set(/names=(.*)/.exec(first.log)![1]!.trim().split(" "));
    const system: { name: string }[] = await signed("GET", `/v5/${pid}/api/pipelines/${pl}/list-system-vars`);
    expect(system.length).toBeGreaterThan(5);
    for (const v of system) expect(names, v.name).toContain(v.name);

    const runVars = (mode: string) =>
      signed("GET", `/v5/${pid}/api/pipelines/${pl}/pipeline-runs/${first.runId}/run-variables`, undefined, {
        mode,
      });
    const fromGroups = await runVars("2");
    expect(fromGroups.map((v: { name: string }) => v.name)).toEqual(["REGION", "DEPLOY_TOKEN"]);
    for (const v of fromGroups) {
      expect(Object.keys(v).sort()).toEqual(
        [
          "name",
          "sequence",
          "type",
          "value",
          "is_secret",
          "description",
          "is_runtime",
          "is_reset",
          "latest_value",
          "limits",
          "required",
          "variableGroupName",
        ].sort(),
      );
      expect(v.variableGroupName).toBe("deploy");
    }
    expect(fromGroups[1]).toMatchObject({ name: "DEPLOY_TOKEN", value: "******", is_secret: true });
    expect(JSON.stringify(fromGroups)).not.toContain(SECRET);
    const own = await runVars("0");
    expect(own).toEqual([
      expect.objectContaining({ name: "SHADOW", value: "from-pipeline", variableGroupName: null }),
    ]);
    const sys = await runVars("1");
    expect(sys.find((v: { name: string }) => v.name === "PIPELINE_RUN_ID").value).toBe(first.runId);

    // The group changes: the first run keeps what it ran with, the next run gets the new value.
    const shown = await signed("GET", `${groups}/${gid}`);
    await fetchPut(groups, {
      id: gid,
      name: "deploy",
      variables: shown.variables.map((v: { name: string }) =>
        v.name === "REGION" ? { ...v, value: "ap-south" } : v,
      ),
    });
    const again = await runVars("2");
    expect(again.find((v: { name: string }) => v.name === "REGION").value).toBe("eu-west");
    const second = await runAndLog(pl);
    expect(second.log).toContain("region=ap-south\n");
    // The secret came back as the mask and kept its value.
    expect(second.log).toContain("token=***\n");
    expect(second.log).not.toContain(SECRET);
  });
});

async function fetchPut(groups: string, body: unknown): Promise<void> {
  await signed("PUT", `${groups}/update`, body);
}
