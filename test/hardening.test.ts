// The classes of defects an adversarial probe found (issue "hold the core's promises"), each held
// in general: sizes at and past the limits, deeply nested JSON, unbounded numbers and unchecked
// text, and runner credentials that report on jobs that are not theirs. Every rejection asserts
// the status, the DEVPIPE code, the field or limit named, and that nothing changed.

import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { startServer } from "../src/main.js";
import { LIMITS } from "../src/pipeline/limits.js";
import { createSealer, newSecretKey, parseKeyring } from "../src/store/sealer.js";
import {
  ADMIN_TOKEN,
  call,
  createPipeline,
  createProject,
  createTestApp,
  issueToken,
  shellDefinition,
  type TestApp,
  tempDir,
} from "./helpers/app.js";
import { waitFor } from "./helpers/server.js";

let t: TestApp;
let pid: string;
const base = (): string => `/v5/${pid}/api/pipelines`;

beforeAll(async () => {
  t = await createTestApp({ runnerSlots: 4 });
  pid = await createProject(t.app);
});
afterAll(async () => {
  await t?.close();
});

const step = (script = "true") => ({
  name: "s",
  task: "official_shell_plugin",
  inputs: [{ key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: script }],
});
const job = (id: string, extra: Record<string, unknown> = {}) => ({
  name: id,
  identifier: id,
  ...extra,
  steps: [step()],
});
const stage = (id: string, jobs: unknown[], extra: Record<string, unknown> = {}) => ({
  name: id,
  identifier: id,
  ...extra,
  jobs,
});

const countRows = async (table: "pipelines" | "pipeline_runs"): Promise<number> =>
  Number(
    (
      await t.store.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow()
    ).n,
  );

/**
 * A create that must be refused: 400 with the code and the words expected, nothing stored. The
 * body's fields are JSON texts (so a test can send what JSON.stringify could not write).
 */
async function refusedCreate(body: Record<string, unknown>, code: string, ...words: string[]) {
  const before = await countRows("pipelines");
  const fields: Record<string, unknown> = {
    name: `p${Math.random().toString(36).slice(2, 9)}`,
    is_publish: false,
    ...body,
  };
  const text = `{${Object.entries(fields)
    .map(([k, v]) => `${JSON.stringify(k)}:${v instanceof RawJson ? v.text : JSON.stringify(v)}`)
    .join(",")}}`;
  const res = await call(t.app, "POST", base(), { token: ADMIN_TOKEN, rawBody: text });
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body.error_code).toBe(code);
  for (const w of words) expect(res.body.error_msg).toContain(w);
  expect(await countRows("pipelines")).toBe(before);
  return res.body.error_msg as string;
}

async function detail(pl: string, run: string) {
  return (
    await call(t.app, "GET", `${base()}/${pl}/pipeline-runs/detail?pipeline_run_id=${run}`, {
      token: ADMIN_TOKEN,
    })
  ).body;
}

async function start(pl: string, body: Record<string, unknown> = {}): Promise<string> {
  const res = await call(t.app, "POST", `${base()}/${pl}/run`, { token: ADMIN_TOKEN, body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.pipeline_run_id as string;
}

const ended = (pl: string, run: string) =>
  waitFor(async () => {
    const d = await detail(pl, run);
    return ["COMPLETED", "FAILED", "CANCELED"].includes(d.status) ? d : undefined;
  }, 60_000);

describe("sizes", () => {
  it("refuses definitions past each documented limit, naming it", async () => {
    const def = (stages: unknown[]) => JSON.stringify({ stages });
    await refusedCreate(
      {
        definition: def(Array.from({ length: LIMITS.stages + 1 }, (_, s) => stage(`s${s}`, [job(`j${s}`)]))),
      },
      "DEVPIPE.00020110",
      "definition.stages",
      "(limit stages)",
    );
    await refusedCreate(
      {
        definition: def([
          stage(
            "s",
            Array.from({ length: LIMITS.jobs + 1 }, (_, j) => ({
              name: "j",
              identifier: `j${j}`,
              steps: [],
            })),
          ),
        ]),
      },
      "DEVPIPE.00020110",
      "(limit jobs)",
    );
    await refusedCreate(
      {
        definition: def([
          stage("s", [
            {
              name: "j",
              identifier: "j",
              steps: Array.from({ length: LIMITS.stepsPerJob + 1 }, () => step()),
            },
          ]),
        ]),
      },
      "DEVPIPE.00020110",
      "definition.stages[0].jobs[0].steps",
      "(limit stepsPerJob)",
    );
    await refusedCreate(
      {
        definition: def([
          stage("s", [
            job("j", { depends_on: Array.from({ length: LIMITS.dependsOn + 1 }, (_, i) => `x${i}`) }),
          ]),
        ]),
      },
      "DEVPIPE.00020110",
      "definition.stages[0].jobs[0].depends_on",
      "(limit dependsOn)",
    );
    await refusedCreate(
      { definition: `{"stages":[],"pad":"${"x".repeat(LIMITS.definitionBytes)}"}` },
      "DEVPIPE.00020110",
      "(limit definitionBytes)",
    );
  });

  it("runs the last of 3,000 stages chosen alone, looking through the unselected ones", async () => {
    const stages = Array.from({ length: 3000 }, (_, s) => stage(`s${s}`, [job(`j${s}`)]));
    const pl = await createPipeline(t.app, pid, { definition: JSON.stringify({ stages }) });
    const run = await start(pl, { choose_stages: ["s2999"] });
    const d = await ended(pl, run);
    expect(d.status).toBe("COMPLETED");
    expect(d.stages[2999].status).toBe("COMPLETED");
    expect(d.stages[0].status).toBe("UNSELECTED");
  });

  it("ends a run of 3,000 stages whose first fails, and a long chain of jobs whose first fails", async () => {
    const stages = Array.from({ length: 3000 }, (_, s) =>
      stage(`s${s}`, [s === 0 ? { name: "f", identifier: "f", steps: [step("exit 1")] } : job(`j${s}`)]),
    );
    const pl = await createPipeline(t.app, pid, { definition: JSON.stringify({ stages }) });
    const d = await ended(pl, await start(pl));
    expect(d.status).toBe("FAILED");
    expect(d.stages[2999].status).toBe("SKIPPED");

    // Each job waits for the one before and runs only if the first completed: when it fails, the
    // whole chain is decided in the one planning pass that follows.
    const chain = Array.from({ length: 2000 }, (_, j) =>
      j === 0
        ? { name: "c0", identifier: "c0", steps: [step("exit 1")] }
        : job(`c${j}`, { depends_on: [`c${j - 1}`], condition: "${{ jobs.c0.status == 'COMPLETED' }}" }),
    );
    const p2 = await createPipeline(t.app, pid, {
      definition: JSON.stringify({ stages: [stage("s", chain)] }),
    });
    const d2 = await ended(p2, await start(p2));
    expect(d2.status).toBe("FAILED");
    expect(d2.stages[0].jobs[1999].status).toBe("SKIPPED");
  });
});

/** JSON text sent as it is. */
class RawJson {
  constructor(readonly text: string) {}
}

describe("deeply nested JSON", () => {
  const deep = (levels: number): string => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;
  const definition = JSON.stringify({ stages: [stage("s", [job("j")])] });

  it("refuses it anywhere in a body, and in the definition text, naming where", async () => {
    for (const [field, value] of [
      ["schedules", `[${deep(20_000)}]`],
      ["triggers", `[${deep(100)}]`],
      ["sources", `[{"type":"code","params":{"git_url":"https://x/y.git","extra":${deep(40)}}}]`],
    ] as const) {
      const msg = await refusedCreate(
        { definition, [field]: new RawJson(value) },
        "DEVPIPE.00020100",
        field,
        "(limit jsonDepth)",
      );
      expect(msg).toMatch(/nests deeper than 32 levels/);
    }
    // In the definition text, under a key the definition format does not know.
    await refusedCreate(
      { definition: `${definition.slice(0, -1)},"unknown_key":${deep(20_000)}}` },
      "DEVPIPE.00020110",
      "definition.unknown_key",
      "(limit jsonDepth)",
    );
  });

  it("takes nesting up to the limit", async () => {
    const ok = await call(t.app, "POST", base(), {
      token: ADMIN_TOKEN,
      rawBody: `{"name":"nested_ok","is_publish":false,"definition":${JSON.stringify(definition)},"triggers":[${deep(LIMITS.jsonDepth - 3)}]}`,
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
  });
});

describe("numbers and text", () => {
  let pl: string;
  beforeAll(async () => {
    pl = await createPipeline(t.app, pid, {
      variables: [{ name: "V", value: "x", is_runtime: true }],
    });
  });

  it("refuses list offsets past the limit", async () => {
    for (const path of [`${base()}/list`, `${base()}/${pl}/pipeline-runs/list`]) {
      const res = await call(t.app, "POST", path, { token: ADMIN_TOKEN, body: { offset: 1e20 } });
      expect(res.status).toBe(400);
      expect(res.body.error_code).toBe("DEVPIPE.00020100");
      expect(res.body.error_msg).toMatch(/^offset: must be <= 1000000000/);
    }
  });

  it("refuses dates that do not exist instead of rolling them over", async () => {
    for (const v of [
      "2024-13-45 99:99:99",
      "2023-02-29 00:00:00",
      "2024-04-31 12:00:00",
      "2024-01-01 24:00:00",
    ]) {
      const res = await call(t.app, "POST", `${base()}/${pl}/pipeline-runs/list`, {
        token: ADMIN_TOKEN,
        body: { start_time: v },
      });
      expect(res.status, v).toBe(400);
      expect(res.body.error_msg).toBe(`start_time: "${v}" is not a date and time that exists`);
    }
    const leap = await call(t.app, "POST", `${base()}/${pl}/pipeline-runs/list`, {
      token: ADMIN_TOKEN,
      body: { start_time: "2024-02-29 23:59:59" },
    });
    expect(leap.status).toBe(200);
  });

  it("refuses a body that is not UTF-8, and text with NUL or lone surrogates, storing nothing", async () => {
    const before = await countRows("pipeline_runs");
    const prefix = Buffer.from('{"variables":[{"name":"V","value":"a');
    const raw = Buffer.concat([prefix, Buffer.from([0xff, 0xfe]), Buffer.from('"}]}')]);
    const res = await t.app.inject({
      method: "POST",
      url: `${base()}/${pl}/run`,
      headers: { "x-auth-token": ADMIN_TOKEN, "content-type": "application/json" },
      payload: raw,
    });
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({
      error_code: "DEVPIPE.00020101",
      error_msg: `The request body is not valid UTF-8 (at byte ${prefix.length}).`,
    });
    for (const [value, problem] of [
      ["a\u0000b", "contains a NUL character"],
      ["a\ud800b", "contains a lone UTF-16 surrogate"],
    ]) {
      const bad = await call(t.app, "POST", `${base()}/${pl}/run`, {
        token: ADMIN_TOKEN,
        body: { variables: [{ name: "V", value }] },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error_code).toBe("DEVPIPE.00020100");
      expect(bad.body.error_msg).toContain(`variables[0].value: ${problem}`);
    }
    expect(await countRows("pipeline_runs")).toBe(before);
  });

  it("checks step_run_ids and stream offsets instead of echoing them", async () => {
    const run = await start(pl);
    const d = await ended(pl, run);
    const stepId = d.stages[0].jobs[0].steps[0].id as string;
    const outputs = (q: string) =>
      call(t.app, "GET", `${base()}/${pl}/pipeline-runs/${run}/steps/outputs?step_run_ids=${q}`, {
        token: ADMIN_TOKEN,
      });
    expect((await outputs(stepId)).status).toBe(200);
    const bad = await outputs(`${stepId},<script>`);
    expect(bad.status).toBe(400);
    expect(bad.body.error_msg).toBe("step_run_ids[1]: must be 32 letters or digits");
    const foreign = await outputs("f".repeat(32));
    expect(foreign.status).toBe(400);
    expect(foreign.body.error_msg).toBe(`step_run_ids[0]: no step ${"f".repeat(32)} in run ${run}`);

    const jobId = d.stages[0].jobs[0].id as string;
    const stream = await call(
      t.app,
      "GET",
      `${base()}/${pl}/pipeline-runs/${run}/jobs/${jobId}/steps/${stepId}/logs/stream?offset=${"9".repeat(400)}`,
      { token: ADMIN_TOKEN },
    );
    expect(stream.status).toBe(400);
    expect(stream.body.error_code).toBe("DEVPIPE.00020100");
    expect(stream.body.error_msg).toContain("offset");
  });

  it("answers parser-level refusals in the DEVPIPE shape with a real status", async () => {
    const long = await call(t.app, "POST", `/v5/${"a".repeat(150)}/api/pipelines/list`, {
      token: ADMIN_TOKEN,
      body: {},
    });
    expect(long.status).toBe(414);
    expect(long.body.error_code).toBe("DEVPIPE.00020104");
    const badUrl = await t.app.inject({ method: "GET", url: "/v5/%zz/api" });
    expect(badUrl.statusCode).toBe(400);
    expect(JSON.parse(badUrl.body).error_code).toBe("DEVPIPE.00020106");
    const media = await call(t.app, "POST", `${base()}/list`, {
      token: ADMIN_TOKEN,
      rawBody: "x",
      headers: { "content-type": "text/plain" },
    });
    expect(media.status).toBe(415);
    expect(media.body.error_code).toBe("DEVPIPE.00020103");

    // Headers too large are refused by Node's parser before there is a request: a real socket.
    const listening = await createTestApp(); // it listens on a loopback port (its runner's way in)
    try {
      const { port } = listening.app.server.address() as net.AddressInfo;
      const answer = await new Promise<string>((resolve, reject) => {
        const sock = net.connect(port, "127.0.0.1", () => {
          sock.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
        });
        let data = "";
        sock.on("data", (d) => (data += d.toString()));
        sock.on("close", () => resolve(data));
        sock.on("error", reject);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 431 /);
      expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4))).toEqual({
        error_code: "DEVPIPE.00020105",
        error_msg: expect.stringContaining("headers"),
      });
    } finally {
      await listening.close();
    }
  });
});

describe("runner credentials", () => {
  it("takes a report on a job only from the runner it was dispatched to, through its own credential", async () => {
    // The embedded runner holds this job; an agent with a runner token tries to finish it.
    const pl = await createPipeline(t.app, pid, {
      definition: JSON.stringify({
        stages: [stage("s", [{ name: "j", identifier: "j", steps: [step("sleep 30")] }])],
      }),
    });
    const run = await start(pl);
    const running = await waitFor(async () => {
      const d = await detail(pl, run);
      return d.stages[0].jobs[0].steps[0].status === "RUNNING" ? d : undefined;
    });
    const job = running.stages[0].jobs[0];
    const attempt = Number(/-(\d+)$/.exec(job.last_dispatch_id)![1]);

    const mallory = await issueToken(t.app, "runner", []);
    const alice = await issueToken(t.app, "runner", []);
    const register = async (token: string, body: Record<string, unknown> = {}) =>
      call(t.app, "POST", "/runner/v1/register", { token, body: { name: "r", slots: 1, ...body } });
    const malloryRunner = (await register(mallory)).body.runner_id as string;
    const aliceRunner = (await register(alice)).body.runner_id as string;
    const finish = (token: string, runnerId: string) =>
      call(t.app, "POST", `/runner/v1/jobs/${job.id}/finish`, {
        token,
        body: { runner_id: runnerId, attempt, status: "COMPLETED", next_step: 1 },
      });

    // Its own runner: not the one the job was dispatched to, so it holds nothing.
    const own = await finish(mallory, malloryRunner);
    expect(own.status).toBe(200);
    expect(own.body).toEqual({ held: false });
    // Someone else's runner: not its credential's.
    const stolen = await finish(mallory, aliceRunner);
    expect(stolen.status).toBe(403);
    expect(stolen.body.error_code).toBe("DEVPIPE.30011011");
    // Nor may it take that runner's identity by registering again under its id.
    const hijack = await register(mallory, { runner_id: aliceRunner });
    expect(hijack.status).toBe(403);
    for (const path of ["heartbeat", `steps/${job.steps[0].id}/finish`]) {
      const res = await call(t.app, "POST", `/runner/v1/jobs/${job.id}/${path}`, {
        token: mallory,
        body: { runner_id: malloryRunner, attempt, status: "COMPLETED" },
      });
      expect(res.body).toEqual({ held: false });
    }
    const after = await detail(pl, run);
    expect(after.status).toBe("RUNNING");
    expect(after.stages[0].jobs[0].status).toBe("RUNNING");
    expect(after.stages[0].jobs[0].steps[0].status).toBe("RUNNING");
    await call(t.app, "POST", `${base()}/${pl}/pipeline-runs/${run}/stop`, { token: ADMIN_TOKEN });
  });
});

describe("runner reports", () => {
  it("change only the steps and logs of the job they name, never another job's", async () => {
    const app = await createTestApp({ localRunner: false });
    try {
      const p = await createProject(app.app);
      const def = JSON.stringify({
        stages: [stage("s", [{ name: "j", identifier: "j", steps: [step("true")] }])],
      });
      const plA = await createPipeline(app.app, p, { definition: def });
      const plB = await createPipeline(app.app, p, { definition: def });
      const runOf = async (pl: string) =>
        (await call(app.app, "POST", `/v5/${p}/api/pipelines/${pl}/run`, { token: ADMIN_TOKEN, body: {} }))
          .body.pipeline_run_id as string;
      const runA = await runOf(plA);
      const runB = await runOf(plB);
      const token = await issueToken(app.app, "runner", []);
      const runnerId = (
        await call(app.app, "POST", "/runner/v1/register", { token, body: { name: "r", slots: 1 } })
      ).body.runner_id as string;
      const claimed = await call(app.app, "POST", "/runner/v1/claim", {
        token,
        body: { runner_id: runnerId, limit: 1, wait_ms: 2000 },
      });
      const mine = claimed.body.jobs[0] as { jobRunId: string; runId: string; attempt: number };
      const [otherPl, otherRun] = mine.runId === runA ? [plB, runB] : [plA, runA];
      const otherJob = async () =>
        (
          await call(
            app.app,
            "GET",
            `/v5/${p}/api/pipelines/${otherPl}/pipeline-runs/detail?pipeline_run_id=${otherRun}`,
            {
              token: ADMIN_TOKEN,
            },
          )
        ).body.stages[0].jobs[0];
      const other = await otherJob();
      const key = { job_id: mine.jobRunId, attempt: mine.attempt };
      const res = await call(app.app, "POST", "/runner/v1/reports", {
        token,
        body: {
          runner_id: runnerId,
          reports: [
            { type: "heartbeat", ...key },
            { type: "step_started", ...key, step_id: other.steps[0].id },
            { type: "step_log", ...key, step_id: other.steps[0].id, offset: 0, text: "planted\n" },
            { type: "step_finished", ...key, step_id: other.steps[0].id, status: "FAILED" },
          ],
        },
      });
      expect(res.status).toBe(200);
      expect(res.body.held).toEqual([true, false, false, false]);
      const after = await otherJob();
      expect(after.steps[0].status).toBe(other.steps[0].status);
      expect(await app.store.readLog(other.steps[0].id, 0)).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

describe("secrets at rest", () => {
  const SECRETS = {
    token: "tok-9f3a-never-shown",
    color: "indigo-never-shown",
    other: "violet-never-shown",
    build: "rel-0041",
    sk: "",
  };
  const variables = [
    { name: "TOKEN", type: "string", value: SECRETS.token, is_secret: true, is_runtime: true },
    {
      name: "COLOR",
      type: "enum",
      value: SECRETS.color,
      limits: [SECRETS.color, SECRETS.other],
      is_secret: true,
      is_runtime: true,
    },
    { name: "BUILD", type: "autoIncrement", value: SECRETS.build, is_secret: true },
    { name: "PLAIN", type: "string", value: "plain-visible" },
  ];
  const clear = (): string[] => [SECRETS.token, SECRETS.color, SECRETS.other, SECRETS.sk].filter(Boolean);

  /** Every byte the SQLite file and its WAL hold. */
  const fileBytes = (): string =>
    ["pipewright.db", "pipewright.db-wal"]
      .map((f) => path.join(t.dir, f))
      .filter((f) => fs.existsSync(f))
      .map((f) => fs.readFileSync(f).toString("latin1"))
      .join("");

  it("keeps the data dir 0700 and its files 0600", () => {
    expect(fs.statSync(t.dir).mode & 0o777).toBe(0o700);
    for (const f of fs.readdirSync(t.dir)) {
      const st = fs.statSync(path.join(t.dir, f));
      if (st.isFile()) expect(st.mode & 0o777, f).toBe(0o600);
    }
    expect(fs.existsSync(path.join(t.dir, "secret.key"))).toBe(true);
  });

  it("stores secret variable values and access-key SKs sealed, and quotes none of them", async () => {
    const ak = await call(t.app, "POST", "/admin/v1/access-keys", {
      token: ADMIN_TOKEN,
      body: { name: "sdk", role: "viewer", project_ids: [pid] },
    });
    expect(ak.status, JSON.stringify(ak.body)).toBe(200);
    SECRETS.sk = ak.body.sk;
    const pl = await createPipeline(t.app, pid, { variables });
    const run = await start(pl, { variables: [{ name: "TOKEN", value: `${SECRETS.token}-run` }] });
    await ended(pl, run);
    // The SDK signs with the SK: it still verifies (it is opened to check the signature).
    expect((await t.store.findAccessKey(ak.body.ak))?.sk).toBe(SECRETS.sk);

    const bytes = fileBytes();
    for (const secret of [...clear(), `${SECRETS.token}-run`]) expect(bytes).not.toContain(secret);
    expect(bytes).toContain("plain-visible");

    // No answer shows them: detail (values, latest value and an enum's limits), run detail, lists.
    const answers = [
      await call(t.app, "GET", `${base()}/${pl}`, { token: ADMIN_TOKEN }),
      await call(t.app, "GET", `${base()}/${pl}/pipeline-runs/detail?pipeline_run_id=${run}`, {
        token: ADMIN_TOKEN,
      }),
      await call(t.app, "POST", `${base()}/${pl}/pipeline-runs/list`, { token: ADMIN_TOKEN, body: {} }),
      await call(t.app, "GET", "/admin/v1/access-keys", { token: ADMIN_TOKEN }),
    ];
    for (const a of answers) {
      expect(a.status).toBe(200);
      for (const secret of [...clear(), SECRETS.build]) expect(JSON.stringify(a.body)).not.toContain(secret);
    }
    const color = answers[0]!.body.variables.find((v: { name: string }) => v.name === "COLOR");
    expect(color).toMatchObject({ value: "******", limits: ["******", "******"] });

    // Nor does an error: a wrong choice for a secret enum, at run time and at create time.
    const wrongRun = await call(t.app, "POST", `${base()}/${pl}/run`, {
      token: ADMIN_TOKEN,
      body: { variables: [{ name: "COLOR", value: "nope" }] },
    });
    expect(wrongRun.status).toBe(400);
    expect(wrongRun.body.error_msg).toContain("variables[0].value");
    const wrongCreate = await refusedCreate(
      { definition: answers[0]!.body.definition, variables: [{ ...variables[1], value: "nope" }] },
      "DEVPIPE.00020100",
      "variables[0].value",
    );
    for (const msg of [wrongRun.body.error_msg, wrongCreate]) {
      for (const secret of clear()) expect(msg).not.toContain(secret);
    }
  });

  it("round-trips a masked detail through PUT for every variable type, keeping every secret", async () => {
    const pl = await createPipeline(t.app, pid, { variables });
    await ended(pl, await start(pl)); // gives BUILD a latest value
    const before = (await t.store.getPipeline(pl))!.spec.variables;
    const d = await call(t.app, "GET", `${base()}/${pl}`, { token: ADMIN_TOKEN });
    const put = await call(t.app, "PUT", `${base()}/${pl}`, { token: ADMIN_TOKEN, body: d.body });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect((await t.store.getPipeline(pl))!.spec.variables).toEqual(before);
    // A new secret sent as the mask has nothing to keep: refused, naming the field.
    const masked = await call(t.app, "PUT", `${base()}/${pl}`, {
      token: ADMIN_TOKEN,
      body: {
        ...d.body,
        variables: [...d.body.variables, { name: "NEW", value: "******", is_secret: true }],
      },
    });
    expect(masked.status).toBe(400);
    expect(masked.body.error_msg).toContain("variables[4].value");
    expect((await t.store.getPipeline(pl))!.spec.variables).toEqual(before);
  });
});

describe("the server's secret key", () => {
  const open = (dir: string, env: Record<string, string> = {}, args: string[] = []) =>
    startServer(loadConfig(["--data-dir", dir, "--admin-token", ADMIN_TOKEN, ...args], env, dir), {
      listen: false,
      logger: pino({ level: "silent" }),
    });

  it("is generated into the data dir once; another key is refused, naming the one the data needs", async () => {
    const dir = tempDir();
    try {
      const first = await open(dir);
      await first.resealed;
      const project = await createProject(first.app);
      const pl = await createPipeline(first.app, project, {
        variables: [{ name: "T", value: "kept-secret", is_secret: true }],
      });
      await first.stop({ force: true });
      const keyFile = path.join(dir, "secret.key");
      const key = fs.readFileSync(keyFile, "utf8");
      expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
      const kid = createSealer(parseKeyring(key, "k")).activeKid;

      await expect(open(dir, { PIPEWRIGHT_SECRET_KEY: newSecretKey() })).rejects.toThrow(
        `sealed with key ${kid}, which the given keyring`,
      );
      // The same key from elsewhere (as a scale-out replica gets it) opens everything.
      const copy = path.join(tempDir(), "key");
      fs.writeFileSync(copy, key, { mode: 0o600 });
      const again = await open(dir, {}, ["--secret-key-file", copy]);
      expect((await again.store.getPipeline(pl))?.spec.variables[0]?.value).toBe("kept-secret");
      expect(fs.readFileSync(keyFile, "utf8")).toBe(key); // never regenerated
      await again.stop({ force: true });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is required with PostgreSQL, where every replica must share it", () => {
    expect(() => loadConfig(["--database-url", "postgres://db/x"], {}, "/tmp")).toThrow(
      "every replica needs the same secret key",
    );
    expect(
      loadConfig(["--database-url", "postgres://db/x"], { PIPEWRIGHT_SECRET_KEY: "k" }, "/tmp").secretKey,
    ).toEqual({
      from: "env",
      keys: "k",
    });
  });
});

describe("the step environment", () => {
  /** The whole log of the run's first step. */
  async function firstStepLog(pl: string, run: string): Promise<string> {
    const d = await ended(pl, run);
    const stepId = d.stages[0].jobs[0].steps[0].id;
    return (await t.store.readLog(stepId, 0)).map((c) => c.text).join("");
  }

  it("refuses shell, loader and git start-up variables as variable names", async () => {
    for (const name of [
      "BASH_ENV",
      "ENV",
      "SHELLOPTS",
      "PS4",
      "IFS",
      "LD_PRELOAD",
      "LD_LIBRARY_PATH",
      "GIT_SSH_COMMAND",
      "GIT_CONFIG_COUNT",
      "GLIBC_TUNABLES",
    ]) {
      const msg = await refusedCreate(
        {
          definition: shellDefinition(),
          variables: [
            { name: "OK", value: "1" },
            { name, value: "/tmp/x" },
          ],
        },
        "DEVPIPE.00020100",
        "variables[1].name",
      );
      expect(msg).toContain(name);
    }
    // The commit identity is not one of them.
    await createPipeline(t.app, pid, { variables: [{ name: "GIT_AUTHOR_NAME", value: "ci" }] });
  });

  it("keeps them out of a step even when a stored pipeline has one (the runner's own check)", async () => {
    const pl = await createPipeline(t.app, pid, {
      definition: JSON.stringify({
        stages: [stage("s", [{ ...job("j"), steps: [step('echo "[$BASH_ENV][$LD_PRELOAD][$KEPT]"')] }])],
      }),
    });
    const p = (await t.store.getPipeline(pl))!;
    const v = {
      sequence: 1,
      type: "string" as const,
      is_secret: false,
      description: "",
      is_runtime: false,
      limits: [],
      is_reset: false,
      latest_value: "",
    };
    // As a version before the rule would have stored them:
    await t.store.updatePipelineSpec(pl, {
      ...p.spec,
      variables: [
        { ...v, name: "BASH_ENV", value: "/etc/hostname" },
        { ...v, name: "LD_PRELOAD", value: "/nonexistent.so" },
        { ...v, name: "KEPT", value: "kept" },
      ],
    });
    expect(await firstStepLog(pl, await start(pl))).toContain("[][][kept]");
  });

  it("clones network URLs only, unless the admin allows local paths", async () => {
    const sources = (git_url: string) => [
      { type: "code", params: { git_type: "gitlab", git_url, alias: "app" } },
    ];
    for (const url of ["file:///etc", "/srv/repos/app.git", "./x", "ext::sh -c id", "-u", "nonsense"]) {
      await refusedCreate(
        { definition: shellDefinition(), sources: sources(url) },
        "DEVPIPE.00020100",
        "sources[0].params.git_url",
      );
    }
    for (const url of [
      "https://git.example/a.git",
      "ssh://git@git.example/a.git",
      "git@git.example:a/b.git",
      "git://git.example/a",
    ]) {
      await createPipeline(t.app, pid, { sources: sources(url) });
    }
    // A run request naming a local source is refused, creating no run.
    const checkout = JSON.stringify({
      stages: [
        stage("s", [
          {
            ...job("j"),
            steps: [{ name: "c", task: "official_git_clone", inputs: [{ key: "repository", value: "app" }] }],
          },
        ]),
      ],
    });
    const pl = await createPipeline(t.app, pid, {
      definition: checkout,
      sources: sources("https://git.invalid/a.git"),
    });
    const before = await countRows("pipeline_runs");
    const res = await call(t.app, "POST", `${base()}/${pl}/run`, {
      token: ADMIN_TOKEN,
      body: {
        sources: [{ type: "code", params: { git_type: "gitlab", git_url: "file:///etc", alias: "app" } }],
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.error_msg).toContain("sources[0].params.git_url");
    expect(await countRows("pipeline_runs")).toBe(before);
    // A local source stored before the rule: the checkout refuses it, saying why.
    const p = (await t.store.getPipeline(pl))!;
    await t.store.updatePipelineSpec(pl, { ...p.spec, sources: sources("/etc") });
    const run = await start(pl);
    expect(await firstStepLog(pl, run)).toContain("not cloning /etc: it is a local path");
    expect((await detail(pl, run)).status).toBe("FAILED");
  });
});
