// What starts pipelines by themselves, through the `pipewright` CLI as a subprocess against a real
// server: schedules and triggers in `pipeline show`, the project's webhook (`pipeline webhook`),
// signed generic deliveries listed by `deliveries`, and `status` of the run one started.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import { cliRunner } from "./helpers/cli.js";
import {
  type Answer,
  type Client,
  client,
  E2E_ADMIN_TOKEN,
  type ServerProcess,
  shellPipeline,
  startServerProcess,
  waitForRun,
} from "./helpers/server.js";

const REPO = "https://github.com/acme/app.git";
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
/** The CLI's local zone: an hour ahead of the schedule's Singapore, so the conversion shows. */
const LOCAL_TZ = "Asia/Tokyo";

let server: ServerProcess;
let work: string;
let baseEnv: Record<string, string>;
let api: Client;
let projectId: string;
let pipelineId: string;
let viewerToken: string;

const { cli, ok } = cliRunner(() => ({ cwd: work, env: baseEnv }));

/** A local time as the CLI prints it (`2027-01-01 04:00:00`), in LOCAL_TZ. */
function localTime(ms: number): string {
  return new Intl.DateTimeFormat("sv-SE", {
    timeZone: LOCAL_TZ,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).format(ms);
}

/** POSTs a generic delivery to the project's hook, signed with `secret`. */
async function deliver(payload: Record<string, unknown>, secret: string): Promise<Omit<Answer, "headers">> {
  const body = JSON.stringify(payload);
  const signature = crypto.createHmac("sha256", secret).update(body).digest("hex");
  const res = await fetch(`${server.url}/hooks/v1/${projectId}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-pipewright-signature": `sha256=${signature}` },
    body,
  });
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  server = await startServerProcess();
  work = tempDir("pipewright-cli-triggers-");
  const admin = client(server.url, E2E_ADMIN_TOKEN);
  const p = await admin.post("/admin/v1/projects", { name: "triggers-demo" });
  expect(p.status).toBe(200);
  projectId = p.body.project_id;
  const token = async (role: string): Promise<string> => {
    const t = await admin.post("/admin/v1/tokens", { name: role, role, project_ids: [projectId] });
    expect(t.status).toBe(200);
    return t.body.token;
  };
  const adminToken = await token("admin");
  viewerToken = await token("viewer");
  api = client(server.url, adminToken);
  const home = path.join(work, "home");
  fs.mkdirSync(home);
  baseEnv = {
    PATH: process.env.PATH ?? "",
    HOME: home,
    XDG_CONFIG_HOME: path.join(work, "xdg"),
    TZ: LOCAL_TZ,
    PIPEWRIGHT_SERVER: server.url,
    PIPEWRIGHT_TOKEN: adminToken,
    PIPEWRIGHT_PROJECT: "triggers-demo",
  };
});

afterAll(async () => {
  await server?.stop();
});

describe("pipewright CLI: schedules, triggers and webhooks", { timeout: 120_000 }, () => {
  it("pipeline show lists a cron schedule with its next fire time in local time, and the trigger", async () => {
    // A request body (JSON) carries schedules and triggers; the cron fires once a year, so no
    // scheduled run comes between the test's runs.
    const file = path.join(work, "ci.json");
    fs.writeFileSync(
      file,
      JSON.stringify({
        name: "ci",
        is_publish: false,
        definition: shellPipeline("echo built"),
        schedules: [
          { type: "cron", name: "new-year", cron: "0 3 1 1 *", time_zone: "Asia/Singapore" },
          {
            type: "fixed",
            days_of_week: [2, 3, 4, 5, 6],
            start_time: "02:00",
            time_zone: "China Standard Time",
            enable: false,
          },
        ],
        triggers: [
          {
            git_url: REPO,
            git_type: "github",
            events: [
              { type: "push", enable: true },
              { type: "merge_request", enable: false },
            ],
            branches: ["main", "release/*"],
            paths: ["src/**"],
          },
        ],
      }),
    );
    const applied = JSON.parse((await ok(["pipeline", "apply", "-f", file, "--json"])).stdout);
    pipelineId = applied[0].pipeline_id;
    const detail = await api.get(`/v5/${projectId}/api/pipelines/${pipelineId}`);
    const next: number = detail.body.schedules[0].next_time;
    expect(next).toBeGreaterThan(Date.now());
    // 03:00 in Singapore is 04:00 in Tokyo.
    expect(localTime(next)).toMatch(/-01-01 04:00:00$/);

    const shown = await ok(["pipeline", "show", "ci"]);
    const lines = shown.stdout.split("\n");
    const at = lines.indexOf("Schedules:");
    expect(at, shown.stdout).toBeGreaterThan(0);
    expect(lines[at + 1]).toMatch(
      new RegExp(
        `^ {2}new-year: cron 0 3 1 1 \\* \\(Asia/Singapore\\) · next ${localTime(next)} \\(in [^)]+\\)$`,
      ),
    );
    expect(lines[at + 2]).toBe("  Mon–Fri 02:00 (China Standard Time) · disabled");
    expect(shown.stdout).toContain(
      [
        "Triggers:",
        `  ${REPO} (github): push`,
        "    branches main, release/* · paths src/**",
        "  (forges deliver to the project's webhook: pipewright pipeline webhook ci)",
      ].join("\n"),
    );
    // The stages still follow, and --json stays the server's detail.
    expect(shown.stdout).toContain("Stages:");
    const json = JSON.parse((await ok(["pipeline", "show", "ci", "--json"])).stdout);
    expect(json.schedules).toEqual(detail.body.schedules);
    expect(json.triggers).toEqual(detail.body.triggers);
  });

  it("pipeline webhook shows the URL and secret; a viewer is told why not, with exit 3", async () => {
    const hook = await api.get(`/v5/${projectId}/api/pipelines/${pipelineId}/webhook`);
    expect(hook.status).toBe(200);
    const res = await ok(["pipeline", "webhook", "ci"]);
    expect(res.stdout).toMatch(
      new RegExp(
        `^callback_url {4}${hook.body.callback_url}\\nsecurity_token {2}${hook.body.security_token}\\n`,
      ),
    );
    expect(hook.body.callback_url).toBe(`${server.url}/hooks/v1/${projectId}`);
    const json = JSON.parse((await ok(["pipeline", "webhook", "ci", "--json"])).stdout);
    expect(json).toEqual(hook.body);

    const denied = await cli(["pipeline", "webhook", "ci"], { PIPEWRIGHT_TOKEN: viewerToken });
    expect(denied.code).toBe(3);
    expect(denied.stdout).toBe("");
    const [message, hint, ...rest] = denied.stderr.trimEnd().split("\n");
    expect(message).toBe("pipewright: Role viewer may not change pipelines. (DEVPIPE.30011011, HTTP 403)");
    expect(hint).toContain("only a token that may change them (role admin) may see it");
    expect(rest).toEqual([]);
  });

  it("deliveries lists accepted (with its run), ignored and rejected deliveries", async () => {
    const empty = await ok(["deliveries"]);
    expect(empty.stdout).toContain("No webhook deliveries yet");
    const { security_token: secret } = (await api.get(`/v5/${projectId}/api/pipelines/${pipelineId}/webhook`))
      .body;
    const push = {
      event: "push",
      repository: REPO,
      ref: "refs/heads/main",
      commit: COMMIT,
      message: "fix login\n\nThe session expired too early.",
      author: "alice",
      delivery_id: "d1",
    };
    const good = await deliver(push, secret);
    expect(good.status, JSON.stringify(good.body)).toBe(200);
    expect(good.body.pipeline_runs).toEqual([
      { pipeline_id: pipelineId, pipeline_run_id: expect.any(String) },
    ]);
    const badly = await deliver({ ...push, delivery_id: "d2" }, "not-the-secret");
    expect(badly.status).toBe(401);
    const dev = await deliver(
      { ...push, ref: "refs/heads/dev", commit: "f".repeat(40), delivery_id: "d3" },
      secret,
    );
    expect(dev.status).toBe(202);

    const res = await ok(["deliveries"]);
    const rows = res.stdout.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^TIME\s+FORGE\s+EVENT\s+REF\s+COMMIT\s+STATUS\s+RUNS \/ REASON$/);
    // Newest first.
    expect(rows.slice(1)).toEqual([
      expect.stringMatching(
        /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}generic\s+push\s+dev\s+fffffff\s+ignored\s+no trigger matched \(ci: branch dev matches no pattern\)$/,
      ),
      expect.stringMatching(
        /generic\s+-\s+-\s+-\s+rejected\s+the signature or token does not match the project's secret$/,
      ),
      expect.stringMatching(/generic\s+push\s+main\s+0123456\s+accepted\s+ci#1$/),
    ]);
    expect(res.stderr).toBe("");

    const rejected = JSON.parse((await ok(["deliveries", "--status", "rejected", "--json"])).stdout);
    expect(rejected).toMatchObject({ total: 1, offset: 0, limit: 20 });
    expect(rejected.deliveries).toEqual([
      expect.objectContaining({
        status: "rejected",
        reason: "the signature or token does not match the project's secret",
        pipeline_runs: [],
      }),
    ]);
    const accepted = JSON.parse((await ok(["deliveries", "--status", "accepted", "--json"])).stdout);
    expect(accepted.deliveries[0]).toMatchObject({
      forge: "generic",
      delivery_id: "d1",
      commit_id: COMMIT,
      pipeline_runs: good.body.pipeline_runs,
    });

    const first = await ok(["deliveries", "--limit", "1"]);
    expect(first.stdout.trimEnd().split("\n")).toHaveLength(2);
    expect(first.stderr).toBe("Showing 1–1 of 3; --offset 1 for more.\n");
    const last = await ok(["deliveries", "--limit", "1", "--offset", "2"]);
    expect(last.stdout).toMatch(/accepted\s+ci#1\n$/);
    expect(last.stderr).toBe("");
    expect((await ok(["deliveries", "--offset", "5"])).stdout).toBe("No deliveries past the 3 there are.\n");

    for (const bad of [["--status", "failed"], ["--limit", "0"], ["--limit", "101"], ["--offset=-1"]]) {
      const r = await cli(["deliveries", ...bad]);
      expect(r.code, bad.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^pipewright: --(status|limit|offset) must be/);
    }

    // status says what started the run: the event, branch, short commit, author and message.
    const runId: string = good.body.pipeline_runs[0].pipeline_run_id;
    await waitForRun(api, projectId, pipelineId, runId);
    const shown = await ok(["status", "ci#1"]);
    expect(shown.stdout).toContain("Push by Webhook");
    expect(shown.stdout.split("\n")[2]).toBe("Push to main at 0123456 by alice: fix login");
    const byId = await ok(["status", runId, "--pipeline", "ci"]);
    expect(byId.stdout).toBe(shown.stdout);
  });

  it("a run started by hand says nothing of code events", async () => {
    await ok(["run", "ci", "--wait", "--interval", "0.2"]);
    const shown = await ok(["status", "ci#2"]);
    expect(shown.stdout).not.toMatch(/Push to|by alice/);
  });

  it("answers --help for the new commands, and the top-level help lists them", async () => {
    for (const c of [["pipeline", "webhook"], ["deliveries"], ["pipeline"]]) {
      const res = await ok([...c, "--help"]);
      expect(res.stdout, c.join(" ")).toMatch(/^Usage: pipewright/);
    }
    expect((await ok(["pipeline"])).stdout).toContain("webhook PIPELINE");
    const top = await ok(["--help"]);
    expect(top.stdout).toContain("pipeline webhook PIPELINE");
    expect(top.stdout).toContain("deliveries");
    const typo = await cli(["deliveris"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('did you mean "deliveries"?');
  });
});
