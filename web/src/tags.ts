// Pipeline tags in the UI: chips (the name in black or white on the tag's colour, so it never
// rests on colour alone), which tags each pipeline carries (the API says which pipelines carry a
// tag, so the list is asked once per tag), and two dialogs: one to create, rename, recolour and
// delete the project's tags, one to set a pipeline's. A refusal is shown beside its form, with
// what was typed kept.

import { ApiError, paths } from "./api.js";
import { type Ctx, errorText } from "./context.js";
import { confirmDialog, modal } from "./dialogs.js";
import { h } from "./dom.js";
import { chipColors, DEFAULT_TAG_COLOR, tagsByPipeline } from "./tag-colors.js";
import type { PipelineList, PipelineTag } from "./types.js";

/** The list's largest page. */
const PAGE = 100;
const NAME_TAKEN = "DEVPIPE.00020124";

export function listTags(ctx: Ctx): Promise<PipelineTag[]> {
  return ctx.api.get<PipelineTag[]>(paths.tags(ctx.projectId));
}

/**
 * Which tags each pipeline carries: the pipelines of each tag, page by page. `name` narrows each
 * listing to the pipelines whose name contains it (the ones a filtered page or a pipeline shows).
 */
export async function tagsOfPipelines(
  ctx: Ctx,
  tags: readonly PipelineTag[],
  name?: string,
): Promise<Map<string, PipelineTag[]>> {
  const pipelinesOf = new Map<string, string[]>();
  await Promise.all(
    tags.map(async (t) => {
      const ids: string[] = [];
      for (let offset = 0; ; offset += PAGE) {
        const page = await ctx.api.post<PipelineList>(paths.list(ctx.projectId), {
          tag_ids: [t.tag_id],
          offset,
          limit: PAGE,
          ...(name ? { name } : {}),
        });
        ids.push(...page.pipelines.map((p) => p.pipeline_id));
        if (page.pipelines.length < PAGE || ids.length >= page.total) break;
      }
      pipelinesOf.set(t.tag_id, ids);
    }),
  );
  return tagsByPipeline(tags, pipelinesOf);
}

/** One tag as a chip: its name, on its colour. */
export function tagChip(tag: PipelineTag): HTMLSpanElement {
  const { background, ink } = chipColors(tag.color);
  const el = h("span", { class: "tag-chip", "data-testid": "tag-chip", "data-tag": tag.name }, tag.name);
  // Set through the CSSOM: the page's CSP allows no inline style attributes.
  el.style.backgroundColor = background;
  el.style.color = ink;
  return el;
}

/** A pipeline's chips, as a list named for screen readers; empty when it carries none. */
export function tagChips(tags: readonly PipelineTag[] | undefined, label: string): HTMLElement {
  return h(
    "ul",
    {
      class: "tag-chips",
      "aria-label": label,
      "data-testid": "tag-chips",
      hidden: !tags || tags.length === 0,
    },
    (tags ?? []).map((t) => h("li", {}, tagChip(t))),
  );
}

// ---- errors beside a form -------------------------------------------------------------------------

interface ErrorBox {
  readonly el: HTMLElement;
  clear(): void;
  /** Shows why; `sent` says whether the server was asked (and so refused). */
  show(message: string, opts: { code?: string; sent: boolean }): void;
}

function errorBox(testid: string): ErrorBox {
  const el = h("div", { class: "form-error", role: "alert", hidden: true, "data-testid": testid });
  return {
    el,
    clear() {
      el.hidden = true;
      el.replaceChildren();
    },
    show(message, opts) {
      el.hidden = false;
      el.replaceChildren(
        h("p", { "data-testid": `${testid}-message` }, message),
        h(
          "p",
          { class: "muted small-text" },
          !opts.sent
            ? "Nothing was sent."
            : opts.code
              ? `The server refused it (${opts.code}); nothing was saved.`
              : "Nothing was saved.",
        ),
      );
    },
  };
}

function refusal(err: unknown): { message: string; code?: string } {
  if (err instanceof ApiError && !err.code.startsWith("HTTP") && err.code !== "NETWORK")
    return { message: err.message, code: err.code };
  return { message: errorText(err) };
}

/** Marks the input the refusal is about (a taken or missing name, a bad colour) and describes it. */
function markInvalid(
  inputs: { readonly name: HTMLInputElement; readonly color: HTMLInputElement },
  errorId: string,
  why: { message: string; code?: string } | undefined,
): void {
  for (const input of [inputs.name, inputs.color]) {
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-describedby");
  }
  if (!why) return;
  const input =
    why.code === NAME_TAKEN || /\bname\b/i.test(why.message)
      ? inputs.name
      : /\bcolou?r\b/i.test(why.message)
        ? inputs.color
        : undefined;
  if (!input) return;
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", errorId);
  input.focus();
}

let uid = 0;
const nextId = (prefix: string): string => `${prefix}-${++uid}`;

// ---- managing the project's tags -------------------------------------------------------------------

/** One tag's form: name and colour to save, or delete. Answers its element. */
function tagRow(ctx: Ctx, tag: PipelineTag, changed: () => Promise<void>): HTMLElement {
  const id = nextId("tag");
  const name = h("input", {
    type: "text",
    id: `${id}-name`,
    value: tag.name,
    maxlength: "128",
    autocomplete: "off",
    "data-testid": "tag-name",
  });
  const color = h("input", {
    type: "color",
    id: `${id}-color`,
    value: tag.color,
    "data-testid": "tag-color",
  });
  const errors = errorBox("tag-error");
  errors.el.id = `${id}-error`;
  const save = h("button", { type: "submit", class: "btn small", "data-testid": "tag-save" }, "Save");
  const remove = h(
    "button",
    {
      type: "button",
      class: "btn small ghost danger-text",
      "data-testid": "tag-delete",
      "aria-label": `Delete tag ${tag.name}`,
    },
    "Delete",
  );
  const form = h(
    "form",
    { class: "tag-form", "data-testid": `tag-row-${tag.name}`, "aria-label": `Tag ${tag.name}` },
    h(
      "div",
      { class: "tag-form-fields" },
      tagChip(tag),
      h("label", { for: name.id, class: "visually-hidden" }, `Name of tag ${tag.name}`),
      name,
      h("label", { for: color.id, class: "visually-hidden" }, `Colour of tag ${tag.name}`),
      color,
      save,
      remove,
    ),
    errors.el,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    errors.clear();
    const newName = name.value.trim();
    if (newName === "") {
      const why = { message: "A tag needs a name." };
      errors.show(why.message, { sent: false });
      markInvalid({ name, color }, errors.el.id, why);
      return;
    }
    save.disabled = true;
    try {
      await ctx.api.post(paths.tagUpdate(ctx.projectId), {
        tagId: tag.tag_id,
        name: newName,
        color: color.value,
      });
      ctx.notify(`Saved tag ${newName}`, "success");
      await changed();
    } catch (err) {
      const why = refusal(err);
      errors.show(why.message, { ...why, sent: true });
      markInvalid({ name, color }, errors.el.id, why);
    } finally {
      save.disabled = false;
    }
  });
  remove.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: `Delete tag ${tag.name}?`,
      text: "The pipelines carrying it lose it; the pipelines themselves stay.",
      confirm: "Delete",
      danger: true,
    });
    if (!ok) return;
    errors.clear();
    try {
      await ctx.api.del(paths.tagDelete(ctx.projectId, tag.tag_id));
      ctx.notify(`Deleted tag ${tag.name}`, "success");
      await changed();
    } catch (err) {
      const why = refusal(err);
      errors.show(why.message, { ...why, sent: true });
    }
  });
  return form;
}

/** "Manage tags": the project's tags to rename, recolour and delete, and a form for a new one. */
export async function manageTagsDialog(ctx: Ctx): Promise<void> {
  let tags: PipelineTag[];
  try {
    tags = await listTags(ctx);
  } catch (err) {
    ctx.notify(errorText(err), "error");
    return;
  }
  await modal<true>((close) => {
    const list = h("div", { class: "tag-list", "data-testid": "tag-list" });
    const render = (): void => {
      list.replaceChildren(
        ...(tags.length === 0
          ? [h("p", { class: "muted", "data-testid": "no-tags" }, "No tags yet.")]
          : tags.map((t) => tagRow(ctx, t, reload))),
      );
    };
    async function reload(): Promise<void> {
      try {
        tags = await listTags(ctx);
        render();
      } catch (err) {
        ctx.notify(errorText(err), "error");
      }
    }
    render();

    const name = h("input", {
      type: "text",
      id: "new-tag-name",
      maxlength: "128",
      autocomplete: "off",
      "data-testid": "new-tag-name",
    });
    const color = h("input", {
      type: "color",
      id: "new-tag-color",
      value: DEFAULT_TAG_COLOR,
      "data-testid": "new-tag-color",
    });
    const errors = errorBox("new-tag-error");
    errors.el.id = "new-tag-error";
    const create = h(
      "button",
      { type: "submit", class: "btn primary small", "data-testid": "new-tag-create" },
      "Create tag",
    );
    const form = h(
      "form",
      { class: "tag-form new-tag", "aria-labelledby": "new-tag-title", "data-testid": "new-tag-form" },
      h("h3", { id: "new-tag-title" }, "New tag"),
      h(
        "div",
        { class: "tag-form-fields" },
        h("label", { for: "new-tag-name" }, "Name"),
        name,
        h("label", { for: "new-tag-color" }, "Colour"),
        color,
        create,
      ),
      errors.el,
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      errors.clear();
      const text = name.value.trim();
      if (text === "") {
        const why = { message: "A tag needs a name." };
        errors.show(why.message, { sent: false });
        markInvalid({ name, color }, errors.el.id, why);
        return;
      }
      create.disabled = true;
      try {
        await ctx.api.post(paths.tagCreate(ctx.projectId), { name: text, color: color.value });
        markInvalid({ name, color }, errors.el.id, undefined);
        name.value = "";
        ctx.notify(`Created tag ${text}`, "success");
        await reload();
        name.focus();
      } catch (err) {
        const why = refusal(err);
        errors.show(why.message, { ...why, sent: true });
        markInvalid({ name, color }, errors.el.id, why);
      } finally {
        create.disabled = false;
      }
    });

    return {
      title: "Tags",
      testid: "tags-dialog",
      body: [
        h(
          "p",
          { class: "muted small-text" },
          "Tags group pipelines: the list filters by them. Changing them needs the right to change pipelines.",
        ),
        list,
        form,
        h(
          "div",
          { class: "modal-actions" },
          h(
            "button",
            { type: "button", class: "btn", "data-testid": "tags-done", on: { click: () => close(true) } },
            "Done",
          ),
        ),
      ],
    };
  });
}

// ---- a pipeline's tags ---------------------------------------------------------------------------

/**
 * "Tags…" of one pipeline: a check box per tag of the project, ticked for those it carries (read
 * fresh); saving sets exactly the ticked ones. Answers whether it saved.
 */
export async function pipelineTagsDialog(
  ctx: Ctx,
  pipeline: { readonly id: string; readonly name: string },
): Promise<boolean> {
  let tags: PipelineTag[];
  let carried: PipelineTag[];
  try {
    tags = await listTags(ctx);
    carried = (await tagsOfPipelines(ctx, tags, pipeline.name)).get(pipeline.id) ?? [];
  } catch (err) {
    ctx.notify(errorText(err), "error");
    return false;
  }
  const saved = await modal<true>((close) => {
    const boxes = tags.map((t) => ({
      tag: t,
      box: h("input", {
        type: "checkbox",
        checked: carried.some((c) => c.tag_id === t.tag_id),
        "data-testid": `tag-box-${t.name}`,
      }),
    }));
    const errors = errorBox("set-tags-error");
    const save = h(
      "button",
      { type: "submit", class: "btn primary", "data-testid": "set-tags-save" },
      "Save",
    );
    const form = h(
      "form",
      { class: "set-tags" },
      tags.length === 0
        ? h(
            "p",
            { class: "muted", "data-testid": "no-tags" },
            "The project has no tags yet: create them with Manage tags on the list of pipelines.",
          )
        : h(
            "fieldset",
            { class: "check-group" },
            h("legend", {}, `Tags ${pipeline.name} carries`),
            h(
              "div",
              { class: "check-row tag-checks" },
              boxes.map((b) => h("label", { class: "check" }, b.box, tagChip(b.tag))),
            ),
          ),
      errors.el,
      h(
        "div",
        { class: "modal-actions" },
        h("button", { type: "button", class: "btn", on: { click: () => close(undefined) } }, "Cancel"),
        save,
      ),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      errors.clear();
      save.disabled = true;
      try {
        await ctx.api.post(paths.setTags(ctx.projectId), {
          pipelineList: [pipeline.id],
          tagList: boxes.filter((b) => b.box.checked).map((b) => b.tag.tag_id),
        });
        ctx.notify(`Saved the tags of ${pipeline.name}`, "success");
        close(true);
      } catch (err) {
        errors.show(...showArgs(err));
      } finally {
        save.disabled = false;
      }
    });
    return { title: `Tags of ${pipeline.name}`, testid: "set-tags-dialog", body: [form] };
  });
  return saved === true;
}

function showArgs(err: unknown): [string, { code?: string; sent: boolean }] {
  const why = refusal(err);
  return [why.message, { ...why, sent: true }];
}
