// A real HTTP receiver for outbound webhooks: records every request and answers with the
// statuses a test queues (200 once the queue is empty).

import http from "node:http";

export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface Receiver {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly requests: Received[];
  /** The next answers, in order: [status, body]. */
  answer(...next: [number, string][]): void;
  /** Forgets the requests and the answers still queued. */
  reset(): void;
  /** Resolves once `n` requests have arrived (rejects after `ms` of real time). */
  waitFor(n: number, ms?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const requests: Received[] = [];
  const queue: [number, string][] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      const [status, body] = queue.shift() ?? [200, '{"code":0,"errcode":0,"ok":true}'];
      res.writeHead(status, { "content-type": "application/json" }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answer: (...next) => {
      queue.push(...next);
    },
    reset() {
      requests.length = 0;
      queue.length = 0;
    },
    async waitFor(n, ms = 20_000) {
      const deadline = Date.now() + ms;
      while (requests.length < n) {
        if (Date.now() > deadline) throw new Error(`the receiver got ${requests.length} of ${n} requests`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return requests.slice(0, n);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
