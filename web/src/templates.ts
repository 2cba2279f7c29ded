// The templates page: the built-in pipeline templates and the project's, each with its stages,
// and a form that creates a pipeline from one (with a repository when the template checks one
// out). Reached from the header, the pipeline list and the new-pipeline editor.

import type { TemplateList, TemplateListItem } from "../../src/wire/templates.js";
import { type Ctx, errorText, routes, type View } from "./context.js";
import { confirmDialog } from "./dialogs.js";
import { fill, h, setText } from "./dom.js";

const base = (projectId: string): string => `/v5/${encodeURIComponent(projectId)}/api/pipeline-templates`;

async function allTemplates(ctx: Ctx): Promise<TemplateListItem[]> {
  const out: TemplateListItem[] = [];
  for (let offset = 0; ; offset += 100) {
    const page = await ctx.api.post<TemplateList>(`${base(ctx.projectId)}/list`, { offset, limit: 100 });
    out.push(...page.templates);
    if (page.templates.length < 100 || out.length >= page.total) return out;
  }
}

let formSeq = 0;

/** One template: what it is, its stages, and the form that makes a pipeline of it. */
function templateCard(ctx: Ctx, t: TemplateListItem, onDeleted: () => void): HTMLElement {
  const n = ++formSeq;
  const nameInput = h("input", {
    id: `tpl-name-${n}`,
    required: true,
    maxlength: "128",
    placeholder: "my-pipeline",
    "data-testid": "template-pipeline-name",
  });
  const gitInput = t.is_show_source
    ? h("input", {
        id: `tpl-git-${n}`,
        type: "url",
        placeholder: "https://git.example.com/team/app.git",
        "data-testid": "template-git-url",
      })
    : undefined;
  const error = h("p", { class: "form-error", role: "alert", hidden: true, "data-testid": "template-error" });
  const submit = h(
    "button",
    { type: "submit", class: "btn primary", "data-testid": "template-use" },
    "Create pipeline",
  );
  const form = h(
    "form",
    { class: "template-form", "aria-label": `Create a pipeline from ${t.name}` },
    h("label", { for: nameInput.id }, "Pipeline name"),
    nameInput,
    ...(gitInput ? [h("label", { for: gitInput.id }, "Repository URL"), gitInput] : []),
    submit,
    error,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    const git = gitInput?.value.trim() ?? "";
    ctx.api
      .post<{ pipeline_id: string }>(`${base(ctx.projectId)}/${t.id}/create-pipeline`, {
        name: nameInput.value.trim(),
        is_publish: false,
        ...(git
          ? { sources: [{ type: "code", params: { alias: "app", git_url: git, default_branch: "main" } }] }
          : {}),
      })
      .then((res) => {
        ctx.notify(`Created pipeline ${nameInput.value.trim()} from ${t.name}.`, "success");
        ctx.navigate(routes.pipeline(ctx.projectId, res.pipeline_id));
      })
      .catch((err: unknown) => {
        // What was typed stays, with the server's reason beside it.
        setText(error, errorText(err));
        error.hidden = false;
        submit.disabled = false;
      });
  });
  const remove = t.is_system
    ? undefined
    : h(
        "button",
        { type: "button", class: "btn danger", "data-testid": "template-delete" },
        "Delete template",
      );
  remove?.addEventListener("click", () => {
    void confirmDialog({
      title: `Delete the template ${t.name}?`,
      text: "Pipelines made from it stay.",
      confirm: "Delete",
      danger: true,
    })
      .then((yes) => (yes ? ctx.api.del(`${base(ctx.projectId)}/${t.id}`).then(() => true) : false))
      .then((deleted) => {
        if (!deleted) return;
        ctx.notify(`Deleted template ${t.name}.`, "success");
        onDeleted();
      })
      .catch((err: unknown) => ctx.notify(errorText(err), "error"));
  });
  return h(
    "li",
    { class: "card template", "data-testid": `template-${t.id}` },
    h("h3", {}, t.name, " ", h("span", { class: "muted" }, t.is_system ? "built-in" : t.language)),
    t.description ? h("p", {}, t.description) : null,
    h(
      "p",
      { class: "muted", "data-testid": "template-stages" },
      `Stages: ${t.stages.map((s) => s.name).join(" → ")}`,
    ),
    form,
    remove ?? null,
  );
}

export const templatesView: View = (ctx, main) => {
  document.title = "Templates · Pipewright";
  const builtIn = h("ul", { class: "templates", "data-testid": "templates-built-in" });
  const own = h("ul", { class: "templates", "data-testid": "templates-own" });
  const status = h("p", { class: "muted", "aria-live": "polite" }, "Loading templates…");
  fill(
    main,
    h(
      "div",
      { class: "page-head" },
      h("h1", { tabindex: "-1" }, "Pipeline templates"),
      h(
        "div",
        { class: "actions" },
        h("a", { class: "btn", href: routes.newPipeline(ctx.projectId) }, "Write a pipeline"),
      ),
    ),
    status,
    h("h2", {}, "Built-in templates"),
    builtIn,
    h("h2", {}, "This project's templates"),
    own,
  );
  let alive = true;
  const load = (): void => {
    allTemplates(ctx)
      .then((all) => {
        if (!alive) return;
        status.hidden = true;
        fill(builtIn, ...all.filter((t) => t.is_system).map((t) => templateCard(ctx, t, load)));
        const mine = all.filter((t) => !t.is_system);
        fill(
          own,
          ...(mine.length > 0
            ? mine.map((t) => templateCard(ctx, t, load))
            : [
                h(
                  "li",
                  { class: "muted" },
                  "None yet: the API and `pipewright template create -f FILE` make them.",
                ),
              ]),
        );
      })
      .catch((err: unknown) => {
        if (alive) setText(status, `Could not load the templates: ${errorText(err)}`);
      });
  };
  load();
  return () => {
    alive = false;
  };
};
