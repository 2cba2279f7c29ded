import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LIMITS } from "./limits.js";

describe("docs/limits.md", () => {
  const doc = fs.readFileSync(path.join(import.meta.dirname, "..", "..", "docs", "limits.md"), "utf8");
  const rows = new Map(
    [...doc.matchAll(/^\| `(\w+)` \| (\d+) \|/gm)].map((m) => [m[1]!, Number(m[2])] as const),
  );

  it("lists every limit with its value", () => {
    for (const [key, value] of Object.entries(LIMITS)) expect(rows.get(key), key).toBe(value);
  });

  it("lists no limit that does not exist", () => {
    for (const key of rows.keys()) expect(Object.keys(LIMITS)).toContain(key);
  });
});
