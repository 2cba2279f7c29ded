import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { createTestClock, type TestClock } from "../clock.js";
import { parseSseChunks } from "../wire/sse.js";
import { type SseStream, streamSse } from "./sse.js";

let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

/**
 * A server with one event-stream route fed by `produce`, opened once `before` settles (a route's
 * own checks first); `closing` is the server's stop. Answers its URL.
 */
async function serve(
  clock: TestClock,
  produce: (s: SseStream) => Promise<void>,
  opts: { closing?: AbortSignal; before?: Promise<unknown> } = {},
): Promise<string> {
  app = Fastify();
  app.get("/events", async (req, reply) => {
    await opts.before;
    return streamSse(
      req,
      reply,
      { clock, keepAliveMs: 1000, ...(opts.closing ? { closing: opts.closing } : {}) },
      produce,
    );
  });
  return app.listen({ host: "127.0.0.1", port: 0 });
}

async function readAll(res: Response): Promise<string> {
  return await res.text();
}

describe("streamSse", () => {
  it("sends the headers at once, the producer's events as JSON, then an end event", async () => {
    const clock = createTestClock();
    const url = await serve(clock, async (s) => {
      s.send("log", { offset: 0, text: "a\nb" });
      s.send("log", { offset: 3, text: "c" });
    });
    const res = await fetch(`${url}/events`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-accel-buffering")).toBe("no");
    expect(parseSseChunks([await readAll(res)])).toEqual([
      { event: "log", data: '{"offset":0,"text":"a\\nb"}' },
      { event: "log", data: '{"offset":3,"text":"c"}' },
      { event: "end", data: "{}" },
    ]);
  });

  it("keeps a quiet stream alive with comments, and a wake ends a wait early", async () => {
    const clock = createTestClock();
    let stream: SseStream | undefined;
    let waited = false;
    const url = await serve(clock, async (s) => {
      stream = s;
      await s.wait(60_000);
      waited = true;
      s.send("run", { n: 1 });
    });
    const res = await fetch(`${url}/events`);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    await clock.advance(1000);
    const first = decoder.decode((await reader.read()).value);
    expect(first).toBe(": keep-alive\n\n");
    expect(waited).toBe(false);
    stream!.wake();
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += decoder.decode(value);
    }
    expect(waited).toBe(true);
    expect(parseSseChunks([rest])).toEqual([
      { event: "run", data: '{"n":1}' },
      { event: "end", data: "{}" },
    ]);
  });

  it("remembers a wake that comes before the wait", async () => {
    const clock = createTestClock();
    const url = await serve(clock, async (s) => {
      s.wake();
      await s.wait(60_000); // answers at once: the change came while the producer was busy
      s.send("run", {});
    });
    expect(parseSseChunks([await readAll(await fetch(`${url}/events`))]).map((e) => e.event)).toEqual([
      "run",
      "end",
    ]);
  });

  it("aborts the producer's signal when the client goes away", async () => {
    const clock = createTestClock();
    let signal: AbortSignal | undefined;
    let ended!: () => void;
    const producerEnded = new Promise<void>((r) => (ended = r));
    const url = await serve(clock, async (s) => {
      signal = s.signal;
      while (!s.signal.aborted) await s.wait(60_000);
      ended();
    });
    const client = new AbortController();
    const res = await fetch(`${url}/events`, { signal: client.signal });
    expect(res.status).toBe(200);
    expect(signal?.aborted).toBe(false);
    client.abort();
    await producerEnded;
    expect(signal?.aborted).toBe(true);
  });

  it("ends the stream when the server stops, without its end event (the client connects again)", async () => {
    const clock = createTestClock();
    const closing = new AbortController();
    const url = await serve(
      clock,
      async (s) => {
        s.send("run", { n: 1 });
        while (!s.signal.aborted) await s.wait(60_000);
      },
      { closing: closing.signal },
    );
    const res = await fetch(`${url}/events`);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    expect(decoder.decode((await reader.read()).value)).toContain("event: run");
    closing.abort();
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += decoder.decode(value);
    }
    expect(rest).not.toContain("event: end");
  });

  it("a stream opened while the server is stopping ends at once", async () => {
    const clock = createTestClock();
    const closing = new AbortController();
    closing.abort();
    let produced = false;
    const url = await serve(
      clock,
      async (s) => {
        while (!s.signal.aborted) await s.wait(60_000);
        produced = true;
      },
      { closing: closing.signal },
    );
    expect(parseSseChunks([await readAll(await fetch(`${url}/events`))])).toEqual([]);
    expect(produced).toBe(true);
  });

  it("aborts the producer's signal at once when the client went before the stream opened", async () => {
    const clock = createTestClock();
    let checked!: () => void;
    const checks = new Promise<void>((r) => (checked = r));
    let aborted: boolean | undefined;
    let ended!: () => void;
    const producerEnded = new Promise<void>((r) => (ended = r));
    const url = await serve(
      clock,
      async (s) => {
        aborted = s.signal.aborted;
        ended();
      },
      { before: checks },
    );
    // The client goes while the route is still at its checks; the server sees its socket close.
    const closed = new Promise<void>((r) => app!.server.once("connection", (sock) => sock.once("close", r)));
    const client = new AbortController();
    const res = fetch(`${url}/events`, { signal: client.signal }).catch(() => undefined);
    await new Promise((r) => app!.server.once("request", r));
    client.abort();
    await closed;
    await res;
    checked();
    await producerEnded;
    expect(aborted).toBe(true);
  });
});
