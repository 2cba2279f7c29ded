// "Step outputs" on a run's page, beside its artifacts: the name=value pairs steps wrote to
// $PIPEWRIGHT_OUTPUT (ShowStepOutputs without step ids: every step that left some). Hidden while
// there are none; read again when jobs end, as the artifacts are.

import { paths } from "./api.js";
import { type Ctx, errorText } from "./context.js";
import { h, setText } from "./dom.js";

interface StepOutputs {
  readonly step_outputs: readonly {
    readonly step_run_id: string;
    readonly output_result: readonly { readonly key: string; readonly value: string }[];
  }[];
}

export interface OutputsPanel {
  readonly el: HTMLElement;
  load(): Promise<void>;
  dispose(): void;
}

export function createOutputsPanel(
  ctx: Ctx,
  ids: { readonly pipelineId: string; readonly runId: string },
  /** "Job › Step" for a step run id of the run. */
  stepName: (stepRunId: string) => string,
): OutputsPanel {
  const life = new AbortController();
  const url = `${paths.runPath(ctx.projectId, ids.pipelineId, ids.runId)}/steps/outputs`;
  const tbody = h("tbody", {});
  const problem = h("p", {
    class: "form-error",
    role: "alert",
    hidden: true,
    "data-testid": "outputs-error",
  });
  const el = h(
    "section",
    {
      class: "card outputs-card",
      "aria-labelledby": "outputs-heading",
      "data-testid": "outputs-panel",
      hidden: true,
    },
    h("h2", { id: "outputs-heading" }, "Step outputs"),
    problem,
    h(
      "table",
      { class: "table compact outputs" },
      h("caption", { class: "visually-hidden" }, "What this run's steps wrote to $PIPEWRIGHT_OUTPUT"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Step"),
          h("th", { scope: "col" }, "Name"),
          h("th", { scope: "col" }, "Value"),
        ),
      ),
      tbody,
    ),
  );
  let seq = 0;
  let lastKey = "";

  return {
    el,
    async load() {
      const mine = ++seq;
      let answer: StepOutputs;
      try {
        answer = await ctx.api.get<StepOutputs>(url);
      } catch (err) {
        if (mine !== seq || life.signal.aborted) return;
        setText(problem, `Could not read the step outputs: ${errorText(err)}`);
        problem.hidden = false;
        el.hidden = false;
        return;
      }
      if (mine !== seq || life.signal.aborted) return;
      problem.hidden = true;
      const rows = answer.step_outputs.flatMap((s) =>
        s.output_result.map((o) => ({ step: s.step_run_id, key: o.key, value: o.value })),
      );
      el.hidden = rows.length === 0;
      const key = JSON.stringify(rows);
      if (key === lastKey) return;
      lastKey = key;
      tbody.replaceChildren(
        ...rows.map((r) =>
          h(
            "tr",
            { "data-testid": `output-${r.key}` },
            h("td", { class: "o-step" }, stepName(r.step)),
            h("th", { scope: "row", class: "o-key" }, h("code", {}, r.key)),
            h("td", { class: "o-value" }, h("code", { class: "output-value" }, r.value)),
          ),
        ),
      );
    },
    dispose() {
      life.abort();
    },
  };
}
