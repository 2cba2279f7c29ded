// Blobs in S3-compatible object storage: `<prefix>blobs/<sha256>`. The hash is known only once the
// last byte has passed, so the bytes stream to a temp key `<prefix>tmp/<uuid>` first and are then
// copied under their hash on the server side (no second upload), and the temp key is removed.

import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  paginateListObjectsV2,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { meter } from "./blob-dir.js";
import { type BlobStore, isSha256 } from "./blobs.js";

export interface S3BlobOptions {
  readonly bucket: string;
  /** Prepended to every key as given: end it with `/` for a folder, or leave it empty. */
  readonly prefix: string;
  /** An S3-compatible server (MinIO, Ceph, …); AWS's own endpoints when undefined. */
  readonly endpoint?: string;
  readonly region: string;
  /** `<endpoint>/<bucket>/<key>` rather than `<bucket>.<endpoint>/<key>`, which most servers but AWS need. */
  readonly forcePathStyle: boolean;
  /** When undefined the SDK finds them itself (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, profiles, roles). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/**
 * One CopyObject copies at most 5 GiB. Past that the copy would take UploadPartCopy, which we do not
 * implement: S3-compatible servers support it unevenly (s3rver, which the tests run, not at all), so
 * that path could not be tested, and a CI artifact past 5 GiB is rare. `put` refuses a larger
 * `maxBytes` before reading anything; the composition root can check its limit against this at boot.
 */
export const S3_MAX_BLOB_BYTES = 5 * 1024 ** 3;

/**
 * The smallest part S3 accepts. With two parts in flight and one being filled, a put holds at most
 * about 15 MiB of the body in memory, however large the blob.
 */
const PART_SIZE = 5 * 1024 ** 2;
const QUEUE_SIZE = 2;

export function createS3BlobStore(opts: S3BlobOptions): BlobStore & { close(): void } {
  const { bucket: Bucket, prefix } = opts;
  const client = new S3Client({
    region: opts.region,
    forcePathStyle: opts.forcePathStyle,
    ...(opts.endpoint !== undefined && { endpoint: opts.endpoint }),
    ...(opts.credentials !== undefined && { credentials: opts.credentials }),
    // Since v3.729 the SDK adds a CRC32 checksum to every put, which several S3-compatible
    // servers refuse (R2 answered 501, others reject aws-chunked bodies: aws/aws-sdk-js-v3#6810).
    // Off an AWS endpoint we ask for checksums only where the API requires them; the parts' SigV4
    // payload hashes still cover transit, and the sha256 we compute names the blob. AWS itself
    // keeps the SDK's defaults.
    ...(opts.endpoint !== undefined && {
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    }),
  });
  const blobKey = (sha256: string) => `${prefix}blobs/${sha256}`;
  // CopySource is `<bucket>/<key>`, URL-encoded by us (the SDK sends it as given); slashes stay.
  const copySource = (key: string) => `${Bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
  const is404 = (err: unknown) => err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404;

  async function exists(key: string): Promise<boolean> {
    try {
      await client.send(new HeadObjectCommand({ Bucket, Key: key }));
      return true;
    } catch (err) {
      // HEAD has no body, so no error code: a missing bucket shows up as 404 too, and the copy
      // that follows then fails with NoSuchBucket.
      if (is404(err)) return false;
      throw err;
    }
  }

  return {
    kind: "s3",

    async put(body, maxBytes) {
      if (maxBytes > S3_MAX_BLOB_BYTES) {
        throw new RangeError(`the s3 blob store keeps blobs of at most ${S3_MAX_BLOB_BYTES} bytes (5 GiB)`);
      }
      const tmp = `${prefix}tmp/${randomUUID()}`;
      const m = meter(maxBytes);
      const upload = new Upload({
        client,
        params: { Bucket, Key: tmp, Body: m },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
        // We abort ourselves, once the upload has settled: lib-storage's own abort throws its
        // failure (servers that lack AbortMultipartUpload, like s3rver) in place of the real
        // error, and BlobTooLarge must reach the caller.
        leavePartsOnError: true,
      });
      const piping = pipeline(body, m);
      const uploading = upload.done();
      try {
        await Promise.all([piping, uploading]);
        const info = m.info();
        // The same bytes already kept: skip the copy, which for a large blob is not free.
        if (!(await exists(blobKey(info.sha256)))) {
          await client.send(
            new CopyObjectCommand({ Bucket, Key: blobKey(info.sha256), CopySource: copySource(tmp) }),
          );
        }
        await client.send(new DeleteObjectCommand({ Bucket, Key: tmp }));
        return info;
      } catch (err) {
        // Stop reading, and let the upload settle before cleaning up: until it has, a part may
        // still be in flight, or the multipart upload not yet have an id to abort.
        m.destroy();
        body.destroy();
        await Promise.allSettled([piping, uploading]);
        if (upload.uploadId !== undefined) {
          await client
            .send(new AbortMultipartUploadCommand({ Bucket, Key: tmp, UploadId: upload.uploadId }))
            .catch(() => undefined);
        }
        // A blob copied before a later step failed stays: it is whole, named by its bytes, and may
        // be another artifact's; removing it here could lose that one.
        await client.send(new DeleteObjectCommand({ Bucket, Key: tmp })).catch(() => undefined);
        throw err;
      }
    },

    async get(sha256) {
      if (!isSha256(sha256)) return undefined;
      try {
        const res = await client.send(new GetObjectCommand({ Bucket, Key: blobKey(sha256) }));
        // In Node the SDK's body is an http.IncomingMessage; anything else is a bug to hear about.
        if (!(res.Body instanceof Readable)) throw new Error("s3 GetObject answered no Node stream");
        if (res.ContentLength === undefined) {
          res.Body.destroy();
          throw new Error("s3 GetObject answered no Content-Length");
        }
        return { body: res.Body, size: res.ContentLength };
      } catch (err) {
        // NoSuchKey only: a missing bucket (NoSuchBucket, 404 as well) is a misconfiguration.
        if (err instanceof NoSuchKey) return undefined;
        throw err;
      }
    },

    async delete(sha256) {
      if (isSha256(sha256)) await client.send(new DeleteObjectCommand({ Bucket, Key: blobKey(sha256) }));
    },

    async usage() {
      let total = 0;
      for await (const page of paginateListObjectsV2({ client }, { Bucket, Prefix: `${prefix}blobs/` })) {
        for (const o of page.Contents ?? []) total += o.Size ?? 0;
      }
      return total;
    },

    close() {
      client.destroy();
    },
  };
}

const URL_FORM = "s3://<bucket>/<prefix>?region=<region>[&endpoint=<http(s) URL>][&path_style=true|false]";
const QUERY_KEYS = new Set(["endpoint", "region", "path_style"]);

function fail(what: string): never {
  throw new Error(`blob store URL: ${what} (expected ${URL_FORM})`);
}

/**
 * Reads the config form `s3://<bucket>/<prefix>?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true`.
 * A non-empty prefix is a folder (a `/` is added when missing). Credentials never come from the URL:
 * the SDK reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile, or a role) itself.
 * The errors name the part that is wrong and never repeat the URL (it may hold a secret by mistake).
 */
export function s3OptionsFromUrl(url: string): S3BlobOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return fail("not a URL");
  }
  if (u.protocol !== "s3:") fail(`the scheme is ${JSON.stringify(u.protocol.slice(0, -1))}, not "s3"`);
  if (u.username !== "" || u.password !== "") {
    fail("credentials do not belong in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  }
  if (u.port !== "") fail("a bucket has no port; put the server in ?endpoint=");
  if (u.hash !== "") fail("the URL has a #fragment");

  const bucket = u.hostname;
  // AWS's rules for new buckets, which S3-compatible servers follow too.
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes("..")) {
    fail(
      `the bucket ${JSON.stringify(bucket)} is not a valid bucket name (3 to 63 of a-z, 0-9, ".", "-", starting and ending with a letter or digit)`,
    );
  }

  let prefix = "";
  try {
    prefix = decodeURIComponent(u.pathname.replace(/^\//, ""));
  } catch {
    fail("the prefix is not valid percent-encoding");
  }
  if (prefix !== "" && !prefix.endsWith("/")) prefix += "/";
  if (
    prefix.startsWith("/") ||
    prefix.includes("//") ||
    prefix.split("/").some((s) => s === "." || s === "..")
  ) {
    fail(`the prefix ${JSON.stringify(prefix)} has an empty, "." or ".." segment`);
  }

  for (const key of u.searchParams.keys()) {
    if (!QUERY_KEYS.has(key)) fail(`unknown parameter ${JSON.stringify(key)}`);
    if (u.searchParams.getAll(key).length > 1) fail(`the parameter ${JSON.stringify(key)} is given twice`);
  }

  const region = u.searchParams.get("region");
  if (region === null || region === "") fail("the region is missing (add ?region=<region>, e.g. us-east-1)");
  if (!/^[a-z0-9-]+$/.test(region)) fail(`the region ${JSON.stringify(region)} is not a region name`);

  const pathStyle = u.searchParams.get("path_style");
  if (pathStyle !== null && pathStyle !== "true" && pathStyle !== "false") {
    fail(`path_style is ${JSON.stringify(pathStyle)}, not "true" or "false"`);
  }

  const endpoint = u.searchParams.get("endpoint");
  if (endpoint !== null) {
    let e: URL;
    try {
      e = new URL(endpoint);
    } catch {
      fail("the endpoint is not a URL");
    }
    if (e.protocol !== "http:" && e.protocol !== "https:") fail("the endpoint is not an http(s) URL");
    if (e.username !== "" || e.password !== "") fail("credentials do not belong in the endpoint");
    if ((e.pathname !== "/" && e.pathname !== "") || e.search !== "" || e.hash !== "") {
      fail("the endpoint has a path, query or fragment; the bucket and prefix go in the s3:// part");
    }
  }

  return {
    bucket,
    prefix,
    region: region,
    forcePathStyle: pathStyle === "true",
    ...(endpoint !== null && { endpoint }),
  };
}
