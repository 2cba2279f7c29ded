// The web UI's entry: sign-in with a token (kept in sessionStorage), the header with the project
// picker, hash routes to the views, and notices. Talks only to the public API.

import { ApiError, createApi, paths } from "./api.js";
import { type Ctx, errorText, type NoticeKind, routes, type View } from "./context.js";
import { confirmDialog } from "./dialogs.js";
import { h } from "./dom.js";
import { installShortcuts } from "./shortcuts.js";
import { templatesView } from "./templates.js";
import type { Project } from "./types.js";
import { editorView } from "./views/editor.js";
import { historyView } from "./views/history.js";
import { pipelinesView } from "./views/pipelines.js";
import { runView } from "./views/run.js";
import { projectRunsView } from "./views/runs.js";

const TOKEN_KEY = "pipewright.token";
const PROJECT_KEY = "pipewright.project";

interface Route {
  readonly pattern: RegExp;
  readonly keys: readonly string[];
  readonly view: View;
}

const ROUTES: readonly Route[] = [
  { pattern: /^#\/p\/(\w+)$/, keys: ["project"], view: pipelinesView },
  { pattern: /^#\/p\/(\w+)\/new$/, keys: ["project"], view: editorView },
  { pattern: /^#\/p\/(\w+)\/templates$/, keys: ["project"], view: templatesView },
  // The Runs page keeps its filters in the query part, so a link or a reload shows the same runs.
  { pattern: /^#\/p\/(\w+)\/runs(?:\?.*)?$/, keys: ["project"], view: projectRunsView },
  { pattern: /^#\/p\/(\w+)\/pipelines\/(\w+)$/, keys: ["project", "pipeline"], view: historyView },
  { pattern: /^#\/p\/(\w+)\/pipelines\/(\w+)\/edit$/, keys: ["project", "pipeline"], view: editorView },
  {
    pattern: /^#\/p\/(\w+)\/pipelines\/(\w+)\/runs\/(\w+)(?:\?.*)?$/,
    keys: ["project", "pipeline", "run"],
    view: runView,
  },
];

function start(root: HTMLElement): void {
  let token = sessionStorage.getItem(TOKEN_KEY);
  let projects: Project[] = [];
  let dispose: (() => void) | undefined;
  let skew = 0;

  const api = createApi({
    token: () => token,
    // Only a session that was signed in ends here; a failed sign-in reports on its own form.
    onUnauthorized: (err) => {
      if (sessionStorage.getItem(TOKEN_KEY) !== null) signOut(`Signed out: ${err.message}`);
    },
    onReachable: (ok) => {
      reachable = ok;
      offline.hidden = ok;
      document.body.classList.toggle("server-unreachable", !ok);
    },
  });
  let reachable = true;

  // ---- notices -------------------------------------------------------------------------------
  const notices = h("div", {
    class: "notices",
    role: "status",
    "aria-live": "polite",
    "data-testid": "notices",
  });
  const alerts = h("div", { class: "notices", role: "alert", "data-testid": "alerts" });
  /**
   * One notice per message: the same words again (a poll failing each round, a double click)
   * renew the one shown instead of piling up copies. Errors are about the page they came from:
   * they go when the user leaves it (success notices stay: they confirm what led to the move).
   */
  function notify(message: string, kind: NoticeKind = "info"): void {
    const box = kind === "error" ? alerts : notices;
    const same = [...box.children].find(
      (c): c is HTMLElement => c instanceof HTMLElement && c.dataset.message === message,
    );
    const n =
      same ??
      h("div", { class: `notice ${kind}`, "data-message": message }, h("span", {}, message), closeButton());
    if (!same) box.append(n);
    clearTimeout(Number(n.dataset.timer));
    n.dataset.timer = String(setTimeout(() => n.remove(), kind === "error" ? 12_000 : 5000));
  }
  function closeButton(): HTMLButtonElement {
    const close = h("button", { type: "button", class: "notice-close", "aria-label": "Dismiss" }, "×");
    close.addEventListener("click", () => close.parentElement?.remove());
    return close;
  }
  /** Shown while requests reach no server; hidden by the first answer that comes back. */
  const offline = h(
    "div",
    { class: "offline-banner", role: "alert", hidden: true, "data-testid": "offline-banner" },
    h("strong", {}, "The server is not answering."),
    " What this page shows may be out of date; it reconnects by itself when the server is back.",
  );

  // ---- shell ---------------------------------------------------------------------------------
  const skip = h("a", { class: "skip-link", href: "#main" }, "Skip to content");
  skip.addEventListener("click", (e) => {
    e.preventDefault();
    main.focus();
  });
  const picker = h("select", { id: "project", "data-testid": "project-picker" });
  const pickerField = h("div", { class: "picker" }, h("label", { for: "project" }, "Project"), picker);
  const nav = h("nav", { class: "top-nav", "aria-label": "Main" });
  const signOutBtn = h(
    "button",
    { type: "button", class: "btn small ghost on-dark", "data-testid": "sign-out" },
    "Sign out",
  );
  signOutBtn.addEventListener("click", () => signOut());
  const header = h(
    "header",
    { class: "top" },
    h(
      "a",
      { class: "brand", href: "#/" },
      h("span", { class: "brand-mark", "aria-hidden": "true" }, "◆"),
      "Pipewright",
    ),
    pickerField,
    nav,
    signOutBtn,
  );
  const main = h("main", { id: "main", tabindex: "-1" });
  root.replaceChildren(skip, header, offline, main, notices, alerts);

  picker.addEventListener("change", () => {
    sessionStorage.setItem(PROJECT_KEY, picker.value);
    location.hash = routes.pipelines(picker.value);
  });

  function renderHeader(projectId: string | undefined): void {
    const signedIn = token !== null;
    pickerField.hidden = !signedIn || projects.length === 0;
    signOutBtn.hidden = !signedIn;
    picker.replaceChildren(
      ...projects.map((p) =>
        h("option", { value: p.project_id, selected: p.project_id === projectId }, p.name),
      ),
    );
    nav.replaceChildren();
    if (signedIn && projectId) {
      const here = location.hash;
      const link = (href: string, text: string, testid: string): HTMLAnchorElement =>
        h("a", { href, "data-testid": testid, "aria-current": here === href ? "page" : null }, text);
      nav.append(
        link(routes.pipelines(projectId), "Pipelines", "nav-pipelines"),
        link(routes.runs(projectId), "Runs", "nav-runs"),
        link(routes.newPipeline(projectId), "New pipeline", "nav-new"),
        link(routes.templates(projectId), "Templates", "nav-templates"),
      );
    }
  }

  // ---- sign-in ---------------------------------------------------------------------------------
  function signOut(message?: string): void {
    token = null;
    projects = [];
    sessionStorage.removeItem(TOKEN_KEY);
    if (message) notify(message, "error");
    if (location.hash !== "#/login") location.hash = "#/login";
    else route();
  }

  function loginView(error?: string): void {
    renderHeader(undefined);
    const input = h("input", {
      type: "password",
      id: "token",
      name: "token",
      autocomplete: "current-password",
      required: true,
      "data-testid": "token",
    });
    const err = h(
      "p",
      { class: "form-error", role: "alert", hidden: !error, "data-testid": "login-error" },
      error ?? "",
    );
    const submit = h("button", { type: "submit", class: "btn primary", "data-testid": "sign-in" }, "Sign in");
    const form = h(
      "form",
      { class: "card login" },
      h("h1", { tabindex: "-1" }, "Sign in"),
      h(
        "p",
        { class: "muted" },
        "Use an X-Auth-Token issued by this server, or the admin token printed at its first start. It is kept in this browser tab only.",
      ),
      h(
        "div",
        { class: "token-hint", "data-testid": "token-hint" },
        h("p", {}, "No token yet? An admin makes one with the CLI (it is shown once):"),
        h(
          "pre",
          { tabindex: "0" },
          h("code", {}, "pipewright admin token create --role operator --project PROJECT"),
        ),
        h(
          "p",
          {},
          "Then ",
          h("code", {}, "pipewright login"),
          " saves it for the CLI too. Over HTTP: ",
          h("code", {}, "POST /admin/v1/tokens"),
          ".",
        ),
      ),
      err,
      h("div", { class: "field" }, h("label", { for: "token" }, "Token"), input),
      h("div", { class: "form-actions" }, submit),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      submit.disabled = true;
      err.hidden = true;
      token = input.value.trim();
      try {
        await loadProjects();
        sessionStorage.setItem(TOKEN_KEY, token);
        // A deep link opened before signing in is where the user goes next.
        if (location.hash === "#/login") location.hash = "#/";
        else void route();
      } catch (e2) {
        token = null;
        err.hidden = false;
        err.textContent =
          e2 instanceof ApiError && e2.status === 401 ? "This token is not valid." : errorText(e2);
        submit.disabled = false;
        input.focus();
      }
    });
    main.replaceChildren(h("div", { class: "login-wrap" }, form));
    document.title = "Sign in · Pipewright";
    input.focus();
  }

  async function loadProjects(): Promise<void> {
    const res = await api.get<{ projects: Project[] }>(paths.projects());
    projects = [...res.projects].sort((a, b) => a.name.localeCompare(b.name));
  }

  // ---- leaving a view with unsaved work ---------------------------------------------------------
  let leaveGuard: (() => boolean) | undefined;
  let shownHash = location.hash;
  /** The hash put back while the user is asked; its hashchange is not a navigation. */
  let restoring: string | undefined;
  window.addEventListener("beforeunload", (e) => {
    if (leaveGuard?.()) e.preventDefault();
  });
  async function onHashChange(): Promise<void> {
    if (restoring !== undefined && location.hash === restoring) {
      restoring = undefined;
      return;
    }
    const target = location.hash;
    if (leaveGuard?.() && target !== shownHash) {
      restoring = shownHash;
      location.replace(shownHash || "#/");
      const leave = await confirmDialog({
        title: "Leave without saving?",
        text: "The changes in the editor have not been saved; they are lost if you leave.",
        confirm: "Leave",
        danger: true,
      });
      if (!leave) return;
      leaveGuard = undefined;
      location.hash = target;
      return;
    }
    void route();
  }

  // ---- routing ---------------------------------------------------------------------------------
  let routing = 0;
  async function route(): Promise<void> {
    const my = ++routing;
    dispose?.();
    dispose = undefined;
    leaveGuard = undefined;
    shownHash = location.hash;
    // Errors were about the page left; what goes wrong here says so itself.
    for (const n of [...alerts.children] as HTMLElement[]) {
      if (n.dataset.keep) delete n.dataset.keep;
      else n.remove();
    }
    const hash = location.hash || "#/";
    if (token === null || hash === "#/login") {
      if (token !== null && hash === "#/login") {
        location.hash = "#/";
        return;
      }
      loginView();
      return;
    }
    if (projects.length === 0) {
      try {
        await loadProjects();
      } catch (err) {
        if (my !== routing) return;
        if (!(err instanceof ApiError && err.status === 401)) {
          main.replaceChildren(h("p", { class: "form-error" }, errorText(err)));
        }
        return;
      }
      if (my !== routing) return;
    }
    if (projects.length === 0) {
      renderHeader(undefined);
      main.replaceChildren(
        h(
          "div",
          { class: "card login" },
          h("h1", {}, "No projects"),
          h(
            "p",
            {},
            "This token may see no project. Ask an admin for access, or sign in with another token.",
          ),
        ),
      );
      return;
    }
    const match = ROUTES.map((r) => ({ r, m: r.pattern.exec(hash) })).find((x) => x.m !== null);
    if (!match?.m) {
      const remembered = sessionStorage.getItem(PROJECT_KEY);
      const p = projects.find((x) => x.project_id === remembered) ?? projects[0]!;
      location.replace(routes.pipelines(p.project_id));
      return;
    }
    const params: Record<string, string> = {};
    match.r.keys.forEach((k, i) => {
      params[k] = match.m![i + 1]!;
    });
    const projectId = params.project!;
    if (!projects.some((p) => p.project_id === projectId)) {
      notify("That project does not exist or this token may not see it.", "error");
      // Kept through the one redirect that follows, to a project the token sees.
      const n = alerts.lastElementChild as HTMLElement | null;
      if (n) n.dataset.keep = "1";
      const remembered = sessionStorage.getItem(PROJECT_KEY);
      const p = projects.find((x) => x.project_id === remembered) ?? projects[0]!;
      location.replace(routes.pipelines(p.project_id));
      return;
    }
    sessionStorage.setItem(PROJECT_KEY, projectId);
    renderHeader(projectId);
    const ctx: Ctx = {
      api,
      projects,
      projectId,
      navigate: (to) => {
        location.hash = to;
      },
      notify,
      now: () => Date.now() + skew,
      serverTime: (t) => {
        if (t > 0) skew = t - Date.now();
      },
      reachable: () => reachable,
      guardLeave: (dirty) => {
        if (my === routing) leaveGuard = dirty;
      },
    };
    main.replaceChildren();
    dispose = match.r.view(ctx, main, params);
    main.querySelector<HTMLElement>("h1")?.focus({ preventScroll: true });
  }

  window.addEventListener("hashchange", () => void onHashChange());
  installShortcuts({
    projectId: () => {
      const m = /^#\/p\/(\w+)/.exec(location.hash);
      return token !== null && m ? m[1] : undefined;
    },
  });
  void route();
}

start(document.getElementById("app")!);
