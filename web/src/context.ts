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
}

/** A view renders into main and answers how to tear itself down (streams, timers). */
export type View = (ctx: Ctx, main: HTMLElement, params: Readonly<Record<string, string>>) => () => void;

export const routes = {
  pipelines: (p: string) => `#/p/${p}`,
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
