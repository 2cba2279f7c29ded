import { describe, expect, it } from "vitest";
import { apiErrorOf, networkErrorOf } from "./client.js";

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
