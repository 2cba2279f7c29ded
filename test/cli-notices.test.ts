// Pipeline notifications through the `pipewright` CLI as a subprocess against a real server:
// `notice add` (the secret from the environment), `list` (masked), a run that notifies a real
// HTTP receiver signed with that secret, `deliveries`, `remove`; refusals with their exit status.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import { cliRunner } from "./helpers/cli.js";
import { type Receiver, startReceiver } from "./helpers/receiver.js";
import {
  type Client,
  client,
  createPipelineVia,
  E2E_ADMIN_TOKEN,
  type ServerProcess,
  shellPipeline,
  startRun,
  startServerProcess,
  waitFor,
} from "./helpers/server.js";

let server: ServerProcess;
let receiver: Receiver;
let work: string;
let baseEnv: Record<string, string>;
let api: Client;
let projectId: string;
let pipelineId: string;

const { cli, ok } = cliRunner(() => ({ cwd: work, env: baseEnv }));

beforeAll(async () => {
  receiver = await startReceiver();
  // The receiver is on loopback: the test lets the server reach it.
  server = await startServerProcess({ args: ["--allow-private-notice-targets"] });
  work = tempDir("pipewright-cli-notices-");
  const admin = client(server.url, E2E_ADMIN_TOKEN);
  const p = await admin.post("/admin/v1/projects", { name: "notices-demo" });
  expect(p.status).toBe(200);
  projectId = p.body.project_id;
  api = admin;
  pipelineId = await createPipelineVia(api, projectId, { name: "build", definition: shellPipeline("true") });
  const home = path.join(work, "home");
  fs.mkdirSync(home);
  baseEnv = {
    PATH: process.env.PATH ?? "",
    HOME: home,
    XDG_CONFIG_HOME: path.join(work, "xdg"),
    PIPEWRIGHT_SERVER: server.url,
    PIPEWRIGHT_TOKEN: E2E_ADMIN_TOKEN,
    PIPEWRIGHT_PROJECT: "notices-demo",
  };
});

afterAll(async () => {
  await server?.stop();
  await receiver?.close();
});

describe("pipewright CLI: notifications", { timeout: 120_000 }, () => {
  it("notice add, list, a run notifying the receiver, deliveries, remove", async () => {
    expect((await ok(["notice", "list", "build"])).stdout).toContain("notifies nobody");
    const added = await ok(
      [
        "notice",
        "add",
        "build",
        "--type",
        "webhook",
        "--url",
        `${receiver.url}/cli/hook-token`,
        "--secret-env",
        "HOOK_SECRET",
        "--event",
        "succeed",
        "--json",
      ],
      { HOOK_SECRET: "cli-secret" },
    );
    const { notice_id: id } = JSON.parse(added.stdout);
    expect(id).toMatch(/^[0-9a-f]{32}$/);

    const listed = (await ok(["notice", "list", "build"])).stdout;
    expect(listed).toContain(id);
    expect(listed).toContain("pipelineRun.succeed");
    expect(listed).toContain(`${receiver.url}/******`);
    expect(listed).not.toContain("hook-token");
    const json = JSON.parse((await ok(["notice", "list", "build", "--json"])).stdout);
    expect(json[0]).toMatchObject({ notice_id: id, notice_type: "webhook", secret_info: "******" });

    const run = await startRun(api, projectId, pipelineId);
    const [req] = await receiver.waitFor(1);
    const body = JSON.parse(req!.body);
    expect(body).toMatchObject({ event: "pipelineRun.succeed", run: { id: run, status: "COMPLETED" } });
    const sig = crypto.createHmac("sha256", "cli-secret").update(req!.body).digest("hex");
    expect(req!.headers["x-pipewright-signature"]).toBe(`sha256=${sig}`);

    const sent = await waitFor(
      async () => {
        const out = JSON.parse((await ok(["notice", "deliveries", "build", "--json"])).stdout);
        return out.deliveries[0]?.status === "SUCCEEDED" ? out : undefined;
      },
      20_000,
      "the delivery to be recorded",
    );
    expect(sent.deliveries[0]).toMatchObject({ event: "pipelineRun.succeed", attempts: 1, notice_id: id });
    const table = (await ok(["notice", "deliveries", "build"])).stdout;
    expect(table).toMatch(/pipelineRun\.succeed\s+SUCCEEDED\s+1/);

    expect((await ok(["notice", "remove", "build", id])).stdout).toBe(
      `removed target ${id} from pipeline build\n`,
    );
    expect((await ok(["notice", "list", "build"])).stdout).toContain("notifies nobody");
  });

  it("refusals: a bad type, a missing secret variable, an unknown target; nothing added", async () => {
    const bad = await cli(["notice", "add", "build", "--type", "pager", "--url", "https://example.com/x"]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain("notice_type");
    const noSecret = await cli([
      "notice",
      "add",
      "build",
      "--type",
      "webhook",
      "--url",
      "https://example.com/x",
      "--secret-env",
      "UNSET_VAR",
    ]);
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toContain("UNSET_VAR");
    const gone = await cli(["notice", "remove", "build", "f".repeat(32)]);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toContain("DEVPIPE.00020180");
    const res = await api.get(`/v5/${projectId}/api/pipeline-notices/${pipelineId}/notice/message`);
    expect(res.body).toEqual([]);
  });
});
