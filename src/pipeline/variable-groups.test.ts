import { describe, expect, it } from "vitest";
import { InvalidInput } from "./issues.js";
import {
  type GroupVariable,
  maskGroupVariables,
  parseGroupVariables,
  restoreMaskedGroupSecrets,
  withGroupVariables,
} from "./variable-groups.js";

const v = (name: string, value: string, is_secret = false): GroupVariable => ({
  name,
  sequence: 1,
  type: "string",
  value,
  is_secret,
  description: "",
});

describe("withGroupVariables", () => {
  it("gives the pipeline's variables first, then the groups', a later group over an earlier one", () => {
    const run = withGroupVariables(
      [{ name: "OWN", value: "pipeline", is_secret: false }],
      [
        { name: "first", variables: [v("OWN", "group"), v("SHARED", "first"), v("ONLY_FIRST", "1")] },
        { name: "second", variables: [v("SHARED", "second", true)] },
      ],
    );
    expect(run.map((r) => [r.name, r.value, r.is_secret, r.variable_group_name])).toEqual([
      ["OWN", "pipeline", false, undefined],
      ["ONLY_FIRST", "1", false, "first"],
      ["SHARED", "second", true, "second"],
    ]);
  });
});

describe("group variables", () => {
  it("are validated naming the field, and keep a secret sent back as the mask", () => {
    expect(() => parseGroupVariables([{ name: "A" }, { name: "A" }])).toThrow(/variables\[1\]\.name/);
    expect(() => parseGroupVariables([{ name: "BASH_ENV" }])).toThrow(InvalidInput);
    expect(parseGroupVariables([{ name: "A" }])).toEqual([v("A", "")]);
    const stored = [v("S", "hush", true)];
    const masked = maskGroupVariables(stored);
    expect(masked[0]!.value).toBe("******");
    expect(restoreMaskedGroupSecrets(masked, stored)).toEqual(stored);
    // Not secret in the request: the mask is taken as the value it says.
    expect(restoreMaskedGroupSecrets([{ ...masked[0]!, is_secret: false }], stored)![0]!.value).toBe(
      "******",
    );
    expect(() => restoreMaskedGroupSecrets(masked, [])).toThrow(/no stored value/);
  });
});
