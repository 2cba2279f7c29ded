// What `pipewright logs` prints of a step's log. To a terminal with colour: the text as the step
// wrote it (the terminal draws colours and `\r` progress lines itself). Otherwise (a pipe, a file,
// --no-color, NO_COLOR): escape sequences are removed, and a line a step redrew with `\r` (a
// progress bar) is printed as it was last drawn, once. Stateful across chunks: a sequence or a
// line split between two chunks comes out whole.

/** CSI (ESC [ … final byte), OSC (ESC ] … BEL or ESC \), and two-byte escapes (ESC + one char). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are what it matches.
const ESCAPE = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/g;
/** An escape sequence not finished at the end of a chunk. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are what it matches.
const UNFINISHED = /\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?)?$/;

/** Whole sequences go, and so does a lone ESC of a malformed one (it would show as `^[`). */
const stripEscapes = (text: string): string => text.replace(ESCAPE, "").replaceAll("\x1b", "");

export interface LogText {
  /** What to print of the next chunk (may hold back an unfinished line or sequence). */
  push(chunk: string): string;
  /** What is held back, at the end of the log. */
  end(): string;
}

export function createLogText(raw: boolean): LogText {
  if (raw) return { push: (chunk) => chunk, end: () => "" };
  let pending = "";
  /** A line is printed as it was last drawn: the text after its last `\r` that has some. */
  const lastDrawn = (line: string): string => {
    const parts = line.split("\r");
    for (let i = parts.length - 1; i >= 0; i--) if (parts[i] !== "") return parts[i]!;
    return "";
  };
  return {
    push(chunk) {
      let text = pending + chunk;
      const open = UNFINISHED.exec(text);
      pending = open ? open[0] : "";
      if (open) text = text.slice(0, open.index);
      text = stripEscapes(text);
      const cut = text.lastIndexOf("\n");
      // Whole lines go out now; the last, unfinished one waits (a `\r` may redraw it).
      pending = text.slice(cut + 1) + pending;
      if (cut === -1) return "";
      return text
        .slice(0, cut + 1)
        .split("\n")
        .map((l, i, all) => (i === all.length - 1 ? l : lastDrawn(l)))
        .join("\n");
    },
    end() {
      const rest = lastDrawn(stripEscapes(pending));
      pending = "";
      return rest;
    },
  };
}
