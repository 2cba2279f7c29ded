// Pipeline groups in the UI: the project's tree read and flattened into paths (backend / api),
// the options of the list's group filter and of "Move to", and one dialog to create, rename and
// delete groups. A refusal is shown in the dialog, with what was typed kept.

import { paths } from "./api.js";
import { type Ctx, errorText } from "./context.js";
import { confirmDialog, modal } from "./dialogs.js";
import { h } from "./dom.js";
import { type FlatGroup, flatten, type PipelineGroup } from "./group-paths.js";

export { type FlatGroup, flatten, type PipelineGroup };

/** Three levels at most, as the server allows (a group at level 3 takes no subgroup). */
export const GROUP_DEPTH = 3;

const groupBase = (p: string) => `/v5/${p}/api/pipeline-group`;

export function groupTree(ctx: Ctx): Promise<PipelineGroup[]> {
  return ctx.api.get<PipelineGroup[]>(`${groupBase(ctx.projectId)}/tree`);
}

/** `<option>`s of every group, indented by level, each with its pipelines. */
export function groupOptions(flat: readonly FlatGroup[], selected: string): HTMLOptionElement[] {
  return flat.map((f) =>
    h(
      "option",
      { value: f.group.id, selected: f.group.id === selected },
      `${"\u00a0\u00a0".repeat(f.depth)}${f.group.name} (${f.group.pipeline_count})`,
    ),
  );
}

/** Puts the pipelines in the group ('' : in none); answers an error text, or undefined. */
export async function movePipelines(
  ctx: Ctx,
  groupId: string,
  pipelineIds: readonly string[],
): Promise<void> {
  await ctx.api.post(`${groupBase(ctx.projectId)}/pipeline/move`, {
    group_id: groupId,
    pipelines: pipelineIds.map((pipeline_id) => ({ pipeline_id })),
  });
}

/** The pipelines of the group and the groups below it, by id → name (for a batch's rows). */
export async function namesInGroup(ctx: Ctx, groupId: string): Promise<Map<string, string>> {
  const page = await ctx.api.post<{ pipelines: { pipeline_id: string; name: string }[] }>(
    paths.list(ctx.projectId),
    { group_path_id: groupId, limit: 100 },
  );
  return new Map(page.pipelines.map((p) => [p.pipeline_id, p.name]));
}

/** Create, rename and delete the project's groups. Resolves when closed. */
export async function manageGroupsDialog(ctx: Ctx): Promise<void> {
  let tree: PipelineGroup[];
  try {
    tree = await groupTree(ctx);
  } catch (err) {
    ctx.notify(errorText(err), "error");
    return;
  }
  const base = groupBase(ctx.projectId);
  await modal<true>((close) => {
    const list = h("ul", { class: "group-list", "data-testid": "group-list" });
    const error = h("p", { class: "form-error", role: "alert", "data-testid": "group-error", hidden: true });
    const parent = h("select", { id: "new-group-parent", "data-testid": "new-group-parent" });
    const showError = (err: unknown): void => {
      error.hidden = false;
      error.textContent = errorText(err);
    };
    async function reload(): Promise<void> {
      tree = await groupTree(ctx);
      render();
    }
    function render(): void {
      const flat = flatten(tree);
      parent.replaceChildren(
        h("option", { value: "" }, "(top level)"),
        ...groupOptions(
          flat.filter((f) => f.depth < GROUP_DEPTH - 1),
          parent.value,
        ),
      );
      list.replaceChildren(
        ...(flat.length === 0
          ? [h("li", { class: "muted", "data-testid": "no-groups" }, "No groups yet.")]
          : flat.map((f) => {
              const name = h("input", {
                type: "text",
                value: f.group.name,
                maxlength: "128",
                "aria-label": `Name of ${f.path}`,
                "data-testid": `group-name-${f.group.name}`,
              });
              return h(
                "li",
                { class: `group-row depth-${f.depth}`, "data-testid": `group-row-${f.group.name}` },
                name,
                h("span", { class: "muted" }, ` ${f.group.pipeline_count} pipeline(s) `),
                h(
                  "button",
                  {
                    type: "button",
                    class: "btn small",
                    "data-testid": `group-rename-${f.group.name}`,
                    on: {
                      click: async () => {
                        try {
                          await ctx.api.post(`${base}/update`, { id: f.group.id, name: name.value.trim() });
                          error.hidden = true;
                          await reload();
                        } catch (err) {
                          showError(err);
                        }
                      },
                    },
                  },
                  "Rename",
                ),
                h(
                  "button",
                  {
                    type: "button",
                    class: "btn small ghost danger-text",
                    "data-testid": `group-delete-${f.group.name}`,
                    on: {
                      click: async () => {
                        const ok = await confirmDialog({
                          title: `Delete ${f.path}?`,
                          text: "The group and the groups below it are deleted; their pipelines stay, in no group.",
                          confirm: "Delete",
                          danger: true,
                        });
                        if (!ok) return;
                        try {
                          await ctx.api.del(`${base}/delete?${new URLSearchParams({ id: f.group.id })}`);
                          await reload();
                        } catch (err) {
                          showError(err);
                        }
                      },
                    },
                  },
                  "Delete",
                ),
              );
            })),
      );
    }
    render();
    const name = h("input", {
      type: "text",
      id: "new-group-name",
      maxlength: "128",
      autocomplete: "off",
      "data-testid": "new-group-name",
    });
    const form = h(
      "form",
      { class: "group-form", "data-testid": "new-group-form" },
      h("label", { for: "new-group-name" }, "New group"),
      name,
      h("label", { for: "new-group-parent" }, "in"),
      parent,
      h(
        "button",
        { type: "submit", class: "btn primary small", "data-testid": "new-group-create" },
        "Create group",
      ),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await ctx.api.post(`${base}/create`, {
          name: name.value.trim(),
          project_id: ctx.projectId,
          parent_id: parent.value,
        });
        name.value = "";
        error.hidden = true;
        await reload();
      } catch (err) {
        showError(err);
      }
    });
    return {
      title: "Manage groups",
      testid: "groups-dialog",
      body: [
        list,
        form,
        error,
        h(
          "div",
          { class: "modal-actions" },
          h(
            "button",
            { type: "button", class: "btn", "data-testid": "groups-close", on: { click: () => close(true) } },
            "Close",
          ),
        ),
      ],
    };
  });
}
