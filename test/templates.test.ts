// Pipeline templates (CodeArts's pipeline-templates API) over HTTP, signed with AK/SK as the
// official SDKs sign: list (built-in and the tenant's, every filter of ListPipelineTemplatesQuery),
// create, show, update, delete, favourite, and create a pipeline from a template, which then runs
// on the server's runner. Answers are held against the fields of the SDK's models; bad input
// names the field and changes nothing; callers see only their projects' templates.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILT_IN_TEMPLATES } from "../src/pipeline/built-in-templates.js";
import {
  ADMIN_TOKEN,
  call,
  createProject,
  createTestApp,
  issueToken,
  shellDefinition,
  type TestApp,
} from "./helpers/app.js";
import { holds, sdkCaller } from "./helpers/sdk-calls.js";
import { waitFor } from "./helpers/server.js";

let t: TestApp;
let pid: string;
let other: string;
let ak: string;
let sk: string;
beforeAll(async () => {
  t = await createTestApp();
  pid = await createProject(t.app);
  other = await createProject(t.app);
  const res = await call(t.app, "POST", "/admin/v1/access-keys", {
    token: ADMIN_TOKEN,
    body: { role: "admin", project_ids: [pid] },
  });
  ({ ak, sk } = res.body);
});
afterAll(async () => {
  await t?.close();
});

const signed = sdkCaller(() => ({ app: t.app, ak, sk, projectId: pid }));

/** PipelineTemplateSimpleVO (list items), with create_time and update_time as the newest SDK has them. */
const LIST_ITEM = {
  id: "string",
  name: "string",
  icon: "string",
  manifest_version: "string",
  language: "string",
  description: "string",
  is_system: "boolean",
  region: "string",
  domain_id: "string",
  creator_id: "string",
  creator_name: "string",
  updater_id: "string",
  create_time: "number",
  update_time: "number",
  is_collect: "boolean",
  is_show_source: "boolean",
  stages: "array",
} as const;
/** ShowPipelineTemplateDetailResponse: is_collect is a string in the models. */
const DETAIL = {
  id: "string",
  name: "string",
  icon: "string",
  manifest_version: "string",
  language: "string",
  description: "string",
  is_system: "boolean",
  region: "string",
  domain_id: "string",
  variables: "array",
  creator_id: "string",
  updater_id: "string",
  create_time: "number",
  update_time: "number",
  is_collect: "string",
  is_show_source: "boolean",
  definition: "string",
} as const;
const VARIABLE = {
  name: "string",
  sequence: "number",
  type: "string",
  value: "string",
  is_secret: "boolean",
  description: "string",
  is_runtime: "boolean",
  limits: "array",
  is_reset: "boolean",
  latest_value: "string",
} as const;

const base = () => `/v5/${pid}/api/pipeline-templates`;
/** A PipelineTemplateDTO as the SDK and Terraform send it. */
const dto = (over: Record<string, unknown> = {}) => ({
  name: `tpl ${Math.random().toString(36).slice(2, 8)}`,
  description: "builds it",
  language: "go",
  variables: [
    { name: "greeting", sequence: 1, type: "string", value: "hello", is_runtime: true },
    { name: "token", sequence: 2, type: "string", value: "s3cret", is_secret: true },
  ],
  definition: shellDefinition('echo "$greeting from template"'),
  is_system: false,
  domain_id: pid,
  is_show_source: false,
  ...over,
});

const list = async (body: unknown = {}) => {
  const res = await signed("POST", `${base()}/list`, body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { offset: number; limit: number; total: number; templates: Record<string, unknown>[] };
};

async function runToEnd(pipelineId: string, body: unknown = {}) {
  const res = await signed("POST", `/v5/${pid}/api/pipelines/${pipelineId}/run`, body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const runId = res.body.pipeline_run_id as string;
  const detail = () =>
    signed("GET", `/v5/${pid}/api/pipelines/${pipelineId}/pipeline-runs/detail`, undefined, {
      pipeline_run_id: runId,
    }).then((r) => r.body);
  return {
    runId,
    detail,
    ended: () =>
      waitFor(
        async () => {
          const d = await detail();
          return ["COMPLETED", "FAILED", "CANCELED", "IGNORED"].includes(d.status) ? d : undefined;
        },
        60_000,
        `run ${runId}`,
      ),
  };
}

describe("pipeline templates", () => {
  it("lists the built-in templates in every project, each a valid pipeline definition, read-only", async () => {
    const page = await list({ is_system: true, limit: 100 });
    expect(page.total).toBe(BUILT_IN_TEMPLATES.length);
    expect(page.templates.length).toBeGreaterThanOrEqual(3);
    for (const item of page.templates) {
      holds(item, LIST_ITEM);
      expect(item).toMatchObject({ is_system: true, creator_name: "Pipewright", manifest_version: "3.0" });
      for (const stage of item.stages as Record<string, unknown>[])
        holds(stage, { name: "string", sequence: "number" });
      expect((item.stages as unknown[]).length).toBeGreaterThan(0);
    }
    // The same built-ins from another project.
    const seen = await call(t.app, "POST", `/v5/${other}/api/pipeline-templates/list`, {
      token: ADMIN_TOKEN,
      body: { is_system: true, limit: 100 },
    });
    expect(seen.body.templates.map((x: { id: string }) => x.id)).toEqual(page.templates.map((x) => x.id));

    const first = page.templates[0]!.id as string;
    const update = await signed("PUT", `${base()}/${first}`, dto());
    expect(update.status).toBe(403);
    expect(update.body.error_code).toBe("DEVPIPE.00020131");
    const del = await signed("DELETE", `${base()}/${first}`);
    expect(del.status).toBe(403);
    expect((await list({ is_system: true, limit: 100 })).total).toBe(BUILT_IN_TEMPLATES.length);
  });

  it("creates a pipeline from each built-in template; the shell one runs to success", async () => {
    for (const b of BUILT_IN_TEMPLATES) {
      const detail = await signed("GET", `${base()}/${b.id}`);
      expect(detail.status).toBe(200);
      holds(detail.body, DETAIL);
      const res = await signed("POST", `${base()}/${b.id}/create-pipeline`, {
        name: `from_${b.id.slice(-4)}`,
        is_publish: false,
        sources: b.is_show_source
          ? [
              {
                type: "code",
                params: { alias: "app", git_url: "https://git.example.com/app.git", default_branch: "main" },
              },
            ]
          : [],
      });
      expect(res.status, `${b.name}: ${JSON.stringify(res.body)}`).toBe(200);
      holds(res.body, { pipeline_id: "string" });
      const p = await signed("GET", `/v5/${pid}/api/pipelines/${res.body.pipeline_id}`);
      expect(p.status).toBe(200);
      expect(JSON.parse(p.body.definition)).toEqual(JSON.parse(b.definition));
      expect(p.body.variables.map((v: { name: string }) => v.name)).toEqual(b.variables.map((v) => v.name));
    }
    const shell = BUILT_IN_TEMPLATES.find((b) => b.id.endsWith("1"))!;
    const pipelines = await signed("POST", `/v5/${pid}/api/pipelines/list`, { name: "from_0001" });
    const { ended } = await runToEnd(pipelines.body.pipelines[0].pipeline_id);
    const done = await ended();
    expect(done.status, `${shell.name}: ${JSON.stringify(done)}`).toBe("COMPLETED");
  });

  it("the review template pauses for the review, then deploys to the target given at run time", async () => {
    const review = BUILT_IN_TEMPLATES.find((b) => b.id.endsWith("4"))!;
    const made = await signed("POST", `${base()}/${review.id}/create-pipeline`, { name: "release_flow" });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    const pipelineId = made.body.pipeline_id;
    const { detail, ended } = await runToEnd(pipelineId, {
      variables: [{ name: "target", value: "production" }],
    });
    const paused = await waitFor(
      async () => {
        const d = await detail();
        return d.status === "PAUSED" ? d : undefined;
      },
      60_000,
      "the review to wait",
    );
    const job = paused.stages
      .flatMap((s: { jobs: unknown[] }) => s.jobs)
      .find((j: { status: string }) => j.status === "PAUSED");
    const step = job.steps[0];
    const pass = await signed(
      "POST",
      `/v5/${pid}/api/pipelines/${pipelineId}/pipeline-runs/${paused.id}/jobs/${job.id}/steps/${step.id}/pass`,
    );
    expect(pass.status, JSON.stringify(pass.body)).toBe(200);
    const done = await ended();
    expect(done.status).toBe("COMPLETED");
    const deploy = done.stages.find((s: { identifier: string }) => s.identifier === "deploy");
    expect(deploy.status).toBe("COMPLETED");
  });

  it("create, show, list with every filter, update, favourite, delete a tenant's template", async () => {
    const body = dto({ name: "Go service" });
    const created = await signed("POST", base(), body);
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    holds(created.body, { templateId: "string" });
    const id = created.body.templateId as string;

    const shown = await signed("GET", `${base()}/${id}`);
    expect(shown.status).toBe(200);
    holds(shown.body, DETAIL);
    for (const v of shown.body.variables) holds(v, VARIABLE);
    expect(shown.body).toMatchObject({
      id,
      name: "Go service",
      language: "go",
      is_system: false,
      domain_id: pid,
      creator_id: ak,
      updater_id: ak,
      is_collect: "false",
      definition: body.definition,
    });
    expect(shown.body.create_time).toBeGreaterThan(0);
    // A secret variable's value is stored (the pipeline gets it) but never shown.
    expect(shown.body.variables[1]).toMatchObject({ name: "token", is_secret: true, value: "******" });

    const other1 = (await signed("POST", base(), dto({ name: "python job", language: "python" }))).body
      .templateId as string;
    // Filters: language, is_system, name (fuzzy, case-insensitive), offset, limit, sort.
    expect((await list({ language: "go" })).templates.map((x) => x.id)).toEqual([id]);
    expect((await list({ is_system: false, limit: 100 })).templates.map((x) => x.id).sort()).toEqual(
      [id, other1].sort(),
    );
    expect((await list({ name: "SERVICE" })).templates.map((x) => x.id)).toEqual([id]);
    expect((await list({ name: "%" })).total).toBe(0);
    const all = await list({ limit: 100, sort_key: "name", sort_dir: "asc" });
    const names = all.templates.map((x) => x.name as string);
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)));
    expect(all.total).toBe(BUILT_IN_TEMPLATES.length + 2);
    const paged = await list({ limit: 2, offset: 1, sort_key: "name", sort_dir: "asc" });
    expect(paged).toMatchObject({ offset: 1, limit: 2, total: all.total });
    expect(paged.templates.map((x) => x.id)).toEqual(all.templates.slice(1, 3).map((x) => x.id));
    const newest = await list({ is_system: false, sort_key: "create_time", sort_dir: "desc" });
    expect(newest.templates[0]!.id).toBe(other1);

    // Favourites are the caller's own.
    const fav = await signed("POST", `${base()}/${id}/favorite`, undefined, { flag: "true" });
    expect(fav.status, JSON.stringify(fav.body)).toBe(200);
    expect((await signed("GET", `${base()}/${id}`)).body.is_collect).toBe("true");
    expect((await list({ language: "go" })).templates[0]!.is_collect).toBe(true);
    const asAdmin = await call(t.app, "GET", `${base()}/${id}`, { token: ADMIN_TOKEN });
    expect(asAdmin.body.is_collect).toBe("false");
    await signed("POST", `${base()}/${id}/favorite`, undefined, { flag: "false" });
    expect((await signed("GET", `${base()}/${id}`)).body.is_collect).toBe("false");

    // Update replaces; the secret sent back masked keeps its value.
    const updated = await signed("PUT", `${base()}/${id}`, {
      ...body,
      name: "Go service v2",
      description: "now v2",
      variables: shown.body.variables,
    });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    holds(updated.body, { templateId: "string" });
    const after = (await signed("GET", `${base()}/${id}`)).body;
    expect(after).toMatchObject({ name: "Go service v2", description: "now v2" });
    expect(after.update_time).toBeGreaterThanOrEqual(shown.body.update_time);

    // A pipeline from it: the template's variables, the request's laid over by name; it runs.
    const made = await signed("POST", `${base()}/${id}/create-pipeline`, {
      name: "from_go_service",
      description: "mine",
      variables: [{ name: "greeting", value: "hi" }],
    });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    const p = (await signed("GET", `/v5/${pid}/api/pipelines/${made.body.pipeline_id}`)).body;
    expect(p).toMatchObject({ name: "from_go_service", description: "mine", definition: body.definition });
    expect(p.variables.find((v: { name: string }) => v.name === "greeting").value).toBe("hi");
    const { ended } = await runToEnd(made.body.pipeline_id);
    expect((await ended()).status).toBe("COMPLETED");

    const del = await signed("DELETE", `${base()}/${id}`);
    expect(del.status).toBe(200);
    holds(del.body, { templateId: "string" });
    const gone = await signed("GET", `${base()}/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error_code).toBe("DEVPIPE.00011203");
    // The pipeline made from it stays.
    expect((await signed("GET", `/v5/${pid}/api/pipelines/${made.body.pipeline_id}`)).status).toBe(200);
  });

  it("refuses a bad template naming the field, and changes nothing", async () => {
    const before = (await list({ is_system: false, limit: 100 })).total;
    const cases: [Record<string, unknown>, number, string, string][] = [
      [{ definition: "{" }, 400, "DEVPIPE.00020110", "definition"],
      [
        {
          definition: JSON.stringify({
            stages: [
              {
                name: "s",
                identifier: "s",
                jobs: [
                  {
                    name: "j",
                    identifier: "j",
                    steps: [{ name: "x", task: "official_devcloud_deploy" }],
                  },
                ],
              },
            ],
          }),
        },
        400,
        "DEVPIPE.00020110",
        "definition.stages[0].jobs[0].steps[0].task",
      ],
      [{ language: "cobol" }, 400, "DEVPIPE.00020100", "language"],
      [{ is_system: true }, 400, "DEVPIPE.00020100", "is_system"],
      [{ domain_id: other }, 400, "DEVPIPE.00020100", "domain_id"],
      [{ variables: [{ name: "x y", value: "1" }] }, 400, "DEVPIPE.00020100", "variables[0].name"],
      [{ colour: "red" }, 400, "DEVPIPE.00020100", "colour"],
      [{ name: BUILT_IN_TEMPLATES[0]!.name.toUpperCase() }, 409, "DEVPIPE.00020130", "name"],
    ];
    for (const [over, status, code, field] of cases) {
      const res = await signed("POST", base(), dto(over));
      expect(res.status, `${field}: ${JSON.stringify(res.body)}`).toBe(status);
      expect(res.body.error_code, field).toBe(code);
      expect(res.body.error_msg, field).toContain(field);
    }
    await signed("POST", base(), dto({ name: "dup" }));
    const dup = await signed("POST", base(), dto({ name: "dup" }));
    expect(dup.status).toBe(409);
    expect(dup.body.error_code).toBe("DEVPIPE.00020130");
    expect((await list({ is_system: false, limit: 100 })).total).toBe(before + 1);

    const badList = await signed("POST", `${base()}/list`, { page: 2 });
    expect(badList.status).toBe(400);
    expect(badList.body.error_msg).toContain("page");
    const badFlag = await signed("POST", `${base()}/${BUILT_IN_TEMPLATES[0]!.id}/favorite`, undefined, {
      flag: "yes",
    });
    expect(badFlag.status).toBe(400);
    expect(badFlag.body.error_msg).toContain("flag");
    const badPipeline = await signed("POST", `${base()}/${BUILT_IN_TEMPLATES[0]!.id}/create-pipeline`, {
      name: "bad name!",
    });
    expect(badPipeline.status).toBe(400);
    expect(badPipeline.body.error_msg).toContain("name");
    const unknownField = await signed("POST", `${base()}/${BUILT_IN_TEMPLATES[0]!.id}/create-pipeline`, {
      name: "ok_name",
      security_level: 3,
    });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.error_msg).toContain("security_level");
    expect((await signed("POST", `/v5/${pid}/api/pipelines/list`, { name: "ok_name" })).body.total).toBe(0);
  });

  it("lets viewers read, only admins change, and hides other projects' templates", async () => {
    const id = (await signed("POST", base(), dto({ name: "private one" }))).body.templateId as string;
    const viewer = await issueToken(t.app, "viewer", [pid]);
    expect((await call(t.app, "GET", `${base()}/${id}`, { token: viewer })).status).toBe(200);
    expect((await call(t.app, "POST", `${base()}/${id}/favorite?flag=true`, { token: viewer })).status).toBe(
      200,
    );
    const denied = await call(t.app, "POST", base(), { token: viewer, body: dto() });
    expect(denied.status).toBe(403);
    const deniedDelete = await call(t.app, "DELETE", `${base()}/${id}`, { token: viewer });
    expect(deniedDelete.status).toBe(403);
    const operator = await issueToken(t.app, "operator", [pid]);
    expect(
      (
        await call(t.app, "POST", `${base()}/${id}/create-pipeline`, {
          token: operator,
          body: { name: "op_made" },
        })
      ).status,
    ).toBe(403);

    // Another project's admin: the tenant path of pid is not theirs, and the template is not
    // theirs to build from or to see under their own tenant path.
    const stranger = await issueToken(t.app, "admin", [other]);
    expect((await call(t.app, "GET", `${base()}/${id}`, { token: stranger })).body.error_code).toBe(
      "DEVPIPE.00011412",
    );
    const underOwn = await call(t.app, "GET", `/v5/${other}/api/pipeline-templates/${id}`, {
      token: stranger,
    });
    expect(underOwn.status).toBe(404);
    expect(underOwn.body.error_code).toBe("DEVPIPE.00011203");
    const build = await call(t.app, "POST", `/v5/${other}/api/pipeline-templates/${id}/create-pipeline`, {
      token: stranger,
      body: { name: "stolen" },
    });
    expect(build.status).toBe(404);
    expect(build.body.error_code).toBe("DEVPIPE.00011203");
    const theirList = await call(t.app, "POST", `/v5/${other}/api/pipeline-templates/list`, {
      token: stranger,
      body: { is_system: false },
    });
    expect(theirList.body.total).toBe(0);
    // A member of both projects may build in one from a template of the other.
    const both = await issueToken(t.app, "admin", [pid, other]);
    const shared = await call(t.app, "POST", `/v5/${other}/api/pipeline-templates/${id}/create-pipeline`, {
      token: both,
      body: { name: "shared" },
    });
    expect(shared.status, JSON.stringify(shared.body)).toBe(200);
  });
});
