import { describe, expect, it } from "vitest";
import type { PipelineTag } from "./api.js";
import { CliError, EXIT } from "./cli-error.js";
import { createStyle } from "./format.js";
import {
  DEFAULT_TAG_COLOR,
  findTag,
  findTags,
  nextTagIds,
  parseColor,
  tagNames,
  tagRows,
  tagsByPipeline,
} from "./tags.js";

const tag = (name: string, id: string, color = "#123456"): PipelineTag => ({
  tag_id: id,
  name,
  color,
  project_id: "p".repeat(32),
  project_name: "demo",
});
const ID = (c: string): string => c.repeat(32);
const release = tag("release", ID("a"));
const nightly = tag("nightly", ID("b"));
// A name that looks like another tag's id.
const tricky = tag(ID("a"), ID("c"));
const TAGS = [release, nightly, tricky];

function thrown(fn: () => unknown): CliError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error("did not throw");
}

describe("parseColor", () => {
  it("takes #rrggbb, with or without the #, in lower case", () => {
    expect(parseColor("#0B81F6")).toBe("#0b81f6");
    expect(parseColor("ff0000")).toBe("#ff0000");
    expect(DEFAULT_TAG_COLOR).toMatch(/^#[0-9a-f]{6}$/);
  });

  it("refuses anything else as a usage error naming the form", () => {
    for (const bad of ["red", "#fff", "#12345g", "#1234567", ""]) {
      const err = thrown(() => parseColor(bad));
      expect(err.exitCode, bad).toBe(EXIT.USAGE);
      expect(err.message).toContain("#rrggbb");
    }
  });
});

describe("findTags", () => {
  it("finds by id first, then by exact name, in the order given, without repeats", () => {
    expect(findTags(["nightly", ID("a"), "release"], TAGS)).toEqual([nightly, release]);
    expect(findTag(ID("c"), TAGS)).toBe(tricky);
    expect(findTags([], TAGS)).toEqual([]);
  });

  it("names every unknown tag in one not-found error (the server's code, exit 3), with suggestions", () => {
    const err = thrown(() => findTags(["relase", "release", "zzz"], TAGS));
    expect(err.exitCode).toBe(EXIT.SERVER);
    expect(err.code).toBe("DEVPIPE.00020123");
    expect(err.message).toBe(
      'no tag "relase" (did you mean "release"?), "zzz" in this project (DEVPIPE.00020123)',
    );
    expect(err.hint).toBe(`Its tags: release, nightly, ${ID("a")}.`);
    expect(thrown(() => findTag("x", [])).hint).toContain("tag create NAME");
  });
});

describe("nextTagIds", () => {
  const a = release.tag_id;
  const b = nightly.tag_id;
  const c = tricky.tag_id;

  it("sets exactly what is given, in the project's order", () => {
    expect(nextTagIds([a], { set: [c, b] }, TAGS)).toEqual([b, c]);
    expect(nextTagIds([a, b], { set: [] }, TAGS)).toEqual([]);
  });

  it("adds to and removes from what the pipeline carries; no-ops are no change", () => {
    expect(nextTagIds([b], { add: [a] }, TAGS)).toEqual([a, b]);
    expect(nextTagIds([a, b], { remove: [a] }, TAGS)).toEqual([b]);
    expect(nextTagIds([a], { add: [a], remove: [c] }, TAGS)).toEqual([a]);
    expect(nextTagIds([a, b], { add: [c], remove: [a, b] }, TAGS)).toEqual([c]);
  });

  it("keeps an id the project's list lacks, for the server to judge", () => {
    expect(nextTagIds([], { add: [ID("f"), a] }, TAGS)).toEqual([a, ID("f")]);
  });
});

describe("tagsByPipeline and the text", () => {
  it("inverts the per-tag listings, keeping the project's order of tags", () => {
    const pipelinesOf = new Map([
      [nightly.tag_id, ["p2"]],
      [release.tag_id, ["p1", "p2"]],
    ]);
    const by = tagsByPipeline(TAGS, pipelinesOf);
    expect(by.get("p1")).toEqual([release]);
    expect(by.get("p2")).toEqual([release, nightly]);
    expect(by.get("p3")).toBeUndefined();
    expect(tagNames(by.get("p2"))).toBe("release, nightly");
    expect(tagNames(by.get("p3"))).toBe("-");
  });

  it("shows NAME, COLOR, ID rows", () => {
    expect(tagRows([release], createStyle(false))).toEqual([["release", "#123456", ID("a")]]);
  });
});
