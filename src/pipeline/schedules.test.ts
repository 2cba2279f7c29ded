import { describe, expect, it } from "vitest";
import { InvalidInput } from "./issues.js";
import { ianaZone, nextTick, parseSchedule } from "./schedules.js";

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString();

function rejects(raw: unknown): string {
  try {
    parseSchedule(raw, "schedules[0]");
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInput);
    return (err as InvalidInput).message;
  }
  throw new Error("expected a rejection");
}

describe("parseSchedule and nextTick", () => {
  it("fires a fixed schedule on its days at its time, in its zone (1 = Sunday)", () => {
    // 2026-12-01 is a Tuesday. Monday (2) and Wednesday (4) at 09:30 in Beijing = 01:30 UTC.
    const s = parseSchedule(
      {
        uuid: "u",
        type: "fixed",
        days_of_week: [4, 2],
        start_time: "09:30",
        time_zone: "China Standard Time",
      },
      "schedules[0]",
    );
    expect(s.zone).toBe("Asia/Shanghai");
    expect(s.daysOfWeek).toEqual([2, 4]);
    let t = at("2026-12-01T00:00:00Z");
    const ticks: (string | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      const n = nextTick(s, t);
      ticks.push(iso(n));
      t = n!;
    }
    expect(ticks).toEqual([
      "2026-12-02T01:30:00.000Z",
      "2026-12-07T01:30:00.000Z",
      "2026-12-09T01:30:00.000Z",
    ]);
    // Strictly after: a tick is not its own next one.
    expect(iso(nextTick(s, at("2026-12-02T01:30:00Z")))).toBe("2026-12-07T01:30:00.000Z");
  });

  it("fires a periodic schedule every interval within its window, the window's end included", () => {
    const s = parseSchedule(
      {
        uuid: "u",
        type: "periodic",
        days_of_week: [1, 2, 3, 4, 5, 6, 7],
        start_time: "08:00",
        end_time: "09:00",
        interval_time: "1800",
        interval_unit: "s",
        time_zone: "UTC",
      },
      "s",
    );
    const ticks: string[] = [];
    for (let t = at("2026-12-01T07:00:00Z"), i = 0; i < 5; i++) {
      t = nextTick(s, t)!;
      ticks.push(iso(t)!);
    }
    expect(ticks).toEqual([
      "2026-12-01T08:00:00.000Z",
      "2026-12-01T08:30:00.000Z",
      "2026-12-01T09:00:00.000Z",
      "2026-12-02T08:00:00.000Z",
      "2026-12-02T08:30:00.000Z",
    ]);
    // From inside the window, the next step of it.
    expect(iso(nextTick(s, at("2026-12-01T08:10:00Z")))).toBe("2026-12-01T08:30:00.000Z");
  });

  it("follows a cron expression in its zone, across a daylight-saving change", () => {
    const s = parseSchedule({ uuid: "u", cron: "0 2 * * *", time_zone: "Europe/Berlin" }, "s");
    expect(s.kind).toBe("cron");
    // Berlin leaves summer time on 2026-10-25: 02:00 local is 00:00 UTC up to then, 01:00 UTC after.
    expect(iso(nextTick(s, at("2026-10-23T12:00:00Z")))).toBe("2026-10-24T00:00:00.000Z");
    expect(iso(nextTick(s, at("2026-10-25T12:00:00Z")))).toBe("2026-10-26T01:00:00.000Z");
  });

  it("has no tick while disabled", () => {
    const s = parseSchedule({ uuid: "u", cron: "* * * * *", enable: "false" }, "s");
    expect(nextTick(s, 0)).toBeUndefined();
  });

  it("maps Windows zone names and accepts IANA ones; refuses others", () => {
    expect(ianaZone("GMT Standard Time")).toBe("Europe/London");
    expect(ianaZone("Singapore Standard Time")).toBe("Asia/Singapore");
    expect(ianaZone("America/New_York")).toBe("America/New_York");
    expect(ianaZone("Mars Standard Time")).toBeUndefined();
    expect(ianaZone("../../etc/passwd")).toBeUndefined();
  });

  it("names the field of each bad input", () => {
    const fixed = { uuid: "u", type: "fixed", days_of_week: [1], start_time: "09:00" };
    expect(rejects({ ...fixed, time_zone: "Nowhere/Land" })).toMatch(
      /^schedules\[0\]\.time_zone: unknown time zone/,
    );
    expect(rejects({ ...fixed, start_time: "25:00" })).toMatch(
      /^schedules\[0\]\.start_time: must be a time of day/,
    );
    expect(rejects({ ...fixed, start_time: undefined })).toMatch(/^schedules\[0\]\.start_time: is required/);
    expect(rejects({ ...fixed, days_of_week: [0] })).toMatch(/^schedules\[0\]\.days_of_week\[0\]:/);
    expect(rejects({ ...fixed, days_of_week: [] })).toMatch(/^schedules\[0\]\.days_of_week:/);
    expect(rejects({ ...fixed, days_of_week: [2, 2] })).toMatch(/lists a day twice/);
    expect(rejects({ ...fixed, type: "hourly" })).toMatch(/^schedules\[0\]\.type:/);
    expect(rejects({ ...fixed, enable: "yes" })).toMatch(/^schedules\[0\]\.enable:/);
    const periodic = {
      ...fixed,
      type: "periodic",
      end_time: "10:00",
      interval_time: 30,
      interval_unit: "min",
    };
    expect(() => parseSchedule(periodic, "s")).not.toThrow();
    expect(rejects({ ...periodic, end_time: "08:00" })).toMatch(/^schedules\[0\]\.end_time: must be later/);
    expect(rejects({ ...periodic, interval_time: 10, interval_unit: "s" })).toMatch(
      /^schedules\[0\]\.interval_time:/,
    );
    expect(rejects({ ...periodic, interval_unit: "weeks" })).toMatch(/^schedules\[0\]\.interval_unit:/);
    expect(rejects({ uuid: "u", cron: "61 * * * *" })).toMatch(/^schedules\[0\]\.cron:/);
    expect(rejects({ uuid: "u", cron: "0 0 31 2 *" })).toMatch(/^schedules\[0\]\.cron: never fires/);
    expect(rejects({ uuid: "u", cron: "* * * * * *" })).toMatch(/five fields/);
  });
});
