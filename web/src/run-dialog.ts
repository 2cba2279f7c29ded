// "Run…": start one pipeline with its runtime variables and a choice of stages and jobs.

import { parseDefinition } from "../../src/pipeline/definition.js";
import { RUN_QUEUED_CODE } from "../../src/wire/types.js";
import { paths } from "./api.js";
import { type Ctx, errorText } from "./context.js";
import { modal } from "./dialogs.js";
import { h } from "./dom.js";
import type { PipelineDetail, RunStarted } from "./types.js";

interface RunChoice {
  readonly runId: string;
}

/** Opens the dialog; answers the new run's id, or undefined when cancelled. */
export async function runDialog(ctx: Ctx, pipelineId: string): Promise<string | undefined> {
  let detail: PipelineDetail;
  try {
    detail = await ctx.api.get<PipelineDetail>(paths.pipeline(ctx.projectId, pipelineId));
  } catch (err) {
    ctx.notify(errorText(err), "error");
    return undefined;
  }
  let stages: { identifier: string; name: string; jobs: { identifier: string; name: string }[] }[] = [];
  try {
    stages = parseDefinition(detail.definition).stages.map((s) => ({
      identifier: s.identifier,
      name: s.name,
      jobs: s.jobs.map((j) => ({ identifier: j.identifier, name: j.name })),
    }));
  } catch {
    // A definition this UI cannot read still runs as a whole.
  }
  const runtime = detail.variables.filter((v) => v.is_runtime);

  const result = await modal<RunChoice>((close) => {
    const error = h("p", { class: "form-error", role: "alert", hidden: true, "data-testid": "run-error" });
    const description = h("input", { type: "text", id: "run-desc", maxlength: "1024", autocomplete: "off" });
    const varInputs = runtime.map((v) => {
      const id = `var-${v.name}`;
      const input =
        v.type === "enum" && v.limits.length > 0
          ? h(
              "select",
              { id, name: v.name, "data-testid": id },
              v.limits.map((l) => h("option", { value: l, selected: l === v.value }, l)),
            )
          : h("input", {
              type: v.is_secret ? "password" : "text",
              id,
              name: v.name,
              value: v.is_secret ? "" : v.value,
              placeholder: v.is_secret ? "(unchanged)" : "",
              autocomplete: "off",
              "data-testid": id,
            });
      const help = v.description ? h("small", { class: "muted" }, v.description) : null;
      return { v, input, row: h("div", { class: "field" }, h("label", { for: id }, v.name), input, help) };
    });

    const stageBoxes = stages.map((st) => {
      const box = h("input", {
        type: "checkbox",
        checked: true,
        "data-testid": `choose-stage-${st.identifier}`,
      });
      const jobBoxes = st.jobs.map((j) => ({
        j,
        box: h("input", { type: "checkbox", checked: true, "data-testid": `choose-job-${j.identifier}` }),
      }));
      box.addEventListener("change", () => {
        for (const jb of jobBoxes) jb.box.checked = box.checked;
        box.indeterminate = false;
      });
      for (const jb of jobBoxes) {
        jb.box.addEventListener("change", () => {
          const n = jobBoxes.filter((x) => x.box.checked).length;
          box.checked = n > 0;
          box.indeterminate = n > 0 && n < jobBoxes.length;
        });
      }
      return {
        st,
        box,
        jobBoxes,
        el: h(
          "li",
          {},
          h("label", { class: "check" }, box, h("strong", {}, st.name)),
          h(
            "ul",
            { class: "choose-jobs" },
            jobBoxes.map((jb) => h("li", {}, h("label", { class: "check" }, jb.box, jb.j.name))),
          ),
        ),
      };
    });

    const submit = h("button", { type: "submit", class: "btn primary", "data-testid": "run-submit" }, "Run");
    const form = h(
      "form",
      { class: "run-form" },
      error,
      runtime.length > 0
        ? h(
            "fieldset",
            {},
            h("legend", {}, "Runtime variables"),
            varInputs.map((x) => x.row),
          )
        : h("p", { class: "muted" }, "This pipeline has no runtime variables."),
      stages.length > 0
        ? h(
            "fieldset",
            {},
            h("legend", {}, "Stages and jobs to run"),
            h(
              "ul",
              { class: "choose" },
              stageBoxes.map((s) => s.el),
            ),
          )
        : null,
      h("div", { class: "field" }, h("label", { for: "run-desc" }, "Description (optional)"), description),
      h(
        "div",
        { class: "modal-actions" },
        h("button", { type: "button", class: "btn", on: { click: () => close(undefined) } }, "Cancel"),
        submit,
      ),
    );

    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const body: {
        variables?: { name: string; value: string }[];
        choose_stages?: string[];
        choose_jobs?: string[];
        description?: string;
      } = {};
      const vars = varInputs
        .filter((x) => !(x.v.is_secret && x.input.value === ""))
        .map((x) => ({ name: x.v.name, value: x.input.value }));
      if (vars.length > 0) body.variables = vars;
      const whole = stageBoxes.every((s) => s.jobBoxes.every((j) => j.box.checked === s.box.checked));
      const chosenJobs = stageBoxes.flatMap((s) =>
        s.jobBoxes.filter((j) => j.box.checked).map((j) => j.j.identifier),
      );
      if (chosenJobs.length === 0 && stageBoxes.length > 0) {
        error.hidden = false;
        error.textContent = "Choose at least one job to run.";
        return;
      }
      const allJobs = stageBoxes.every((s) => s.jobBoxes.every((j) => j.box.checked));
      // choose_stages wins over choose_jobs on the server, so a partial stage is sent as jobs only.
      if (!allJobs) {
        if (whole) body.choose_stages = stageBoxes.filter((s) => s.box.checked).map((s) => s.st.identifier);
        else body.choose_jobs = chosenJobs;
      }
      if (description.value.trim() !== "") body.description = description.value.trim();
      submit.disabled = true;
      ctx.api
        .post<RunStarted>(paths.run(ctx.projectId, pipelineId), body)
        .then((res) => {
          // Over a QUEUE concurrency limit the run exists and waits: CodeArts's code says so.
          if (res.error_code === RUN_QUEUED_CODE)
            ctx.notify("The run is queued behind the pipeline's concurrency limit.", "info");
          close({ runId: res.pipeline_run_id });
        })
        .catch((err: unknown) => {
          submit.disabled = false;
          error.hidden = false;
          error.textContent = errorText(err);
        });
    });
    return { title: `Run ${detail.name}`, testid: "run-dialog", body: [form] };
  });
  return result?.runId;
}
