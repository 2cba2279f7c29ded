import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CliError, EXIT } from "./cli-error.js";
import { checkDestination, type Destination, saveDownload } from "./save-download.js";

const BYTES = Buffer.from("hello, artifact\n".repeat(1000));
const SHA = crypto.createHash("sha256").update(BYTES).digest("hex");
const what = "artifact dist of build#3";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "pipewright-save-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A body in chunks of 1000 bytes that, with `failAfter`, breaks off after that many chunks. */
function body(bytes: Buffer, failAfter?: number): Readable {
  let i = 0;
  return new Readable({
    read() {
      if (failAfter !== undefined && i === failAfter) {
        this.destroy(Object.assign(new Error("aborted"), { code: "ECONNRESET" }));
        return;
      }
      const chunk = bytes.subarray(i * 1000, (i + 1) * 1000);
      i++;
      this.push(chunk.length > 0 ? chunk : null);
    },
  });
}

const fileDest = (name: string, force = false): Destination & { kind: "file" } => ({
  kind: "file",
  path: path.join(dir, name),
  shown: name,
  force,
});

async function failure(p: Promise<unknown>): Promise<CliError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CliError);
  return err as CliError;
}

describe("saveDownload to a file", () => {
  it("writes the whole body, checks its sha256 and leaves no temporary file", async () => {
    const saved = await saveDownload(body(BYTES), fileDest("dist.tar"), {
      what,
      expectedSha256: SHA,
      expectedBytes: BYTES.length,
    });
    expect(saved).toEqual({ bytes: BYTES.length, sha256: SHA, verified: true });
    expect(fs.readFileSync(path.join(dir, "dist.tar")).equals(BYTES)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(["dist.tar"]);
  });

  it("reports progress as bytes arrive", async () => {
    const seen: number[] = [];
    await saveDownload(body(BYTES), fileDest("dist.tar"), {
      what,
      expectedSha256: SHA.toUpperCase(),
      expectedBytes: undefined,
      onProgress: (n) => seen.push(n),
    });
    expect(seen.at(-1)).toBe(BYTES.length);
    expect(seen.length).toBeGreaterThan(1);
  });

  it("keeps nothing when the sha256 is not the server's, and the file --force would replace stays", async () => {
    const dest = fileDest("dist.tar", true);
    fs.writeFileSync(dest.path, "the old one");
    const err = await failure(
      saveDownload(body(BYTES), dest, { what, expectedSha256: "ab".repeat(32), expectedBytes: BYTES.length }),
    );
    expect(err.exitCode).toBe(EXIT.SERVER);
    expect(err.message).toBe(
      `${what}: the SHA-256 of what arrived (${SHA}) is not the server's (${"ab".repeat(32)}); nothing was saved`,
    );
    expect(fs.readFileSync(dest.path, "utf8")).toBe("the old one");
    expect(fs.readdirSync(dir)).toEqual(["dist.tar"]);
  });

  it("keeps nothing when the connection breaks off, saying how far it got", async () => {
    const err = await failure(
      saveDownload(body(BYTES, 5), fileDest("dist.tar"), {
        what,
        expectedSha256: SHA,
        expectedBytes: BYTES.length,
      }),
    );
    expect(err.exitCode).toBe(EXIT.NETWORK);
    expect(err.message).toBe(
      `${what}: the download broke off after 4.9 KiB of 15.6 KiB (the connection closed early); nothing was saved`,
    );
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("keeps nothing when the body ends short of its Content-Length", async () => {
    const err = await failure(
      saveDownload(body(BYTES.subarray(0, 3000)), fileDest("dist.tar"), {
        what,
        expectedSha256: SHA,
        expectedBytes: BYTES.length,
      }),
    );
    expect(err.exitCode).toBe(EXIT.NETWORK);
    expect(err.message).toBe(`${what}: the download ended after 2.9 KiB of 15.6 KiB; nothing was saved`);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("says the file could not be written when that is what failed", async () => {
    fs.writeFileSync(path.join(dir, "plain"), "");
    const dest: Destination = {
      kind: "file",
      path: path.join(dir, "plain", "dist.tar"),
      shown: "plain/dist.tar",
      force: false,
    };
    const err = await failure(
      saveDownload(body(BYTES), dest, { what, expectedSha256: SHA, expectedBytes: BYTES.length }),
    );
    expect(err.exitCode).toBe(EXIT.USAGE);
    expect(err.message).toMatch(/^cannot write plain\/dist\.tar: ENOTDIR/);
    expect(fs.readdirSync(dir)).toEqual(["plain"]);
  });

  it("saves unchecked without a checksum, and says so", async () => {
    const saved = await saveDownload(body(BYTES), fileDest("dist.tar"), {
      what,
      expectedSha256: undefined,
      expectedBytes: undefined,
    });
    expect(saved).toEqual({ bytes: BYTES.length, sha256: SHA, verified: false });
  });

  it("removes what it wrote when cancelled, and lets the cancellation through", async () => {
    const controller = new AbortController();
    const slow = new Readable({
      read() {
        this.push(BYTES.subarray(0, 100));
        controller.abort();
      },
    });
    const err = await saveDownload(slow, fileDest("dist.tar"), {
      what,
      expectedSha256: SHA,
      expectedBytes: undefined,
      signal: controller.signal,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as Error).name).toBe("AbortError");
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe("saveDownload to a stream", () => {
  function sink(): { out: Writable; bytes: () => Buffer; ended: () => boolean } {
    const chunks: Buffer[] = [];
    let ended = false;
    const out = new Writable({
      write(chunk: Buffer, _e, done) {
        chunks.push(chunk);
        done();
      },
      final(done) {
        ended = true;
        done();
      },
    });
    return { out, bytes: () => Buffer.concat(chunks), ended: () => ended };
  }

  it("writes the bytes and leaves the stream open", async () => {
    const s = sink();
    const saved = await saveDownload(
      body(BYTES),
      { kind: "stream", out: s.out },
      {
        what,
        expectedSha256: SHA,
        expectedBytes: BYTES.length,
      },
    );
    expect(saved.verified).toBe(true);
    expect(s.bytes().equals(BYTES)).toBe(true);
    expect(s.ended()).toBe(false);
    expect(s.out.writable).toBe(true);
  });

  it("says on a mismatch that what went out is not the artifact", async () => {
    const s = sink();
    const err = await failure(
      saveDownload(
        body(BYTES),
        { kind: "stream", out: s.out },
        {
          what,
          expectedSha256: "00".repeat(32),
          expectedBytes: undefined,
        },
      ),
    );
    expect(err.exitCode).toBe(EXIT.SERVER);
    expect(err.message).toMatch(/; what was written is not the artifact$/);
    expect(s.out.writable).toBe(true);
  });

  it("keeps the stream usable when the connection breaks off", async () => {
    const s = sink();
    const err = await failure(
      saveDownload(
        body(BYTES, 2),
        { kind: "stream", out: s.out },
        {
          what,
          expectedSha256: SHA,
          expectedBytes: BYTES.length,
        },
      ),
    );
    expect(err.exitCode).toBe(EXIT.NETWORK);
    expect(s.out.destroyed).toBe(false);
    expect(s.bytes().length).toBe(2000);
  });
});

describe("checkDestination", () => {
  it("refuses an existing file without --force, a directory always, and a missing directory", () => {
    fs.writeFileSync(path.join(dir, "dist.tar"), "x");
    const refusal = (file: string, shown: string, force: boolean): CliError => {
      try {
        checkDestination(file, shown, force);
      } catch (err) {
        expect(err).toBeInstanceOf(CliError);
        return err as CliError;
      }
      throw new Error("not refused");
    };
    const exists = refusal(path.join(dir, "dist.tar"), "dist.tar", false);
    expect([exists.exitCode, exists.message, exists.hint]).toEqual([
      EXIT.USAGE,
      "dist.tar exists",
      "Pass --force to replace it, or -o another file.",
    ]);
    expect(() => checkDestination(path.join(dir, "dist.tar"), "dist.tar", true)).not.toThrow();
    expect(() => checkDestination(path.join(dir, "new.tar"), "new.tar", false)).not.toThrow();
    expect(refusal(dir, "out", true).message).toBe("out is a directory");
    expect(refusal(path.join(dir, "no", "x.tar"), "no/x.tar", false).message).toBe(
      "cannot write no/x.tar: there is no directory no",
    );
    expect(fs.readFileSync(path.join(dir, "dist.tar"), "utf8")).toBe("x");
  });
});
