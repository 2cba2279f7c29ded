import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseDefinition } from "./definition.js";
import { InvalidInput } from "./issues.js";
import { pipelineBodyFromText } from "./yaml-form.js";
import { yamlFormFromDetail } from "./yaml-form-write.js";
import { slugOf } from "./yaml-locator.js";

const EXAMPLE = `
name: build-and-test
description: Build, then test on two platforms
variables:
  greeting: hello
  target:
    value: staging
    type: enum
    limits: [staging, production]
    is_runtime: true
concurrency_control:
  concurrency_number: 2
  exceed_action: QUEUE
stages:
  - name: Build
    jobs:
      - name: Compile
        timeout: 30m
        resource: { type: system, arch: x86 }
        labels: [linux]
        steps:
          - name: Make
            uses: official_shell_plugin
            with:
              script: make
  - name: Test
    identifier: test
    jobs:
      - name: Unit tests
        steps:
          - name: Run
            identifier: run_unit
            uses: official_shell_plugin
            with:
              OFFICIAL_SHELL_SCRIPT_INPUT: make test
      - name: Report
        needs: [unit_tests]
        if: \${{ always() }}
        steps:
          - name: Review
            uses: official_devcloud_checkpoint
            with: { timeout: 3600, timeout_strategy: pass }
`;

const KIND_CODES = {
  definition: "DEVPIPE.00020110",
  request: "DEVPIPE.00020100",
  variable: "DEVPIPE.00020230",
};

/** The issue, with the code the API and CLI report it under (the mapping itself: src/errors.test.ts). */
function errorOf(fn: () => unknown): InvalidInput & { code: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidInput) return Object.assign(err, { code: KIND_CODES[err.issue.kind] });
    throw err;
  }
  throw new Error("expected an error");
}

describe("pipelineBodyFromText: YAML form", () => {
  it("builds the create body with a definition string the server accepts", () => {
    const { body, shape } = pipelineBodyFromText(EXAMPLE, { fileName: "p.yaml" });
    expect(shape).toBe("yaml-form");
    expect(body.name).toBe("build-and-test");
    expect(body.is_publish).toBe(false);
    expect(body.description).toBe("Build, then test on two platforms");
    expect(typeof body.definition).toBe("string");
    const def = parseDefinition(body.definition);
    expect(def.stages.map((s) => s.identifier)).toEqual(["build", "test"]);
    const [compile] = def.stages[0]!.jobs;
    expect(compile!.identifier).toBe("compile");
    expect(compile!.timeoutSeconds).toBe(1800);
    expect(JSON.parse(compile!.resource)).toEqual({ type: "system", arch: "x86", labels: ["linux"] });
    expect(compile!.steps[0]!.inputs).toEqual([{ key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: "make" }]);
    const report = def.stages[1]!.jobs[1]!;
    expect(report.identifier).toBe("report");
    expect(report.depends_on).toEqual(["unit_tests"]);
    expect(report.condition).toBe("${{ always() }}");
    expect(report.steps[0]!.task).toBe("official_devcloud_checkpoint");
    expect(report.steps[0]!.inputs).toEqual([
      { key: "timeout", value: 3600 },
      { key: "timeout_strategy", value: "pass" },
    ]);
    expect(def.stages[1]!.jobs[0]!.steps[0]!.identifier).toBe("run_unit");
  });

  it("turns a variables mapping into CodeArts's list, in file order", () => {
    const { body } = pipelineBodyFromText(EXAMPLE);
    expect(body.variables).toEqual([
      { name: "greeting", value: "hello" },
      { name: "target", value: "staging", type: "enum", limits: ["staging", "production"], is_runtime: true },
    ]);
    expect(body.concurrency_control).toEqual({ concurrency_number: 2, exceed_action: "QUEUE" });
  });

  it("lets --name override the file's name", () => {
    expect(pipelineBodyFromText(EXAMPLE, { name: "other" }).body.name).toBe("other");
  });

  it("names the file, line, column and YAML path of a bad task", () => {
    const text = EXAMPLE.replace("uses: official_devcloud_checkpoint", "uses: official_devcloud_deploy");
    const err = errorOf(() => pipelineBodyFromText(text, { fileName: "p.yaml" }));
    expect(err.code).toBe("DEVPIPE.00020110");
    expect(err.message).toMatch(
      /^p\.yaml:41:13: stages\[1\]\.jobs\[1\]\.steps\[0\]\.uses: unsupported task "official_devcloud_deploy"; supported tasks: /,
    );
  });

  it("points a bad input value at its `with` key", () => {
    const text = EXAMPLE.replace("timeout_strategy: pass", "timeout_strategy: maybe");
    const err = errorOf(() => pipelineBodyFromText(text, { fileName: "p.yaml" }));
    expect(err.message).toMatch(
      /^p\.yaml:42:36: stages\[1\]\.jobs\[1\]\.steps\[0\]\.with\.timeout_strategy: /,
    );
  });

  it("points dependency errors at the key the file used (needs)", () => {
    const text = EXAMPLE.replace("needs: [unit_tests]", "needs: [nope]");
    const err = errorOf(() => pipelineBodyFromText(text, { fileName: "p.yaml" }));
    expect(err.message).toContain('stages[1].jobs[1].needs[0]: unknown job "nope"');
  });

  it("rejects unknown keys, naming the allowed ones", () => {
    const text = EXAMPLE.replace("        timeout: 30m", "        timout: 30m");
    const err = errorOf(() => pipelineBodyFromText(text, { fileName: "p.yaml" }));
    expect(err.message).toMatch(
      /^p\.yaml:18:9: stages\[0\]\.jobs\[0\]\.timout: unknown key in a job; allowed: name, /,
    );
  });

  it("rejects a `run:` shorthand: CodeArts YAML has none", () => {
    const err = errorOf(() =>
      pipelineBodyFromText(
        "name: x\nstages:\n  - name: a\n    jobs:\n      - name: b\n        steps:\n          - name: c\n            run: make\n",
      ),
    );
    expect(err.message).toContain(
      "stages[0].jobs[0].steps[0].run: unknown key in a step; allowed: name, identifier, uses, with",
    );
  });

  it("requires a name unless one is passed", () => {
    const text = EXAMPLE.replace("name: build-and-test\n", "");
    expect(errorOf(() => pipelineBodyFromText(text)).message).toContain("name: required (or pass --name)");
    expect(pipelineBodyFromText(text, { name: "given" }).body.name).toBe("given");
  });

  it("refuses identifiers derived from names that collide", () => {
    const text =
      "name: x\nstages:\n  - name: A\n    jobs:\n      - name: Build\n        steps: [{name: s, uses: official_shell_plugin, with: {script: 'true'}}]\n" +
      "  - name: B\n    jobs:\n      - name: build\n        steps: [{name: s, uses: official_shell_plugin, with: {script: 'true'}}]\n";
    const err = errorOf(() => pipelineBodyFromText(text, { fileName: "f.yml" }));
    expect(err.message).toBe(
      'f.yml:9:9: stages[1].jobs[0].name: identifier "build" (derived from the name) is also used by stages[0].jobs[0]; give one of them an explicit identifier',
    );
  });

  it("rejects script and OFFICIAL_SHELL_SCRIPT_INPUT together", () => {
    const text = EXAMPLE.replace(
      "script: make",
      "script: make\n              OFFICIAL_SHELL_SCRIPT_INPUT: make",
    );
    expect(errorOf(() => pipelineBodyFromText(text)).message).toContain(
      "steps[0].with.script: give either script or OFFICIAL_SHELL_SCRIPT_INPUT",
    );
  });

  it("reports YAML syntax errors with their position", () => {
    const err = errorOf(() => pipelineBodyFromText("name: a\nname: b\n", { fileName: "dup.yaml" }));
    expect(err.message).toBe("dup.yaml:2:1: not valid YAML: Map keys must be unique");
  });

  it("names variable errors by the variable's key in a mapping", () => {
    const text = EXAMPLE.replace("value: staging", "value: qa");
    const err = errorOf(() => pipelineBodyFromText(text, { fileName: "p.yaml" }));
    expect(err.code).toBe("DEVPIPE.00020100");
    expect(err.message).toMatch(/^p\.yaml:\d+:\d+: variables\.target\.value: must be one of the limits/);
  });

  it("names concurrency errors", () => {
    const text = EXAMPLE.replace("exceed_action: QUEUE", "exceed_action: WAIT");
    expect(errorOf(() => pipelineBodyFromText(text)).message).toContain(
      "concurrency_control.exceed_action: must be one of ABORT, QUEUE",
    );
  });
});

describe("pipelineBodyFromText: the JSON shapes", () => {
  const definition = {
    stages: [
      {
        name: "s",
        identifier: "s",
        pre: [{ task: "official_devcloud_autoTrigger" }],
        jobs: [
          {
            name: "j",
            identifier: "j",
            steps: [
              {
                name: "x",
                task: "official_shell_plugin",
                inputs: [{ key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: "true" }],
              },
            ],
          },
        ],
      },
    ],
  };

  it("takes a request body, with the definition as a string or an object", () => {
    const asString = pipelineBodyFromText(
      JSON.stringify({ name: "n", is_publish: false, definition: JSON.stringify(definition) }),
    );
    expect(asString.shape).toBe("request-body");
    expect(JSON.parse(asString.body.definition)).toEqual(definition);
    const asObject = pipelineBodyFromText(
      JSON.stringify({ name: "n", definition, variables: [{ name: "v", value: "1" }] }),
    );
    expect(JSON.parse(asObject.body.definition)).toEqual(definition);
    expect(asObject.body.variables).toEqual([{ name: "v", value: "1" }]);
    expect(asObject.body.is_publish).toBe(false);
  });

  it("takes a bare definition, keeping unknown keys, named after the file", () => {
    const { body, shape } = pipelineBodyFromText(JSON.stringify(definition), {
      fileName: "dir/nightly.json",
    });
    expect(shape).toBe("definition");
    expect(body.name).toBe("nightly");
    expect(JSON.parse(body.definition)).toEqual(definition);
  });

  it("keeps the server's paths for a bad request body", () => {
    const bad = { ...definition, stages: [{ ...definition.stages[0], identifier: "bad id" }] };
    const err = errorOf(() =>
      pipelineBodyFromText(JSON.stringify({ name: "n", definition: bad }), { fileName: "b.json" }),
    );
    expect(err.message).toMatch(
      /^b\.json:1:\d+: definition\.stages\[0\]\.identifier: must be 1 to 128 letters/,
    );
  });

  it("refuses a file that mixes task/inputs and uses/with steps", () => {
    const text = `name: m
stages:
  - name: a
    jobs:
      - name: b
        steps:
          - name: c
            task: official_shell_plugin
            inputs: [{key: OFFICIAL_SHELL_SCRIPT_INPUT, value: 'true'}]
          - name: d
            uses: official_shell_plugin
`;
    expect(errorOf(() => pipelineBodyFromText(text)).message).toContain(
      "stages[0].jobs[0].steps[1]: mixes the two step spellings",
    );
  });

  it("refuses unknown keys of a request body", () => {
    expect(
      errorOf(() => pipelineBodyFromText(JSON.stringify({ name: "n", definition, stagez: [] }))).message,
    ).toContain("stagez: unknown key; a request body has name,");
  });
});

describe("yamlFormFromDetail", () => {
  it("gives YAML that applies back to the same body", () => {
    const first = pipelineBodyFromText(EXAMPLE).body;
    const text = yamlFormFromDetail({
      ...first,
      variables: (first.variables ?? []).map((v, i) => ({
        sequence: i + 1,
        type: "string",
        is_secret: false,
        ...v,
      })),
      concurrency_control: { ...first.concurrency_control, pipeline_id: "x", create_time: 1 },
    });
    expect(text).not.toContain("pipeline_id");
    expect(text).not.toContain("sequence");
    const again = pipelineBodyFromText(text).body;
    expect(JSON.parse(again.definition)).toEqual(JSON.parse(first.definition));
    expect(again.name).toBe(first.name);
    expect(again.concurrency_control).toEqual(first.concurrency_control);
  });

  it("carries schedules and triggers, without what the detail adds to them", () => {
    const first = pipelineBodyFromText(EXAMPLE).body;
    const schedule = { uuid: "s1", type: "cron", cron: "0 2 * * *", time_zone: "UTC" };
    const trigger = { git_url: "https://git.example.com/a.git", poll_interval: 60, branches: ["main"] };
    const text = yamlFormFromDetail({
      ...first,
      schedules: [
        { ...schedule, next_time: 5, last_fire_time: null, missed_count: 0, last_missed_time: null },
      ],
      triggers: [{ ...trigger, last_poll_time: 1, next_poll_time: 2, poll_error: "x" }],
    });
    const again = pipelineBodyFromText(text).body;
    expect(again.schedules).toEqual([schedule]);
    expect(again.triggers).toEqual([trigger]);
  });
});

describe("slugOf", () => {
  it("lower-cases and joins with underscores", () => {
    expect(slugOf("Unit tests")).toBe("unit_tests");
    expect(slugOf("  Build & Deploy (x86) ")).toBe("build_deploy_x86");
    expect(slugOf("lint-js")).toBe("lint-js");
    expect(slugOf("構築")).toBe("");
  });
});

describe("docs/definition.md", () => {
  const doc = fs.readFileSync(path.join(import.meta.dirname, "..", "..", "docs", "definition.md"), "utf8");
  const block = (heading: string, lang: string): string => {
    const section = doc.slice(doc.indexOf(heading));
    return new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(section)![1]!;
  };

  it("has a YAML form example that is the JSON example plus variables, sources and concurrency", () => {
    const { body } = pipelineBodyFromText(block("## YAML form", "yaml"), { fileName: "doc.yaml" });
    expect(parseDefinition(body.definition)).toEqual(parseDefinition(block("## A complete example", "json")));
    expect(body.variables).toEqual([
      { name: "deploy", value: "false", is_runtime: true },
      { name: "region", value: "eu-west" },
    ]);
    expect(body.sources).toHaveLength(1);
    expect(body.concurrency_control).toEqual({ concurrency_number: 1, exceed_action: "QUEUE" });
  });
});
