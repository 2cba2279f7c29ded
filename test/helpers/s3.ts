// A throwaway S3-compatible server for tests: s3rver in this process, on loopback at a free port,
// keeping its objects in a temp dir that `stop` removes. It checks SigV4 signatures against its
// one account, S3RVER / S3RVER (S3_TEST_CREDENTIALS).

import fs from "node:fs/promises";
import type http from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";

/** The part of s3rver 3.7's API we use (the package ships no types). */
interface S3rver {
  /** Set by run(). */
  readonly httpServer: http.Server;
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (opts: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string; configs: string[] }[];
}) => S3rver;
const S3rver = createRequire(import.meta.url)("s3rver") as S3rverClass;

export const S3_TEST_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

export interface S3Server {
  /** `http://127.0.0.1:<port>`; the server answers path-style requests. */
  readonly endpoint: string;
  readonly bucket: string;
  /** The directory s3rver keeps its buckets in (multipart parts too, under `<bucket>/`). */
  readonly directory: string;
  /** `METHOD /path?query` of every request served, oldest first (to see what a client asked). */
  readonly requests: readonly string[];
  stop(): Promise<void>;
}

export async function startS3(): Promise<S3Server> {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), "pipewright-s3-"));
  const bucket = "pipewright-test";
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  let addr: AddressInfo;
  try {
    addr = await server.run();
  } catch (err) {
    await fs.rm(directory, { recursive: true, force: true });
    throw err;
  }
  const requests: string[] = [];
  server.httpServer.on("request", (req: http.IncomingMessage) => requests.push(`${req.method} ${req.url}`));
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    bucket,
    directory,
    requests,
    stop() {
      stopped ??= server.close().finally(() => fs.rm(directory, { recursive: true, force: true }));
      return stopped;
    },
  };
}
