// The layers of docs/architecture.md hold: dependency-cruiser checks every import of src/ and
// web/src/ (type-only imports included) against .dependency-cruiser.cjs.

import fs from "node:fs";
import path from "node:path";
import { cruise, type ICruiseResult } from "dependency-cruiser";
import extractDepcruiseOptions from "dependency-cruiser/config-utl/extract-depcruise-options";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "..");

async function violationsIn(baseDir: string, dirs: string[]): Promise<string[]> {
  const options = await extractDepcruiseOptions(path.join(ROOT, ".dependency-cruiser.cjs"));
  const { output } = await cruise(dirs, { ...options, validate: true, baseDir });
  const result = output as ICruiseResult;
  expect(result.modules.length).toBeGreaterThan(0);
  for (const m of result.modules) {
    for (const d of m.dependencies) {
      if (d.dependencyTypes.includes("local"))
        expect(d.couldNotResolve, `${m.source} → ${d.module}`).toBe(false);
    }
  }
  return result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
}

describe("architecture", () => {
  it("every import of src/ and web/src/ keeps to the layer rules", async () => {
    expect(await violationsIn(ROOT, ["src", "web/src"])).toEqual([]);
  });

  it("the rules catch a wrong import, type-only ones too", async () => {
    const fixture = path.join(ROOT, "test", "fixtures", "layers");
    expect((await violationsIn(fixture, ["src"])).sort()).toEqual([
      "engine-sees-ports: src/engine/uses-http.ts → src/api/route.ts",
      "pipeline-is-pure: src/pipeline/impure.ts → src/api/route.ts",
    ]);
  });

  it("docs/architecture.md explains every rule", () => {
    const doc = fs.readFileSync(path.join(ROOT, "docs", "architecture.md"), "utf8");
    const config = fs.readFileSync(path.join(ROOT, ".dependency-cruiser.cjs"), "utf8");
    const names = [...config.matchAll(/name: "([a-z-]+)"/g)].map((m) => m[1]!);
    expect(names.length).toBeGreaterThan(5);
    for (const n of names)
      expect(doc, `docs/architecture.md does not mention rule ${n}`).toContain(`\`${n}\``);
  });
});
