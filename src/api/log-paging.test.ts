import { describe, expect, it } from "vitest";
import { PipewrightError } from "../errors.js";
import { joinFrom, offsetOf, pageBackward, pageForward } from "./log-paging.js";

/** A log stored in chunks of the given texts. */
function chunked(...texts: string[]) {
  let at = 0;
  return texts.map((text) => {
    const c = { start_offset: at, text };
    at += Buffer.byteLength(text);
    return c;
  });
}

describe("log paging", () => {
  const log = chunked("one\ntw", "o\nthree\n", "four");

  it("pages forward by lines, feeding each end offset back as the next start", () => {
    const p1 = pageForward(log, 0, 2);
    expect(p1).toEqual({ start: 0, end: 8, text: "one\ntwo\n", more: true });
    const p2 = pageForward(log.slice(1), p1.end, 2);
    expect(p2).toEqual({ start: 8, end: 18, text: "three\nfour", more: false });
    expect(pageForward([], 18, 2)).toEqual({ start: 18, end: 18, text: "", more: false });
  });

  it("pages backward from the end or from an end offset", () => {
    expect(pageBackward(log, 0, 2)).toEqual({ start: 8, end: 18, text: "three\nfour", more: true });
    expect(pageBackward(log, 8, 5)).toEqual({ start: 0, end: 8, text: "one\ntwo\n", more: false });
    expect(pageBackward(log, 8, 1)).toEqual({ start: 4, end: 8, text: "two\n", more: true });
  });

  it("counts offsets in bytes, so multi-byte characters keep their place", () => {
    const utf8 = chunked("é\n", "日本\n");
    const first = pageForward(utf8, 0, 1);
    expect(first).toEqual({ start: 0, end: 3, text: "é\n", more: true });
    expect(pageForward(utf8.slice(1), first.end, 1)).toEqual({
      start: 3,
      end: 10,
      text: "日本\n",
      more: false,
    });
    expect(joinFrom(utf8, 3)).toBe("日本\n");
  });

  it("reads offsets as integers or digit strings and names a bad one", () => {
    expect(offsetOf("start_offset", undefined)).toBe(0);
    expect(offsetOf("start_offset", "")).toBe(0);
    expect(offsetOf("start_offset", "42")).toBe(42);
    expect(offsetOf("start_offset", 7)).toBe(7);
    for (const bad of ["-1", "1.5", "x", -3, 2 ** 60]) {
      expect(() => offsetOf("end_offset", bad)).toThrow(PipewrightError);
      expect(() => offsetOf("end_offset", bad)).toThrow(/^end_offset: must be a non-negative integer$/);
    }
  });
});
