// What every view receives: the API, the signed-in session, navigation and notices.

import type { Api } from "./api.js";
import type { Project } from "./types.js";

export type NoticeKind = "info" | "success" | "error";

export interface Ctx {
  readonly api: Api;
  readonly projects: readonly Project[];
  readonly projectId: string;
  navigate(hash: string): void;
  notify(message: string, kind?: NoticeKind): void;
  /** The server's clock in epoch ms (run times come from it), estimated from its answers. */
  now(): number;
  /** Tells the clock what the server said the time was. */
  serverTime(t: number): void;
  /** False while the last request reached no server (a banner says so). */
  reachable(): boolean;
  /**
   * While `dirty` answers true, leaving the view (a link, Back, closing the tab) asks first.
   * Set for the view's life; the shell forgets it when the view changes.
   */
  guardLeave(dirty: () => boolean): void;
}

/** A view renders into main and answers how to tear itself down (streams, timers). */
export type View = (ctx: Ctx, main: HTMLElement, params: Readonly<Record<string, string>>) => () => void;

export const routes = {
  pipelines: (p: string) => `#/p/${p}`,
  runs: (p: string, query = "") => `#/p/${p}/runs${query ? `?${query}` : ""}`,
  newPipeline: (p: string) => `#/p/${p}/new`,
  templates: (p: string) => `#/p/${p}/templates`,
  pipeline: (p: string, id: string) => `#/p/${p}/pipelines/${id}`,
  edit: (p: string, id: string) => `#/p/${p}/pipelines/${id}/edit`,
  run: (p: string, id: string, run: string) => `#/p/${p}/pipelines/${id}/runs/${run}`,
};

/** Waits ms, or less when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * What a view shows in place of itself when what the URL names is not there (or not visible to
 * this token: the server answers both alike): one message and a way back, no dead buttons.
 */
export function notFoundPage(
  main: HTMLElement,
  opts: { title: string; text: string; back: { href: string; label: string } },
): void {
  const heading = document.createElement("h1");
  heading.tabIndex = -1;
  heading.textContent = opts.title;
  const text = document.createElement("p");
  text.textContent = opts.text;
  const back = document.createElement("a");
  back.className = "btn primary";
  back.href = opts.back.href;
  back.textContent = opts.back.label;
  const card = document.createElement("section");
  card.className = "card not-found";
  card.dataset.testid = "not-found";
  card.append(heading, text, back);
  main.replaceChildren(card);
  document.title = `${opts.title} · Pipewright`;
  heading.focus({ preventScroll: true });
}

/** True for the server's "no such object" answers (missing, or in a project the caller cannot see). */
export function isNotFound(err: unknown): boolean {
  return (
    typeof err === "object" &&
    err !== null &&
    (err as { status?: unknown }).status === 404 &&
    (err as { name?: unknown }).name === "ApiError"
  );
}
