import { describe, expect, it } from "vitest";
import { createSealer, KeyringError, kidOf, newSecretKey, parseKeyring } from "./sealer.js";

describe("sealer", () => {
  const key = newSecretKey();
  const sealer = createSealer(parseKeyring(key, "k"));

  it("seals to text that names its key and opens back; the same value seals differently each time", () => {
    const a = sealer.seal("s3cret ✓");
    const b = sealer.seal("s3cret ✓");
    expect(a).toMatch(new RegExp(`^pwsec1\\.${sealer.activeKid}\\.[\\w-]+\\.[\\w-]+$`));
    expect(a).not.toContain("s3cret");
    expect(a).not.toBe(b);
    expect(sealer.open(a)).toBe("s3cret ✓");
    expect(sealer.open("")).toBe(""); // not sealed (written before sealing): as is
    expect(sealer.open(sealer.seal(""))).toBe("");
    expect(sealer.isCurrent(a)).toBe(true);
    expect(sealer.isCurrent("plain")).toBe(false);
  });

  it("refuses a damaged value instead of answering garbage", () => {
    const a = sealer.seal("value");
    const flipped = a.slice(0, -2) + (a.at(-2) === "A" ? "B" : "A") + a.at(-1);
    expect(() => sealer.open(flipped)).toThrow(KeyringError);
  });

  it("opens with any key of the keyring and seals with the first", () => {
    const newer = newSecretKey();
    const ring = createSealer(parseKeyring(`# rotated\n${newer}\n${key}\n`, "ring"));
    expect(ring.kids).toEqual([kidOf(Buffer.from(newer, "base64")), sealer.activeKid]);
    expect(ring.open(sealer.seal("old"))).toBe("old");
    expect(ring.isCurrent(sealer.seal("old"))).toBe(false);
    expect(() => sealer.open(ring.seal("new"))).toThrow(`sealed with key ${ring.activeKid}`);
  });

  it("refuses keyrings that are empty, malformed or repeat a key, quoting no key", () => {
    expect(() => parseKeyring("# nothing\n", "f")).toThrow("f holds no key");
    const short = Buffer.alloc(16, 1).toString("base64");
    expect(() => parseKeyring(`${key}\n${short}`, "f")).toThrow("f: key 2 is not 32 bytes");
    expect(() => parseKeyring("not base64 at all!", "f")).toThrow(KeyringError);
    expect(() => parseKeyring(`${key},${key}`, "f")).toThrow("is listed twice");
    try {
      parseKeyring(`${key}\n${short}`, "f");
    } catch (err) {
      expect(String(err)).not.toContain(short);
      expect(String(err)).not.toContain(key);
    }
  });
});
