// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${{ … }}` is CodeArts syntax under test.
import { describe, expect, it } from "vitest";
import type { ConditionContext } from "./condition.js";
import { evaluateCondition, parseCondition } from "./condition.js";
import { InvalidInput } from "./issues.js";

const ctx = (over: Partial<ConditionContext> = {}): ConditionContext => ({
  pipeline: { trigger_type: "Manual", run_number: "12" },
  variables: { deploy: "true", region: "cn-north-4", count: "0", Mixed: "x" },
  sources: { app: { target_branch: "main", source_branch: "feature/login" } },
  jobs: { build: { status: "COMPLETED" }, test: { status: "FAILED" } },
  predecessors: [],
  ...over,
});

const run = (src: string, c: ConditionContext = ctx()): boolean => evaluateCondition(parseCondition(src), c);

function parseError(src: string): InvalidInput {
  try {
    parseCondition(src);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInput);
    const e = err as InvalidInput;
    expect(e.issue.kind).toBe("definition");
    return e;
  }
  throw new Error(`expected ${src} to be rejected`);
}

describe("parseCondition", () => {
  it("accepts the ${{ }} wrapper and bare expressions alike", () => {
    expect(parseCondition("${{ always() }}")).toEqual(parseCondition("always()"));
    expect(parseCondition("  ${{always()}}  ")).toEqual({ kind: "call", name: "always", args: [] });
  });

  it("parses literals", () => {
    expect(parseCondition("'it''s'")).toEqual({ kind: "literal", value: "it's" });
    expect(parseCondition('"say ""hi"""')).toEqual({ kind: "literal", value: 'say "hi"' });
    expect(parseCondition("42")).toEqual({ kind: "literal", value: 42 });
    expect(parseCondition("-1.5")).toEqual({ kind: "literal", value: -1.5 });
    expect(parseCondition("TRUE")).toEqual({ kind: "literal", value: true });
    expect(parseCondition("false")).toEqual({ kind: "literal", value: false });
    expect(parseCondition("null")).toEqual({ kind: "literal", value: null });
  });

  it("parses context paths and maps env to variables", () => {
    expect(parseCondition("env.deploy")).toEqual({ kind: "context", path: ["variables", "deploy"] });
    expect(parseCondition("jobs.build-1.status")).toEqual({
      kind: "context",
      path: ["jobs", "build-1", "status"],
    });
    expect(parseCondition("jobs.*.status")).toEqual({ kind: "context", path: ["jobs", "*", "status"] });
    expect(parseCondition("sources.app.target_branch")).toEqual({
      kind: "context",
      path: ["sources", "app", "target_branch"],
    });
  });

  it("gives && precedence over || and ! over ==", () => {
    expect(parseCondition("always() || always() && false")).toEqual({
      kind: "binary",
      op: "||",
      left: { kind: "call", name: "always", args: [] },
      right: {
        kind: "binary",
        op: "&&",
        left: { kind: "call", name: "always", args: [] },
        right: { kind: "literal", value: false },
      },
    });
    expect(parseCondition("!true == false")).toEqual({
      kind: "binary",
      op: "==",
      left: { kind: "not", operand: { kind: "literal", value: true } },
      right: { kind: "literal", value: false },
    });
  });

  it("matches function names case-insensitively", () => {
    expect(parseCondition("STARTSWITH('a', 'b')")).toMatchObject({ kind: "call", name: "startsWith" });
  });

  it.each([
    ["", "empty expression at position 1"],
    ["${{  }}", "empty expression at position 4"],
    ["foo == 1", "unknown name foo; contexts are pipeline, variables, env, sources, jobs at position 1"],
    [
      "nope()",
      "unknown function nope(); known: default, always, success, failure, contains, startsWith, endsWith",
    ],
    ["contains('a')", "contains() takes 2 argument(s), got 1 at position 1"],
    ["always(1)", "always() takes 0 argument(s), got 1"],
    ["'abc", "unterminated string at position 1"],
    ["always() &&", "unexpected end of expression at position 12"],
    ["(always()", "expected ')' but found end of expression at position 10"],
    ["always() always()", "unexpected 'always' at position 10"],
    ["pipeline", "pipeline must be used as pipeline.<name> at position 1"],
    ["pipeline.a.b", "pipeline must be used as pipeline.<name>"],
    ["sources.app", "sources must be used as sources.<alias>.<name>"],
    ["jobs.build", "jobs must be used as jobs.<identifier>.status"],
    ["pipeline.", "expected a property name after '.' at position 10"],
    ["1 < 2", `unexpected character "<" at position 3`],
    ["x ${{ always() }}", "a condition must be one ${{ … }} expression (or a bare expression) at position 3"],
    ["${{ always() }} tail", "a condition must be one ${{ … }}"],
  ])("rejects %j", (src, message) => {
    expect(parseError(src).message).toContain(message);
  });

  it("quotes the condition text in the message", () => {
    expect(parseError("${{ a == }}").message).toBe(
      'unknown name a; contexts are pipeline, variables, env, sources, jobs at position 5 of condition "${{ a == }}"',
    );
  });

  it("bounds nesting and length instead of overflowing the stack", () => {
    expect(parseError(`${"(".repeat(200)}true${")".repeat(200)}`).message).toContain("nested deeper than 64");
    expect(parseError(`${"!".repeat(200)}true`).message).toContain("nested deeper than 64");
    expect(parseError(`'${"a".repeat(5000)}'`).message).toContain("longer than 4096");
  });
});

describe("evaluateCondition: status functions", () => {
  it("default() and success() need every predecessor COMPLETED, and hold with none", () => {
    for (const fn of ["default()", "success()"]) {
      expect(run(fn, ctx({ predecessors: [] }))).toBe(true);
      expect(run(fn, ctx({ predecessors: ["COMPLETED", "COMPLETED"] }))).toBe(true);
      expect(run(fn, ctx({ predecessors: ["COMPLETED", "FAILED"] }))).toBe(false);
      expect(run(fn, ctx({ predecessors: ["SKIPPED"] }))).toBe(false);
    }
  });

  it("failure() holds when some predecessor failed", () => {
    expect(run("failure()", ctx({ predecessors: [] }))).toBe(false);
    expect(run("failure()", ctx({ predecessors: ["COMPLETED"] }))).toBe(false);
    expect(run("failure()", ctx({ predecessors: ["COMPLETED", "FAILED"] }))).toBe(true);
    expect(run("failure()", ctx({ predecessors: ["ASYNC_FAILED"] }))).toBe(true);
  });

  it("always() is always true", () => {
    expect(run("${{ always() }}", ctx({ predecessors: ["FAILED", "CANCELED"] }))).toBe(true);
  });
});

describe("evaluateCondition: contexts", () => {
  it("reads pipeline, variables, env, sources and jobs", () => {
    expect(run("pipeline.trigger_type == 'Manual'")).toBe(true);
    expect(run("variables.region == 'cn-north-4'")).toBe(true);
    expect(run("env.region == 'cn-north-4'")).toBe(true);
    expect(run("sources.app.target_branch == 'main'")).toBe(true);
    expect(run("jobs.build.status == 'COMPLETED'")).toBe(true);
    expect(run("jobs.test.status == 'COMPLETED'")).toBe(false);
  });

  it("reads missing values as the empty string", () => {
    expect(run("pipeline.nothing == ''")).toBe(true);
    expect(run("variables.nothing")).toBe(false);
    expect(run("sources.nope.target_branch == ''")).toBe(true);
    expect(run("jobs.ghost.status == ''")).toBe(true);
    expect(run("jobs.build.outputs.x == ''")).toBe(true);
  });

  it("looks keys up case-insensitively when there is no exact match", () => {
    expect(run("variables.mixed == 'x'")).toBe(true);
    expect(run("PIPELINE.Trigger_Type == 'manual'")).toBe(true);
  });

  it("jobs.*.status yields the statuses as an array", () => {
    expect(run("contains(jobs.*.status, 'failed')")).toBe(true);
    expect(run("contains(jobs.*.status, 'CANCELED')")).toBe(false);
    expect(run("contains(jobs.*.status, 'CANCELED')", ctx({ jobs: {} }))).toBe(false);
    // An array is truthy and equals nothing but itself.
    expect(run("jobs.*.status")).toBe(true);
    expect(run("jobs.*.status == 'COMPLETED'")).toBe(false);
  });
});

describe("evaluateCondition: operators and values", () => {
  it("compares strings case-insensitively", () => {
    expect(run("'ABC' == 'abc'")).toBe(true);
    expect(run("'ABC' != 'abc'")).toBe(false);
    expect(run("'a' != 'b'")).toBe(true);
  });

  it("compares mixed types as numbers, as GitHub Actions does", () => {
    expect(run("pipeline.run_number == 12")).toBe(true);
    expect(run("variables.count == 0")).toBe(true);
    expect(run("variables.count == false")).toBe(true);
    expect(run("variables.deploy == true")).toBe(false); // "true" is NaN as a number
    expect(run("null == 0")).toBe(true);
    expect(run("null == null")).toBe(true);
    expect(run("true == 1")).toBe(true);
  });

  it("applies truthiness: '', 0, false, null are false", () => {
    expect(run("''")).toBe(false);
    expect(run("0")).toBe(false);
    expect(run("false")).toBe(false);
    expect(run("null")).toBe(false);
    expect(run("'false'")).toBe(true); // a non-empty string
    expect(run("1")).toBe(true);
    expect(run("!''")).toBe(true);
    expect(run("!'x'")).toBe(false);
  });

  it("short-circuits && and || and returns operands", () => {
    expect(run("(variables.missing && 'x') == ''")).toBe(true);
    expect(run("true || false")).toBe(true);
    expect(run("(variables.missing || 'fallback') == 'fallback'")).toBe(true);
    expect(run("(variables.region && 'yes') == 'yes'")).toBe(true);
  });

  it("combines with parentheses", () => {
    const c = ctx({ predecessors: ["COMPLETED"] });
    expect(
      run("${{ default() && (pipeline.trigger_type == 'Push' || variables.deploy == 'true') }}", c),
    ).toBe(true);
    expect(run("${{ default() && !(variables.deploy == 'true') }}", c)).toBe(false);
  });
});

describe("evaluateCondition: string functions", () => {
  it("contains on strings ignores case", () => {
    expect(run("contains(sources.app.source_branch, 'LOGIN')")).toBe(true);
    expect(run("contains('abc', 'd')")).toBe(false);
    expect(run("contains('abc', '')")).toBe(true);
    expect(run("contains(123, 2)")).toBe(true);
  });

  it("startsWith and endsWith ignore case", () => {
    expect(run("startsWith(sources.app.source_branch, 'Feature/')")).toBe(true);
    expect(run("startsWith('abc', 'b')")).toBe(false);
    expect(run("endsWith(sources.app.source_branch, '/LOGIN')")).toBe(true);
    expect(run("endsWith('abc', 'b')")).toBe(false);
  });
});
