import { describe, expect, it } from "vitest";
import { parseRunRef } from "./refs.js";

describe("parseRunRef", () => {
  it("reads PIPELINE, PIPELINE#N and 32-hex ids", () => {
    expect(parseRunRef("build")).toEqual({ kind: "latest", pipeline: "build" });
    expect(parseRunRef("build#12")).toEqual({ kind: "number", pipeline: "build", number: 12 });
    const id = "0123456789abcdef0123456789abcdef";
    expect(parseRunRef(id)).toEqual({ kind: "id", id });
    expect(parseRunRef(`${id}#2`)).toEqual({ kind: "number", pipeline: id, number: 2 });
  });

  it("refuses a malformed run number", () => {
    expect(() => parseRunRef("build#")).toThrow(/is not PIPELINE#N/);
    expect(() => parseRunRef("build#0")).toThrow(/is not PIPELINE#N/);
    expect(() => parseRunRef("#3")).toThrow(/is not PIPELINE#N/);
  });
});
