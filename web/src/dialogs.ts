// Modal dialogs on the native <dialog> element: focus is trapped and Escape closes, for free.

import { h } from "./dom.js";

/** Shows a modal built by `build` and resolves with what `close(value)` was given (undefined on Escape). */
export function modal<T>(
  build: (close: (value: T | undefined) => void) => { title: string; body: Node[]; testid?: string },
): Promise<T | undefined> {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "modal" });
    let settled = false;
    const close = (value: T | undefined): void => {
      if (settled) return;
      settled = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    const { title, body, testid } = build(close);
    const titleId = `dlg-${Math.random().toString(36).slice(2, 9)}`;
    dialog.setAttribute("aria-labelledby", titleId);
    if (testid) dialog.dataset.testid = testid;
    dialog.append(h("h2", { id: titleId, class: "modal-title" }, title), ...body);
    dialog.addEventListener("cancel", (e) => {
      e.preventDefault();
      close(undefined);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export function confirmDialog(opts: {
  title: string;
  text: string;
  confirm: string;
  danger?: boolean;
}): Promise<boolean> {
  return modal<boolean>((close) => {
    const ok = h(
      "button",
      {
        type: "button",
        class: opts.danger ? "btn danger" : "btn primary",
        "data-testid": "confirm",
        on: { click: () => close(true) },
      },
      opts.confirm,
    );
    return {
      title: opts.title,
      testid: "confirm-dialog",
      body: [
        h("p", {}, opts.text),
        h(
          "div",
          { class: "modal-actions" },
          h(
            "button",
            { type: "button", class: "btn", autofocus: true, on: { click: () => close(false) } },
            "Cancel",
          ),
          ok,
        ),
      ],
    };
  }).then((v) => v === true);
}
