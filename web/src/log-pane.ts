// The step log: a fixed-height monospace pane with its own scroll, fed by the live log stream
// (SSE over fetch), ANSI colours rendered, follow / stop following, download.

import { createAnsiParser, renderSegments, shownLength, stripAnsi } from "./ansi.js";
import type { Api } from "./api.js";
import { errorText, sleep } from "./context.js";
import { h, setText } from "./dom.js";
import { pill, updatePill } from "./format.js";
import { STEP_DONE } from "./types.js";

/**
 * Past this many shown characters the oldest output leaves the pane, down to KEEP_CHARS (the
 * download keeps all of it). Counted in what the pane shows, escape codes left out: the units it
 * trims in, so no amount of invisible output can leave the pane's account full and its body empty.
 */
const MAX_SHOWN_CHARS = 1_000_000;
const KEEP_CHARS = 800_000;

export interface LogTarget {
  /** `…/pipeline-runs/{run}/jobs/{job}/steps/{step}` */
  readonly stepPath: string;
  readonly stepId: string;
  readonly title: string;
  readonly status: string;
  readonly task: string;
  readonly fileName: string;
}

export interface LogPane {
  readonly el: HTMLElement;
  /** Shows a step's log from the start, streaming while the step runs. */
  open(target: LogTarget): void;
  /** The step's status changed (from the run's events). */
  status(status: string): void;
  /** Reads the log again from the start (after a retry cleared it). */
  reload(): void;
  dispose(): void;
}

export function createLogPane(api: Api): LogPane {
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
  const notice = h("p", { class: "log-notice", hidden: true });
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
    h("div", { class: "log-head" }, title, state, h("div", { class: "log-actions" }, followBtn, downloadBtn)),
    notice,
    h("div", { class: "log-frame" }, pre, placeholder),
  );

  let target: LogTarget | undefined;
  let controller: AbortController | undefined;
  let raw: string[] = [];
  let shownChars = 0;
  /** Characters of output that left the pane. */
  let cutChars = 0;
  let follow = true;
  let parser = createAnsiParser();

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

  downloadBtn.addEventListener("click", () => {
    if (!target) return;
    const blob = new Blob([stripAnsi(raw.join(""))], { type: "text/plain;charset=utf-8" });
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: target.fileName });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });

  function placeholderText(): string {
    if (!target) return "Select a step to see its log.";
    if (raw.length > 0) return "";
    if (target.task === "official_devcloud_checkpoint") {
      return target.status === "PAUSED"
        ? "A manual review writes no log: Pass or Refuse it above."
        : "A manual review writes no log.";
    }
    if (STEP_DONE.has(target.status)) return "This step wrote no output.";
    if (target.status === "INIT" || target.status === "QUEUED") return "The step has not started yet.";
    return "Waiting for output…";
  }

  function refreshPlaceholder(): void {
    const text = placeholderText();
    placeholder.hidden = text === "";
    setText(placeholder, text);
  }

  function append(text: string): void {
    raw.push(text);
    const segments = parser.push(text);
    body.append(renderSegments(segments));
    shownChars += shownLength(segments);
    if (shownChars > MAX_SHOWN_CHARS) trim();
    refreshPlaceholder();
    if (follow) scrollToEnd();
  }

  /**
   * Takes the oldest output out until KEEP_CHARS are left: whole nodes while they fit in what must
   * go, then the start of the node that does not (one line of megabytes keeps its end, cut).
   */
  function trim(): void {
    while (shownChars > KEEP_CHARS && body.firstChild) {
      const first = body.firstChild;
      const text = first.textContent ?? "";
      const excess = shownChars - KEEP_CHARS;
      if (text.length <= excess) {
        first.remove();
        shownChars -= text.length;
        cutChars += text.length;
        continue;
      }
      // Not in the middle of a surrogate pair.
      let at = excess;
      const code = text.charCodeAt(at);
      if (code >= 0xdc00 && code <= 0xdfff) at++;
      first.textContent = text.slice(at);
      shownChars -= at;
      cutChars += at;
    }
    const cut = cutChars.toLocaleString("en");
    cutMark.hidden = false;
    setText(cutMark, `[… ${cut} earlier characters cut here: Download has the whole log]\n`);
    notice.hidden = false;
    setText(notice, `The first ${cut} characters of output are not shown here; Download has the whole log.`);
  }

  function reset(): void {
    raw = [];
    shownChars = 0;
    cutChars = 0;
    cutMark.hidden = true;
    parser = createAnsiParser();
    body.replaceChildren();
    notice.hidden = true;
    refreshPlaceholder();
  }

  async function stream(t: LogTarget, signal: AbortSignal): Promise<void> {
    let offset = 0;
    const encoder = new TextEncoder();
    while (!signal.aborted) {
      try {
        const ended = await api.stream(`${t.stepPath}/logs/stream?offset=${offset}`, signal, (e) => {
          if (e.event !== "log") return;
          const chunk = JSON.parse(e.data) as { offset: number; text: string };
          // A reconnect may repeat what was already shown: keep only the new part.
          if (chunk.offset + encoder.encode(chunk.text).length <= offset) return;
          append(chunk.text);
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
    const c = new AbortController();
    controller = c;
    void stream(target, c.signal);
  }

  return {
    el,
    open(t) {
      if (target?.stepId === t.stepId) return;
      target = t;
      setText(title, t.title);
      state.hidden = false;
      updatePill(state, t.status);
      setFollow(true);
      start();
    },
    status(s) {
      if (!target) return;
      target = { ...target, status: s };
      updatePill(state, s);
      refreshPlaceholder();
    },
    reload() {
      start();
    },
    dispose() {
      controller?.abort();
    },
  };
}
