import { describe, expect, it } from "vitest";
import {
  type CommandSpec,
  closest,
  formatCommandHelp,
  leadingOptionCount,
  parseCommandArgs,
} from "./args.js";
import { CliError } from "./cli-error.js";

const spec: CommandSpec = {
  path: ["run"],
  summary: "Start a run",
  args: "PIPELINE",
  options: [
    { name: "var", type: "string", multiple: true, arg: "NAME=VALUE", help: "a variable" },
    { name: "wait", short: "w", type: "boolean", help: "wait" },
    { name: "server", type: "string", arg: "URL", help: "server", group: "Connection" },
  ],
  minArgs: 1,
  maxArgs: 1,
  examples: ["pipewright run build --wait"],
};

function usage(fn: () => unknown): CliError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error("expected a usage error");
}

describe("parseCommandArgs", () => {
  it("reads positionals, repeated and boolean options", () => {
    const a = parseCommandArgs(spec, ["build", "--var", "a=1", "--var=b=2", "-w", "--server", "http://x"]);
    expect(a.positionals).toEqual(["build"]);
    expect(a.list("var")).toEqual(["a=1", "b=2"]);
    expect(a.bool("wait")).toBe(true);
    expect(a.str("server")).toBe("http://x");
    expect(a.str("missing")).toBeUndefined();
    expect(a.list("missing")).toEqual([]);
  });

  it("lets --help win over any other problem", () => {
    expect(parseCommandArgs(spec, ["--bogus", "--help"]).help).toBe(true);
    expect(parseCommandArgs(spec, ["-h"]).help).toBe(true);
  });

  it("suggests the nearest option for a typo, with exit code 2", () => {
    const err = usage(() => parseCommandArgs(spec, ["build", "--wiat"]));
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe("unknown option --wiat (did you mean --wait?)");
    expect(err.hint).toBe("Run 'pipewright run --help' for usage.");
  });

  it("says which option lacks a value", () => {
    expect(usage(() => parseCommandArgs(spec, ["build", "--server"])).message).toBe(
      "option --server needs a value",
    );
    expect(usage(() => parseCommandArgs(spec, ["build", "--wait=yes"])).message).toBe(
      "option --wait takes no value",
    );
  });

  it("checks the number of arguments", () => {
    expect(usage(() => parseCommandArgs(spec, [])).message).toBe("missing argument: pipewright run PIPELINE");
    expect(usage(() => parseCommandArgs(spec, ["a", "b"])).message).toBe('unexpected argument "b"');
  });
});

describe("formatCommandHelp", () => {
  it("lists usage, options by group and examples", () => {
    const help = formatCommandHelp(spec);
    expect(help).toMatch(/^Usage: pipewright run PIPELINE \[options\]\n\nStart a run\n/);
    expect(help).toContain("Options:\n      --var NAME=VALUE");
    expect(help).toContain("  -w, --wait");
    expect(help).toContain("Connection:\n      --server URL");
    expect(help).toContain("  -h, --help");
    expect(help).toContain("Examples:\n  pipewright run build --wait\n");
  });
});

describe("closest", () => {
  it("finds near misses only", () => {
    expect(closest("lsit", ["list", "show"])).toBe("list");
    expect(closest("zzzzzz", ["list", "show"])).toBeUndefined();
  });
});

describe("leadingOptionCount", () => {
  const opts = [
    { name: "token", type: "string", help: "" },
    { name: "json", type: "boolean", help: "" },
    { name: "project", short: "p", type: "string", help: "" },
  ] as const;
  it("counts the leading options and the values they take, and stops at the first other word", () => {
    expect(leadingOptionCount(["--token", "T", "--json", "pipeline", "list"], opts)).toBe(3);
    expect(leadingOptionCount(["--token=T", "-p", "x", "run"], opts)).toBe(3);
    expect(leadingOptionCount(["pipeline", "--json"], opts)).toBe(0);
    expect(leadingOptionCount(["--other", "pipeline"], opts)).toBe(0);
    expect(leadingOptionCount(["--token"], opts)).toBe(1);
    expect(leadingOptionCount(["--", "--json"], opts)).toBe(0);
  });
});
