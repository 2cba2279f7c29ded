import { describe, expect, it } from "vitest";
import { movedRefs, parseLsRemote, pollIntervalOf } from "./polling.js";

const A = "a".repeat(40);
const B = "b".repeat(40);
const C = "c".repeat(40);

describe("pollIntervalOf", () => {
  it("answers ms, or undefined without an interval", () => {
    expect(pollIntervalOf({ git_url: "https://x/y.git", poll_interval: 60 }, "triggers[0]")).toBe(60_000);
    expect(pollIntervalOf({ git_url: "https://x/y.git" }, "triggers[0]")).toBeUndefined();
  });
  it.each([0, 9, 86_401, 1.5, "60", true])("refuses %j, naming the field", (v) => {
    expect(() => pollIntervalOf({ git_url: "u", poll_interval: v }, "triggers[2]")).toThrow(
      /triggers\[2\]\.poll_interval/,
    );
  });
  it("needs a repository", () => {
    expect(() => pollIntervalOf({ poll_interval: 60 }, "triggers[0]")).toThrow(/triggers\[0\]\.git_url/);
  });
});

describe("parseLsRemote", () => {
  it("reads branches and tags, an annotated tag as the commit it tags", () => {
    const out = [
      `${A}\tHEAD`,
      `${A}\trefs/heads/main`,
      `${B}\trefs/heads/feature/x`,
      `${C}\trefs/tags/v1`,
      `${A}\trefs/tags/v1^{}`,
      `${B}\trefs/pull/1/head`,
      "garbage",
      "",
    ].join("\n");
    expect(parseLsRemote(out)).toEqual({
      "refs/heads/main": A,
      "refs/heads/feature/x": B,
      "refs/tags/v1": A,
    });
  });
  it("takes the peeled line whichever comes first", () => {
    expect(parseLsRemote(`${A}\trefs/tags/v1^{}\n${C}\trefs/tags/v1\n`)).toEqual({ "refs/tags/v1": A });
  });
});

describe("movedRefs", () => {
  it("lists new and moved refs, not deleted or unchanged ones", () => {
    const before = { "refs/heads/main": A, "refs/heads/gone": A, "refs/tags/v1": A };
    const after = { "refs/heads/main": B, "refs/tags/v1": A, "refs/tags/v2": C };
    expect(movedRefs(before, after)).toEqual([
      { ref: "refs/heads/main", commit: B },
      { ref: "refs/tags/v2", commit: C },
    ]);
  });
});
