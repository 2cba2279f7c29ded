// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${{ … }}` is CodeArts syntax under test.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseCondition } from "./condition.js";
import { findCycle, parseDefinition, stageOrder } from "./definition.js";
import { InvalidInput } from "./issues.js";
import { checkpointSettings, parseDurationSeconds, stepInput } from "./task-inputs.js";

type Json = Record<string, unknown>;

const shell = (identifier: string, script = "echo hi", extra: Json = {}): Json => ({
  name: identifier,
  identifier,
  task: "official_shell_plugin",
  inputs: [{ key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: script }],
  ...extra,
});
const job = (identifier: string, extra: Json = {}): Json => ({
  name: identifier,
  identifier,
  steps: [shell(`${identifier}_step`)],
  ...extra,
});
const stage = (identifier: string, jobs: unknown[], extra: Json = {}): Json => ({
  name: identifier,
  identifier,
  jobs,
  ...extra,
});
const def = (...stages: unknown[]): Json => ({ stages });
const oneStep = (step: Json): Json => def(stage("s", [job("j", { steps: [step] })]));

function rejects(input: unknown): string {
  try {
    parseDefinition(input);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInput);
    const e = err as InvalidInput;
    // The API answers a definition issue as DEVPIPE.00020110, HTTP 400 (src/errors.test.ts).
    expect(e.issue.kind).toBe("definition");
    return e.message;
  }
  throw new Error("expected the definition to be rejected");
}

/** The definition of spec §5.1 as the Terraform acceptance test sends it (a JSON string). */
const CODEARTS_SAMPLE = JSON.stringify({
  stages: [
    {
      name: "Stage_1",
      identifier: "stage-unique-id",
      sequence: 0,
      depends_on: [],
      run_always: false,
      parallel: null,
      run_condition: null,
      type: null,
      pre: [{ task: "official_devcloud_autoTrigger", sequence: 0 }],
      post: null,
      jobs: [
        {
          id: "",
          name: "ManualReview",
          identifier: "JOB_EyJYf",
          sequence: 0,
          async: null,
          condition: "${{ default() }}",
          strategy: { select_strategy: "selected" },
          timeout: "",
          resource: '{"type":"system","arch":"x86"}',
          exec_type: "AGENTLESS_JOB",
          depends_on: [],
          condition_tag: "",
          unfinished_steps: [],
          steps: [
            {
              name: "ManualReview",
              task: "official_devcloud_checkpoint",
              business_type: "Normal",
              official_task_version: "0.0.5",
              runtime_attribution: "agentless",
              multi_step_editable: 0,
              identifier: "step-unique-id",
              sequence: 0,
              endpoint_ids: [],
              env: [],
              inputs: [
                { key: "audit_source", value: "members" },
                { key: "approvers", value: "<user id>" },
                { key: "check_strategy", value: "all" },
                { key: "timeout_strategy", value: "reject" },
                { key: "timeout", value: 3600 },
                { key: "comment", value: "" },
              ],
            },
          ],
        },
      ],
    },
  ],
});

describe("parseDefinition: the CodeArts form", () => {
  it("accepts the definition JSON string CodeArts clients send", () => {
    const d = parseDefinition(CODEARTS_SAMPLE);
    expect(d.stages).toHaveLength(1);
    const st = d.stages[0]!;
    expect(st).toMatchObject({
      name: "Stage_1",
      identifier: "stage-unique-id",
      sequence: 0,
      run_always: false,
    });
    expect(st.extra).toEqual({
      parallel: null,
      run_condition: null,
      type: null,
      pre: [{ task: "official_devcloud_autoTrigger", sequence: 0 }],
      post: null,
    });
    const j = st.jobs[0]!;
    expect(j).toMatchObject({
      identifier: "JOB_EyJYf",
      condition: "${{ default() }}",
      timeout: "",
      timeoutSeconds: null,
      resource: '{"type":"system","arch":"x86"}',
    });
    expect(j.extra).toMatchObject({
      id: "",
      exec_type: "AGENTLESS_JOB",
      strategy: { select_strategy: "selected" },
    });
    const step = j.steps[0]!;
    expect(step.task).toBe("official_devcloud_checkpoint");
    expect(step.inputs).toHaveLength(6);
    expect(step.extra).toMatchObject({ business_type: "Normal", official_task_version: "0.0.5" });
    expect(checkpointSettings(step)).toEqual({ timeoutSeconds: 3600, timeoutStrategy: "reject" });
  });

  it("accepts an already-parsed object", () => {
    expect(parseDefinition(JSON.parse(CODEARTS_SAMPLE))).toEqual(parseDefinition(CODEARTS_SAMPLE));
  });
});

describe("parseDefinition: defaults", () => {
  it("fills every optional field", () => {
    const d = parseDefinition(
      def(stage("s", [job("j", { steps: [{ name: "x", task: "official_git_clone" }] })])),
    );
    const st = d.stages[0]!;
    expect(st).toMatchObject({ sequence: 0, depends_on: [], run_always: false, extra: {} });
    expect(st.jobs[0]).toMatchObject({
      sequence: 0,
      depends_on: [],
      condition: "${{ default() }}",
      timeout: "",
      timeoutSeconds: null,
      resource: "",
      extra: {},
    });
    expect(st.jobs[0]!.steps[0]).toEqual({
      name: "x",
      identifier: "step_0_0_0",
      task: "official_git_clone",
      sequence: 0,
      inputs: [],
      extra: {},
    });
  });

  it("treats null like an absent field, as CodeArts sends null for unset ones", () => {
    const d = parseDefinition(
      def(
        stage(
          "s",
          [job("j", { sequence: null, depends_on: null, condition: null, timeout: null, resource: null })],
          {
            sequence: null,
            depends_on: null,
            run_always: null,
          },
        ),
      ),
    );
    expect(d.stages[0]).toMatchObject({ sequence: 0, depends_on: [], run_always: false });
    expect(d.stages[0]!.jobs[0]).toMatchObject({
      condition: "${{ default() }}",
      timeoutSeconds: null,
      resource: "",
    });
  });

  it("uses an empty condition as the default one", () => {
    const d = parseDefinition(def(stage("s", [job("j", { condition: "" })])));
    expect(d.stages[0]!.jobs[0]!.condition).toBe("${{ default() }}");
  });

  it("generates deterministic step identifiers from the positions sent", () => {
    const steps = [
      { name: "a", task: "official_git_clone" },
      { name: "b", task: "official_git_clone", identifier: "" },
      { name: "c", task: "official_git_clone", identifier: "mine" },
    ];
    const d = parseDefinition(def(stage("s0", [job("j0")]), stage("s1", [job("j1"), job("j2", { steps })])));
    expect(d.stages[1]!.jobs[1]!.steps.map((s) => s.identifier)).toEqual([
      "step_1_1_0",
      "step_1_1_1",
      "mine",
    ]);
  });

  it("encodes an object resource as JSON", () => {
    const d = parseDefinition(def(stage("s", [job("j", { resource: { type: "system", arch: "arm" } })])));
    expect(d.stages[0]!.jobs[0]!.resource).toBe('{"type":"system","arch":"arm"}');
  });

  it("keeps a job depending on the same job twice as one dependency", () => {
    const d = parseDefinition(def(stage("s", [job("a"), job("b", { depends_on: ["a", "a"] })])));
    expect(d.stages[0]!.jobs[1]!.depends_on).toEqual(["a"]);
  });
});

describe("parseDefinition: sorting", () => {
  it("sorts stages, jobs and steps by sequence, keeping ties in input order", () => {
    const steps = [
      shell("st_c", "c", { sequence: 2 }),
      shell("st_a", "a", { sequence: 0 }),
      shell("st_b1", "b", { sequence: 1 }),
      shell("st_b2", "b", { sequence: 1 }),
    ];
    const d = parseDefinition(
      def(
        stage("third", [job("j3")], { sequence: 5 }),
        stage("first", [job("jb", { sequence: 1 }), job("ja", { sequence: 0, steps })], { sequence: 1 }),
        stage("second_a", [job("j2a")], { sequence: 3 }),
        stage("second_b", [job("j2b")], { sequence: 3 }),
      ),
    );
    expect(d.stages.map((s) => s.identifier)).toEqual(["first", "second_a", "second_b", "third"]);
    expect(d.stages[0]!.jobs.map((j) => j.identifier)).toEqual(["ja", "jb"]);
    expect(d.stages[0]!.jobs[0]!.steps.map((s) => s.identifier)).toEqual(["st_a", "st_b1", "st_b2", "st_c"]);
  });

  it("defaults sequence to the position, so unsequenced items keep their order", () => {
    const d = parseDefinition(def(stage("b", [job("j1")]), stage("a", [job("j2")])));
    expect(d.stages.map((s) => [s.identifier, s.sequence])).toEqual([
      ["b", 0],
      ["a", 1],
    ]);
  });

  it("reports error paths by the position sent, not the sorted one", () => {
    const msg = rejects(
      def(
        stage("late", [job("j1")], { sequence: 9 }),
        stage("early", [job("j2", { steps: [{ name: "x" }] })]),
      ),
    );
    expect(msg).toMatch(/^definition\.stages\[1\]\.jobs\[0\]\.steps\[0\]\.task: /);
  });
});

describe("parseDefinition: job timeout", () => {
  it.each([
    [90, "90", 90],
    ["600", "600", 600],
    ["90s", "90s", 90],
    ["30m", "30m", 1800],
    ["2h", "2h", 7200],
    ["1d", "1d", 86400],
    ["1h30m", "1h30m", 5400],
    [604800, "604800", 604800],
  ])("accepts %j", (timeout, raw, secs) => {
    const j = parseDefinition(def(stage("s", [job("j", { timeout })]))).stages[0]!.jobs[0]!;
    expect(j.timeout).toBe(raw);
    expect(j.timeoutSeconds).toBe(secs);
  });

  it.each([0, "0", 604801, "8d", "soon", "1.5", 1.5, "-5", "m"])("rejects %j", (timeout) => {
    expect(rejects(def(stage("s", [job("j", { timeout })])))).toMatch(
      /^definition\.stages\[0\]\.jobs\[0\]\.timeout: /,
    );
  });

  it("rejects a timeout of the wrong type", () => {
    expect(rejects(def(stage("s", [job("j", { timeout: true })])))).toBe(
      "definition.stages[0].jobs[0].timeout: must be a string or a number of seconds",
    );
  });

  it("parseDurationSeconds answers null for non-durations", () => {
    expect(parseDurationSeconds("")).toBeNull();
    expect(parseDurationSeconds("abc")).toBeNull();
    expect(parseDurationSeconds({})).toBeNull();
    expect(parseDurationSeconds(" 45 ")).toBe(45);
  });
});

describe("parseDefinition: structure errors", () => {
  it.each<[unknown, string]>([
    ["{not json", "definition: not valid JSON"],
    [undefined, "definition: must be a JSON object with a stages array"],
    ["[]", "definition: must be a JSON object with a stages array"],
    [{}, "definition.stages: must be a non-empty array of stages"],
    [{ stages: [] }, "definition.stages: must be a non-empty array of stages"],
    [{ stages: {} }, "definition.stages: must be a non-empty array of stages"],
    [def("x"), "definition.stages[0]: must be an object"],
    [
      def({ identifier: "s", jobs: [job("j")] }),
      "definition.stages[0].name: must be a string of 1 to 128 characters",
    ],
    [
      def(stage("s", [job("j")], { name: "" })),
      "definition.stages[0].name: must be a string of 1 to 128 characters",
    ],
    [
      def(stage("s", [job("j")], { name: "x".repeat(129) })),
      "definition.stages[0].name: must be a string of 1 to 128 characters",
    ],
    [
      def(stage("bad id", [job("j")])),
      "definition.stages[0].identifier: must be 1 to 128 letters, digits, '_' or '-'",
    ],
    [
      def(stage("x".repeat(129), [job("j")], { name: "ok" })),
      "definition.stages[0].identifier: must be 1 to 128",
    ],
    [def(stage("s", [])), "definition.stages[0].jobs: must be a non-empty array of jobs"],
    [def(stage("s", [job("j")], { sequence: -1 })), "definition.stages[0].sequence: must be an integer >= 0"],
    [
      def(stage("s", [job("j")], { sequence: "1" })),
      "definition.stages[0].sequence: must be an integer >= 0",
    ],
    [def(stage("s", [job("j")], { depends_on: "a" })), "definition.stages[0].depends_on: must be an array"],
    [
      def(stage("s", [job("j")], { depends_on: [1] })),
      "definition.stages[0].depends_on[0]: must be a string",
    ],
    [
      def(stage("s", [job("j")], { run_always: "yes" })),
      "definition.stages[0].run_always: must be a boolean",
    ],
    [def(stage("s", [7])), "definition.stages[0].jobs[0]: must be an object"],
    [def(stage("s", [job("j", { name: 3 })])), "definition.stages[0].jobs[0].name: must be a string"],
    [def(stage("s", [job("j.k")])), "definition.stages[0].jobs[0].identifier: must be 1 to 128"],
    [
      def(stage("s", [job("j", { steps: [] })])),
      "definition.stages[0].jobs[0].steps: must be a non-empty array of steps",
    ],
    [
      def(stage("s", [job("j", { sequence: 1.5 })])),
      "definition.stages[0].jobs[0].sequence: must be an integer >= 0",
    ],
    [
      def(stage("s", [job("j", { depends_on: {} })])),
      "definition.stages[0].jobs[0].depends_on: must be an array",
    ],
    [
      def(stage("s", [job("j", { condition: 5 })])),
      "definition.stages[0].jobs[0].condition: must be a string",
    ],
    [def(stage("s", [job("j", { resource: 5 })])), "definition.stages[0].jobs[0].resource: must be a string"],
    [oneStep({ ...shell("x"), name: "" }), "definition.stages[0].jobs[0].steps[0].name: must be a string"],
    [
      oneStep({ ...shell("x"), identifier: "a b" }),
      "definition.stages[0].jobs[0].steps[0].identifier: must be 1 to 128",
    ],
    [
      oneStep({ ...shell("x"), sequence: -2 }),
      "definition.stages[0].jobs[0].steps[0].sequence: must be an integer",
    ],
    [
      oneStep({ ...shell("x"), inputs: {} }),
      "definition.stages[0].jobs[0].steps[0].inputs: must be an array",
    ],
    [
      oneStep({ ...shell("x"), inputs: ["a"] }),
      "definition.stages[0].jobs[0].steps[0].inputs[0]: must be an object",
    ],
    [
      oneStep({ ...shell("x"), inputs: [{ value: 1 }] }),
      "definition.stages[0].jobs[0].steps[0].inputs[0].key: must be a non-empty string",
    ],
    [
      oneStep({
        ...shell("x"),
        inputs: [
          { key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: "a" },
          { key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: "b" },
        ],
      }),
      'definition.stages[0].jobs[0].steps[0].inputs[1].key: duplicate input key "OFFICIAL_SHELL_SCRIPT_INPUT"',
    ],
  ])("%j → %s", (input, message) => {
    expect(rejects(input)).toContain(message);
  });

  it("wraps a bad condition with its path and position", () => {
    expect(rejects(def(stage("s", [job("a"), job("b", { condition: "${{ default( }}" })])))).toBe(
      'definition.stages[0].jobs[1].condition: unexpected end of expression at position 14 of condition "${{ default( }}"',
    );
  });
});

describe("parseDefinition: tasks and their inputs", () => {
  it("rejects an unsupported task, listing the supported ones", () => {
    const msg = rejects(
      def(
        stage("s", [
          job("j", { steps: [shell("a"), shell("b"), { name: "c", task: "official_devcloud_deploy" }] }),
        ]),
      ),
    );
    expect(msg).toBe(
      'definition.stages[0].jobs[0].steps[2].task: unsupported task "official_devcloud_deploy"; ' +
        "supported tasks: official_shell_plugin, official_devcloud_cloudBuild, official_docker_executor, official_git_clone, official_devcloud_checkpoint, official_devcloud_subPipeline, official_devcloud_delay, SuspendPipeline",
    );
  });

  it("rejects a missing task", () => {
    expect(rejects(oneStep({ name: "x" }))).toContain(
      "definition.stages[0].jobs[0].steps[0].task: unsupported task missing or not a string; supported tasks:",
    );
  });

  it("build: requires a string command, and says a CodeArts Build task cannot run here", () => {
    const step = (inputs: Json[]): Json => ({ name: "b", task: "official_devcloud_cloudBuild", inputs });
    expect(rejects(oneStep(step([{ key: "jobId", value: "878b4d13cb284d9e8f33f988a902f57c" }])))).toBe(
      'definition.stages[0].jobs[0].steps[0].inputs: command (the build\'s shell command) is required for official_devcloud_cloudBuild: a CodeArts Build task (jobId "878b4d13cb284d9e8f33f988a902f57c") cannot run here',
    );
    expect(rejects(oneStep(step([{ key: "command", value: 3 }])))).toBe(
      "definition.stages[0].jobs[0].steps[0].inputs[0].value: command must be a string",
    );
    expect(() =>
      parseDefinition(
        oneStep(
          step([
            { key: "jobId", value: "x" },
            { key: "command", value: "make" },
          ]),
        ),
      ),
    ).not.toThrow();
  });

  it("container image: requires a command and an image reference that is no option", () => {
    const step = (inputs: Json[]): Json => ({ name: "i", task: "official_docker_executor", inputs });
    expect(rejects(oneStep(step([{ key: "image", value: "alpine:3" }])))).toBe(
      "definition.stages[0].jobs[0].steps[0].inputs: command (run in the image) is required for official_docker_executor",
    );
    expect(rejects(oneStep(step([{ key: "command", value: "id" }])))).toContain(
      "image (the container image to run) is required",
    );
    for (const bad of ["--privileged", "-v/:/host", "a b", "", 7]) {
      expect(
        rejects(
          oneStep(
            step([
              { key: "command", value: "id" },
              { key: "image", value: bad },
            ]),
          ),
        ),
      ).toContain("definition.stages[0].jobs[0].steps[0].inputs[1].value: image must be");
    }
    for (const good of [
      "alpine",
      "swr.example.com:5000/team/app:1.1",
      "app@sha256:abc",
      "${{ jobs.b.outputs.image }}",
    ]) {
      expect(() =>
        parseDefinition(
          oneStep(
            step([
              { key: "command", value: "id" },
              { key: "image", value: good },
            ]),
          ),
        ),
      ).not.toThrow();
    }
  });

  it("shell: requires a string script", () => {
    expect(rejects(oneStep({ name: "x", task: "official_shell_plugin" }))).toBe(
      "definition.stages[0].jobs[0].steps[0].inputs: OFFICIAL_SHELL_SCRIPT_INPUT is required for official_shell_plugin",
    );
    expect(
      rejects(
        oneStep({
          name: "x",
          task: "official_shell_plugin",
          inputs: [
            { key: "other", value: 1 },
            { key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: ["echo"] },
          ],
        }),
      ),
    ).toBe(
      "definition.stages[0].jobs[0].steps[0].inputs[1].value: OFFICIAL_SHELL_SCRIPT_INPUT must be a string",
    );
    const step = parseDefinition(oneStep(shell("x", "make test"))).stages[0]!.jobs[0]!.steps[0]!;
    expect(stepInput(step, "OFFICIAL_SHELL_SCRIPT_INPUT")).toBe("make test");
    expect(stepInput(step, "nothing")).toBeUndefined();
  });

  const checkpoint = (inputs: Json[]): Json =>
    oneStep({ name: "review", task: "official_devcloud_checkpoint", inputs });

  it("checkpoint: accepts timeouts in seconds and both strategies", () => {
    for (const [timeout, secs] of [
      [60, 60],
      ["120", 120],
      ["", null],
      [null, null],
    ] as const) {
      const step = parseDefinition(checkpoint([{ key: "timeout", value: timeout }])).stages[0]!.jobs[0]!
        .steps[0]!;
      expect(checkpointSettings(step).timeoutSeconds).toBe(secs);
    }
    const pass = parseDefinition(checkpoint([{ key: "timeout_strategy", value: "pass" }])).stages[0]!
      .jobs[0]!;
    expect(checkpointSettings(pass.steps[0]!)).toEqual({ timeoutSeconds: null, timeoutStrategy: "pass" });
    const none = parseDefinition(checkpoint([])).stages[0]!.jobs[0]!;
    expect(checkpointSettings(none.steps[0]!)).toEqual({ timeoutSeconds: null, timeoutStrategy: "reject" });
  });

  it.each([0, 604801, "1h", "abc", 2.5, true])("checkpoint: rejects timeout %j", (value) => {
    expect(
      rejects(
        checkpoint([
          { key: "comment", value: "" },
          { key: "timeout", value },
        ]),
      ),
    ).toBe(
      "definition.stages[0].jobs[0].steps[0].inputs[1].value: timeout must be a whole number of seconds from 1 to 604800 (7 days)",
    );
  });

  it("checkpoint: rejects an unknown timeout_strategy", () => {
    expect(rejects(checkpoint([{ key: "timeout_strategy", value: "ignore" }]))).toBe(
      "definition.stages[0].jobs[0].steps[0].inputs[0].value: timeout_strategy must be one of reject, pass",
    );
  });

  const clone = (inputs: Json[]): Json => oneStep({ name: "checkout", task: "official_git_clone", inputs });

  it("git clone: accepts alias, repository and a relative path", () => {
    const step = parseDefinition(
      clone([
        { key: "alias", value: "app" },
        { key: "repository", value: "app" },
        { key: "path", value: "src/app" },
      ]),
    ).stages[0]!.jobs[0]!.steps[0]!;
    expect(step.inputs.map((i) => i.key)).toEqual(["alias", "repository", "path"]);
    expect(() => parseDefinition(clone([{ key: "path", value: "" }]))).not.toThrow();
    expect(() => parseDefinition(clone([{ key: "path", value: "a/..b" }]))).not.toThrow();
  });

  it.each<[Json[], string]>([
    [[{ key: "alias", value: 1 }], "inputs[0].value: alias must be a string"],
    [[{ key: "repository", value: {} }], "inputs[0].value: repository must be a string"],
    [[{ key: "path", value: 3 }], "inputs[0].value: path must be a string"],
    [[{ key: "path", value: "/etc" }], "inputs[0].value: path must be relative to the workspace"],
    [[{ key: "path", value: "C:\\x" }], "inputs[0].value: path must be relative to the workspace"],
    [[{ key: "path", value: "a/../../b" }], "inputs[0].value: path must not contain '..'"],
    [[{ key: "path", value: "..\\b" }], "inputs[0].value: path must not contain '..'"],
    [[{ key: "path", value: "a\0b" }], "inputs[0].value: contains a NUL character"],
  ])("git clone: rejects %j", (inputs, message) => {
    expect(rejects(clone(inputs))).toBe(`definition.stages[0].jobs[0].steps[0].${message}`);
  });
});

describe("parseDefinition: identifiers are unique", () => {
  it("across stages", () => {
    expect(rejects(def(stage("a", [job("j1")]), stage("b", [job("j2")]), stage("a", [job("j3")])))).toBe(
      'definition.stages[2].identifier: duplicate stage identifier "a" (also at definition.stages[0].identifier)',
    );
  });

  it("for jobs across the whole definition", () => {
    expect(rejects(def(stage("a", [job("j1")]), stage("b", [job("j2"), job("j1")])))).toBe(
      'definition.stages[1].jobs[1].identifier: duplicate job identifier "j1" (also at definition.stages[0].jobs[0].identifier)',
    );
  });

  it("for steps across the whole definition", () => {
    const a = job("j1", { steps: [shell("x")] });
    const b = job("j2", { steps: [shell("y"), shell("x")] });
    expect(rejects(def(stage("a", [a]), stage("b", [b])))).toBe(
      'definition.stages[1].jobs[0].steps[1].identifier: duplicate step identifier "x" (also at definition.stages[0].jobs[0].steps[0].identifier)',
    );
  });

  it("including generated step identifiers", () => {
    const steps = [{ name: "a", task: "official_git_clone" }, shell("step_0_0_0")];
    expect(rejects(def(stage("s", [job("j", { steps })])))).toBe(
      'definition.stages[0].jobs[0].steps[1].identifier: duplicate step identifier "step_0_0_0" (also at definition.stages[0].jobs[0].steps[0].identifier)',
    );
  });

  it("but a stage, a job and a step may share an identifier", () => {
    expect(() => parseDefinition(def(stage("x", [job("x", { steps: [shell("x")] })])))).not.toThrow();
  });
});

describe("parseDefinition: depends_on", () => {
  it("accepts stage and job graphs", () => {
    const d = parseDefinition(
      def(
        stage("build", [job("compile"), job("lint"), job("package", { depends_on: ["compile", "lint"] })]),
        stage("deploy", [job("ship")], { depends_on: ["build"] }),
      ),
    );
    expect(d.stages[0]!.jobs[2]!.depends_on).toEqual(["compile", "lint"]);
    expect(d.stages[1]!.depends_on).toEqual(["build"]);
  });

  it("rejects an unknown stage", () => {
    expect(rejects(def(stage("a", [job("j1")]), stage("b", [job("j2")], { depends_on: ["a", "zz"] })))).toBe(
      'definition.stages[1].depends_on[1]: unknown stage "zz"',
    );
  });

  it("rejects an unknown job", () => {
    expect(rejects(def(stage("a", [job("j1"), job("j2", { depends_on: ["nope"] })])))).toBe(
      'definition.stages[0].jobs[1].depends_on[0]: unknown job "nope"',
    );
  });

  it("rejects a job of another stage", () => {
    expect(rejects(def(stage("a", [job("j1")]), stage("b", [job("j2", { depends_on: ["j1"] })])))).toBe(
      'definition.stages[1].jobs[0].depends_on[0]: job "j1" is in stage "a"; depends_on may only name jobs of the same stage',
    );
  });

  it("rejects a job cycle, naming it", () => {
    expect(
      rejects(
        def(
          stage("s0", [job("x")]),
          stage("s1", [
            job("a", { depends_on: ["b"] }),
            job("b", { depends_on: ["c"] }),
            job("c", { depends_on: ["a"] }),
          ]),
        ),
      ),
    ).toBe("definition.stages[1].jobs: dependency cycle a -> b -> c -> a");
  });

  it("rejects a job depending on itself", () => {
    expect(rejects(def(stage("s", [job("a", { depends_on: ["a"] })])))).toBe(
      "definition.stages[0].jobs: dependency cycle a -> a",
    );
  });

  it("rejects an explicit stage cycle", () => {
    expect(
      rejects(
        def(stage("a", [job("j1")], { depends_on: ["b"] }), stage("b", [job("j2")], { depends_on: ["a"] })),
      ),
    ).toBe("definition.stages: dependency cycle a -> b -> a");
  });

  it("rejects a cycle closed by the implicit previous-stage edge, and says so", () => {
    // `a` (first) waits for `b`; `b` has no depends_on, so it waits for the previous stage `a`.
    expect(rejects(def(stage("a", [job("j1")], { depends_on: ["b"] }), stage("b", [job("j2")])))).toBe(
      "definition.stages: dependency cycle a -> b -> a (a stage without depends_on waits for the previous stage in sequence order)",
    );
  });
});

describe("stageOrder", () => {
  it("chains stages without depends_on in sequence order", () => {
    const d = parseDefinition(
      def(
        stage("c", [job("j3")], { sequence: 2 }),
        stage("a", [job("j1")], { sequence: 0 }),
        stage("b", [job("j2")], { sequence: 1 }),
      ),
    );
    expect(stageOrder(d)).toEqual([
      { identifier: "a", index: 0, waitsFor: [], implicit: false },
      { identifier: "b", index: 1, waitsFor: ["a"], implicit: true },
      { identifier: "c", index: 2, waitsFor: ["b"], implicit: true },
    ]);
  });

  it("lets explicit depends_on replace the implicit edge (fan-out)", () => {
    const d = parseDefinition(
      def(
        stage("build", [job("j1")]),
        stage("test_a", [job("j2")], { depends_on: ["build"] }),
        stage("test_b", [job("j3")], { depends_on: ["build"] }),
        stage("deploy", [job("j4")], { depends_on: ["test_a", "test_b"] }),
      ),
    );
    expect(stageOrder(d).map((o) => [o.identifier, o.waitsFor, o.implicit])).toEqual([
      ["build", [], false],
      ["test_a", ["build"], false],
      ["test_b", ["build"], false],
      ["deploy", ["test_a", "test_b"], false],
    ]);
  });
});

describe("findCycle", () => {
  it("returns null for a DAG and the first cycle otherwise", () => {
    const dag = new Map([
      ["a", ["b", "c"]],
      ["b", ["c"]],
      ["c", []],
    ]);
    expect(findCycle(["a", "b", "c"], dag)).toBeNull();
    const cyclic = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["b"]],
    ]);
    expect(findCycle(["a", "b", "c"], cyclic)).toEqual(["b", "c", "b"]);
  });

  it("walks long chains without exhausting the stack", () => {
    const n = 100_000;
    const ids = Array.from({ length: n }, (_, i) => `n${i}`);
    const chain = new Map(ids.map((id, i) => [id, i + 1 < n ? [`n${i + 1}`] : []]));
    expect(findCycle(ids, chain)).toBeNull();
    chain.set(`n${n - 1}`, ["n0"]);
    expect(findCycle(ids, chain)).toHaveLength(n + 1);
  });
});

describe("docs/definition.md", () => {
  const doc = readFileSync(new URL("../../docs/definition.md", import.meta.url), "utf8");

  it("has a complete example that parses", () => {
    const example = /## A complete example\s+```json\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(example).toBeDefined();
    const d = parseDefinition(example!);
    expect(d.stages.map((s) => s.identifier)).toEqual(["build", "release"]);
  });

  it("shows condition examples that parse", () => {
    const block = /### Examples\s+```\n([\s\S]*?)```/.exec(doc)?.[1] ?? "";
    const conditions = block
      .split("\n")
      .map((line) => /^\$\{\{.*?\}\}/.exec(line)?.[0])
      .filter((c): c is string => c !== undefined);
    expect(conditions.length).toBeGreaterThan(5);
    for (const c of conditions) expect(() => parseCondition(c)).not.toThrow();
  });
});
