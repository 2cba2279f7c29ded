// Create or edit a pipeline as text: the YAML form (`uses` + `with`, converted in the browser by
// the same module the CLI uses) or the JSON request body (sent as written, validated by the
// server). Errors point at the line they are about.

import { pipelineBodyFromText } from "../../../src/pipeline/yaml-form.js";
import { yamlFormFromDetail } from "../../../src/pipeline/yaml-form-write.js";
import { ApiError, paths } from "../api.js";
import { errorText, isNotFound, notFoundPage, routes, type View } from "../context.js";
import { fill, h, setText } from "../dom.js";
import { type Located, locateJsonError, locateLocalError, locateServerError } from "../locate.js";
import { scheduleEntry, schedulesOf, triggerEntry, triggersOf } from "../pipeline-update.js";
import type { PipelineDetail } from "../types.js";

type Format = "yaml" | "json";
type Body = Record<string, unknown>;

const FILE = "editor";
const LINE_PX = 20;
const PAD_PX = 12;

export const NEW_PIPELINE_YAML = `# A pipeline in CodeArts's YAML form: stages → jobs → steps; a step \`uses\` a task \`with\` its inputs.
name: hello-world
description: Says hello, then checks
variables:
  - name: greeting
    value: hello
    is_runtime: true
stages:
  - name: Build
    jobs:
      - name: Compile
        steps:
          - name: Say hello
            uses: official_shell_plugin
            with:
              script: echo "$greeting from run $PIPELINE_RUN_NUMBER"
  - name: Test
    jobs:
      - name: Unit tests
        steps:
          - name: Run tests
            uses: official_shell_plugin
            with:
              script: echo "all good"
`;

/** The request body as JSON text, with the definition as an object so it can be read and edited. */
function jsonText(body: Body): string {
  const def =
    typeof body.definition === "string" ? (JSON.parse(body.definition) as unknown) : body.definition;
  return `${JSON.stringify({ ...body, definition: def }, null, 2)}\n`;
}

/** YAML-form text of a request body (the same text `pipewright pipeline show --yaml` prints). */
function yamlText(body: Body): string {
  return yamlFormFromDetail({
    name: String(body.name ?? ""),
    description: typeof body.description === "string" ? body.description : null,
    definition: typeof body.definition === "string" ? body.definition : JSON.stringify(body.definition),
    variables: Array.isArray(body.variables) ? (body.variables as Record<string, unknown>[]) : null,
    concurrency_control: (body.concurrency_control as Record<string, unknown> | null | undefined) ?? null,
    sources: Array.isArray(body.sources) ? body.sources : null,
    schedules: Array.isArray(body.schedules) ? (body.schedules as Record<string, unknown>[]) : null,
    triggers: Array.isArray(body.triggers) ? (body.triggers as Record<string, unknown>[]) : null,
  });
}

type Parsed = { ok: true; body: Body } | { ok: false; error: Located };

/** Text → request body. YAML goes through the local converter; JSON is only parsed. */
function parse(text: string, format: Format): Parsed {
  if (format === "json") {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      return { ok: false, error: locateJsonError(text, err as Error) };
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      return {
        ok: false,
        error: { line: 1, col: 1, message: "must be an object: the create/update request body" },
      };
    }
    const obj = raw as Body;
    if ("definition" in obj) {
      // Sent as written: the server validates it and names the field that is wrong.
      const def = obj.definition;
      return {
        ok: true,
        body: { is_publish: false, ...obj, definition: typeof def === "string" ? def : JSON.stringify(def) },
      };
    }
  }
  try {
    return { ok: true, body: { ...pipelineBodyFromText(text, { fileName: FILE }).body } };
  } catch (err) {
    return { ok: false, error: locateLocalError(FILE, errorText(err)) };
  }
}

export const editorView: View = (ctx, main, params) => {
  const projectId = ctx.projectId;
  const pipelineId = params.pipeline;
  const editing = pipelineId !== undefined;
  let detail: PipelineDetail | undefined;
  let format: Format = "yaml";
  let errorLine: number | undefined;
  let debounce: ReturnType<typeof setTimeout> | undefined;
  /** Typed since it was loaded or saved: leaving asks first. */
  let dirty = false;
  ctx.guardLeave(() => dirty);
  /**
   * The YAML as written when it was switched to JSON, and the JSON made of it: switching back
   * with the JSON untouched gives the text back as it was, its comments and spelling kept.
   */
  let yamlBefore: { yaml: string; json: string } | undefined;

  const heading = h("h1", { tabindex: "-1" }, editing ? "Edit pipeline" : "New pipeline");
  const textarea = h("textarea", {
    id: "pipeline-text",
    class: "code-input",
    spellcheck: "false",
    autocapitalize: "off",
    autocomplete: "off",
    wrap: "off",
    "aria-describedby": "editor-help editor-error",
    "data-testid": "editor-text",
  });
  const gutter = h("pre", { class: "gutter", "aria-hidden": "true" });
  const band = h("div", { class: "error-band", hidden: true, "aria-hidden": "true" });
  const code = h("div", { class: "code" }, band, gutter, textarea);
  const errorBox = h("div", {
    id: "editor-error",
    class: "editor-error",
    role: "alert",
    hidden: true,
    "data-testid": "editor-error",
  });
  const status = h("p", {
    class: "editor-status muted",
    "aria-live": "polite",
    "data-testid": "editor-status",
  });
  const saveBtn = h(
    "button",
    { type: "submit", class: "btn primary", "data-testid": "editor-save" },
    editing ? "Save" : "Create",
  );
  const cancel = h(
    "a",
    { class: "btn", href: editing ? routes.pipeline(projectId, pipelineId) : routes.pipelines(projectId) },
    "Cancel",
  );
  const formatRadios = (["yaml", "json"] as const).map((f) =>
    h(
      "label",
      { class: "seg" },
      h("input", {
        type: "radio",
        name: "format",
        value: f,
        checked: f === format,
        "data-testid": `format-${f}`,
        on: { change: () => switchFormat(f) },
      }),
      h("span", {}, f === "yaml" ? "YAML" : "JSON"),
    ),
  );
  const help = h(
    "details",
    { class: "help", id: "editor-help" },
    h("summary", {}, "Format"),
    h(
      "p",
      {},
      "YAML: the CodeArts YAML form. Stages hold jobs, jobs hold steps; a step names its task with ",
      h("code", {}, "uses"),
      " and its inputs with ",
      h("code", {}, "with"),
      " (",
      h("code", {}, "script"),
      " for a shell step). Tasks: ",
      h("code", {}, "official_shell_plugin"),
      ", ",
      h("code", {}, "official_git_clone"),
      ", ",
      h("code", {}, "official_devcloud_checkpoint"),
      " (manual review).",
    ),
    h(
      "p",
      {},
      "JSON: the body of the create call, sent as written — ",
      h("code", {}, "name"),
      ", ",
      h("code", {}, "definition"),
      " (an object or a JSON string), ",
      h("code", {}, "variables"),
      ", … Tab moves the focus out of the editor; indent with spaces.",
    ),
  );
  const form = h(
    "form",
    { class: "editor-form", "aria-labelledby": "editor-heading" },
    h(
      "div",
      { class: "editor-bar" },
      h(
        "fieldset",
        { class: "segmented" },
        h("legend", { class: "visually-hidden" }, "Format"),
        formatRadios,
      ),
      status,
    ),
    h("label", { for: "pipeline-text", class: "visually-hidden" }, "Pipeline text"),
    code,
    // Below the editor, so a message appearing while one types does not move the text.
    errorBox,
    h("div", { class: "form-actions" }, saveBtn, cancel, help),
  );
  heading.id = "editor-heading";
  main.replaceChildren(
    h(
      "section",
      { class: "page editor-view" },
      h(
        "header",
        { class: "page-head" },
        h(
          "div",
          {},
          h(
            "nav",
            { class: "crumbs", "aria-label": "Breadcrumb" },
            h("a", { href: routes.pipelines(projectId) }, "Pipelines"),
          ),
          heading,
          editing
            ? null
            : h(
                "p",
                { class: "muted" },
                "Write it below, or ",
                h(
                  "a",
                  { href: routes.templates(projectId), "data-testid": "editor-templates" },
                  "start from a template",
                ),
                ".",
              ),
        ),
      ),
      form,
    ),
  );

  function renderGutter(): void {
    const n = textarea.value.split("\n").length;
    const lines: string[] = [];
    for (let i = 1; i <= n; i++) lines.push(String(i));
    const text = lines.join("\n");
    if (gutter.textContent !== text) gutter.textContent = text;
    placeBand();
  }

  function placeBand(): void {
    gutter.scrollTop = textarea.scrollTop;
    if (errorLine === undefined) {
      band.hidden = true;
      return;
    }
    band.hidden = false;
    band.style.top = `${PAD_PX + (errorLine - 1) * LINE_PX - textarea.scrollTop}px`;
  }

  function goToLine(line: number, col = 1): void {
    const lines = textarea.value.split("\n");
    let at = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) at += lines[i]!.length + 1;
    const len = lines[line - 1]?.length ?? 0;
    textarea.focus();
    textarea.setSelectionRange(at + Math.min(col - 1, len), at + len);
    textarea.scrollTop = Math.max(0, (line - 4) * LINE_PX);
    placeBand();
  }

  function showError(e: Located | undefined, origin?: string): void {
    errorLine = e?.line;
    placeBand();
    if (!e) {
      errorBox.hidden = true;
      errorBox.replaceChildren();
      textarea.removeAttribute("aria-invalid");
      return;
    }
    textarea.setAttribute("aria-invalid", "true");
    errorBox.hidden = false;
    const where =
      e.line !== undefined ? `Line ${e.line}${e.col !== undefined ? `, column ${e.col}` : ""}` : "";
    fill(
      errorBox,
      h(
        "p",
        {},
        where ? h("strong", { "data-testid": "editor-error-line" }, where) : null,
        where ? " · " : null,
        e.path ? h("code", { "data-testid": "editor-error-path" }, e.path) : null,
        e.path ? ": " : null,
        h("span", { "data-testid": "editor-error-message" }, e.message),
      ),
      origin ? h("p", { class: "muted small-text" }, origin) : null,
      e.line !== undefined
        ? h(
            "button",
            {
              type: "button",
              class: "btn small",
              "data-testid": "editor-goto",
              on: { click: () => goToLine(e.line!, e.col ?? 1) },
            },
            `Go to line ${e.line}`,
          )
        : null,
    );
  }

  function check(): void {
    const parsed = parse(textarea.value, format);
    if (parsed.ok) {
      showError(undefined);
      setText(
        status,
        format === "yaml" ? "Looks valid." : "Valid JSON; the server checks the rest when you save.",
      );
    } else {
      showError(parsed.error, "Found while reading the text; nothing was sent.");
      setText(status, "");
    }
  }

  function switchFormat(next: Format): void {
    if (next === format) return;
    const parsed = parse(textarea.value, format);
    if (!parsed.ok) {
      showError(parsed.error, `Fix this before switching to ${next.toUpperCase()}.`);
      for (const r of formatRadios) {
        const input = r.querySelector("input")!;
        input.checked = input.value === format;
      }
      return;
    }
    let note = "";
    try {
      if (next === "json") {
        const json = jsonText(parsed.body);
        yamlBefore = { yaml: textarea.value, json };
        textarea.value = json;
      } else if (yamlBefore && textarea.value === yamlBefore.json) {
        textarea.value = yamlBefore.yaml;
      } else {
        textarea.value = yamlText(parsed.body);
        if (yamlBefore) note = "Made from the edited JSON: the YAML's comments and layout are not kept.";
      }
    } catch (err) {
      showError({ message: errorText(err) }, `Could not switch to ${next.toUpperCase()}.`);
      return;
    }
    format = next;
    showError(undefined);
    setText(status, note);
    renderGutter();
  }

  textarea.addEventListener("input", () => {
    dirty = true;
    renderGutter();
    clearTimeout(debounce);
    debounce = setTimeout(check, 600);
  });
  textarea.addEventListener("scroll", placeBand);

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    clearTimeout(debounce);
    void save();
  });

  async function save(): Promise<void> {
    const text = textarea.value;
    const parsed = parse(text, format);
    if (!parsed.ok) {
      showError(parsed.error, "Found while reading the text; nothing was sent.");
      return;
    }
    // Text without `schedules` or `triggers` keeps those the pipeline had (without the detail's
    // read-only view of them); the pipeline's page edits them one by one.
    const body: Body =
      editing && detail
        ? {
            schedules: schedulesOf(detail).map(scheduleEntry),
            triggers: triggersOf(detail).map(triggerEntry),
            group_id: detail.group_id,
            ...parsed.body,
          }
        : parsed.body;
    saveBtn.disabled = true;
    setText(status, "Saving…");
    try {
      const res = editing
        ? await ctx.api.put<{ pipeline_id: string }>(paths.pipeline(projectId, pipelineId), body)
        : await ctx.api.post<{ pipeline_id: string }>(paths.pipelines(projectId), body);
      ctx.notify(editing ? `Saved ${String(body.name)}` : `Created ${String(body.name)}`, "success");
      dirty = false;
      ctx.navigate(routes.pipeline(projectId, res.pipeline_id));
    } catch (err) {
      setText(status, "");
      if (err instanceof ApiError) {
        showError(
          locateServerError(text, err.message),
          `The server refused it (${err.code}); nothing was saved.`,
        );
      } else {
        showError({ message: errorText(err) });
      }
    } finally {
      saveBtn.disabled = false;
    }
  }

  if (editing) {
    textarea.disabled = true;
    // Nothing to save until the pipeline is read: a missing one leaves no Save to press.
    saveBtn.disabled = true;
    void ctx.api
      .get<PipelineDetail>(paths.pipeline(projectId, pipelineId))
      .then((d) => {
        detail = d;
        setText(heading, `Edit ${d.name}`);
        document.title = `Edit ${d.name} · Pipewright`;
        try {
          textarea.value = yamlFormFromDetail({ ...d, variables: d.variables.map((v) => ({ ...v })) });
        } catch {
          // A definition the YAML form cannot show is edited as JSON.
          format = "json";
          for (const r of formatRadios) {
            const input = r.querySelector("input")!;
            input.checked = input.value === "json";
          }
          textarea.value = jsonText({
            name: d.name,
            description: d.description,
            is_publish: d.is_publish,
            definition: d.definition,
            variables: d.variables,
            concurrency_control: d.concurrency_control,
            // A full replace: what the text leaves out is gone (schedules and triggers excepted).
            sources: d.sources,
            ...(d.schedules.length > 0 ? { schedules: schedulesOf(d).map(scheduleEntry) } : {}),
            ...(d.triggers.length > 0 ? { triggers: triggersOf(d).map(triggerEntry) } : {}),
          });
        }
        if (d.banned) setText(status, "This pipeline is disabled: enable it before saving changes.");
        textarea.disabled = false;
        saveBtn.disabled = false;
        renderGutter();
      })
      .catch((err: unknown) => {
        if (isNotFound(err)) {
          notFoundPage(main, {
            title: "Pipeline not found",
            text: "There is no such pipeline to edit, or this token may not see it. It may have been deleted.",
            back: { href: routes.pipelines(projectId), label: "Back to the pipelines" },
          });
          return;
        }
        showError({ message: errorText(err) }, "Could not load the pipeline.");
      });
  } else {
    document.title = "New pipeline · Pipewright";
    textarea.value = NEW_PIPELINE_YAML;
  }
  renderGutter();

  return () => clearTimeout(debounce);
};
