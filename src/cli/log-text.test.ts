import { describe, expect, it } from "vitest";
import { createLogText } from "./log-text.js";

const render = (chunks: readonly string[], raw = false): string => {
  const t = createLogText(raw);
  return chunks.map((c) => t.push(c)).join("") + t.end();
};

describe("the log text logs prints", () => {
  it("removes colours and other escape sequences, also split between chunks", () => {
    expect(render(["\x1b[31mred\x1b[0m plain\n"])).toBe("red plain\n");
    expect(render(["a\x1b[3", "1mb\x1b", "[0mc\n"])).toBe("abc\n");
    expect(render(["title\x1b]0;window\x07 done\n"])).toBe("title done\n");
    // A malformed sequence leaves no ESC behind.
    expect(render(["x\x1b\n"])).toBe("x\n");
  });

  it("prints a line redrawn with carriage returns once, as last drawn", () => {
    expect(render(["10%\r50%\r100%\n", "next\n"])).toBe("100%\nnext\n");
    expect(render(["10%\r", "50%\r", "done\n"])).toBe("done\n");
    expect(render(["windows line\r\n"])).toBe("windows line\n");
    expect(render(["no newline at the end\rlast"])).toBe("last");
  });

  it("passes text through untouched to a terminal with colour", () => {
    expect(render(["\x1b[31mred\x1b[0m\r50%\n"], true)).toBe("\x1b[31mred\x1b[0m\r50%\n");
  });
});
