import { describe, expect, it } from "vitest";
import { createLogCap, truncationMarker } from "./log-cap.js";

const utf8Length = (text: string) => Buffer.byteLength(text, "utf8");

/** The longest prefix, in whole characters, that fits into maxBytes. */
function expectedKept(text: string, maxBytes: number): string {
  let kept = "";
  for (const ch of text) {
    if (utf8Length(kept + ch) > maxBytes) break;
    kept += ch;
  }
  return kept;
}

describe("createLogCap", () => {
  it("passes text through untouched below the cap", () => {
    const cap = createLogCap(100);
    const text = "hello\n";
    expect(cap.push(text)).toBe(text);
    expect(cap.push("")).toBe("");
    expect(cap).toMatchObject({ truncated: false, bytes: 6 });
  });

  it("keeps exactly maxBytes, then appends one marker and drops the rest", () => {
    const cap = createLogCap(10);
    expect(cap.push("0123456789")).toBe("0123456789");
    expect(cap.truncated).toBe(false);
    expect(cap.push("x")).toBe(truncationMarker(10));
    expect(cap.truncated).toBe(true);
    expect(cap.push("more")).toBe("");
    expect(cap.push("and more")).toBe("");
    expect(cap.bytes).toBe(10 + utf8Length(truncationMarker(10)));
    expect(truncationMarker(10)).toBe(
      "\n[pipewright] log truncated: this step wrote more than 10 bytes; the rest was discarded\n",
    );
  });

  it("cuts a chunk that crosses the cap", () => {
    const cap = createLogCap(8);
    expect(cap.push("abcde")).toBe("abcde");
    expect(cap.push("fghij")).toBe(`fgh${truncationMarker(8)}`);
  });

  it("never cuts inside a multi-byte character, whatever the cap and the chunking", () => {
    // 1-, 2-, 3- and 4-byte characters (the emoji is a surrogate pair in JS).
    const text = "aé€😀bπ中🎉z";
    const total = utf8Length(text);
    for (let maxBytes = 0; maxBytes <= total + 1; maxBytes++) {
      const chunkings = [[text], [...text], [text.slice(0, 3), text.slice(3)]];
      for (const chunks of chunkings) {
        const cap = createLogCap(maxBytes);
        const out = chunks.map((c) => cap.push(c)).join("");
        if (maxBytes >= total) {
          expect(out).toBe(text);
          expect(cap.truncated).toBe(false);
        } else {
          expect(out).toBe(expectedKept(text, maxBytes) + truncationMarker(maxBytes));
          expect(out).not.toContain("\uFFFD");
          expect(cap.truncated).toBe(true);
        }
        expect(cap.bytes).toBe(utf8Length(out));
      }
    }
  });

  it("with a zero cap keeps nothing but the marker", () => {
    const cap = createLogCap(0);
    expect(cap.push("")).toBe("");
    expect(cap.truncated).toBe(false);
    expect(cap.push("é")).toBe(truncationMarker(0));
  });

  it("rejects a cap that is not a non-negative integer", () => {
    expect(() => createLogCap(-1)).toThrow(RangeError);
    expect(() => createLogCap(1.5)).toThrow(RangeError);
    expect(() => createLogCap(Number.NaN)).toThrow(RangeError);
  });
});
