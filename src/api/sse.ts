// One helper for every Server-Sent Events answer (the live run detail, the live step log, the
// runners' job streams): the headers, a keep-alive comment, the client's going away (or the
// server's stopping) as an AbortSignal, a wait that a change can cut short, and the closing
// `end` event once the producer is done.

import type { FastifyReply, FastifyRequest } from "fastify";
import type { Clock } from "../clock.js";
import { SECURITY_HEADERS } from "./security-headers.js";

export interface SseStream {
  /** Sends one event; `data` is written as JSON. Nothing is sent once the client has gone. */
  send(event: string, data: unknown): void;
  /** Aborts when the client goes away, or the server stops. */
  readonly signal: AbortSignal;
  /** Waits `ms`, or less when `wake()` is called or the client goes away. */
  wait(ms: number): Promise<void>;
  /** Ends the current `wait` now, or the next one at once (something changed). */
  wake(): void;
}

export interface SseOptions {
  readonly clock: Clock;
  /** A comment line this often keeps proxies from closing a quiet stream. */
  readonly keepAliveMs?: number;
  /**
   * Aborts when the server stops: the stream ends then without its `end` event, which tells the
   * client to connect again (to another replica) rather than that it has everything.
   */
  readonly closing?: AbortSignal;
}

const KEEP_ALIVE_MS = 15_000;

/**
 * Answers the request with an event stream fed by `produce`. When `produce` returns, an `end`
 * event closes the stream (unless the client went away or the server is stopping); when it
 * throws, the error is logged and the stream closed. The answer's headers go out at once, not with the first event:
 * a quiet stream would otherwise leave clients (and EventSource's `open`) waiting.
 */
export async function streamSse(
  req: FastifyRequest,
  reply: FastifyReply,
  opts: SseOptions,
  produce: (stream: SseStream) => Promise<void>,
): Promise<FastifyReply> {
  reply.hijack();
  const res = reply.raw;
  // A hijacked answer skips the onSend hook: the app's header policy is written here by hand.
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-store",
    Connection: "keep-alive",
    "X-Accel-Buffering": "no",
    "X-Request-Id": req.id,
  });
  res.flushHeaders();
  const gone = new AbortController();
  let waking: AbortController | undefined;
  let woken = false;
  res.once("close", () => gone.abort());
  const stopping = (): void => gone.abort();
  if (opts.closing?.aborted) gone.abort();
  opts.closing?.addEventListener("abort", stopping, { once: true });
  // A client that went while the route was still at work (a runner's stream aborted during its
  // checks) closed the answer already, and 'close' comes only once: without this the stream
  // would run on for nobody (a runner's, claiming jobs into the void).
  if (res.destroyed) gone.abort();
  const keepAlive = opts.clock.setInterval(() => {
    if (!gone.signal.aborted) res.write(": keep-alive\n\n");
  }, opts.keepAliveMs ?? KEEP_ALIVE_MS);

  const stream: SseStream = {
    signal: gone.signal,
    send(event, data) {
      if (!gone.signal.aborted) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    async wait(ms) {
      if (woken) {
        woken = false;
        return;
      }
      waking = new AbortController();
      await opts.clock.sleep(ms, AbortSignal.any([gone.signal, waking.signal]));
      waking = undefined;
      woken = false;
    },
    wake() {
      if (waking) waking.abort();
      else woken = true;
    },
  };
  try {
    await produce(stream);
    stream.send("end", {});
  } catch (err) {
    req.log.error({ err }, "event stream failed");
  } finally {
    keepAlive.cancel();
    opts.closing?.removeEventListener("abort", stopping);
    res.end();
  }
  return reply;
}
