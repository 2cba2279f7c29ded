// One run: stages → jobs → steps as a graph with live status (run events over SSE), durations,
// the selected step's live log, and stop / retry / pass / refuse.

import { ApiError, paths } from "../api.js";
import { createArtifactsPanel } from "../artifacts-panel.js";
import { errorText, routes, sleep, type View } from "../context.js";
import { fill, h, setText } from "../dom.js";
import { absoluteTime, durationText, formatDuration, pill, updatePill } from "../format.js";
import { createLogPane } from "../log-pane.js";
import { buildParamsOfSources, originSentence } from "../run-origin.js";
import type { JobRun, RunDetail, StageRun, StepRun } from "../types.js";
import { STEP_DONE, TERMINAL } from "../types.js";

const CHECKPOINT = "official_devcloud_checkpoint";
const STOPPABLE = new Set(["RUNNING", "QUEUED", "PAUSED", "SUSPEND"]);

interface Timed {
  readonly dur: HTMLElement;
  start: number;
  end: number;
}

interface StepRefs extends Timed {
  readonly row: HTMLElement;
  readonly button: HTMLButtonElement;
  readonly pill: HTMLElement;
  readonly review: HTMLElement | undefined;
  readonly message: HTMLElement;
  /** A sub-pipeline step's link to its child run. */
  readonly child: HTMLAnchorElement;
  step: StepRun;
  job: JobRun;
}

export const runView: View = (ctx, main, params) => {
  const projectId = ctx.projectId;
  const pipelineId = params.pipeline!;
  const runId = params.run!;
  const runPath = paths.runPath(projectId, pipelineId, runId);
  const life = new AbortController();

  const heading = h("h1", { tabindex: "-1" }, "Run");
  const runPill = pill("INIT", "run-status");
  const meta = h("dl", { class: "meta" });
  const stopBtn = h(
    "button",
    { type: "button", class: "btn", "data-testid": "stop-run", hidden: true },
    "Stop",
  );
  const retryBtn = h(
    "button",
    { type: "button", class: "btn", "data-testid": "retry-run", hidden: true },
    "Retry",
  );
  const historyLink = h("a", { class: "btn", href: routes.pipeline(projectId, pipelineId) }, "History");
  const message = h("p", { class: "run-message", role: "status", "data-testid": "run-message" });
  // A run a sub-pipeline step started links back to that step's run.
  const parentLink = h("a", { class: "parent-run", "data-testid": "parent-run", hidden: true });
  const graph = h("div", { class: "graph", "data-testid": "graph" });
  const crumbs = h(
    "nav",
    { class: "crumbs", "aria-label": "Breadcrumb" },
    h("a", { href: routes.pipelines(projectId) }, "Pipelines"),
    h("span", { "aria-hidden": "true" }, " / "),
    h("a", { href: routes.pipeline(projectId, pipelineId) }, "Pipeline"),
  );
  const logs = createLogPane(ctx.api);
  const artifacts = createArtifactsPanel(ctx, { pipelineId, runId });
  const metaTexts = {
    // What started the run, and who: "Push to main · a1b2c3d “fix login” by alice".
    trigger: h("dd", { class: "origin", "data-testid": "run-trigger" }, "—"),
    started: h("dd", {}, "—"),
    duration: h("dd", { class: "num", "data-testid": "run-duration" }, "—"),
  };
  meta.append(
    h("div", { class: "meta-wide" }, h("dt", {}, "Trigger"), metaTexts.trigger),
    h("div", {}, h("dt", {}, "Started"), metaTexts.started),
    h("div", {}, h("dt", {}, "Duration"), metaTexts.duration),
  );
  main.replaceChildren(
    h(
      "section",
      { class: "page run-view" },
      h(
        "header",
        { class: "page-head" },
        h("div", {}, crumbs, h("div", { class: "title-row" }, heading, runPill)),
        h("div", { class: "actions" }, stopBtn, retryBtn, historyLink),
      ),
      meta,
      parentLink,
      message,
      graph,
      logs.el,
      // Below the log, so that its appearing when a job ends does not move what is being read.
      artifacts.el,
    ),
  );

  let run: RunDetail | undefined;
  let shape = "";
  const steps = new Map<string, StepRefs>();
  const timed: Timed[] = [];
  const stagePills = new Map<string, HTMLElement>();
  const jobPills = new Map<string, HTMLElement>();
  const jobMessages = new Map<string, HTMLElement>();
  let selected: string | undefined;
  /** Which jobs had ended when the artifacts were last read: a job keeps its files as it ends. */
  let endedJobs = "";
  let userPicked = false;
  let watching = false;

  function tick(): void {
    const now = ctx.now();
    for (const t of timed) setText(t.dur, durationText(t.start, t.end, now));
    if (run) {
      // Wall time; the part spent waiting for manual reviews is named beside it.
      const waited = run.pause_time >= 1000 ? ` (${formatDuration(run.pause_time)} waiting)` : "";
      setText(metaTexts.duration, `${durationText(run.start_time, run.end_time, now)}${waited}`);
    }
  }
  const ticker = setInterval(tick, 1000);

  function select(id: string, byUser: boolean): void {
    const refs = steps.get(id);
    if (!refs || !run) return;
    if (byUser) userPicked = true;
    if (selected && selected !== id) steps.get(selected)?.button.setAttribute("aria-pressed", "false");
    selected = id;
    refs.button.setAttribute("aria-pressed", "true");
    logs.open({
      stepPath: paths.stepPath(projectId, pipelineId, runId, refs.job.id, refs.step.id),
      stepId: refs.step.id,
      title: `${refs.job.name} › ${refs.step.name}`,
      status: refs.step.status,
      task: refs.step.task,
      fileName: `${run.name}-${run.run_number}-${refs.job.identifier}-${refs.step.identifier}.log`,
    });
  }

  /** The step worth looking at: the one running or waiting, else the first failure, else the last that ran. */
  function interestingStep(r: RunDetail): string | undefined {
    const all = r.stages.flatMap((s) => s.jobs.flatMap((j) => j.steps));
    return (
      all.find((s) => s.status === "RUNNING" || s.status === "PAUSED")?.id ??
      all.find((s) => s.status === "FAILED")?.id ??
      all.filter((s) => s.start_time > 0).at(-1)?.id ??
      all[0]?.id
    );
  }

  async function act(what: string, fn: () => Promise<unknown>, after?: () => void): Promise<void> {
    try {
      await fn();
      ctx.notify(what, "success");
      after?.();
    } catch (err) {
      ctx.notify(errorText(err), "error");
    }
  }

  function review(step: StepRun, job: JobRun, decision: "pass" | "refuse"): Promise<void> {
    return act(decision === "pass" ? `Passed “${step.name}”` : `Refused “${step.name}”`, () =>
      ctx.api.post(`${paths.stepPath(projectId, pipelineId, runId, job.id, step.id)}/${decision}`),
    );
  }

  stopBtn.addEventListener("click", () => {
    void act("Stop requested", () => ctx.api.post(`${runPath}/stop`));
  });
  retryBtn.addEventListener("click", () => {
    void act(
      "Retrying the failed jobs",
      () => ctx.api.put(`${runPath}/retry`),
      () => {
        logs.reload();
        void watch();
      },
    );
  });

  /** "Started by release-train #1 › Deploy service", linked to the parent run. */
  async function showParent(p: NonNullable<RunDetail["parent_run"]>): Promise<void> {
    parentLink.href = routes.run(projectId, p.pipeline_id, p.pipeline_run_id);
    setText(parentLink, "Started by a parent run");
    parentLink.hidden = false;
    try {
      const parent = await ctx.api.get<RunDetail>(paths.detail(projectId, p.pipeline_id, p.pipeline_run_id));
      const step = parent.stages
        .flatMap((s) => s.jobs.flatMap((j) => j.steps))
        .find((s) => s.id === p.step_run_id);
      setText(parentLink, `Started by ${parent.name} #${parent.run_number}${step ? ` › ${step.name}` : ""}`);
    } catch {
      // Hidden from this user or gone: the link alone says where the run came from.
    }
  }

  function stepRow(stage: StageRun, job: JobRun, step: StepRun): StepRefs {
    const p = pill(step.status);
    p.classList.add("small");
    const dur = h("span", { class: "dur num" }, "");
    const button = h(
      "button",
      {
        type: "button",
        class: "step-btn",
        "aria-pressed": "false",
        "data-testid": `step-${step.identifier}`,
        on: { click: () => select(step.id, true) },
      },
      h("span", { class: "step-name", title: step.name }, step.name),
      p,
      dur,
    );
    let reviewEl: HTMLElement | undefined;
    if (step.task === CHECKPOINT) {
      reviewEl = h(
        "div",
        { class: "review", hidden: true },
        h(
          "button",
          {
            type: "button",
            class: "btn small primary",
            "data-testid": `pass-${step.identifier}`,
            on: { click: () => void review(refs.step, refs.job, "pass") },
          },
          "Pass",
        ),
        h(
          "button",
          {
            type: "button",
            class: "btn small danger",
            "data-testid": `refuse-${step.identifier}`,
            on: { click: () => void review(refs.step, refs.job, "refuse") },
          },
          "Refuse",
        ),
      );
    }
    const msg = h("p", { class: "step-message", hidden: true });
    const child = h("a", { class: "step-message", "data-testid": `child-${step.identifier}`, hidden: true });
    const row = h("li", { class: "step" }, button, reviewEl, msg, child);
    row.dataset.stage = stage.identifier;
    const refs: StepRefs = {
      row,
      button,
      pill: p,
      dur,
      review: reviewEl,
      message: msg,
      child,
      step,
      job,
      start: step.start_time,
      end: step.end_time,
    };
    return refs;
  }

  function build(r: RunDetail): void {
    steps.clear();
    timed.length = 0;
    stagePills.clear();
    jobPills.clear();
    jobMessages.clear();
    const columns = r.stages.map((stage, i) => {
      const sp = pill(stage.status);
      stagePills.set(stage.id, sp);
      const sdur = h("span", { class: "dur num" });
      timed.push({ dur: sdur, start: stage.start_time, end: stage.end_time });
      const jobs = stage.jobs.map((job) => {
        const jp = pill(job.status);
        jobPills.set(job.id, jp);
        const jdur = h("span", { class: "dur num" });
        timed.push({ dur: jdur, start: job.start_time, end: job.end_time });
        const jmsg = h("p", { class: "job-message", hidden: true });
        jobMessages.set(job.id, jmsg);
        const rows = job.steps.map((step) => {
          const refs = stepRow(stage, job, step);
          steps.set(step.id, refs);
          timed.push(refs);
          return refs.row;
        });
        return h(
          "li",
          { class: "job card", "data-testid": `job-${job.identifier}` },
          h("div", { class: "job-head" }, h("h3", {}, job.name), jp, jdur),
          job.depends_on.length > 0
            ? h("p", { class: "muted small-text" }, `after ${job.depends_on.join(", ")}`)
            : null,
          jmsg,
          h("ol", { class: "steps", "aria-label": `Steps of ${job.name}` }, rows),
        );
      });
      return h(
        "li",
        { class: "stage", "data-testid": `stage-${stage.identifier}` },
        h(
          "div",
          { class: "stage-head" },
          h("h2", {}, h("span", { class: "stage-no" }, `${i + 1}`), stage.name),
          sp,
          sdur,
        ),
        h("ol", { class: "jobs", "aria-label": `Jobs of ${stage.name}` }, jobs),
      );
    });
    graph.replaceChildren(h("ol", { class: "stages", "aria-label": "Stages" }, columns));
  }

  function update(r: RunDetail): void {
    ctx.serverTime(r.current_system_time);
    const first = run === undefined;
    run = r;
    const newShape = r.stages
      .map((s) => `${s.id}:${s.jobs.map((j) => `${j.id}:${j.steps.map((x) => x.id).join(",")}`).join(";")}`)
      .join("|");
    if (newShape !== shape) {
      shape = newShape;
      build(r);
      selected = undefined;
    }
    if (first) {
      // A run's trigger and sources do not change while it runs.
      fill(
        metaTexts.trigger,
        originSentence(r.trigger_type, r.executor_name, buildParamsOfSources(r.sources)),
      );
      setText(heading, `${r.name} #${r.run_number}`);
      document.title = `${r.name} #${r.run_number} · Pipewright`;
      const crumb = crumbs.querySelectorAll("a")[1];
      if (crumb) setText(crumb, r.name);
      if (r.parent_run) void showParent(r.parent_run);
    }
    updatePill(runPill, r.status);
    setText(metaTexts.started, r.start_time ? absoluteTime(r.start_time) : "—");
    stopBtn.hidden = !STOPPABLE.has(r.status);
    retryBtn.hidden =
      !(r.status === "FAILED" || r.status === "CANCELED") || r.start_status === "START_FAILED";
    let msg = r.message ?? "";
    if (r.status === "QUEUED" && r.queue_position)
      msg = `Queued: position ${r.queue_position} in this pipeline's queue.`;
    setText(message, msg);
    message.hidden = msg === "";

    let ti = 0;
    for (const stage of r.stages) {
      updatePill(stagePills.get(stage.id)!, stage.status);
      Object.assign(timed[ti++]!, { start: stage.start_time, end: stage.end_time });
      for (const job of stage.jobs) {
        updatePill(jobPills.get(job.id)!, job.status);
        Object.assign(timed[ti++]!, { start: job.start_time, end: job.end_time });
        const jm = jobMessages.get(job.id)!;
        const jobMsg = job.status === "FAILED" || job.status === "CANCELED" ? (job.message ?? "") : "";
        setText(jm, jobMsg);
        jm.hidden = jobMsg === "";
        for (const step of job.steps) {
          const refs = steps.get(step.id)!;
          ti++;
          refs.step = step;
          refs.job = job;
          refs.start = step.start_time;
          refs.end = step.end_time;
          updatePill(refs.pill, step.status);
          refs.row.dataset.status = step.status;
          if (refs.review) {
            const waiting = step.status === "PAUSED";
            refs.review.hidden = !waiting;
          }
          let sm = step.message ?? "";
          if (step.status === "PAUSED" && step.review_deadline) {
            sm = `Waiting for a decision until ${absoluteTime(step.review_deadline)}.`;
          }
          setText(refs.message, sm);
          refs.message.hidden = sm === "";
          const sub = step.sub_pipeline_run;
          if (sub) {
            refs.child.href = routes.run(projectId, sub.pipeline_id, sub.pipeline_run_id);
            setText(refs.child, `→ ${sub.pipeline_name} #${sub.run_number} ${sub.status}`);
          }
          refs.child.hidden = !sub;
          if (step.id === selected) logs.status(step.status);
        }
      }
    }
    tick();
    const ended = r.stages
      .flatMap((st) => st.jobs)
      .filter((j) => STEP_DONE.has(j.status))
      .map((j) => `${j.id}:${j.end_time}`)
      .join(",")
      .concat(` ${r.status}`);
    if (ended !== endedJobs || first) {
      endedJobs = ended;
      void artifacts.load();
    }
    if (!userPicked) {
      const id = interestingStep(r);
      if (id && id !== selected) select(id, false);
    } else if (!selected) {
      const id = interestingStep(r);
      if (id) select(id, false);
    }
  }

  async function watch(): Promise<void> {
    if (watching) return;
    watching = true;
    try {
      while (!life.signal.aborted) {
        try {
          const ended = await ctx.api.stream(`${runPath}/events`, life.signal, (e) => {
            if (e.event === "run") update(JSON.parse(e.data) as RunDetail);
          });
          if (ended) return;
        } catch (err) {
          if (life.signal.aborted) return;
          if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
            setText(message, errorText(err));
            message.hidden = false;
            return;
          }
        }
        await sleep(1500, life.signal);
      }
    } finally {
      watching = false;
    }
  }

  void (async () => {
    try {
      update(await ctx.api.get<RunDetail>(paths.detail(projectId, pipelineId, runId)));
    } catch (err) {
      setText(message, errorText(err));
      message.hidden = false;
      return;
    }
    if (run && !TERMINAL.has(run.status)) void watch();
  })();

  return () => {
    life.abort();
    clearInterval(ticker);
    logs.dispose();
    artifacts.dispose();
  };
};
