// ANSI colour codes (SGR) in step logs, rendered as spans. Stateful across chunks: a colour set
// in one chunk carries over, and an escape sequence split between chunks is completed first.

export interface AnsiStyle {
  fg: number | string | null;
  bg: number | string | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
}

export interface Segment {
  readonly text: string;
  readonly style: Readonly<AnsiStyle>;
}

const plain = (): AnsiStyle => ({
  fg: null,
  bg: null,
  bold: false,
  dim: false,
  italic: false,
  underline: false,
});

/** xterm's 256-colour palette entry n ≥ 16 as CSS. */
function color256(n: number): string {
  if (n < 232) {
    const v = n - 16;
    const c = (x: number): number => (x === 0 ? 0 : 55 + x * 40);
    return `rgb(${c(Math.floor(v / 36))},${c(Math.floor(v / 6) % 6)},${c(v % 6)})`;
  }
  const g = 8 + (n - 232) * 10;
  return `rgb(${g},${g},${g})`;
}

function applySgr(style: AnsiStyle, params: string): void {
  const codes = params === "" ? [0] : params.split(";").map((p) => (p === "" ? 0 : Number(p)));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    if (c === 0) Object.assign(style, plain());
    else if (c === 1) style.bold = true;
    else if (c === 2) style.dim = true;
    else if (c === 3) style.italic = true;
    else if (c === 4) style.underline = true;
    else if (c === 22) style.bold = style.dim = false;
    else if (c === 23) style.italic = false;
    else if (c === 24) style.underline = false;
    else if (c >= 30 && c <= 37) style.fg = c - 30;
    else if (c >= 90 && c <= 97) style.fg = c - 90 + 8;
    else if (c === 39) style.fg = null;
    else if (c >= 40 && c <= 47) style.bg = c - 40;
    else if (c >= 100 && c <= 107) style.bg = c - 100 + 8;
    else if (c === 49) style.bg = null;
    else if (c === 38 || c === 48) {
      let value: number | string | null = null;
      if (codes[i + 1] === 5 && codes[i + 2] !== undefined) {
        const n = codes[i + 2]!;
        value = n < 16 ? n : color256(n);
        i += 2;
      } else if (codes[i + 1] === 2 && codes[i + 4] !== undefined) {
        value = `rgb(${codes[i + 2]},${codes[i + 3]},${codes[i + 4]})`;
        i += 4;
      }
      if (c === 38) style.fg = value;
      else style.bg = value;
    }
  }
}

// Escape sequences as ECMA-48 frames them: CSI (ESC [, parameter bytes 0x30–0x3F, intermediate
// bytes 0x20–0x2F, a final byte 0x40–0x7E), OSC (ESC ], up to BEL, ESC \\ or the line's end), or ESC with
// intermediates and a final byte (charset choices like ESC ( B, two-byte escapes like ESC 7). A
// sequence broken off by a byte that cannot be in it (a malformed CSI, an ESC before a newline)
// is dropped up to that byte, as a terminal drops it: no ESC is ever shown.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escape sequences is the point.
const ESCAPE = /\x1b(?:\[([0-?]*)([ -/]*)([@-~])?|\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|[ -/]*[0-~]?)/g;

/** The start of a sequence whose end may be in the next chunk (nothing in it rules that out). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: as above.
const UNFINISHED = /^\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b\n]*\x1b?|[ -/]*)$/;

/** An unfinished sequence longer than this is not waited for (it is dropped as it stands). */
const MAX_PENDING = 4096;

/** Control characters a terminal does not print (tab, newline and ESC are handled apart). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point.
const INVISIBLE = /[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f\x9b]/g;

export interface AnsiParser {
  /** Splits the next chunk into styled segments. */
  push(text: string): Segment[];
}

export function createAnsiParser(): AnsiParser {
  const style = plain();
  let pending = "";
  return {
    push(chunk) {
      let text = pending + chunk;
      pending = "";
      // An escape cut off at the end waits for the rest in the next chunk.
      const lastEsc = text.lastIndexOf("\x1b");
      if (lastEsc >= 0 && text.length - lastEsc <= MAX_PENDING && UNFINISHED.test(text.slice(lastEsc))) {
        pending = text.slice(lastEsc);
        text = text.slice(0, lastEsc);
      }
      // A lone carriage return (progress bars) starts a new line rather than overwriting.
      text = text.replace(/\r\n/g, "\n").replace(/\r/g, "\n");
      const out: Segment[] = [];
      const emit = (part: string): void => {
        const visible = part.replace(INVISIBLE, "");
        if (visible !== "") out.push({ text: visible, style: { ...style } });
      };
      let at = 0;
      ESCAPE.lastIndex = 0;
      for (let m = ESCAPE.exec(text); m !== null; m = ESCAPE.exec(text)) {
        if (m.index > at) emit(text.slice(at, m.index));
        // Only a complete SGR (no intermediates) sets colours; every other sequence just goes.
        if (m[3] === "m" && m[2] === "" && /^[0-9;]*$/.test(m[1] ?? "")) applySgr(style, m[1] ?? "");
        at = m.index + m[0].length;
      }
      if (at < text.length) emit(text.slice(at));
      return out;
    },
  };
}

function isDefault(s: Readonly<AnsiStyle>): boolean {
  return s.fg === null && s.bg === null && !s.bold && !s.dim && !s.italic && !s.underline;
}

/** Segments as DOM: plain text nodes, or spans with ansi-* classes (palette colours follow the theme). */
export function renderSegments(segments: readonly Segment[]): DocumentFragment {
  const frag = document.createDocumentFragment();
  for (const seg of segments) {
    if (isDefault(seg.style)) {
      frag.append(seg.text);
      continue;
    }
    const span = document.createElement("span");
    const st = seg.style;
    const cls: string[] = [];
    if (typeof st.fg === "number") cls.push(`ansi-fg-${st.fg}`);
    else if (typeof st.fg === "string") span.style.color = st.fg;
    if (typeof st.bg === "number") cls.push(`ansi-bg-${st.bg}`);
    else if (typeof st.bg === "string") span.style.backgroundColor = st.bg;
    if (st.bold) cls.push("ansi-bold");
    if (st.dim) cls.push("ansi-dim");
    if (st.italic) cls.push("ansi-italic");
    if (st.underline) cls.push("ansi-underline");
    span.className = cls.join(" ");
    span.textContent = seg.text;
    frag.append(span);
  }
  return frag;
}

/** The text without escape sequences (for downloads). */
export function stripAnsi(text: string): string {
  return text.replace(ESCAPE, "");
}

/** How many characters segments show: what the pane counts, in the units it trims. */
export function shownLength(segments: readonly Segment[]): number {
  let n = 0;
  for (const s of segments) n += s.text.length;
  return n;
}
