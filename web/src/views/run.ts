// One run: stages → jobs → steps as a graph with live status (run events over SSE), durations,
// the selected step's live log, and stop / retry / pass / refuse.

import { ApiError, paths } from "../api.js";
import { createArtifactsPanel } from "../artifacts-panel.js";
import { errorText, isNotFound, notFoundPage, routes, sleep, type View } from "../context.js";
import { fill, h, setText, s as svg } from "../dom.js";
import { absoluteTime, durationText, formatDuration, pill, statusLabel, updatePill } from "../format.js";
import { createLogPane, type EarlierAttempt, type LogPlace } from "../log-pane.js";
import { createOutputsPanel } from "../outputs-panel.js";
import { rightsOf } from "../rights.js";
import { columns, drawEdges, type Edge, levels, stageDeps } from "../run-graph.js";
import { buildParamsOfSources, originSentence } from "../run-origin.js";
import { showRunStatus } from "../run-status-icon.js";
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
  const edgesSvg = svg("svg", { class: "edges", "aria-hidden": "true", "data-testid": "graph-edges" });
  let edges: Edge[] = [];
  const redraw = (): void => {
    if (edges.length > 0) drawEdges(graph, edgesSvg, edges);
  };
  const resized = new ResizeObserver(redraw);
  resized.observe(graph);
  /** The run's description and variables: what it was started with. */
  const details = h("section", { class: "card run-details", hidden: true, "data-testid": "run-details" });
  const crumbs = h(
    "nav",
    { class: "crumbs", "aria-label": "Breadcrumb" },
    h("a", { href: routes.pipelines(projectId) }, "Pipelines"),
    h("span", { "aria-hidden": "true" }, " / "),
    h("a", { href: routes.pipeline(projectId, pipelineId) }, "Pipeline"),
  );
  // A link to a line: `…/runs/{run}?step={step run id}&line={n}[&attempt={n}]`.
  let wanted = placeOf(location.hash);
  const runHash = routes.run(projectId, pipelineId, runId);
  const logs = createLogPane(ctx.api, {
    // The address follows without a navigation (replaceState fires no hashchange).
    onPlace: (stepId, place) => history.replaceState(history.state, "", placeHash(runHash, stepId, place)),
  });
  const artifacts = createArtifactsPanel(ctx, { pipelineId, runId });
  const outputs = createOutputsPanel(ctx, { pipelineId, runId }, (id) => {
    const refs = steps.get(id);
    return refs ? `${refs.job.name} › ${refs.step.name}` : id;
  });
  const metaTexts = {
    // What started the run, and who: "Push to main · a1b2c3d “fix login” by alice".
    trigger: h("dd", { class: "origin", "data-testid": "run-trigger" }, "—"),
    started: h("dd", {}, "—"),
    duration: h("dd", { class: "num", "data-testid": "run-duration" }, "—"),
    attempts: h("dd", { "data-testid": "run-attempts" }, "—"),
  };
  const attemptsBox = h("div", { hidden: true }, h("dt", {}, "Attempts"), metaTexts.attempts);
  meta.append(
    h("div", { class: "meta-wide" }, h("dt", {}, "Trigger"), metaTexts.trigger),
    h("div", {}, h("dt", {}, "Started"), metaTexts.started),
    h("div", {}, h("dt", {}, "Duration"), metaTexts.duration),
    attemptsBox,
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
      details,
      graph,
      logs.el,
      // Below the log, so that its appearing when a job ends does not move what is being read.
      h("div", { class: "run-files" }, artifacts.el, outputs.el),
    ),
  );

  let run: RunDetail | undefined;
  let shape = "";
  const steps = new Map<string, StepRefs>();
  const timed: Timed[] = [];
  const stagePills = new Map<string, HTMLElement>();
  const jobPills = new Map<string, HTMLElement>();
  const jobMessages = new Map<string, HTMLElement>();
  const jobAttempts = new Map<string, HTMLElement>();
  let selected: string | undefined;
  /** Which jobs had ended when the artifacts were last read: a job keeps its files as it ends. */
  let endedJobs = "";
  let userPicked = false;
  let watching = false;
  /** The server's clock when `run` was read: a review still waiting adds to pause_time since. */
  let readAt = 0;
  /** Stop, Retry, Pass and Refuse need `execute` on the pipeline (check-rights). */
  let mayExecute = true;
  const page = main.firstElementChild as HTMLElement;

  function tick(): void {
    // The server is not answering: what is shown is what was last known, frozen, and said so.
    const stale = !ctx.reachable() && run !== undefined && !TERMINAL.has(run.status);
    page.classList.toggle("stale", stale);
    runPill.toggleAttribute("data-stale", stale);
    if (stale) {
      runPill.title = `${statusLabel(run!.status)} when the server last answered`;
      return;
    }
    const now = ctx.now();
    for (const t of timed) setText(t.dur, durationText(t.start, t.end, now));
    if (run) {
      // Wall time; the part spent waiting for manual reviews is named beside it, and grows while
      // a review is still waiting.
      const waiting = run.status === "PAUSED" ? Math.max(0, now - readAt) : 0;
      const pause = run.pause_time + waiting;
      const waited = pause >= 1000 ? ` (${formatDuration(pause)} waiting)` : "";
      setText(metaTexts.duration, `${durationText(run.start_time, run.end_time, now)}${waited}`);
    }
  }
  const ticker = setInterval(tick, 1000);

  function select(id: string, byUser: boolean, place?: LogPlace): void {
    const refs = steps.get(id);
    if (!refs || !run) return;
    if (byUser) {
      userPicked = true;
      // A link to a line of another step no longer says where the reader is.
      if (location.hash !== runHash && id !== selected) history.replaceState(history.state, "", runHash);
    }
    if (selected && selected !== id) steps.get(selected)?.button.setAttribute("aria-pressed", "false");
    selected = id;
    refs.button.setAttribute("aria-pressed", "true");
    logs.open(
      {
        stepPath: paths.stepPath(projectId, pipelineId, runId, refs.job.id, refs.step.id),
        stepId: refs.step.id,
        title: `${refs.job.name} › ${refs.step.name}`,
        status: refs.step.status,
        task: refs.step.task,
        fileName: `${run.name}-${run.run_number}-${refs.job.identifier}-${refs.step.identifier}.log`,
        attempt: refs.job.attempt,
        earlier: earlierOf(refs.job, refs.step.id),
      },
      place,
    );
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

  function jobCard(stage: StageRun, job: JobRun): HTMLElement {
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
    const names = new Map(stage.jobs.map((j) => [j.identifier, j.name]));
    // Filled by update(): a retry makes a new attempt of the same job, without a new graph.
    const attemptEl = h("p", {
      class: "muted small-text attempt",
      hidden: true,
      "data-testid": `attempt-${job.identifier}`,
    });
    jobAttempts.set(job.id, attemptEl);
    return h(
      "li",
      { class: "job card", "data-testid": `job-${job.identifier}` },
      h("div", { class: "job-head" }, h("h3", {}, job.name), jp, jdur),
      attemptEl,
      job.depends_on.length > 0
        ? h(
            "p",
            { class: "muted small-text" },
            `after ${job.depends_on.map((d) => names.get(d) ?? d).join(", ")}`,
          )
        : null,
      jmsg,
      h("ol", { class: "steps", "aria-label": `Steps of ${job.name}` }, rows),
    );
  }

  /**
   * Stages in columns by dependency depth, jobs in columns inside their stage likewise; the
   * lines between them are drawn over it (drawEdges) and follow the status of where they start.
   */
  function build(r: RunDetail): void {
    steps.clear();
    timed.length = 0;
    stagePills.clear();
    jobPills.clear();
    jobMessages.clear();
    jobAttempts.clear();
    const stageNodes = stageDeps(r.stages);
    const stageLevel = levels(stageNodes);
    const stageEls = new Map<string, { head: HTMLElement; jobs: Map<string, HTMLElement> }>();
    const stageCard = (stage: StageRun): HTMLElement => {
      const i = r.stages.indexOf(stage);
      const sp = pill(stage.status);
      stagePills.set(stage.id, sp);
      const sdur = h("span", { class: "dur num" });
      timed.push({ dur: sdur, start: stage.start_time, end: stage.end_time });
      const jobLevel = levels(stage.jobs.map((j) => ({ id: j.identifier, deps: j.depends_on })));
      const jobEls = new Map<string, HTMLElement>();
      // Built in definition order (the tick's timers follow it), placed by column.
      for (const job of stage.jobs) jobEls.set(job.identifier, jobCard(stage, job));
      const jobCols = columns(stage.jobs, (j) => j.identifier, jobLevel);
      const head = h(
        "div",
        { class: "stage-head" },
        h("h2", {}, h("span", { class: "stage-no" }, `${i + 1}`), stage.name),
        sp,
        sdur,
      );
      stageEls.set(stage.identifier, { head, jobs: jobEls });
      return h(
        "li",
        { class: "stage", "data-testid": `stage-${stage.identifier}` },
        head,
        h(
          "div",
          { class: "job-columns" },
          jobCols.map((col) =>
            h(
              "ol",
              { class: "jobs", "aria-label": `Jobs of ${stage.name}` },
              col.map((j) => jobEls.get(j.identifier)!),
            ),
          ),
        ),
      );
    };
    // Timers and pills are filled in definition order; the DOM order follows the columns.
    const cards = new Map(r.stages.map((st) => [st.identifier, stageCard(st)]));
    const cols = columns(r.stages, (st) => st.identifier, stageLevel);
    graph.replaceChildren(
      edgesSvg,
      h(
        "ol",
        { class: "stage-columns", "aria-label": "Stages" },
        cols.map((col) =>
          h(
            "li",
            { class: "stage-column" },
            h(
              "ol",
              { class: "stages" },
              col.map((st) => cards.get(st.identifier)!),
            ),
          ),
        ),
      ),
    );
    const status = (id: string) => r.stages.find((st) => st.identifier === id)?.status ?? "INIT";
    edges = [];
    for (const n of stageNodes) {
      for (const d of n.deps) {
        const from = stageEls.get(d);
        const to = stageEls.get(n.id);
        if (from && to) edges.push({ from: from.head, to: to.head, key: `${d}-${n.id}`, status: status(d) });
      }
    }
    for (const stage of r.stages) {
      const els = stageEls.get(stage.identifier)!;
      for (const job of stage.jobs) {
        for (const d of job.depends_on) {
          const from = els.jobs.get(d);
          const to = els.jobs.get(job.identifier);
          const st = stage.jobs.find((j) => j.identifier === d)?.status ?? "INIT";
          if (from && to) edges.push({ from, to, key: `${d}-${job.identifier}`, status: st });
        }
      }
    }
    requestAnimationFrame(redraw);
  }

  /** The lines take the colour of where they start: what has ended, and how. */
  function recolourEdges(r: RunDetail): void {
    const status = new Map<string, string>();
    for (const st of r.stages) {
      status.set(st.identifier, st.status);
      for (const j of st.jobs) status.set(j.identifier, j.status);
    }
    edges = edges.map((e) => ({ ...e, status: status.get(e.key.split("-")[0]!) ?? e.status }));
    redraw();
  }

  function showDetails(r: RunDetail): void {
    const vars = r.variables ?? [];
    const desc = r.description ?? "";
    details.hidden = vars.length === 0 && desc === "";
    fill(
      details,
      desc ? h("p", { class: "run-description", "data-testid": "run-description" }, desc) : null,
      vars.length > 0
        ? h(
            "details",
            { open: vars.length <= 6, "data-testid": "run-variables" },
            h("summary", {}, `Variables (${vars.length})`),
            h(
              "dl",
              { class: "vars" },
              vars.map((v) =>
                h(
                  "div",
                  { "data-testid": `run-var-${v.name}` },
                  h("dt", {}, h("code", {}, v.name)),
                  h("dd", {}, v.is_secret ? h("span", { class: "muted" }, "secret") : h("code", {}, v.value)),
                ),
              ),
            ),
          )
        : null,
    );
  }

  function update(r: RunDetail): void {
    ctx.serverTime(r.current_system_time);
    const first = run === undefined;
    run = r;
    readAt = r.current_system_time || ctx.now();
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
      const crumb = crumbs.querySelectorAll("a")[1];
      if (crumb) setText(crumb, r.name);
      if (r.parent_run) void showParent(r.parent_run);
      showDetails(r);
      void rightsOf(ctx, [pipelineId]).then((m) => {
        const may = m.get(pipelineId);
        if (may) mayExecute = may.execute;
        update(run!);
      });
    }
    showRunStatus(`${r.name} #${r.run_number}`, r.status);
    updatePill(runPill, r.status);
    const attempts = r.stages.flatMap((st) => st.jobs).filter((j) => j.attempt > 1);
    attemptsBox.hidden = attempts.length === 0;
    setText(metaTexts.attempts, attempts.map((j) => `${j.name}: attempt ${j.attempt}`).join(", ") || "—");
    setText(metaTexts.started, r.start_time ? absoluteTime(r.start_time) : "—");
    stopBtn.hidden = !mayExecute || !STOPPABLE.has(r.status);
    retryBtn.hidden =
      !mayExecute || !(r.status === "FAILED" || r.status === "CANCELED") || r.start_status === "START_FAILED";
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
        const ja = jobAttempts.get(job.id);
        if (ja) {
          ja.hidden = job.attempt <= 1;
          setText(
            ja,
            job.attempt <= 1
              ? ""
              : `Attempt ${job.attempt} · earlier: ${job.previous_attempts
                  .map((a) => `#${a.attempt} ${statusLabel(a.status).toLowerCase()}`)
                  .join(", ")}`,
          );
        }
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
            const waiting = step.status === "PAUSED" && mayExecute;
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
          if (step.id === selected) {
            logs.status(step.status);
            logs.attempts(job.attempt, earlierOf(job, step.id));
          }
        }
      }
    }
    recolourEdges(r);
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
      void outputs.load();
    }
    if (wanted && steps.has(wanted.step)) {
      // Opened from a link: that step, at that line.
      const { step, ...place } = wanted;
      wanted = undefined;
      userPicked = true;
      select(step, false, place);
    } else if (!userPicked) {
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
      if (isNotFound(err)) {
        notFoundPage(main, {
          title: "Run not found",
          text: "This run does not exist, or this token may not see it. It may have been deleted with its pipeline, or removed by the retention policy.",
          back: { href: routes.pipelines(projectId), label: "Back to the pipelines" },
        });
        return;
      }
      setText(message, errorText(err));
      message.hidden = false;
      return;
    }
    if (run && !TERMINAL.has(run.status)) void watch();
  })();

  return () => {
    life.abort();
    clearInterval(ticker);
    resized.disconnect();
    showRunStatus(undefined);
    logs.dispose();
    artifacts.dispose();
    outputs.dispose();
  };
};

/** The earlier executions of a step whose job was retried, as previous_attempts keeps them. */
function earlierOf(job: JobRun, stepId: string): EarlierAttempt[] {
  return job.previous_attempts.flatMap((a) => {
    const kept = a.steps.find((s) => s.step_id === stepId);
    return kept ? [{ attempt: a.attempt, status: kept.status }] : [];
  });
}

/** The step, line and attempt a run page's address names (`?step=…&line=…&attempt=…`). */
function placeOf(hash: string): (LogPlace & { step: string }) | undefined {
  const q = hash.indexOf("?");
  if (q < 0) return undefined;
  const params = new URLSearchParams(hash.slice(q + 1));
  const step = params.get("step");
  if (!step || !/^\w+$/.test(step)) return undefined;
  const num = (name: string): number | undefined => {
    const v = params.get(name);
    return v && /^[1-9]\d{0,8}$/.test(v) ? Number(v) : undefined;
  };
  const line = num("line");
  const attempt = num("attempt");
  return { step, ...(line ? { line } : {}), ...(attempt ? { attempt } : {}) };
}

function placeHash(runHash: string, stepId: string, place: LogPlace): string {
  const params = new URLSearchParams({ step: stepId });
  if (place.attempt) params.set("attempt", String(place.attempt));
  if (place.line) params.set("line", String(place.line));
  return `${runHash}?${params}`;
}
