// The blob store contract, run against both backends: a directory in a temp dir, and S3 against a
// real S3-compatible server (s3rver, in this process). Every failure asserts that nothing was kept.

import crypto from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { S3_TEST_CREDENTIALS, type S3Server, startS3 } from "../../test/helpers/s3.js";
import { createDirBlobStore } from "./blob-dir.js";
import { createS3BlobStore, S3_MAX_BLOB_BYTES, s3OptionsFromUrl } from "./blob-s3.js";
import { type BlobStore, BlobTooLarge } from "./blobs.js";

const MiB = 1024 ** 2;

interface Backend {
  readonly store: BlobStore;
  /** Everything the backend keeps (files under the root, objects under the prefix), sorted. */
  contents(): Promise<string[]>;
  close(): Promise<void>;
}

const sha256 = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

/** `bytes` as a stream of 64 KiB chunks; with `failAfter`, it errors once that many bytes are out. */
function streamOf(bytes: Buffer, failAfter?: number): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < bytes.length; at += 64 * 1024) {
        if (failAfter !== undefined && at >= failAfter) throw new Error("the client went away");
        yield bytes.subarray(at, at + 64 * 1024);
      }
    })(),
  );
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** 20 MiB of random bytes: four parts of 5 MiB and a few bytes, so the S3 put is a multipart upload. */
const big = crypto.randomBytes(20 * MiB + 123);
const small = Buffer.from("hello, blobs\n");

function describeBlobStoreContract(name: string, open: () => Promise<Backend>): void {
  describe(`blob store contract: ${name}`, () => {
    let b: Backend;
    beforeEach(async () => {
      b = await open();
    });
    afterEach(async () => {
      await b.close();
    });

    it("put then get gives back the same bytes, sha256 and size, streamed in several parts", async () => {
      const info = await b.store.put(streamOf(big), 64 * MiB);
      expect(info).toEqual({ sha256: sha256(big), size: big.length });
      const got = await b.store.get(info.sha256);
      expect(got?.size).toBe(big.length);
      const back = await readAll(got!.body);
      expect(back.length).toBe(big.length);
      expect(sha256(back)).toBe(info.sha256);
    });

    it("an empty body is a blob too", async () => {
      const info = await b.store.put(streamOf(Buffer.alloc(0)), 10);
      expect(info).toEqual({ sha256: sha256(Buffer.alloc(0)), size: 0 });
      const got = await b.store.get(info.sha256);
      expect(got?.size).toBe(0);
      expect((await readAll(got!.body)).length).toBe(0);
      expect(await b.store.usage()).toBe(0);
    });

    it("the same bytes put twice are kept once", async () => {
      const one = await b.store.put(streamOf(small), 100);
      const before = await b.contents();
      expect(before).toHaveLength(1);
      expect(await b.store.put(streamOf(small), 100)).toEqual(one);
      expect(await b.contents()).toEqual(before);
      expect(await b.store.usage()).toBe(small.length);
    });

    it("a body past maxBytes throws BlobTooLarge and keeps nothing, small or multipart", async () => {
      await b.store.put(streamOf(small), 100);
      const before = await b.contents();
      await expect(b.store.put(streamOf(small), small.length - 1)).rejects.toSatisfy(
        (e) => e instanceof BlobTooLarge && e.maxBytes === small.length - 1,
      );
      expect(await b.contents()).toEqual(before);
      // Two parts are uploaded before the limit is crossed.
      await expect(b.store.put(streamOf(big), 12 * MiB)).rejects.toBeInstanceOf(BlobTooLarge);
      expect(await b.contents()).toEqual(before);
      // Exactly maxBytes is allowed.
      expect((await b.store.put(streamOf(small), small.length)).size).toBe(small.length);
    });

    it("a body that fails midway rejects with its error and keeps nothing", async () => {
      await b.store.put(streamOf(small), 100);
      const before = await b.contents();
      await expect(b.store.put(streamOf(big, 7 * MiB), 64 * MiB)).rejects.toThrow("the client went away");
      expect(await b.contents()).toEqual(before);
      await expect(b.store.put(streamOf(big, 64 * 1024), 64 * MiB)).rejects.toThrow("the client went away");
      expect(await b.contents()).toEqual(before);
    });

    it("get of an unknown sha256, or of no sha256 at all, is undefined", async () => {
      expect(await b.store.get(sha256(small))).toBeUndefined();
      expect(await b.store.get("../../etc/passwd")).toBeUndefined();
      expect(await b.store.get("A".repeat(64))).toBeUndefined();
    });

    it("delete removes the blob; deleting a missing one does nothing", async () => {
      const info = await b.store.put(streamOf(small), 100);
      await b.store.delete(info.sha256);
      expect(await b.store.get(info.sha256)).toBeUndefined();
      expect(await b.contents()).toEqual([]);
      await b.store.delete(info.sha256);
      await b.store.delete("not-a-sha");
    });

    it("usage adds up the blobs kept", async () => {
      expect(await b.store.usage()).toBe(0);
      await b.store.put(streamOf(small), 100);
      const other = Buffer.from("another blob");
      const info = await b.store.put(streamOf(other), 100);
      expect(await b.store.usage()).toBe(small.length + other.length);
      await b.store.delete(info.sha256);
      expect(await b.store.usage()).toBe(small.length);
    });
  });
}

describeBlobStoreContract("dir", async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "pipewright-blobs-"));
  return {
    store: createDirBlobStore(root),
    async contents() {
      const entries = await fs.readdir(root, { recursive: true, withFileTypes: true });
      return entries
        .filter((e) => !e.isDirectory())
        .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
        .sort();
    },
    close: () => fs.rm(root, { recursive: true, force: true }),
  };
});

describe("s3 blob store", () => {
  let s3: S3Server;
  let admin: S3Client;
  let n = 0;
  beforeAll(async () => {
    s3 = await startS3();
    admin = new S3Client({
      endpoint: s3.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: S3_TEST_CREDENTIALS,
    });
  });
  afterAll(async () => {
    admin?.destroy();
    await s3?.stop();
  });

  /** Every key under `prefix` (temp keys included), paginated in small pages to exercise that. */
  async function keysUnder(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await admin.send(
        new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix, MaxKeys: 2, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) keys.push(o.Key!.slice(prefix.length));
      token = page.NextContinuationToken;
    } while (token !== undefined);
    return keys.sort();
  }

  function openS3(prefix = `t${++n}/`): Backend {
    const store = createS3BlobStore({
      bucket: s3.bucket,
      prefix,
      endpoint: s3.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: S3_TEST_CREDENTIALS,
    });
    return {
      store,
      contents: () => keysUnder(prefix),
      close: async () => store.close(),
    };
  }

  describeBlobStoreContract("s3", async () => openS3());

  it("a large body goes up in 5 MiB parts, and a failed multipart upload is aborted", async () => {
    const b = openS3();
    const seen = s3.requests.length;
    await b.store.put(streamOf(big), 64 * MiB);
    const parts = s3.requests.slice(seen).filter((r) => r.startsWith("PUT ") && r.includes("partNumber="));
    expect(parts).toHaveLength(5);
    const failing = s3.requests.length;
    await expect(b.store.put(streamOf(big, 12 * MiB), 64 * MiB)).rejects.toThrow("the client went away");
    // s3rver answers AbortMultipartUpload 405 (it leaves the parts in its dir), but the store asked.
    expect(
      s3.requests.slice(failing).filter((r) => r.startsWith("DELETE ") && r.includes("uploadId=")),
    ).toHaveLength(1);
    await b.close();
  });

  it("a maxBytes past 5 GiB is refused before reading anything", async () => {
    const b = openS3();
    const body = streamOf(small);
    await expect(b.store.put(body, S3_MAX_BLOB_BYTES + 1)).rejects.toBeInstanceOf(RangeError);
    expect(body.readableDidRead).toBe(false);
    expect(await b.contents()).toEqual([]);
    await b.close();
  });

  it("keys under a prefix with a space are copied and listed", async () => {
    const b = openS3("with space/");
    const info = await b.store.put(streamOf(small), 100);
    expect(await b.contents()).toEqual([`blobs/${info.sha256}`]);
    expect(await b.store.usage()).toBe(small.length);
    await b.close();
  });

  it("a missing bucket is an error, not a missing blob", async () => {
    const store = createS3BlobStore({
      bucket: "no-such-bucket",
      prefix: "",
      endpoint: s3.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: S3_TEST_CREDENTIALS,
    });
    await expect(store.get(sha256(small))).rejects.toMatchObject({ name: "NoSuchBucket" });
    await expect(store.put(streamOf(small), 100)).rejects.toMatchObject({ name: "NoSuchBucket" });
    store.close();
  });

  it("a store opened from its config URL works", async () => {
    const url = `s3://${s3.bucket}/from-url?endpoint=${s3.endpoint}&region=us-east-1&path_style=true`;
    const store = createS3BlobStore({ ...s3OptionsFromUrl(url), credentials: S3_TEST_CREDENTIALS });
    expect(store.kind).toBe("s3");
    const info = await store.put(streamOf(small), 100);
    expect(await keysUnder("from-url/")).toEqual([`blobs/${info.sha256}`]);
    store.close();
  });
});

describe("s3OptionsFromUrl", () => {
  it("reads bucket, prefix (as a folder), endpoint, region and path style", () => {
    expect(
      s3OptionsFromUrl(
        "s3://my-bucket/ci/artifacts?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true",
      ),
    ).toEqual({
      bucket: "my-bucket",
      prefix: "ci/artifacts/",
      endpoint: "http://127.0.0.1:9000",
      region: "us-east-1",
      forcePathStyle: true,
    });
    expect(s3OptionsFromUrl("s3://my.bucket?region=eu-west-1")).toEqual({
      bucket: "my.bucket",
      prefix: "",
      region: "eu-west-1",
      forcePathStyle: false,
    });
    expect(s3OptionsFromUrl("s3://b-1/pre/?region=eu-west-1&path_style=false").prefix).toBe("pre/");
    expect(s3OptionsFromUrl("s3://b-1/with%20space?region=eu-west-1").prefix).toBe("with space/");
    expect(s3OptionsFromUrl("s3://b-1/?region=eu-west-1&endpoint=https://s3.example.test/").endpoint).toBe(
      "https://s3.example.test/",
    );
  });

  it.each([
    ["not a url", "not a URL"],
    ["http://bucket/x?region=us-east-1", 'the scheme is "http"'],
    ["s3://AKIAEXAMPLE:hunter2@bucket/x?region=us-east-1", "credentials do not belong in the URL"],
    ["s3://bucket:9000/x?region=us-east-1", "a bucket has no port"],
    ["s3://bucket/x?region=us-east-1#frag", "#fragment"],
    ["s3:///x?region=us-east-1", 'the bucket "" is not a valid bucket name'],
    ["s3://ab/x?region=us-east-1", 'the bucket "ab" is not a valid bucket name'],
    ["s3://Bucket_1/x?region=us-east-1", 'the bucket "Bucket_1" is not a valid bucket name'],
    ["s3://a..b/x?region=us-east-1", 'the bucket "a..b" is not a valid bucket name'],
    ["s3://bucket/a//b?region=us-east-1", 'the prefix "a//b/" has an empty'],
    ["s3://bucket/a%ZZ?region=us-east-1", "the prefix is not valid percent-encoding"],
    ["s3://bucket/x", "the region is missing"],
    ["s3://bucket/x?region=", "the region is missing"],
    ["s3://bucket/x?region=US%20East", 'the region "US East" is not a region name'],
    ["s3://bucket/x?region=us-east-1&pathstyle=true", 'unknown parameter "pathstyle"'],
    ["s3://bucket/x?region=us-east-1&region=eu-west-1", 'the parameter "region" is given twice'],
    ["s3://bucket/x?region=us-east-1&path_style=yes", 'path_style is "yes", not "true" or "false"'],
    ["s3://bucket/x?region=us-east-1&endpoint=localhost:9000", "the endpoint is not an http(s) URL"],
    ["s3://bucket/x?region=us-east-1&endpoint=localhost", "the endpoint is not a URL"],
    ["s3://bucket/x?region=us-east-1&endpoint=ftp://h", "the endpoint is not an http(s) URL"],
    ["s3://bucket/x?region=us-east-1&endpoint=http://k:s@h", "credentials do not belong in the endpoint"],
    ["s3://bucket/x?region=us-east-1&endpoint=http://h:9000/bucket", "the endpoint has a path"],
  ])("refuses %s, naming the part that is wrong", (url, part) => {
    let message = "";
    try {
      s3OptionsFromUrl(url);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(part);
    expect(message).toContain("expected s3://<bucket>/<prefix>?region=");
    expect(message).not.toContain("hunter2");
  });
});
