import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ERRORS, PipewrightError, toPipewrightError } from "./errors.js";
import { InvalidInput } from "./pipeline/issues.js";
import { NO_CONTAINER_RUNTIME_CODE, RUNNER_OF_ANOTHER_CREDENTIAL_CODE } from "./pipeline/vocabulary.js";

describe("error catalogue", () => {
  it("has unique, well-formed codes with 4xx/5xx statuses", () => {
    const codes = Object.values(ERRORS).map((e) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const e of Object.values(ERRORS)) {
      expect(e.code).toMatch(/^DEVPIPE\.\d{8}$/);
      expect(e.status).toBeGreaterThanOrEqual(400);
      expect(e.status).toBeLessThan(600);
    }
  });

  it("is documented completely in docs/errors.md (code and status of every entry)", () => {
    const doc = fs.readFileSync(path.join(import.meta.dirname, "..", "docs", "errors.md"), "utf8");
    for (const e of Object.values(ERRORS)) {
      const row = doc.split("\n").find((l) => l.includes(`| ${e.code} |`));
      expect(row, `${e.code} missing from docs/errors.md`).toBeDefined();
      expect(row, `${e.code} has the wrong status in docs/errors.md`).toContain(`| ${e.status} |`);
    }
  });

  it("has the code the runner writes for a missing container runtime", () => {
    expect(ERRORS.NO_CONTAINER_RUNTIME.code).toBe(NO_CONTAINER_RUNTIME_CODE);
  });

  it("has the code the agent reads for a runner id of another credential", () => {
    expect(ERRORS.RUNNER_OF_ANOTHER_CREDENTIAL.code).toBe(RUNNER_OF_ANOTHER_CREDENTIAL_CODE);
  });

  it("normalises unknown throwables to INTERNAL keeping the cause", () => {
    const cause = new Error("boom");
    const e = toPipewrightError(cause);
    expect(e.code).toBe("DEVPIPE.00020500");
    expect(e.cause).toBe(cause);
    const own = new PipewrightError("PIPELINE_NOT_FOUND");
    expect(toPipewrightError(own)).toBe(own);
    expect(own.toBody()).toEqual({
      error_code: "DEVPIPE.00011401",
      error_msg: "The pipeline does not exist.",
    });
  });

  it("answers each kind of validation issue of the domain with its 400 code, naming the field", () => {
    const cases = [
      ["definition", "DEVPIPE.00020110"],
      ["request", "DEVPIPE.00020100"],
      ["variable", "DEVPIPE.00020230"],
    ] as const;
    for (const [kind, code] of cases) {
      const issue = new InvalidInput({
        kind,
        path: "definition.stages[0].name",
        problem: "must be a string",
      });
      const e = toPipewrightError(issue);
      expect(e.code).toBe(code);
      expect(e.status).toBe(400);
      expect(e.message).toBe("definition.stages[0].name: must be a string");
      expect(e.cause).toBe(issue);
    }
  });
});

describe("storage full", () => {
  it("is recognised from SQLite, PostgreSQL and the file system, also when wrapped", () => {
    for (const code of ["SQLITE_FULL", "53100", "ENOSPC"]) {
      const err = Object.assign(new Error("full"), { code });
      expect(toPipewrightError(err).key).toBe("STORAGE_FULL");
      expect(toPipewrightError(new Error("wrapped", { cause: err })).status).toBe(503);
    }
    expect(toPipewrightError(Object.assign(new Error("x"), { code: "SQLITE_BUSY" })).key).toBe("INTERNAL");
  });
});
