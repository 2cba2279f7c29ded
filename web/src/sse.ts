// Server-Sent Events over fetch(): EventSource cannot send the X-Auth-Token header, so the UI
// reads the stream itself, with the parser the CLI uses too.

import { createSseParser, type SseEvent } from "../../src/wire/sse.js";

export type { SseEvent };

/** Reads the body of an SSE response until it ends or the signal aborts. */
export async function readSse(
  res: Response,
  signal: AbortSignal,
  onEvent: (e: SseEvent) => void,
): Promise<void> {
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const feed = createSseParser(onEvent);
  const cancel = (): void => {
    reader.cancel().catch(() => undefined);
  };
  signal.addEventListener("abort", cancel, { once: true });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || signal.aborted) break;
      feed(value);
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  } finally {
    signal.removeEventListener("abort", cancel);
  }
}
