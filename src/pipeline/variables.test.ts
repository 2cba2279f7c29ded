import { describe, expect, it } from "vitest";
import { InvalidInput } from "./issues.js";
import { nextAutoIncrement, parseConcurrencyControl, parseVariables } from "./variables.js";

function rejects(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInput);
    const e = err as InvalidInput;
    // A request issue: the API answers INVALID_REQUEST, HTTP 400 (src/errors.test.ts).
    expect(e.issue.kind).toBe("request");
    return e.message;
  }
  throw new Error("expected a rejection");
}

describe("parseVariables", () => {
  it("treats absent and null as no variables", () => {
    expect(parseVariables(undefined)).toEqual([]);
    expect(parseVariables(null)).toEqual([]);
    expect(parseVariables([])).toEqual([]);
  });

  it("fills defaults", () => {
    expect(parseVariables([{ name: "a" }, { name: "b", value: "x" }])).toEqual([
      {
        name: "a",
        sequence: 1,
        type: "string",
        value: "",
        is_secret: false,
        description: "",
        is_runtime: false,
        limits: [],
        is_reset: false,
        latest_value: "",
      },
      {
        name: "b",
        sequence: 2,
        type: "string",
        value: "x",
        is_secret: false,
        description: "",
        is_runtime: false,
        limits: [],
        is_reset: false,
        latest_value: "",
      },
    ]);
  });

  it("keeps every field the client sets and drops read-only ones", () => {
    const [v] = parseVariables([
      {
        name: "region",
        sequence: 7,
        type: "enum",
        value: "eu",
        is_secret: true,
        description: "where",
        is_runtime: true,
        limits: ["eu", "us"],
        is_reset: false,
        latest_value: "us",
        runtime_value: "x",
        pipeline_id: "p",
      },
    ]);
    expect(v).toEqual({
      name: "region",
      sequence: 7,
      type: "enum",
      value: "eu",
      is_secret: true,
      description: "where",
      is_runtime: true,
      limits: ["eu", "us"],
      is_reset: false,
      latest_value: "us",
    });
  });

  it("turns numbers into strings and nulls into defaults", () => {
    const [v] = parseVariables([
      { name: "n", value: 42, type: null, is_secret: null, limits: null, latest_value: 41, sequence: null },
    ]);
    expect(v).toMatchObject({
      value: "42",
      type: "string",
      is_secret: false,
      limits: [],
      latest_value: "41",
      sequence: 1,
    });
  });

  it("accepts enum and autoIncrement variables", () => {
    const vars = parseVariables([
      { name: "env", type: "enum", value: "prod", limits: ["dev", "prod"] },
      { name: "build", type: "autoIncrement", value: "build-7" },
      { name: "n", type: "autoIncrement", value: 1 },
    ]);
    expect(vars.map((v) => [v.type, v.value])).toEqual([
      ["enum", "prod"],
      ["autoIncrement", "build-7"],
      ["autoIncrement", "1"],
    ]);
  });

  it("accepts values at the length limits", () => {
    expect(() =>
      parseVariables([{ name: "x".repeat(128), value: "v".repeat(8192), description: "d".repeat(1024) }]),
    ).not.toThrow();
  });

  it.each<[unknown, string]>([
    [{}, "variables: must be an array"],
    ["a", "variables: must be an array"],
    [[{ name: "a" }, 5], "variables[1]: must be an object"],
    [[{}], "variables[0].name: must be 1 to 128 letters, digits or '_'"],
    [[{ name: "a-b" }], "variables[0].name: must be 1 to 128 letters, digits or '_'"],
    [[{ name: "x".repeat(129) }], "variables[0].name: must be 1 to 128 letters, digits or '_'"],
    [[{ name: "a" }, { name: "b" }, { name: "a" }], 'variables[2].name: duplicate variable name "a"'],
    [[{ name: "a", sequence: -1 }], "variables[0].sequence: must be an integer >= 0"],
    [[{ name: "a", sequence: "1" }], "variables[0].sequence: must be an integer >= 0"],
    [
      [{ name: "a" }, { name: "b" }, { name: "c", type: "number" }],
      "variables[2].type: must be one of string, enum, autoIncrement",
    ],
    [[{ name: "a", value: true }], "variables[0].value: must be a string"],
    [[{ name: "a", value: "v".repeat(8193) }], "variables[0].value: must be at most 8192 characters"],
    [
      [{ name: "a", description: "d".repeat(1025) }],
      "variables[0].description: must be at most 1024 characters",
    ],
    [[{ name: "a", is_secret: "yes" }], "variables[0].is_secret: must be a boolean"],
    [[{ name: "a", is_runtime: 1 }], "variables[0].is_runtime: must be a boolean"],
    [[{ name: "a", is_reset: "false" }], "variables[0].is_reset: must be a boolean"],
    [[{ name: "a", latest_value: {} }], "variables[0].latest_value: must be a string"],
    [[{ name: "a", limits: "x" }], "variables[0].limits: must be an array of strings"],
    [[{ name: "a", limits: ["ok", null] }], "variables[0].limits[1]: must be a string"],
    [[{ name: "a", limits: ["l".repeat(1025)] }], "variables[0].limits[0]: must be at most 1024 characters"],
    [
      [{ name: "a", type: "enum", value: "x" }],
      "variables[0].limits: an enum variable needs at least one choice",
    ],
    [
      [{ name: "a", type: "enum", value: "x", limits: [] }],
      "variables[0].limits: an enum variable needs at least one choice",
    ],
    [
      [{ name: "a", type: "enum", value: "x", limits: ["a", "b"] }],
      "variables[0].value: must be one of the limits (a, b)",
    ],
    [
      [{ name: "a", type: "autoIncrement", value: "build" }],
      "variables[0].value: an autoIncrement value must end in digits",
    ],
    [[{ name: "a", type: "autoIncrement" }], "variables[0].value: an autoIncrement value must end in digits"],
  ])("%j → %s", (input, message) => {
    expect(rejects(() => parseVariables(input))).toContain(message);
  });
});

describe("parseConcurrencyControl", () => {
  it("treats absent and null as no control", () => {
    expect(parseConcurrencyControl(undefined)).toBeNull();
    expect(parseConcurrencyControl(null)).toBeNull();
  });

  it("keeps its fields and ignores read-only ones", () => {
    expect(
      parseConcurrencyControl({
        concurrency_number: 3,
        exceed_action: "ABORT",
        enable: false,
        supersede: true,
        pipeline_id: "x",
        create_time: 1,
        update_time: 2,
      }),
    ).toEqual({ concurrency_number: 3, exceed_action: "ABORT", enable: false, supersede: true });
  });

  it("defaults to one run, QUEUE, enabled, superseding nothing", () => {
    expect(parseConcurrencyControl({})).toEqual({
      concurrency_number: 1,
      exceed_action: "QUEUE",
      enable: true,
      supersede: false,
    });
    expect(parseConcurrencyControl({ concurrency_number: 1000 })).toMatchObject({ concurrency_number: 1000 });
  });

  it.each<[unknown, string]>([
    [[], "concurrency_control: must be an object"],
    ["QUEUE", "concurrency_control: must be an object"],
    [{ concurrency_number: 0 }, "concurrency_control.concurrency_number: must be an integer from 1 to 1000"],
    [
      { concurrency_number: 1001 },
      "concurrency_control.concurrency_number: must be an integer from 1 to 1000",
    ],
    [
      { concurrency_number: 2.5 },
      "concurrency_control.concurrency_number: must be an integer from 1 to 1000",
    ],
    [
      { concurrency_number: "2" },
      "concurrency_control.concurrency_number: must be an integer from 1 to 1000",
    ],
    [{ exceed_action: "DROP" }, "concurrency_control.exceed_action: must be one of ABORT, QUEUE"],
    [{ exceed_action: "queue" }, "concurrency_control.exceed_action: must be one of ABORT, QUEUE"],
    [{ enable: "true" }, "concurrency_control.enable: must be a boolean"],
    [{ supersede: "yes" }, "concurrency_control.supersede: must be a boolean"],
  ])("%j → %s", (input, message) => {
    expect(rejects(() => parseConcurrencyControl(input))).toBe(message);
  });
});

describe("nextAutoIncrement", () => {
  it.each([
    ["1", "2"],
    ["7", "8"],
    ["9", "10"],
    ["build-7", "build-8"],
    ["build-009", "build-010"],
    ["build-099", "build-100"],
    ["v1.2.99", "v1.2.100"],
    ["000", "001"],
    ["99999999999999999999", "100000000000000000000"],
  ])("%s → %s", (value, next) => {
    expect(nextAutoIncrement(value)).toBe(next);
  });

  it("rejects a value without trailing digits", () => {
    try {
      nextAutoIncrement("build");
      throw new Error("expected a rejection");
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidInput);
      expect((err as InvalidInput).issue.kind).toBe("variable");
      expect((err as InvalidInput).message).toBe("an autoIncrement value does not end in digits");
    }
  });
});

describe("reserved variable names", () => {
  it("are all listed in docs/definition.md", async () => {
    const { readFileSync } = await import("node:fs");
    const { RESERVED_VARIABLE_NAMES } = await import("./environment.js");
    const doc = readFileSync(new URL("../../docs/definition.md", import.meta.url), "utf8");
    const { names, prefixes, allowed } = RESERVED_VARIABLE_NAMES;
    for (const n of [...names, ...prefixes, ...allowed]) expect(doc).toContain(`\`${n}\``);
  });

  it("are refused as spelled; other spellings and the commit identity are not", () => {
    for (const name of ["BASH_ENV", "LD_AUDIT", "GIT_EXEC_PATH", "SSH_ASKPASS"]) {
      expect(() => parseVariables([{ name, value: "x" }])).toThrow(`variables[0].name: "${name}"`);
    }
    for (const name of ["GIT_COMMITTER_EMAIL", "env", "bash_env", "Ld_PRELOAD"]) {
      expect(parseVariables([{ name, value: "x" }])[0]?.name).toBe(name);
    }
  });
});

describe("variable limits", () => {
  it("refuses an enum with more choices than the limit, naming it", () => {
    const limits = Array.from({ length: 1001 }, (_, i) => `c${i}`);
    expect(() => parseVariables([{ name: "E", type: "enum", value: "c0", limits }])).toThrow(
      "variables[0].limits: must hold at most 1000 choices (limit enumChoices)",
    );
  });
});
