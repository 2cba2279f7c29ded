import { describe, expect, it } from "vitest";
import type { Artifact } from "./api.js";
import {
  ARTIFACT_HEADERS,
  artifactFileName,
  artifactRow,
  formatBytes,
  progressText,
  sha256Of,
  shortHash,
  sizeOf,
} from "./artifacts-format.js";
import { formatTime, table } from "./format.js";

const SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

const artifact = (over: Partial<Artifact> = {}): Artifact => ({
  project_id: "p".repeat(32),
  name: "dist",
  artifact_version: "",
  upload_target: "pipewright",
  artifact_package_type: "tar",
  artifact_uri: "build/dist.tar",
  artifact_download_url_with_id:
    "http://127.0.0.1:8080/v5/p/api/pipelines/x/pipeline-runs/r/artifacts/dist/download",
  artifact_type: "file",
  hash_code: [{ hash_type: "sha256", hash_value: SHA }],
  job_id: "j".repeat(32),
  build_no: 3,
  daily_build_number: "",
  file_size: "10240",
  job_identifier: "build",
  create_time: 1_767_225_600_000,
  ...over,
});

describe("formatBytes", () => {
  it("counts in powers of 1024 with at most three significant digits", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1024)).toBe("1.0 KiB");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(10_240)).toBe("10.0 KiB");
    expect(formatBytes(150 * 1024)).toBe("150 KiB");
    expect(formatBytes(12.34 * 1024 ** 2)).toBe("12.3 MiB");
    expect(formatBytes(5 * 1024 ** 3)).toBe("5.0 GiB");
    expect(formatBytes(3 * 1024 ** 4)).toBe("3.0 TiB");
  });

  it("goes up a unit rather than print 1024 of one", () => {
    expect(formatBytes(1024 * 1024 - 1)).toBe("1.0 MiB");
    expect(formatBytes(1023 * 1024)).toBe("1023 KiB");
  });

  it("answers - for what is not a size", () => {
    expect(formatBytes(-1)).toBe("-");
    expect(formatBytes(Number.NaN)).toBe("-");
  });
});

describe("sizeOf and sha256Of", () => {
  it("read file_size as the decimal string it is, and only that", () => {
    expect(sizeOf({ file_size: "10240" })).toBe(10_240);
    expect(sizeOf({ file_size: "" })).toBeUndefined();
    expect(sizeOf({ file_size: "1e3" })).toBeUndefined();
  });

  it("find the sha256 among the hash codes, in lower case", () => {
    expect(sha256Of(artifact())).toBe(SHA);
    expect(
      sha256Of({
        hash_code: [
          { hash_type: "md5", hash_value: "x" },
          { hash_type: "SHA-256", hash_value: SHA.toUpperCase() },
        ],
      }),
    ).toBe(SHA);
    expect(sha256Of({ hash_code: [] })).toBeUndefined();
    expect(shortHash(SHA)).toBe("9f86d081884c");
  });
});

describe("artifactRow", () => {
  it("shows name, job, size, short sha256 and the local time it was kept", () => {
    expect(artifactRow(artifact())).toEqual([
      "dist",
      "build",
      "10.0 KiB",
      "9f86d081884c",
      formatTime(1_767_225_600_000),
    ]);
  });

  it("falls back to the job run id, and - for what a server did not send", () => {
    const bare = artifact({
      job_identifier: undefined,
      create_time: undefined,
      hash_code: [],
      file_size: "",
    });
    expect(artifactRow(bare)).toEqual(["dist", "j".repeat(32), "-", "-", "-"]);
  });

  it("lines up in the table", () => {
    const text = table(ARTIFACT_HEADERS, [
      artifactRow(artifact()),
      artifactRow(artifact({ name: "reports", job_identifier: "test", file_size: "512" })),
    ]);
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).toBe("NAME     JOB    SIZE      SHA256        CREATED");
    expect(lines[1]).toMatch(/^dist {5}build {2}10\.0 KiB {2}9f86d081884c {2}\d{4}-/);
    expect(lines[2]).toMatch(/^reports {2}test {3}512 B {5}9f86d081884c {2}\d{4}-/);
  });
});

describe("artifactFileName", () => {
  it("is NAME.tar, with what a file name must not hold replaced", () => {
    expect(artifactFileName("dist")).toBe("dist.tar");
    expect(artifactFileName("app-1.2.0")).toBe("app-1.2.0.tar");
    expect(artifactFileName("../etc/passwd")).toBe("___etc_passwd.tar");
    expect(artifactFileName(".hidden")).toBe("_hidden.tar");
    expect(artifactFileName("a\\b\nc")).toBe("a_b_c.tar");
    expect(artifactFileName("")).toBe("artifact.tar");
  });
});

describe("progressText", () => {
  it("says how far a download is, or what arrived when the total is unknown", () => {
    expect(progressText(3.2 * 1024 ** 2, 10 * 1024 ** 2)).toBe("3.2 MiB of 10.0 MiB (32%)");
    expect(progressText(10, 10)).toBe("10 B of 10 B (100%)");
    expect(progressText(2048, undefined)).toBe("2.0 KiB");
    expect(progressText(0, 0)).toBe("0 B");
  });
});
