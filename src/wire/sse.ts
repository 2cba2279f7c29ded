// The text/event-stream format as the server writes it and its clients (the CLI, the UI) read it:
// one parser for both. EventSource cannot send the X-Auth-Token header, so clients read the
// stream with fetch and parse it themselves.

export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

/**
 * Feeds text chunks in, calls `onEvent` for each complete event. Lines may split across chunks;
 * comments (keep-alives) are skipped; an event without a name is a `message`.
 */
export function createSseParser(onEvent: (e: SseEvent) => void): (chunk: string) => void {
  let buf = "";
  let event = "";
  let data: string[] = [];
  return (chunk) => {
    buf += chunk;
    for (;;) {
      const nl = buf.indexOf("\n");
      if (nl < 0) break;
      let line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line === "") {
        if (data.length > 0 || event !== "") onEvent({ event: event || "message", data: data.join("\n") });
        event = "";
        data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
  };
}

/** The complete events of a stream's text, however it was cut into chunks. */
export function parseSseChunks(chunks: readonly string[]): SseEvent[] {
  const out: SseEvent[] = [];
  const feed = createSseParser((e) => out.push(e));
  for (const c of chunks) feed(c);
  return out;
}
