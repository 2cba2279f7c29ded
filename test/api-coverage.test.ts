// docs/api-coverage.md stays true: every CodeArts Pipeline operation of the spec's list
// (../shared/spec/codearts-operations.tsv, copied to docs/codearts-operations.tsv) is in it, and
// "implemented" there means the server's own OpenAPI document has that method and path.
// PIPEWRIGHT_WRITE_COVERAGE=1 writes the file from what the server has.

import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createTestApp, type TestApp } from "./helpers/app.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const TSV = path.join(ROOT, "docs", "codearts-operations.tsv");
const DOC = path.join(ROOT, "docs", "api-coverage.md");

const RUN = "/v5/{project_id}/api/pipelines/{pipeline_id}/pipeline-runs/{pipeline_run_id}";
const PIPELINE = "/v5/{project_id}/api/pipelines/{pipeline_id}";

/** The tsv's shorthand (`…/jobs/…`, `…/pipeline-runs/…`, a note in brackets) as a full path. */
function fullPath(p: string): string {
  const bare = p.replace(/\s*\(.*\)\s*$/, "").trim();
  if (bare.startsWith("…/jobs/")) return RUN + bare.slice(1);
  if (bare.startsWith("…/pipeline-runs/")) return PIPELINE + bare.slice(1);
  return bare;
}
const shape = (p: string): string => p.replace(/\{[^}]+\}/g, "{}").replace(/:[a-z_]+/g, "{}");

/** Why an operation is not here yet, by its theme (the issue that builds it). */
const WHY: Readonly<Record<string, string>> = {
  pipeline: "not planned yet (pipeline versions and modify history)",
  run: "not planned yet (rollback runs)",
  review: "not planned yet (delayed and manual-step reviews)",
  status: "not planned: the legacy run list",
  logs: "not planned yet (exec log)",
  trigger: "",
  queue: "",
  template: "",
  group: "",
  tag: "",
  vars: "",
  perm: "",
  plugin: "issue 15 (tasks from the CodeArts catalogue)",
  notice:
    "not yet or not planned: CodeArts's official notices (console messages and mails to project roles, whom Pipewright has no mailboxes for), the per-type views, alert policies (docs/decisions.md, Notifications)",
  rule: "not planned yet (policy rules and rule sets)",
  microservice: "not planned yet (CodeArts micro-services)",
  endpoint: "not planned yet (service endpoints)",
  gitcode: "not planned yet (GitCode integration)",
  change: "not planned yet (change-based release)",
  legacy: "not planned: the v3 API CodeArts keeps for old clients",
};

interface Row {
  theme: string;
  method: string;
  path: string;
  implemented: boolean;
}

let t: TestApp;
let rows: Row[];
beforeAll(async () => {
  t = await createTestApp({ localRunner: false });
  const doc = (await call(t.app, "GET", "/openapi.json")).body as {
    paths: Record<string, Record<string, unknown>>;
  };
  const ours = new Set(
    Object.entries(doc.paths).flatMap(([p, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${shape(p)}`),
    ),
  );
  rows = fs
    .readFileSync(TSV, "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((line) => {
      const [theme, method, p] = line.split("\t") as [string, string, string];
      const full = fullPath(p);
      return { theme, method, path: full, implemented: ours.has(`${method} ${shape(full)}`) };
    });
});
afterAll(async () => {
  await t?.close();
});

function render(rs: readonly Row[]): string {
  const done = rs.filter((r) => r.implemented).length;
  const lines = [
    "# CodeArts Pipeline API coverage",
    "",
    "Every public CodeArts Pipeline operation found (`docs/codearts-operations.tsv`: theme, method,",
    'path, where it was seen), and whether Pipewright answers it. "yes" means the server\'s own OpenAPI',
    "document (`/openapi.json`) has that method and path; `test/api-coverage.test.ts` checks this file",
    "against it (`PIPEWRIGHT_WRITE_COVERAGE=1` rewrites it). Our own endpoints (webhook deliveries,",
    "artifact downloads, the runner and admin APIs) are in the OpenAPI document, not here.",
    "",
    `${done} of ${rs.length} operations are implemented.`,
    "",
    "| theme | method | path | here | why not yet |",
    "|---|---|---|---|---|",
    ...rs.map(
      (r) =>
        `| ${r.theme} | ${r.method} | \`${r.path}\` | ${r.implemented ? "yes" : "no"} | ${r.implemented ? "" : (WHY[r.theme] ?? "")} |`,
    ),
    "",
  ];
  return lines.join("\n");
}

describe("docs/api-coverage.md", () => {
  it("lists every operation of the spec's list, implemented exactly when the server has it", () => {
    const text = render(rows);
    if (process.env.PIPEWRIGHT_WRITE_COVERAGE === "1") fs.writeFileSync(DOC, text);
    expect(fs.readFileSync(DOC, "utf8")).toBe(text);
    // The implemented ones are at least those the first wave built, and the triggers'.
    for (const p of ["/v5/{project_id}/api/pipelines/batch-runs", `${PIPELINE}/webhook`, `${RUN}/artifacts`])
      expect(rows.find((r) => r.path === p)?.implemented, p).toBe(true);
  });

  // Only where the shared spec lies beside the checkout (not in a clean clone of it alone).
  const spec = path.join(ROOT, "..", "shared", "spec", "codearts-operations.tsv");
  it.skipIf(!fs.existsSync(spec))("keeps the copy of the spec's list the same as the spec's", () => {
    expect(fs.readFileSync(TSV, "utf8")).toBe(fs.readFileSync(spec, "utf8"));
  });
});
