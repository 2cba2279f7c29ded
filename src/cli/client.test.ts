import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliError } from "./cli-error.js";
import { apiErrorOf, createHttpClient, networkErrorOf } from "./client.js";

describe("apiErrorOf", () => {
  it("makes one line with the DEVPIPE code and the status", () => {
    const err = apiErrorOf(
      404,
      "Not Found",
      '{"error_code":"DEVPIPE.00011401","error_msg":"Pipeline x\\ndoes not exist."}',
      "GET u",
    );
    expect(err.message).toBe("Pipeline x does not exist. (DEVPIPE.00011401, HTTP 404)");
    expect(err.code).toBe("DEVPIPE.00011401");
    expect(err.exitCode).toBe(3);
  });

  it("reads the {error: {code, message}} shape and keeps the body", () => {
    const err = apiErrorOf(
      409,
      "Conflict",
      '{"error":{"code":"DEVPIPE.00011169","message":"queued","pipeline_run_id":"r"}}',
      "POST u",
    );
    expect(err.message).toBe("queued (DEVPIPE.00011169, HTTP 409)");
    expect(err.body).toEqual({
      error: { code: "DEVPIPE.00011169", message: "queued", pipeline_run_id: "r" },
    });
  });

  it("shows an excerpt of an answer that is not JSON", () => {
    const err = apiErrorOf(502, "Bad Gateway", "<html>\n<b>upstream down</b></html>", "GET http://s/x");
    expect(err.message).toBe("GET http://s/x: HTTP 502 Bad Gateway: <html> <b>upstream down</b></html>");
  });
});

describe("networkErrorOf", () => {
  it("names the server and the cause", () => {
    const cause = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    const err = networkErrorOf(
      "http://127.0.0.1:9",
      Object.assign(new TypeError("fetch failed"), { cause }),
      1000,
    );
    expect(err.message).toBe("cannot reach the server at http://127.0.0.1:9 (connection refused)");
    expect(err.exitCode).toBe(4);
    const timeout = Object.assign(new Error("t"), { name: "TimeoutError" });
    expect(networkErrorOf("http://s", timeout, 60_000).message).toBe(
      "cannot reach the server at http://s (no answer within 60 s)",
    );
  });
});

describe("getStream", () => {
  let server: http.Server;
  let url: string;
  const seen: http.IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(req.headers);
      if (req.url === "/whole") {
        res.writeHead(200, { "content-length": "6", "x-checksum-sha256": "abc" });
        res.end("hello\n");
      } else if (req.url === "/cut") {
        // Promises 1000 bytes, sends 100, then hangs up.
        res.writeHead(200, { "content-length": "1000" });
        res.write("x".repeat(100), () => setTimeout(() => res.socket?.destroy(), 20));
      } else if (req.url === "/silent-body") {
        res.writeHead(200, { "content-length": "1000" });
        res.write("x");
      } else if (req.url === "/silent") {
        // No answer at all.
      } else {
        res.writeHead(404, { "content-type": "application/json" });
        res.end('{"error_code":"DEVPIPE.00020240","error_msg":"No artifact nope."}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const http_ = () => createHttpClient({ server: url, token: "pw_t", userAgent: "pipewright-cli/test" });

  async function readAll(body: NodeJS.ReadableStream): Promise<string> {
    let text = "";
    for await (const chunk of body) text += String(chunk);
    return text;
  }

  it("answers once the headers are in, the body a stream, with the token sent", async () => {
    const answer = await http_().getStream("/whole");
    expect(answer.status).toBe(200);
    expect(answer.header("Content-Length")).toBe("6");
    expect(answer.header("x-checksum-sha256")).toBe("abc");
    expect(answer.header("x-nothing")).toBeUndefined();
    expect(await readAll(answer.body)).toBe("hello\n");
    expect(seen.at(-1)).toMatchObject({ "x-auth-token": "pw_t", "user-agent": "pipewright-cli/test" });
  });

  it("turns an error answer into the server's CliError", async () => {
    const err = await http_()
      .getStream("/nope")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).message).toBe("No artifact nope. (DEVPIPE.00020240, HTTP 404)");
    expect((err as CliError).exitCode).toBe(3);
  });

  it("fails the body, naming the server, when the connection breaks off", async () => {
    const answer = await http_().getStream("/cut");
    const err = await readAll(answer.body).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).message).toBe(`the answer from ${url} broke off (the connection closed early)`);
    expect((err as CliError).exitCode).toBe(4);
  });

  it("bounds silence, before the answer and within its body", async () => {
    const before = await http_()
      .getStream("/silent", { idleTimeoutMs: 200 })
      .catch((e: unknown) => e);
    expect((before as CliError).message).toBe(`cannot reach the server at ${url} (no answer within 0.2 s)`);
    expect((before as CliError).exitCode).toBe(4);
    const answer = await http_().getStream("/silent-body", { idleTimeoutMs: 200 });
    const within = await readAll(answer.body).catch((e: unknown) => e);
    expect((within as CliError).message).toBe(`the answer from ${url} broke off (no data for 0.2 s)`);
  });

  it("names a server that is not there", async () => {
    const err = await createHttpClient({ server: "http://127.0.0.1:9", token: undefined })
      .getStream("/x")
      .catch((e: unknown) => e);
    expect((err as CliError).message).toBe(
      "cannot reach the server at http://127.0.0.1:9 (connection refused)",
    );
  });

  it("lets a cancellation through as it is", async () => {
    const controller = new AbortController();
    const pending = http_().getStream("/silent", { signal: controller.signal });
    controller.abort();
    const err = await pending.catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(CliError);
    expect((err as Error).name).toBe("AbortError");
  });
});
