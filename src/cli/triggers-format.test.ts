import { describe, expect, it } from "vitest";
import type { WebhookDelivery } from "./api.js";
import { createStyle, formatTime, shellWord } from "./format.js";
import {
  deliveryOutcome,
  deliveryRow,
  describeCodeEvent,
  describeDays,
  describeSchedule,
  enabledEvents,
  formatSpan,
  scheduleLine,
  shortRef,
  triggerLines,
} from "./triggers-format.js";

const plain = createStyle(false);
const MIN = 60_000;

describe("describeDays", () => {
  it("counts 1 = Sunday … 7 = Saturday and reads the week from Monday", () => {
    expect(describeDays([2, 3, 4, 5, 6])).toBe("Mon–Fri");
    expect(describeDays([1, 7])).toBe("Sat, Sun");
    expect(describeDays([2, 4, 6])).toBe("Mon, Wed, Fri");
    expect(describeDays([6, 7, 1])).toBe("Fri–Sun");
    expect(describeDays([1, 2, 3, 4, 5, 6, 7])).toBe("daily");
    expect(describeDays([3])).toBe("Tue");
    expect(describeDays([4, 3, 3, 9])).toBe("Tue, Wed");
  });
});

describe("describeSchedule", () => {
  it("says when each kind fires, in its zone", () => {
    expect(
      describeSchedule({
        type: "fixed",
        days_of_week: [2, 3, 4, 5, 6],
        start_time: "02:00",
        time_zone: "China Standard Time",
      }),
    ).toBe("Mon–Fri 02:00 (China Standard Time)");
    expect(
      describeSchedule({
        type: "periodic",
        days_of_week: [2, 3, 4, 5, 6],
        start_time: "09:00",
        end_time: "18:00",
        interval_time: "3600",
        interval_unit: "s",
        time_zone: "GMT Standard Time",
      }),
    ).toBe("Mon–Fri every 3600 s 09:00–18:00 (GMT Standard Time)");
    expect(describeSchedule({ type: "cron", cron: "*/15 * * * *", time_zone: "Asia/Singapore" })).toBe(
      "cron */15 * * * * (Asia/Singapore)",
    );
  });

  it("reads a missing type and zone as the server does (cron, periodic, else fixed; UTC)", () => {
    expect(describeSchedule({ cron: "0 3 * * *" })).toBe("cron 0 3 * * * (UTC)");
    expect(
      describeSchedule({
        days_of_week: [1, 2, 3, 4, 5, 6, 7],
        start_time: "08:00",
        end_time: "10:00",
        interval_time: 30,
        interval_unit: "min",
      }),
    ).toBe("daily every 30 min 08:00–10:00 (UTC)");
    expect(describeSchedule({ days_of_week: [1], start_time: "23:59" })).toBe("Sun 23:59 (UTC)");
  });
});

describe("scheduleLine", () => {
  const now = Date.UTC(2026, 11, 1, 0, 0);

  it("shows the next tick in local time and how far off it is, the last fired and the missed", () => {
    const next = now + 3 * 60 * MIN + 5 * MIN;
    const line = scheduleLine(
      {
        type: "cron",
        name: "hourly",
        cron: "5 3 * * *",
        next_time: next,
        last_fire_time: now - MIN,
        missed_count: 2,
        last_missed_time: now - 2 * MIN,
      },
      now,
      plain,
    );
    expect(line).toBe(
      `hourly: cron 5 3 * * * (UTC) · next ${formatTime(next)} (in 3 h 5 min) · last fired ${formatTime(now - MIN)} · 2 missed, last ${formatTime(now - 2 * MIN)}`,
    );
  });

  it("marks a disabled schedule (also the SDKs' string form) and one with no next tick", () => {
    expect(scheduleLine({ cron: "* * * * *", enable: "false", next_time: null }, now, plain)).toBe(
      "cron * * * * * (UTC) · disabled",
    );
    expect(scheduleLine({ cron: "* * * * *", enable: false, missed_count: 0 }, now, plain)).toBe(
      "cron * * * * * (UTC) · disabled",
    );
    expect(scheduleLine({ cron: "* * * * *", next_time: null }, now, plain)).toBe(
      "cron * * * * * (UTC) · no next tick",
    );
  });
});

describe("formatSpan", () => {
  it("rounds down to minutes, hours and days", () => {
    expect(formatSpan(30_000)).toBe("under a minute");
    expect(formatSpan(14 * MIN + 59_000)).toBe("14 min");
    expect(formatSpan(120 * MIN)).toBe("2 h");
    expect(formatSpan(185 * MIN)).toBe("3 h 5 min");
    expect(formatSpan(52 * 60 * MIN)).toBe("2 d 4 h");
    expect(formatSpan(48 * 60 * MIN)).toBe("2 d");
  });
});

describe("triggers", () => {
  it("lists the enabled events as the server reads them (none listed: push and tag push)", () => {
    expect(enabledEvents({})).toEqual(["push", "tag_push"]);
    expect(
      enabledEvents({
        events: [
          { type: "push", enable: true },
          { type: "tag_push", enable: false },
          { type: "merge_request", enable: "true" },
          { type: "deploy", enable: "false" },
          { type: "issue" },
        ],
      }),
    ).toEqual(["push", "merge_request", "issue"]);
  });

  it("shows the repository and events, then the filters and the poll interval when present", () => {
    expect(
      triggerLines(
        {
          git_url: "https://github.com/acme/app.git",
          git_type: "github",
          events: [
            { type: "push", enable: true },
            { type: "tag_push", enable: true },
            { type: "merge_request", enable: true },
          ],
          branches: ["main", "release/*"],
          tags: ["v*"],
          paths: ["src/**", "package.json"],
          poll_interval: 300,
        },
        plain,
      ),
    ).toEqual([
      "https://github.com/acme/app.git (github): push, tag push, merge request",
      "  branches main, release/* · tags v* · paths src/**, package.json · polled every 300 s",
    ]);
    const polled = Date.UTC(2026, 11, 1, 12);
    expect(
      triggerLines(
        { git_url: "u", poll_interval: 60, last_poll_time: polled, poll_error: "git ls-remote: exit 128" },
        plain,
      ),
    ).toEqual([
      "u: push, tag push",
      `  polled every 60 s · last polled ${formatTime(polled)} · last poll failed: git ls-remote: exit 128`,
    ]);
    expect(triggerLines({ git_url: "git@gitlab.com:x/y.git" }, plain)).toEqual([
      "git@gitlab.com:x/y.git: push, tag push",
    ]);
    expect(triggerLines({ git_url: "u", events: [{ type: "push", enable: false }] }, plain)).toEqual([
      "u: no event enabled",
    ]);
  });
});

describe("describeCodeEvent", () => {
  const source = (build_params: Record<string, unknown>) => [
    { type: "code", params: { git_url: "https://github.com/acme/app.git", build_params } },
  ];

  it("says the event, branch or tag, short commit, author and first line of the message", () => {
    expect(
      describeCodeEvent(
        source({
          event_type: "Push",
          build_type: "branch",
          ref: "refs/heads/main",
          target_branch: "main",
          commit_id: "0123456789abcdef0123456789abcdef01234567",
          author: "alice",
          message: "fix login\n\nThe details.",
        }),
      ),
    ).toBe("Push to main at 0123456 by alice: fix login");
    expect(
      describeCodeEvent(
        source({ event_type: "CreateTag", ref: "refs/tags/v1.2.0", tag: "v1.2.0", commit_id: "abcdef01" }),
      ),
    ).toBe("Tag v1.2.0 at abcdef0");
    expect(
      describeCodeEvent(
        source({
          event_type: "MR",
          action: "open",
          source_branch: "feature/x",
          merge_target_branch: "main",
          target_branch: "feature/x",
          merge_id: 12,
          commit_id: "4123456789",
          author: "carol",
          message: "Add x",
        }),
      ),
    ).toBe("Merge request !12 (open) feature/x → main at 4123456 by carol: Add x");
  });

  it("cuts a long first line, and finds the source a delivery filled in among others", () => {
    const long = "x".repeat(100);
    const text = describeCodeEvent([
      { type: "code", params: { git_url: "other", build_params: { target_branch: "main" } } },
      null,
      ...source({ event_type: "Push", target_branch: "dev", message: long }),
    ]);
    expect(text).toBe(`Push to dev: ${"x".repeat(71)}…`);
  });

  it("is undefined for runs no code event started", () => {
    expect(describeCodeEvent([])).toBeUndefined();
    expect(describeCodeEvent(undefined)).toBeUndefined();
    expect(describeCodeEvent(source({ target_branch: "main", commit_id: "abc" }))).toBeUndefined();
  });
});

describe("deliveries", () => {
  const base: WebhookDelivery = {
    id: "r1",
    delivery_id: "d1",
    forge: "generic",
    event: "push",
    status: "accepted",
    reason: null,
    repository: "https://github.com/acme/app.git",
    ref: "refs/heads/main",
    commit_id: "0123456789abcdef0123456789abcdef01234567",
    pipeline_runs: [{ pipeline_id: "p1", pipeline_run_id: "run1" }],
    skipped: [],
    create_time: Date.UTC(2026, 11, 1, 12),
  };
  const label = (p: string, r: string) => (p === "p1" ? "build#3" : r);
  const name = (p: string) => (p === "p1" ? "build" : p === "p2" ? "docs" : p);

  it("names the runs an accepted delivery started, and the pipelines it passed over", () => {
    expect(deliveryOutcome(base, label, name)).toBe("build#3");
    expect(
      deliveryOutcome(
        {
          ...base,
          pipeline_runs: [...base.pipeline_runs, { pipeline_id: "gone", pipeline_run_id: "run9" }],
          skipped: [{ pipeline_id: "p2", reason: "no changed path matches" }],
        },
        label,
        name,
      ),
    ).toBe("build#3, run9 (not started: docs: no changed path matches)");
  });

  it("says why an ignored or rejected delivery started nothing", () => {
    expect(
      deliveryOutcome(
        {
          ...base,
          status: "ignored",
          reason: "no trigger matched",
          pipeline_runs: [],
          skipped: [{ pipeline_id: "p1", reason: "branch dev matches no pattern" }],
        },
        label,
        name,
      ),
    ).toBe("no trigger matched (build: branch dev matches no pattern)");
    expect(
      deliveryOutcome(
        { ...base, status: "rejected", reason: "bad signature", pipeline_runs: [] },
        label,
        name,
      ),
    ).toBe("bad signature");
  });

  it("makes a row: local time, forge, event, short ref and commit, status, outcome", () => {
    expect(deliveryRow(base, "build#3", plain)).toEqual([
      formatTime(base.create_time),
      "generic",
      "push",
      "main",
      "0123456",
      "accepted",
      "build#3",
    ]);
    const rejected = deliveryRow(
      { ...base, status: "rejected", event: "", ref: "", commit_id: "" },
      "x",
      createStyle(true),
    );
    expect(rejected.slice(2, 6)).toEqual(["-", "-", "-", "\x1b[31mrejected\x1b[39m"]);
    expect(shortRef("refs/tags/v1.0")).toBe("v1.0");
  });
});

describe("shellWord", () => {
  it("quotes only what a shell would read otherwise", () => {
    expect(shellWord("build-1.2/x")).toBe("build-1.2/x");
    expect(shellWord("my build")).toBe("'my build'");
    expect(shellWord("it's")).toBe("'it'\\''s'");
  });
});
