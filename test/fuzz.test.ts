// Property-based fuzzing of the API: requests generated from every route's own schemas (the
// OpenAPI document the server publishes), with real and made-up ids in the path and hostile values
// mixed in. Whatever comes, the server answers without a 5xx, every error is in the DEVPIPE shape,
// and a refused request changes nothing that is stored.

import { createHash } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  call,
  createPipeline,
  createProject,
  createTestApp,
  issueToken,
  type TestApp,
} from "./helpers/app.js";
import { faultyOf, hostileValue, shapedOf } from "./helpers/fuzz.js";
import { waitFor } from "./helpers/server.js";

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document, read loosely
type Operation = any;

interface Route {
  readonly method: string;
  readonly path: string;
  readonly op: Operation;
}

let t: TestApp;
let routes: Route[];
const ids: Record<string, string[]> = {};
const tokens: Record<string, string> = {};

/** What a refused request must leave alone: everything users create, and the number of rows run progress adds. */
async function digest(): Promise<string> {
  const db = t.store.db;
  const all = async (
    table: "projects" | "pipelines" | "tokens" | "access_keys" | "batches" | "meta" | "runners",
  ) => db.selectFrom(table).selectAll().execute();
  const count = async (
    table:
      | "pipeline_runs"
      | "stage_runs"
      | "job_runs"
      | "step_runs"
      | "job_attempts"
      | "step_logs"
      | "definitions",
  ) =>
    (
      await db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow()
    ).n;
  const runs = await db
    .selectFrom("pipeline_runs")
    .select([
      "id",
      "pipeline_id",
      "run_number",
      "description",
      "executor_id",
      "trigger_type",
      "stop_requested",
    ])
    .orderBy("id")
    .execute();
  const state = {
    tables: await Promise.all(
      (["projects", "pipelines", "tokens", "access_keys", "batches", "meta", "runners"] as const).map(all),
    ),
    counts: await Promise.all(
      (
        [
          "pipeline_runs",
          "stage_runs",
          "job_runs",
          "step_runs",
          "job_attempts",
          "step_logs",
          "definitions",
        ] as const
      ).map(count),
    ),
    runs,
  };
  return createHash("sha256").update(JSON.stringify(state)).digest("hex");
}

/**
 * The pipeline, run, job and step the paths name; made again when a fuzzed request deleted the
 * pipeline (DELETE is a route like the others), so every route meets real ids.
 */
async function fixtures(): Promise<void> {
  const project = ids.project_id![0]!;
  if (ids.pipeline_id?.[0] && (await t.store.getPipeline(ids.pipeline_id[0]))) return;
  const pl = await createPipeline(t.app, project, {
    variables: [
      { name: "V", value: "1", is_runtime: true },
      { name: "S", value: "secret", is_secret: true, is_runtime: true },
    ],
  });
  const run = await call(t.app, "POST", `/v5/${project}/api/pipelines/${pl}/run`, {
    token: ADMIN_TOKEN,
    body: {},
  });
  const runId = run.body.pipeline_run_id as string;
  const detail = await waitFor(async () => {
    const d = await call(
      t.app,
      "GET",
      `/v5/${project}/api/pipelines/${pl}/pipeline-runs/detail?pipeline_run_id=${runId}`,
      { token: ADMIN_TOKEN },
    );
    return d.body.stages?.[0]?.jobs?.[0]?.status === "QUEUED" ? d.body : undefined;
  });
  const job = detail.stages[0].jobs[0];
  ids.pipeline_id = [pl];
  ids.pipeline_run_id = [runId];
  ids.queue_id = [runId];
  ids.job_run_id = [job.id];
  ids.job_id = [job.id];
  ids.step_run_id = [job.steps[0].id];
  ids.step_id = [job.steps[0].id];
}

beforeAll(async () => {
  // No runner: runs stay where the scheduler puts them, so nothing moves between two requests.
  t = await createTestApp({ localRunner: false });
  const project = await createProject(t.app);
  const other = await createProject(t.app);
  ids.project_id = [project, other];
  await fixtures();
  ids.id = [];
  ids.ak = ["AKNOTAKEY"];
  tokens.admin = ADMIN_TOKEN;
  tokens.viewer = await issueToken(t.app, "viewer", [project]);
  tokens.runner = await issueToken(t.app, "runner", []);

  const doc = t.app.swagger() as { paths: Record<string, Record<string, Operation>> };
  routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
  );
}, 60_000);
afterAll(async () => {
  await t?.close();
});

/** Streams stay open by design; a runner's claim waits for work: neither ends by itself. */
const fuzzed = (r: Route): boolean => !r.path.endsWith("/stream") && !r.path.endsWith("/events");

/** URL-encodes, sending the bytes of a lone surrogate (not UTF-8) where the text has one. */
const encode = (s: string): string => {
  try {
    return encodeURIComponent(s);
  } catch {
    return `%ED%A0%80${encodeURIComponent(s.toWellFormed())}`;
  }
};

/** A real id of the kind the path names (the first project: the one the tokens may see). */
const realId = (name: string): string => ids[name]?.[0] ?? "0".repeat(32);

/** A path segment that is not a real id: well-formed but unknown, another project's, or garbage. */
const badSegment = (name: string): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom(...(ids[name]?.slice(1) ?? []), "0".repeat(32)),
    fc.stringMatching(/^[0-9a-f]{32}$/),
    fc.constantFrom("x", "0".repeat(33), "a".repeat(101), "..", "%00", "%ZZ", "%2e%2e%2f", "%F0%9F%9A%80"),
    fc.string({ minLength: 1, maxLength: 40 }).map(encode),
  );

interface Request {
  method: string;
  url: string;
  token: string | undefined;
  body: string | undefined;
  headers: Record<string, string>;
}

type Fault = "none" | "path" | "query" | "header" | "body" | "token";

/**
 * A request to the route with at most one fault in it (so a fault is not hidden behind another
 * one met first): real ids, a valid token and shaped values everywhere else.
 */
function requestOf(r: Route): fc.Arbitrary<Request> {
  const params: { in: string; name: string; schema: unknown }[] = r.op.parameters ?? [];
  const names = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const query = params.filter((p) => p.in === "query");
  const header = params.filter((p) => p.in === "header");
  const bodySchema = r.op.requestBody?.content?.["application/json"]?.schema;
  const isRunner = r.path.startsWith("/runner/");
  const goodToken = isRunner && !r.path.endsWith("/claim") ? "runner" : "admin";
  const faults: Fault[] = ["none", "token"];
  if (names.length > 0) faults.push("path");
  if (query.length > 0) faults.push("query");
  if (header.length > 0) faults.push("header");
  if (bodySchema) faults.push("body", "body", "body");
  const text = (v: unknown): string => (typeof v === "string" ? v : (JSON.stringify(v) ?? ""));
  return fc.constantFrom(...faults).chain((fault) =>
    fc
      .record({
        segments: fc.tuple(
          ...names.map((n) =>
            fault === "path" ? fc.oneof(fc.constant(realId(n)), badSegment(n)) : fc.constant(realId(n)),
          ),
        ),
        query: fc.tuple(
          ...query.map((q) =>
            fc.option(
              (fault === "query" ? faultyOf(q.schema) : shapedOf(q.schema)).map(
                (v) => `${q.name}=${encode(text(v))}`,
              ),
            ),
          ),
        ),
        headers: fc.tuple(
          ...header.map((h) =>
            fc.option(
              (fault === "header" ? faultyOf(h.schema) : shapedOf(h.schema)).map(
                (v) => [h.name, text(v).slice(0, 300)] as const,
              ),
            ),
          ),
        ),
        token:
          fault === "token"
            ? fc.constantFrom("", "viewer", "admin", "runner", "bogus")
            : fc.constant(goodToken),
        body: bodySchema
          ? fault === "body"
            ? fc.oneof(
                { weight: 9, arbitrary: faultyOf(bodySchema).map((v) => JSON.stringify(v)) },
                { weight: 1, arbitrary: fc.constantFrom("{", "[]", '{"a":1}{', "\u0000", "null", "") },
              )
            : shapedOf(bodySchema).map((v) => JSON.stringify(v))
          : fc.constant(undefined),
      })
      .map((g) => {
        let url = r.path;
        names.forEach((n, i) => {
          url = url.replace(`{${n}}`, g.segments[i]!);
        });
        const q = g.query.filter((x): x is string => x !== null);
        if (q.length > 0) url += `?${q.join("&")}`;
        const headers: Record<string, string> = {};
        for (const h of g.headers) if (h) headers[h[0]] = h[1].replace(/[^\x20-\x7e]/g, "");
        const token = g.token === "bogus" ? "pw_not_a_token" : g.token ? tokens[g.token] : undefined;
        return { method: r.method, url, token, body: g.body, headers };
      }),
  );
}

describe("fuzzing every route from its schema", () => {
  it("never answers 5xx, answers errors in the DEVPIPE shape, and a refusal changes nothing", async () => {
    const all = routes.filter(fuzzed);
    expect(all.length).toBeGreaterThan(30);
    const statuses = new Set<number>();
    // Every route gets its own share of requests (FUZZ_RUNS=1000 for a longer hunt).
    const perRoute = Number(process.env.FUZZ_RUNS ?? 100);
    for (const route of all) {
      await fc.assert(
        fc.asyncProperty(requestOf(route), async (req) => {
          await fixtures();
          const before = await digest();
          const res = await call(t.app, req.method, req.url, {
            token: req.token,
            headers: req.headers,
            ...(req.body === undefined ? {} : { rawBody: req.body }),
          });
          const where = `${req.method} ${req.url} ${req.body?.slice(0, 300) ?? ""} → ${res.status} ${JSON.stringify(res.body)?.slice(0, 300)}`;
          statuses.add(res.status);
          expect(res.status, where).toBeLessThan(500);
          if (res.status >= 400) {
            expect(res.body?.error_code, where).toMatch(/^DEVPIPE\.\d{8}$/);
            expect(typeof res.body?.error_msg, where).toBe("string");
            // The one refusal that creates something, as the cloud does: a run over a concurrency
            // limit is created (queued, or IGNORED) and the answer names it.
            if (res.body?.error?.pipeline_run_id === undefined) {
              expect(await digest(), `a refused request changed the store: ${where}`).toBe(before);
            }
          }
          // Nothing a body sends pollutes what every object inherits.
          expect(({} as Record<string, unknown>).polluted, where).toBeUndefined();
        }),
        { numRuns: perRoute },
      );
    }
    // The generator reached deep enough to be accepted somewhere, not only refused at the door.
    expect([...statuses].some((s) => s >= 200 && s < 300)).toBe(true);
    expect(statuses.has(400)).toBe(true);
  }, 180_000);

  it("keeps hostile values out of every body field the schemas name", async () => {
    // Not a property over routes: one hostile value in each top-level field of each body in turn.
    for (const r of routes.filter(fuzzed)) {
      const schema = r.op.requestBody?.content?.["application/json"]?.schema;
      if (!schema?.properties) continue;
      for (const field of Object.keys(schema.properties)) {
        for (const value of fc.sample(hostileValue, { numRuns: 3, seed: 7 })) {
          let url = r.path;
          for (const n of [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!)) {
            url = url.replace(`{${n}}`, ids[n]?.[0] ?? "0".repeat(32));
          }
          const before = await digest();
          const res = await call(t.app, r.method, url, {
            token: r.path.startsWith("/runner/") && !r.path.endsWith("/claim") ? tokens.runner : ADMIN_TOKEN,
            rawBody: JSON.stringify({ [field]: value }),
          });
          const where = `${r.method} ${url} ${field}=${JSON.stringify(value)?.slice(0, 80)} → ${res.status}`;
          expect(res.status, where).toBeLessThan(500);
          if (res.status >= 400 && res.body?.error?.pipeline_run_id === undefined) {
            expect(await digest(), where).toBe(before);
          }
        }
      }
    }
  }, 120_000);
});
