import { describe, expect, it } from "vitest";
import { checkBatchIds, describeBatchIdProblems, wellFormedIds } from "./batch-ids.js";

const P = "a".repeat(32);
const OTHER = "b".repeat(32);
const id = (c: string): string => c.repeat(32);

describe("checkBatchIds", () => {
  it("accepts distinct ids that all belong to the project", () => {
    const owners = new Map([
      [id("1"), P],
      [id("2"), P],
    ]);
    expect(checkBatchIds([id("1"), id("2")], P, owners)).toBeUndefined();
  });

  it("names every malformed, duplicated, unknown and foreign id at once", () => {
    const owners = new Map([
      [id("1"), P],
      [id("3"), OTHER],
    ]);
    const ids = ["short", id("1"), id("2"), id("1"), id("3"), "x".repeat(33), id("1")];
    const problems = checkBatchIds(ids, P, owners);
    expect(problems).toEqual({
      malformed: ["short", "x".repeat(33)],
      duplicated: [id("1")],
      unknown: [id("2")],
      foreign: [id("3")],
    });
    expect(describeBatchIdProblems(problems!)).toBe(
      `pipeline_ids rejected, no run was created; malformed (need 32 letters/digits): short, ${"x".repeat(33)}; ` +
        `duplicated: ${id("1")}; unknown: ${id("2")}; of another project: ${id("3")}`,
    );
  });

  it("counts a duplicated malformed id as malformed each time and duplicated once", () => {
    const problems = checkBatchIds(["bad", "bad"], P, new Map());
    expect(problems).toEqual({ malformed: ["bad", "bad"], duplicated: ["bad"], unknown: [], foreign: [] });
  });

  it("asks only about distinct well-formed ids", () => {
    expect(wellFormedIds([id("1"), "bad", id("1"), id("2")])).toEqual([id("1"), id("2")]);
  });
});
