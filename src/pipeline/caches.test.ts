import { describe, expect, it } from "vitest";
import { hashFilesCalls, parseCacheDecl, renderCacheKey } from "./caches.js";

describe("cache declarations", () => {
  it("reads a key with hashFiles and the paths", () => {
    const c = parseCacheDecl(
      { key: "npm-${{ hashFiles('package-lock.json', 'a/*.lock') }}", paths: ["node_modules"] },
      "c",
    );
    expect(c).toEqual({
      key: "npm-${{ hashFiles('package-lock.json', 'a/*.lock') }}",
      paths: ["node_modules"],
    });
    expect(hashFilesCalls(c!.key)).toEqual([["package-lock.json", "a/*.lock"]]);
    expect(parseCacheDecl(undefined, "c")).toBeNull();
  });

  it.each([
    [{ key: "", paths: ["x"] }, "c.key: must be a string"],
    [
      { key: "k-${{ variables.X }}", paths: ["x"] },
      "c.key: ${{ variables.X }}: a key may use only hashFiles",
    ],
    [{ key: "k-${{ hashFiles('../x') }}", paths: ["x"] }, "c.key: must stay inside the workspace"],
    [{ key: "k", paths: [] }, "c.paths: must be a list of 1 to 100 patterns"],
    [{ key: "k", paths: ["/etc"] }, "c.paths[0]: must stay inside the workspace"],
    ["k", "c: must be an object {key, paths}"],
  ])("refuses %j naming the field", (raw, message) => {
    expect(() => parseCacheDecl(raw, "c")).toThrow(message);
  });

  it("renders each hashFiles with the runner's hash", async () => {
    const key = await renderCacheKey("a-${{ hashFiles('x') }}-b-${{hashFiles('y','z')}}", async (g) =>
      g.join("+"),
    );
    expect(key).toBe("a-x-b-y+z");
  });
});
