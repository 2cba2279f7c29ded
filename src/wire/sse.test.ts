import { describe, expect, it } from "vitest";
import { parseSseChunks } from "./sse.js";

describe("event-stream parser", () => {
  it("reads named events, multi-line data and unnamed messages; skips comments", () => {
    expect(
      parseSseChunks([
        'event: log\ndata: {"offset":0,"text":"a"}\n\n',
        "data: a\ndata: b\n\n",
        ": keep-alive\n\n",
        "event: end\ndata: {}\n\n",
      ]),
    ).toEqual([
      { event: "log", data: '{"offset":0,"text":"a"}' },
      { event: "message", data: "a\nb" },
      { event: "end", data: "{}" },
    ]);
  });

  it("joins lines and events split anywhere across chunks, CRLF included", () => {
    const text = 'event: run\r\ndata: {"n":1}\r\n\r\nevent: end\ndata: {}\n\n';
    for (let cut = 1; cut < text.length; cut++) {
      expect(parseSseChunks([text.slice(0, cut), text.slice(cut)])).toEqual([
        { event: "run", data: '{"n":1}' },
        { event: "end", data: "{}" },
      ]);
    }
  });

  it("keeps an unfinished event until its blank line arrives", () => {
    expect(parseSseChunks(["event: log\ndata: x\n"])).toEqual([]);
  });
});
