// Where artifacts' bytes live: a small port with two backends, a directory (the default, under
// the data dir; a shared mount serves replicas too) and S3-compatible object storage. Blobs are
// content-addressed: stored under the sha256 of their bytes, which the store computes while the
// bytes stream through (nothing is held whole in memory).

import type { Readable } from "node:stream";

export interface BlobInfo {
  /** Lowercase hex sha256 of the bytes. */
  readonly sha256: string;
  readonly size: number;
}

export interface BlobStore {
  /** `dir` or `s3`, for logs and the admin API. */
  readonly kind: string;
  /**
   * Streams `body` in, hashing it, and keeps it under its hash (a blob already there is kept
   * once). Past `maxBytes` it stops reading, keeps nothing and throws BlobTooLarge; a body that
   * fails midway keeps nothing either.
   */
  put(body: Readable, maxBytes: number): Promise<BlobInfo>;
  /** The blob's bytes as a stream, with its size; undefined when there is no such blob. */
  get(sha256: string): Promise<{ readonly body: Readable; readonly size: number } | undefined>;
  /** Removes the blob (nothing when it is not there). */
  delete(sha256: string): Promise<void>;
  /** Bytes kept in all (for the admin's usage view). */
  usage(): Promise<number>;
}

export class BlobTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`more than ${maxBytes} bytes`);
    this.name = "BlobTooLarge";
  }
}

/** Whether `s` is a blob's name (what `get` and `delete` accept). */
export const isSha256 = (s: string): boolean => /^[0-9a-f]{64}$/.test(s);
