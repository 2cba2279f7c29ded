import { describe, expect, it } from "vitest";
import { parseDefinition } from "./definition.js";
import { InvalidInput } from "./issues.js";

const job = (identifier: string, extra: Record<string, unknown> = {}) => ({
  name: identifier,
  identifier,
  steps: [
    {
      name: "s",
      task: "official_shell_plugin",
      inputs: [{ key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: "true" }],
    },
  ],
  ...extra,
});
const def = (stages: { identifier: string; depends_on?: string[]; jobs: unknown[] }[]) =>
  JSON.stringify({ stages: stages.map((s) => ({ name: s.identifier, ...s })) });
const problem = (text: string): string => {
  try {
    parseDefinition(text);
  } catch (err) {
    if (err instanceof InvalidInput) return err.message;
    throw err;
  }
  throw new Error("accepted");
};

describe("artifacts in a definition", () => {
  it("reads what a job keeps and what a later one downloads", () => {
    const d = parseDefinition(
      def([
        {
          identifier: "build",
          jobs: [job("b", { artifacts: [{ name: "dist", paths: ["dist/**", "README.md"] }] })],
        },
        {
          identifier: "test",
          jobs: [
            job("t1", { download_artifacts: ["dist"] }),
            job("t2", { artifacts: [{ name: "report", paths: ["r"] }] }),
          ],
        },
      ]),
    );
    expect(d.stages[0]!.jobs[0]!.artifacts).toEqual([{ name: "dist", paths: ["dist/**", "README.md"] }]);
    expect(d.stages[1]!.jobs[0]!.download_artifacts).toEqual(["dist"]);
    expect(d.stages[1]!.jobs[0]!.extra).toEqual({});
  });

  it("takes a download from a job it depends on in its stage", () => {
    expect(() =>
      parseDefinition(
        def([
          {
            identifier: "s",
            jobs: [
              job("a", { artifacts: [{ name: "x", paths: ["x"] }] }),
              job("b", { depends_on: ["a"] }),
              job("c", { depends_on: ["b"], download_artifacts: ["x"] }),
            ],
          },
        ]),
      ),
    ).not.toThrow();
  });

  it.each([
    [[{ name: "../x", paths: ["a"] }], "artifacts[0].name: must be 1-128"],
    [[{ name: "x", paths: [] }], "artifacts[0].paths: must be a list of 1 to 100 patterns"],
    [[{ name: "x", paths: ["../etc/*"] }], "artifacts[0].paths[0]: must stay inside the workspace"],
    [[{ name: "x", paths: ["/etc/passwd"] }], "artifacts[0].paths[0]: must stay inside the workspace"],
    ["dist", "artifacts: must be a list of {name, paths}"],
  ])("refuses artifacts %j naming the field", (artifacts, message) => {
    expect(problem(def([{ identifier: "s", jobs: [job("a", { artifacts })] }]))).toContain(message);
  });

  it("refuses a name kept twice, an unknown download and one not yet made", () => {
    const kept = { artifacts: [{ name: "x", paths: ["x"] }] };
    expect(problem(def([{ identifier: "s", jobs: [job("a", kept), job("b", kept)] }]))).toMatch(
      /artifact "x" is also kept by job "a"/,
    );
    expect(problem(def([{ identifier: "s", jobs: [job("a", { download_artifacts: ["nope"] })] }]))).toMatch(
      /download_artifacts\[0\]: no job keeps an artifact "nope"/,
    );
    // Same stage, no depends_on: both start at once.
    expect(
      problem(def([{ identifier: "s", jobs: [job("a", kept), job("b", { download_artifacts: ["x"] })] }])),
    ).toMatch(/does not end before this job/);
    // A later stage keeps it.
    expect(
      problem(
        def([
          { identifier: "first", jobs: [job("a", { download_artifacts: ["x"] })] },
          { identifier: "second", jobs: [job("b", kept)] },
        ]),
      ),
    ).toMatch(/does not end before this job/);
  });
});
