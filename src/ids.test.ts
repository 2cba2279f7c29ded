import { describe, expect, it } from "vitest";
import { newId } from "./ids.js";

describe("newId", () => {
  it("starts with the time, so ids of later rows sort later", () => {
    const a = newId(1_700_000_000_000);
    const b = newId(1_700_000_000_001);
    expect(a < b).toBe(true);
    expect(a.slice(0, 12)).toBe((1_700_000_000_000).toString(16).padStart(12, "0"));
  });

  it("gives distinct 32-hex ids across pool refills", () => {
    const ids = Array.from({ length: 2000 }, () => newId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("makes strictly increasing ids, within a millisecond and when the clock steps back", () => {
    const t = Date.now() + 1000;
    const ids = [newId(t), newId(t), newId(t), newId(t - 5), newId(t + 1)];
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]!.slice(0, 12)).toBe(t.toString(16).padStart(12, "0"));
  });
});
