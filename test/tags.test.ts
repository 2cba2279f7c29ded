// Pipeline tags (CodeArts's pipeline-tag API) over HTTP, signed with AK/SK as the official SDKs
// sign: create, list (a bare array of {tag_id, name, color, project_id, project_name}, as the
// Terraform provider reads it), update, delete, set the tags of pipelines, and the pipeline list
// filtered by tag. Answers are held against the fields of the models; bad input names the field.

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
import { holds, sdkCaller } from "./helpers/sdk-calls.js";

let t: TestApp;
let pid: string;
let ak: string;
let sk: string;
beforeAll(async () => {
  t = await createTestApp({ localRunner: false });
  pid = await createProject(t.app);
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

const TAG_FIELDS = {
  tag_id: "string",
  name: "string",
  color: "string",
  project_id: "string",
  project_name: "string",
} as const;

describe("pipeline tags", () => {
  it("create, list, update, set on pipelines, filter the list by, delete", async () => {
    const base = `/v5/${pid}/api/pipeline-tag`;
    for (const [name, color] of [
      ["release", "#0b81f6"],
      ["nightly", "#123456"],
    ]) {
      const res = await signed("POST", `${base}/create`, { name, color });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      holds(res.body, { success: "boolean" });
    }
    const listed = await signed("GET", `${base}/list`, undefined, { proj_id: pid });
    expect(listed.status).toBe(200);
    expect(Array.isArray(listed.body)).toBe(true);
    for (const tag of listed.body) holds(tag, TAG_FIELDS);
    const byName = Object.fromEntries(listed.body.map((x: { name: string; tag_id: string }) => [x.name, x]));
    expect(byName.release).toMatchObject({ color: "#0b81f6", project_id: pid });
    // The POST form of the list answers the same.
    expect((await signed("POST", `${base}/list`, {})).body).toEqual(listed.body);

    const update = await signed("POST", `${base}/update`, {
      tagId: byName.nightly.tag_id,
      name: "nightly-builds",
      color: "#abcdef",
    });
    expect(update.status).toBe(200);
    const after = (await signed("GET", `${base}/list`)).body as {
      tag_id: string;
      name: string;
      color: string;
    }[];
    expect(after.find((x) => x.tag_id === byName.nightly.tag_id)).toMatchObject({
      name: "nightly-builds",
      color: "#abcdef",
    });

    const [a, b, c] = [
      await createPipeline(t.app, pid),
      await createPipeline(t.app, pid),
      await createPipeline(t.app, pid),
    ];
    const set = await signed("POST", `${base}/set-tags`, {
      pipelineList: [a, b],
      tagList: [byName.release.tag_id],
    });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    await signed("POST", `${base}/set-tags`, {
      pipelineList: [c],
      tagList: [byName.nightly.tag_id, byName.release.tag_id],
    });
    // Setting again replaces: b carries nightly only.
    await signed("POST", `${base}/set-tags`, { pipelineList: [b], tagList: [byName.nightly.tag_id] });
    const ids = async (tagIds: string[]) =>
      (
        (await signed("POST", `/v5/${pid}/api/pipelines/list`, { tag_ids: tagIds })).body.pipelines as {
          pipeline_id: string;
        }[]
      )
        .map((p) => p.pipeline_id)
        .sort();
    expect(await ids([byName.release.tag_id])).toEqual([a, c].sort());
    expect(await ids([byName.nightly.tag_id])).toEqual([b, c].sort());

    const del = await signed("DELETE", `${base}/delete`, undefined, { tagId: byName.release.tag_id });
    expect(del.status).toBe(200);
    expect(await ids([byName.release.tag_id])).toEqual([]);
    expect((await signed("GET", `${base}/list`)).body.map((x: { name: string }) => x.name)).toEqual([
      "nightly-builds",
    ]);
  });

  it("refuses bad input naming the field, a taken name, an unknown tag, and callers without rights", async () => {
    const base = `/v5/${pid}/api/pipeline-tag`;
    const bad = await signed("POST", `${base}/create`, { name: "x", color: "blue" });
    expect(bad.status).toBe(400);
    expect(bad.body.error_msg).toContain("color");
    await signed("POST", `${base}/create`, { name: "dup", color: "#000000" });
    const dup = await signed("POST", `${base}/create`, { name: "dup", color: "#000000" });
    expect(dup.status).toBe(409);
    expect(dup.body.error_code).toBe("DEVPIPE.00020124");
    const gone = await signed("DELETE", `${base}/delete`, undefined, { tagId: "f".repeat(32) });
    expect(gone.status).toBe(404);
    expect(gone.body.error_code).toBe("DEVPIPE.00020123");
    const p = await createPipeline(t.app, pid);
    const unknown = await signed("POST", `${base}/set-tags`, {
      pipelineList: [p],
      tagList: ["e".repeat(32)],
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error_msg).toContain("tagList");
    const viewer = await issueToken(t.app, "viewer", [pid]);
    const denied = await call(t.app, "POST", `${base}/create`, {
      token: viewer,
      body: { name: "v", color: "#111111" },
    });
    expect(denied.status).toBe(403);
    expect((await call(t.app, "GET", `${base}/list`, { token: viewer })).status).toBe(200);
  });
});
