// The step log: a fixed-height monospace pane with its own scroll, fed by the live log stream
// (SSE over fetch), ANSI colours rendered, follow / stop following, download; numbered lines with
// links to a line, find, arrival times on demand, foldable sections, and a retried job's earlier
// attempts.

import { createAnsiParser, shownLength, stripAnsi } from "./ansi.js";
import type { Api } from "./api.js";
import { errorText, sleep } from "./context.js";
import { h, setText } from "./dom.js";
import { pill, statusLabel, updatePill } from "./format.js";
import { createLogLines, type LogLine } from "./log-lines.js";
import { findMatches, MAX_MATCHES, type Match, paint, unpaint } from "./log-search.js";
import { STEP_DONE } from "./types.js";

/**
 * Past this many shown characters the oldest output leaves the pane, down to KEEP_CHARS (the
 * download keeps all of it). Counted in what the pane shows, escape codes left out: the units it
 * trims in, so no amount of invisible output can leave the pane's account full and its body empty.
 */
const MAX_SHOWN_CHARS = 1_000_000;
const KEEP_CHARS = 800_000;

/** An earlier execution of the step (its job was retried); its log is the logs API's `attempt`. */
export interface EarlierAttempt {
  readonly attempt: number;
  readonly status: string;
}

export interface LogTarget {
  /** `…/pipeline-runs/{run}/jobs/{job}/steps/{step}` */
  readonly stepPath: string;
  readonly stepId: string;
  readonly title: string;
  readonly status: string;
  readonly task: string;
  readonly fileName: string;
  /** The job's current attempt (1 when it never was retried). */
  readonly attempt: number;
  readonly earlier: readonly EarlierAttempt[];
}

/** Where in a step's log the reader is: what a link to it names. */
export interface LogPlace {
  readonly line?: number;
  /** An earlier attempt; absent for the current one. */
  readonly attempt?: number;
}

export interface LogPane {
  readonly el: HTMLElement;
  /** Shows a step's log from the start, streaming while the step runs; at `place` when given. */
  open(target: LogTarget, place?: LogPlace): void;
  /** The step's status changed (from the run's events). */
  status(status: string): void;
  /** The job was retried, or an attempt ended: the attempts to choose from. */
  attempts(current: number, earlier: readonly EarlierAttempt[]): void;
  /** Reads the log again from the start (after a retry cleared it). */
  reload(): void;
  dispose(): void;
}

export interface LogPaneOptions {
  /** The reader linked a line or chose an attempt: the page's address should say so. */
  onPlace?(stepId: string, place: LogPlace): void;
}

export function createLogPane(api: Api, options: LogPaneOptions = {}): LogPane {
  const title = h("h2", { class: "log-title", id: "log-title" }, "Log");
  const state = pill("INIT", "log-status");
  state.hidden = true;
  const followBtn = h(
    "button",
    { type: "button", class: "btn small", "aria-pressed": "true", "data-testid": "log-follow" },
    "Follow",
  );
  const downloadBtn = h(
    "button",
    { type: "button", class: "btn small", "data-testid": "log-download" },
    "Download",
  );
  const timesBtn = h(
    "button",
    {
      type: "button",
      class: "btn small",
      "aria-pressed": "false",
      "data-testid": "log-times",
      title: "When this page received each line",
    },
    "Times",
  );
  const attemptSelect = h("select", { id: "log-attempt", "data-testid": "log-attempt" });
  const attemptBox = h(
    "label",
    { class: "log-attempt", hidden: true },
    h("span", {}, "Attempt "),
    attemptSelect,
  );
  const searchInput = h("input", {
    type: "search",
    class: "log-search-input",
    placeholder: "Find in log",
    "aria-label": "Find in this step's log",
    "data-testid": "log-search",
  });
  const searchCount = h("span", {
    class: "log-search-count muted",
    role: "status",
    "data-testid": "log-search-count",
  });
  const prevBtn = h(
    "button",
    { type: "button", class: "btn small", "aria-label": "Previous match", "data-testid": "log-search-prev" },
    "↑",
  );
  const nextBtn = h(
    "button",
    { type: "button", class: "btn small", "aria-label": "Next match", "data-testid": "log-search-next" },
    "↓",
  );
  const notice = h("p", { class: "log-notice", hidden: true });
  const timesNote = h(
    "p",
    { class: "log-times-note muted", hidden: true, "data-testid": "log-times-note" },
    "Times are when this page received each line (the server keeps no time per line); lines printed before the page opened the log have none.",
  );
  // Where output was cut: the first thing in the pane, saying how much is not shown.
  const cutMark = h("span", { class: "log-cut", "data-testid": "log-cut", hidden: true });
  const body = h("code", {});
  const pre = h(
    "pre",
    {
      class: "log",
      tabindex: "0",
      role: "log",
      "aria-live": "off",
      "aria-labelledby": "log-title",
      "data-testid": "log",
    },
    cutMark,
    body,
  );
  const placeholder = h(
    "p",
    { class: "log-empty muted", "data-testid": "log-empty" },
    "Select a step to see its log.",
  );
  const el = h(
    "section",
    { class: "card log-pane", "aria-labelledby": "log-title" },
    h(
      "div",
      { class: "log-head" },
      title,
      state,
      attemptBox,
      h("div", { class: "log-actions" }, timesBtn, followBtn, downloadBtn),
    ),
    h("div", { class: "log-tools", role: "search" }, searchInput, prevBtn, nextBtn, searchCount),
    notice,
    timesNote,
    h("div", { class: "log-frame" }, pre, placeholder),
  );

  let target: LogTarget | undefined;
  /** The attempt shown: undefined for the current one. */
  let attempt: number | undefined;
  let controller: AbortController | undefined;
  let raw: string[] = [];
  let shownChars = 0;
  /** Characters of output that left the pane. */
  let cutChars = 0;
  let follow = true;
  let parser = createAnsiParser();
  /** The line a link named, until it has arrived. */
  let wantedLine: number | undefined;
  let linked: LogLine | undefined;
  let matches: Match[] = [];
  let current = -1;
  let searchTimer: ReturnType<typeof setTimeout> | undefined;
  const lines = createLogLines(body, () => scheduleSearch());

  /** Where our own scrolling left the pane: its scroll events are not the user's. */
  let autoTop = -1;
  function scrollToEnd(): void {
    pre.scrollTop = pre.scrollHeight;
    autoTop = pre.scrollTop;
  }
  function setFollow(on: boolean): void {
    follow = on;
    followBtn.setAttribute("aria-pressed", String(on));
    setText(followBtn, on ? "Following" : "Follow");
    if (on) scrollToEnd();
  }
  setFollow(true);
  followBtn.addEventListener("click", () => setFollow(!follow));
  // Scrolling up stops following; scrolling back to the end follows again.
  pre.addEventListener("scroll", () => {
    // A scroll event of our own following may arrive after the user chose to stop following.
    if (pre.scrollTop === autoTop) return;
    const atEnd = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
    if (atEnd !== follow) setFollow(atEnd);
  });

  /** Scrolls the pane (not the page) so that a line is in its middle; following stops. */
  function showLine(line: LogLine): void {
    lines.reveal(line);
    setFollow(false);
    const top = line.el.offsetTop - pre.clientHeight / 2 + line.el.offsetHeight / 2;
    pre.scrollTop = Math.max(0, top);
    autoTop = pre.scrollTop;
  }

  function link(line: LogLine | undefined): void {
    linked?.el.classList.remove("linked");
    linked = line;
    line?.el.classList.add("linked");
  }

  // A line number is a link to the line: the page's address names it, the line stays marked.
  body.addEventListener("click", (e) => {
    const gutter = (e.target as Element).closest(".ln");
    if (!gutter || !target) return;
    const line = lines.line(Number(gutter.getAttribute("data-n")));
    if (!line) return;
    link(line);
    options.onPlace?.(target.stepId, { line: line.n, ...(attempt ? { attempt } : {}) });
  });

  timesBtn.addEventListener("click", () => {
    const on = timesBtn.getAttribute("aria-pressed") !== "true";
    timesBtn.setAttribute("aria-pressed", String(on));
    pre.classList.toggle("show-times", on);
    timesNote.hidden = !on;
  });

  attemptSelect.addEventListener("change", () => {
    if (!target) return;
    const n = Number(attemptSelect.value);
    attempt = n === target.attempt ? undefined : n;
    options.onPlace?.(target.stepId, attempt ? { attempt } : {});
    start();
  });

  // ---- find ------------------------------------------------------------------------------------
  function search(keepPlace: boolean): void {
    const q = searchInput.value;
    const was = matches[current];
    matches = findMatches(lines.lines, q);
    current = -1;
    if (keepPlace && was) current = matches.findIndex((m) => m.line === was.line && m.at === was.at);
    if (current < 0 && matches.length > 0 && !keepPlace) current = 0;
    paint(matches, current);
    countText();
    if (!keepPlace && current >= 0) showMatch();
  }
  function countText(): void {
    const q = searchInput.value;
    const total = matches.length > MAX_MATCHES ? `more than ${MAX_MATCHES}` : String(matches.length);
    setText(
      searchCount,
      q === ""
        ? ""
        : matches.length === 0
          ? "No matches"
          : current >= 0
            ? `${current + 1} of ${total}`
            : `${total} matches`,
    );
    for (const n of body.querySelectorAll(".line.match-line")) n.classList.remove("match-line");
    matches[current]?.line.el.classList.add("match-line");
  }
  function showMatch(): void {
    const m = matches[current];
    if (!m) return;
    showLine(m.line);
    paint(matches, current);
    countText();
  }
  function step(by: number): void {
    if (matches.length === 0) search(false);
    if (matches.length === 0) return;
    const n = Math.min(matches.length, MAX_MATCHES);
    current = current < 0 ? (by > 0 ? 0 : n - 1) : (current + by + n) % n;
    showMatch();
  }
  /** Output arrived or a section folded: the matches are counted again, the current one kept. */
  function scheduleSearch(): void {
    if (searchInput.value === "" || searchTimer) return;
    searchTimer = setTimeout(() => {
      searchTimer = undefined;
      search(true);
    }, 250);
  }
  searchInput.addEventListener("input", () => search(false));
  searchInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      step(e.shiftKey ? -1 : 1);
    } else if (e.key === "Escape" && searchInput.value !== "") {
      e.preventDefault();
      e.stopPropagation();
      searchInput.value = "";
      search(false);
    }
  });
  prevBtn.addEventListener("click", () => step(-1));
  nextBtn.addEventListener("click", () => step(1));

  downloadBtn.addEventListener("click", () => {
    if (!target) return;
    const blob = new Blob([stripAnsi(raw.join(""))], { type: "text/plain;charset=utf-8" });
    const url = URL.createObjectURL(blob);
    const a = h("a", {
      href: url,
      download: attempt ? `attempt-${attempt}-${target.fileName}` : target.fileName,
    });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });

  function shownStatus(): string {
    if (!target) return "INIT";
    if (attempt === undefined) return target.status;
    return target.earlier.find((a) => a.attempt === attempt)?.status ?? target.status;
  }

  function placeholderText(): string {
    if (!target) return "Select a step to see its log.";
    if (raw.length > 0) return "";
    const status = shownStatus();
    if (target.task === "official_devcloud_checkpoint") {
      return status === "PAUSED"
        ? "A manual review writes no log: Pass or Refuse it above."
        : "A manual review writes no log.";
    }
    if (STEP_DONE.has(status) || attempt !== undefined) return "This step wrote no output.";
    if (status === "INIT" || status === "QUEUED") return "The step has not started yet.";
    return "Waiting for output…";
  }

  function refreshPlaceholder(): void {
    const text = placeholderText();
    placeholder.hidden = text === "";
    setText(placeholder, text);
  }

  function append(text: string, time: number | undefined): void {
    raw.push(text);
    const segments = parser.push(text);
    lines.push(segments, time);
    shownChars += shownLength(segments);
    if (shownChars > MAX_SHOWN_CHARS) trim();
    refreshPlaceholder();
    if (wantedLine !== undefined) {
      const line = lines.line(wantedLine);
      if (line) {
        wantedLine = undefined;
        link(line);
        showLine(line);
      }
    }
    if (follow) scrollToEnd();
    scheduleSearch();
  }

  /** Takes the oldest output out until KEEP_CHARS are left (one line of megabytes keeps its end, cut). */
  function trim(): void {
    const cut = lines.cut(shownChars - KEEP_CHARS);
    shownChars -= cut;
    cutChars += cut;
    const total = cutChars.toLocaleString("en");
    cutMark.hidden = false;
    setText(cutMark, `[… ${total} earlier characters cut here: Download has the whole log]\n`);
    notice.hidden = false;
    setText(
      notice,
      `The first ${total} characters of output are not shown here; Download has the whole log.`,
    );
  }

  function reset(): void {
    raw = [];
    shownChars = 0;
    cutChars = 0;
    cutMark.hidden = true;
    parser = createAnsiParser();
    lines.reset();
    linked = undefined;
    matches = [];
    current = -1;
    unpaint();
    countText();
    notice.hidden = true;
    refreshPlaceholder();
  }

  async function stream(t: LogTarget, at: number | undefined, signal: AbortSignal): Promise<void> {
    let offset = 0;
    // The first event is what was stored when the stream opened: when it was printed is unknown.
    let backlog = true;
    const encoder = new TextEncoder();
    const query = at === undefined ? "" : `&attempt=${at}`;
    while (!signal.aborted) {
      try {
        const ended = await api.stream(`${t.stepPath}/logs/stream?offset=${offset}${query}`, signal, (e) => {
          if (e.event !== "log") return;
          const chunk = JSON.parse(e.data) as { offset: number; text: string };
          const time = backlog || at !== undefined ? undefined : Date.now();
          backlog = false;
          // A reconnect may repeat what was already shown: keep only the new part.
          if (chunk.offset + encoder.encode(chunk.text).length <= offset) return;
          append(chunk.text, time);
          offset = chunk.offset + encoder.encode(chunk.text).length;
        });
        if (ended) return;
      } catch (err) {
        if (signal.aborted) return;
        notice.hidden = false;
        setText(notice, `The log stream broke off (${errorText(err)}); reconnecting…`);
      }
      await sleep(1000, signal);
    }
  }

  function start(): void {
    controller?.abort();
    reset();
    if (!target) return;
    updatePill(state, shownStatus());
    const c = new AbortController();
    controller = c;
    void stream(target, attempt, c.signal);
  }

  function fillAttempts(): void {
    if (!target) return;
    const all = [
      { attempt: target.attempt, label: `#${target.attempt} (latest)` },
      ...[...target.earlier]
        .sort((a, b) => b.attempt - a.attempt)
        .map((a) => ({ attempt: a.attempt, label: `#${a.attempt} ${statusLabel(a.status).toLowerCase()}` })),
    ];
    attemptBox.hidden = target.earlier.length === 0;
    const key = all.map((a) => `${a.attempt}:${a.label}`).join(",");
    if (attemptSelect.dataset.key !== key) {
      attemptSelect.dataset.key = key;
      attemptSelect.replaceChildren(...all.map((a) => h("option", { value: a.attempt }, a.label)));
    }
    attemptSelect.value = String(attempt ?? target.attempt);
  }

  return {
    el,
    open(t, place) {
      const at = place?.attempt && place.attempt !== t.attempt ? place.attempt : undefined;
      if (target?.stepId === t.stepId && at === attempt && place?.line === undefined) return;
      target = t;
      attempt = at !== undefined && t.earlier.some((a) => a.attempt === at) ? at : undefined;
      wantedLine = place?.line;
      setText(title, t.title);
      state.hidden = false;
      fillAttempts();
      setFollow(wantedLine === undefined);
      start();
    },
    status(s) {
      if (!target) return;
      target = { ...target, status: s };
      updatePill(state, shownStatus());
      refreshPlaceholder();
    },
    attempts(cur, earlier) {
      if (!target) return;
      const retried = cur !== target.attempt;
      target = { ...target, attempt: cur, earlier };
      // A new attempt of the job being read: the latest is what a reader wants.
      if (retried) attempt = undefined;
      fillAttempts();
    },
    reload() {
      start();
    },
    dispose() {
      controller?.abort();
      clearTimeout(searchTimer);
      unpaint();
    },
  };
}
