// The log pane's body as numbered lines: styled segments go into the line being written, a
// newline closes it. A closed line that is a section marker (GitLab `section_start:<ts>:<name>` /
// `section_end:<ts>:<name>`, GitHub Actions `::group::<title>` / `::endgroup::`) opens or closes a
// foldable block. The gutter (number, arrival time) is drawn by CSS from data attributes, so the
// pane's text stays the log's text: what a copy or a search finds is what the step printed.

import { renderSegments, type Segment } from "./ansi.js";
import { h } from "./dom.js";

export interface Section {
  readonly name: string;
  readonly header: LogLine;
  /** Lines inside it (nested ones too), the header excluded. */
  readonly lines: Set<LogLine>;
  collapsed: boolean;
  /** Collapse when it ends (GitHub groups, GitLab `[collapsed=true]`), unless the user chose. */
  readonly foldAtEnd: boolean;
  touched: boolean;
  readonly started: number | undefined;
}

export interface LogLine {
  readonly el: HTMLElement;
  /** Where the text goes (the gutter is beside it). */
  readonly text: HTMLElement;
  /** 1-based, counted from the log's start: a line keeps its number when older ones are cut. */
  readonly n: number;
  /** The sections it is inside, outermost first. */
  readonly sections: readonly Section[];
  /** An end marker: counted, not shown. */
  marker: boolean;
}

const GROUP = /^::group::(.*)$/;
const END_GROUP = /^::endgroup::\s*$/;
const SECTION_START = /^section_start:(\d+):([\w.-]+)(?:\[([^\]]*)\])?(.*)$/;
const SECTION_END = /^section_end:(\d+):([\w.-]+)\s*$/;

export interface LogLines {
  /** Appends segments; `time` (ms) stamps the lines they open, undefined for stored output. */
  push(segments: readonly Segment[], time: number | undefined): void;
  /** The kept lines, oldest first. */
  readonly lines: readonly LogLine[];
  line(n: number): LogLine | undefined;
  /** Removes the oldest `count` shown characters (whole lines, then the start of one). */
  cut(count: number): number;
  /** Shows a line: opens the sections it is inside. */
  reveal(line: LogLine): void;
  reset(): void;
}

export function createLogLines(body: HTMLElement, onFold: () => void): LogLines {
  let lines: LogLine[] = [];
  let first = 0;
  let next = 1;
  let open: LogLine | undefined;
  let stack: Section[] = [];
  /** A GitLab header's text comes on the line after its marker (`\r` splits them): it stays shown. */
  let leadOf: Section | undefined;

  function visible(l: LogLine): boolean {
    return !l.marker && !l.sections.some((s) => s.collapsed);
  }

  function refold(s: Section): void {
    const btn = s.header.text.querySelector("button");
    btn?.setAttribute("aria-expanded", String(!s.collapsed));
    for (const l of s.lines) l.el.classList.toggle("folded", !visible(l));
    onFold();
  }

  function startLine(time: number | undefined): LogLine {
    const el = h(
      "span",
      { class: "line", "data-n": next, id: `log-L${next}` },
      h("span", { class: "ln", "aria-hidden": "true", "data-n": next }),
      h("span", {
        class: "ts",
        "aria-hidden": "true",
        "data-t": time === undefined ? "" : clock(time),
        title: time === undefined ? "Printed before this page opened the log" : new Date(time).toISOString(),
      }),
    );
    const text = h("span", { class: "lc" });
    el.append(text);
    const inside = leadOf ? stack.filter((s) => s !== leadOf) : [...stack];
    if (leadOf) el.classList.add("section-lead");
    leadOf = undefined;
    const line: LogLine = { el, text, n: next++, sections: inside, marker: false };
    for (const s of inside) s.lines.add(line);
    if (!visible(line)) el.classList.add("folded");
    lines.push(line);
    body.append(el);
    return line;
  }

  /** A closed line: a marker turns into a header or closes its section. */
  function closed(line: LogLine, time: number | undefined): void {
    const text = (line.text.textContent ?? "").replace(/\n$/, "");
    const group = GROUP.exec(text);
    const start = group ? null : SECTION_START.exec(text);
    if (group || start) {
      const title = group ? group[1]!.trim() || "group" : start![4]!.trim() || start![2]!;
      const section: Section = {
        name: group ? "" : start![2]!,
        header: line,
        lines: new Set(),
        collapsed: !!start && /collapsed=true/.test(start[3] ?? ""),
        foldAtEnd: !!group,
        touched: false,
        started: start ? Number(start[1]) : time,
      };
      header(line, section, title);
      stack.push(section);
      if (start && start[4]!.trim() === "") leadOf = section;
      return;
    }
    const end = END_GROUP.test(text)
      ? { name: "" }
      : SECTION_END.exec(text) && { name: SECTION_END.exec(text)![2]! };
    if (!end) return;
    const at = stack.map((s) => s.name).lastIndexOf(end.name);
    if (at < 0) return;
    line.marker = true;
    line.el.classList.add("folded");
    for (const s of stack.splice(at)) {
      const endTs = SECTION_END.exec(text)?.[1];
      if (endTs !== undefined && s.started !== undefined) {
        s.header.el.setAttribute("data-took", `${Math.max(0, Number(endTs) - s.started)}s`);
      }
      if (s.foldAtEnd && !s.touched && !s.collapsed) {
        s.collapsed = true;
        refold(s);
      }
    }
    leadOf = undefined;
  }

  function header(line: LogLine, section: Section, title: string): void {
    const btn = h(
      "button",
      {
        type: "button",
        class: "fold",
        "aria-expanded": String(!section.collapsed),
        "data-testid": "log-section",
      },
      title,
    );
    btn.addEventListener("click", () => {
      section.touched = true;
      section.collapsed = !section.collapsed;
      refold(section);
    });
    line.text.replaceChildren(btn, "\n");
    line.el.classList.add("section-head");
  }

  return {
    get lines() {
      return first === 0 ? lines : lines.slice(first);
    },
    push(segments, time) {
      for (const seg of segments) {
        let rest = seg.text;
        while (rest !== "") {
          const nl = rest.indexOf("\n");
          const part = nl < 0 ? rest : rest.slice(0, nl + 1);
          rest = nl < 0 ? "" : rest.slice(nl + 1);
          open ??= startLine(time);
          open.text.append(renderSegments([{ text: part, style: seg.style }]));
          if (nl >= 0) {
            const done = open;
            open = undefined;
            closed(done, time);
          }
        }
      }
    },
    line(n) {
      const l = lines[first + n - (lines[first]?.n ?? 1)];
      return l?.n === n ? l : undefined;
    },
    cut(count) {
      let cut = 0;
      while (cut < count && first < lines.length) {
        const l = lines[first]!;
        const size = l.text.textContent?.length ?? 0;
        if (size <= count - cut) {
          l.el.remove();
          for (const s of l.sections) s.lines.delete(l);
          if (open === l) open = undefined;
          first++;
          cut += size;
          continue;
        }
        cut += cutStart(l.text, count - cut);
      }
      // Compact now and then, so that the array does not keep every line ever shown.
      if (first > 4096) {
        lines = lines.slice(first);
        first = 0;
      }
      return cut;
    },
    reveal(line) {
      for (const s of line.sections) {
        if (s.collapsed) {
          s.collapsed = false;
          s.touched = true;
          refold(s);
        }
      }
    },
    reset() {
      lines = [];
      first = 0;
      next = 1;
      open = undefined;
      stack = [];
      leadOf = undefined;
      body.replaceChildren();
    },
  };
}

/** Takes `count` characters off the start of el's text (whole nodes, then part of one). */
function cutStart(el: Element, count: number): number {
  let cut = 0;
  while (cut < count && el.firstChild) {
    const node = el.firstChild;
    const text = node.textContent ?? "";
    if (text.length <= count - cut) {
      node.remove();
      cut += text.length;
      continue;
    }
    // Not in the middle of a surrogate pair.
    let at = count - cut;
    const code = text.charCodeAt(at);
    if (code >= 0xdc00 && code <= 0xdfff) at++;
    if (node.nodeType === Node.TEXT_NODE) node.textContent = text.slice(at);
    else cutStart(node as Element, at);
    cut += at;
  }
  return cut;
}

function clock(ms: number): string {
  const d = new Date(ms);
  const p = (x: number): string => String(x).padStart(2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
