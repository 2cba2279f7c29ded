// Keyboard shortcuts: `?` lists them; `g` then a letter goes to a page; `/` focuses the page's
// filter. None fires while typing in a field or with a modifier held, so they never eat text.

import { routes } from "./context.js";
import { modal } from "./dialogs.js";
import { h } from "./dom.js";

interface Shortcut {
  readonly keys: string;
  readonly what: string;
}

export const SHORTCUTS: readonly Shortcut[] = [
  { keys: "?", what: "Show these shortcuts" },
  { keys: "g p", what: "Go to the pipelines" },
  { keys: "g r", what: "Go to the project's runs" },
  { keys: "g t", what: "Go to the templates" },
  { keys: "n", what: "New pipeline" },
  { keys: "/", what: "Search or filter on this page" },
  { keys: "Esc", what: "Close a dialog" },
];

function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return (
    target.isContentEditable ||
    target instanceof HTMLInputElement ||
    target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement
  );
}

function showHelp(): void {
  if (document.querySelector("dialog[data-testid=shortcuts]")) return;
  void modal<void>((close) => ({
    title: "Keyboard shortcuts",
    testid: "shortcuts",
    body: [
      h(
        "dl",
        { class: "shortcuts" },
        SHORTCUTS.map((s) =>
          h(
            "div",
            {},
            h(
              "dt",
              {},
              s.keys.split(" ").map((k) => h("kbd", {}, k)),
            ),
            h("dd", {}, s.what),
          ),
        ),
      ),
      h(
        "div",
        { class: "modal-actions" },
        h(
          "button",
          { type: "button", class: "btn", autofocus: true, on: { click: () => close(undefined) } },
          "Close",
        ),
      ),
    ],
  }));
}

export function installShortcuts(opts: { projectId: () => string | undefined }): void {
  let pendingG = 0;
  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (document.querySelector("dialog[open]")) return;
    const project = opts.projectId();
    if (e.key === "?") {
      e.preventDefault();
      showHelp();
      return;
    }
    if (!project) return;
    if (pendingG && Date.now() - pendingG < 1500) {
      pendingG = 0;
      const to = { p: routes.pipelines(project), r: routes.runs(project), t: routes.templates(project) }[
        e.key
      ];
      if (to) {
        e.preventDefault();
        location.hash = to;
      }
      return;
    }
    pendingG = 0;
    if (e.key === "g") {
      pendingG = Date.now();
    } else if (e.key === "n") {
      e.preventDefault();
      location.hash = routes.newPipeline(project);
    } else if (e.key === "/") {
      const field = document.querySelector<HTMLElement>(
        "main input[type=search], main [data-shortcut=filter]",
      );
      if (field) {
        e.preventDefault();
        field.focus();
      }
    }
  });
}
