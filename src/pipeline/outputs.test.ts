import { describe, expect, it } from "vitest";
import { LIMITS } from "./limits.js";
import { jobOutputs, parseOutputs, referencedJobs, substituteOutputs } from "./outputs.js";

describe("parseOutputs", () => {
  it("reads name=value lines and name<<DELIMITER blocks, the last of a name winning", () => {
    const text = [
      "version=1.2.3",
      "empty=",
      "with_equals=a=b",
      "notes<<EOF",
      "line one",
      "line two",
      "EOF",
      "version=1.2.4",
      "",
    ].join("\n");
    const { outputs, problems } = parseOutputs(text);
    expect(problems).toEqual([]);
    expect(outputs).toEqual([
      { key: "empty", value: "" },
      { key: "with_equals", value: "a=b" },
      { key: "notes", value: "line one\nline two" },
      { key: "version", value: "1.2.4" },
    ]);
  });

  it("takes CRLF line ends", () => {
    expect(parseOutputs("a=1\r\nb<<X\r\nv\r\nX\r\n").outputs).toEqual([
      { key: "a", value: "1" },
      { key: "b", value: "v" },
    ]);
  });

  it("refuses a name that is not an identifier, keeping the others", () => {
    const { outputs, problems } = parseOutputs("ok=1\nbad name=2\n9lives=3\nx.y=4\n");
    expect(outputs).toEqual([{ key: "ok", value: "1" }]);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/"bad name"/);
  });

  it("says what is wrong with a line that is neither form, and an unclosed block", () => {
    expect(parseOutputs("just text\n").problems[0]).toMatch(/line 1/);
    const unclosed = parseOutputs("a=1\nb<<END\nnever closed\n");
    expect(unclosed.outputs).toEqual([{ key: "a", value: "1" }]);
    expect(unclosed.problems[0]).toMatch(/no closing "END"/);
  });

  it("refuses a file past the limit whole, and a value past its length", () => {
    const big = parseOutputs("", LIMITS.stepOutputBytes + 1);
    expect(big.outputs).toEqual([]);
    expect(big.problems[0]).toMatch(/more than the limit/);
    const long = parseOutputs(`v=${"x".repeat(LIMITS.stepOutputValueLength + 1)}\nw=1\n`);
    expect(long.outputs).toEqual([{ key: "w", value: "1" }]);
  });

  it("keeps the first outputs up to the limit of their number", () => {
    const text = Array.from({ length: LIMITS.stepOutputs + 5 }, (_, i) => `o${i}=${i}`).join("\n");
    const { outputs, problems } = parseOutputs(text);
    expect(outputs).toHaveLength(LIMITS.stepOutputs);
    expect(problems[0]).toMatch(/more than the limit/);
  });
});

describe("job outputs and references", () => {
  it("joins a job's steps' outputs, a later step winning", () => {
    expect(
      jobOutputs([
        {
          outputs: [
            { key: "a", value: "1" },
            { key: "b", value: "2" },
          ],
        },
        { outputs: [{ key: "a", value: "3" }] },
      ]),
    ).toEqual({ a: "3", b: "2" });
  });

  it("finds and substitutes ${{ jobs.<job>.outputs.<name> }}", () => {
    const text = 'echo "${{ jobs.build.outputs.version }}" ${{jobs.test-1.outputs.n}} ${{ jobs.x.status }}';
    expect(referencedJobs(text)).toEqual(["build", "test-1"]);
    const out = substituteOutputs(text, (job) => (job === "build" ? { version: "1.2" } : undefined));
    expect(out).toBe('echo "1.2"  ${{ jobs.x.status }}');
  });
});
