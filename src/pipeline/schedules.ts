// A pipeline's schedules (CodeArts "execution plans", spec §5.3): validated into one shape, and
// asked for their next tick. Three kinds: `fixed` (days of the week at a time of day),
// `periodic` (every interval between a start and an end time on those days) and `cron` (our
// extension: a five-field cron expression). Times are wall-clock times in the schedule's zone,
// which CodeArts names the Windows way ("China Standard Time"); IANA names work too. Cron
// patterns and zone arithmetic come from croner.

import { Cron } from "croner";
import { invalidField as invalid } from "./issues.js";

export type ScheduleKind = "fixed" | "periodic" | "cron";

export interface Schedule {
  readonly uuid: string;
  readonly kind: ScheduleKind;
  readonly name: string;
  readonly enable: boolean;
  /** 1 = Sunday … 7 = Saturday; empty for `cron`. */
  readonly daysOfWeek: readonly number[];
  /** The zone as given, and the IANA zone it names. */
  readonly timeZone: string;
  readonly zone: string;
  /** "HH:mm": the time of day (`fixed`), the window's start (`periodic`). */
  readonly startTime?: string | undefined;
  /** "HH:mm": the window's end (`periodic`), inclusive. */
  readonly endTime?: string | undefined;
  readonly intervalSeconds?: number | undefined;
  readonly cron?: string | undefined;
}

/** The zone a schedule without one uses. */
export const DEFAULT_TIME_ZONE = "UTC";
/** Bounds of a periodic schedule's interval: at most one tick a minute, at least one a day. */
export const MIN_INTERVAL_SECONDS = 60;
export const MAX_INTERVAL_SECONDS = 86_400;

/**
 * Windows zone names (which CodeArts uses) to IANA zones: the primary zone of each, as CLDR's
 * windowsZones table gives it.
 */
const WINDOWS_ZONES: Readonly<Record<string, string>> = {
  "Dateline Standard Time": "Etc/GMT+12",
  "UTC-11": "Etc/GMT+11",
  "Hawaiian Standard Time": "Pacific/Honolulu",
  "Alaskan Standard Time": "America/Anchorage",
  "Pacific Standard Time": "America/Los_Angeles",
  "US Mountain Standard Time": "America/Phoenix",
  "Mountain Standard Time": "America/Denver",
  "Central America Standard Time": "America/Guatemala",
  "Central Standard Time": "America/Chicago",
  "Central Standard Time (Mexico)": "America/Mexico_City",
  "Canada Central Standard Time": "America/Regina",
  "SA Pacific Standard Time": "America/Bogota",
  "Eastern Standard Time": "America/New_York",
  "US Eastern Standard Time": "America/Indianapolis",
  "Venezuela Standard Time": "America/Caracas",
  "Atlantic Standard Time": "America/Halifax",
  "SA Western Standard Time": "America/La_Paz",
  "Pacific SA Standard Time": "America/Santiago",
  "Newfoundland Standard Time": "America/St_Johns",
  "E. South America Standard Time": "America/Sao_Paulo",
  "Argentina Standard Time": "America/Buenos_Aires",
  "Greenland Standard Time": "America/Godthab",
  "UTC-02": "Etc/GMT+2",
  "Azores Standard Time": "Atlantic/Azores",
  "Cape Verde Standard Time": "Atlantic/Cape_Verde",
  UTC: "Etc/UTC",
  "Coordinated Universal Time": "Etc/UTC",
  "GMT Standard Time": "Europe/London",
  "Greenwich Standard Time": "Atlantic/Reykjavik",
  "Morocco Standard Time": "Africa/Casablanca",
  "W. Europe Standard Time": "Europe/Berlin",
  "Central Europe Standard Time": "Europe/Budapest",
  "Romance Standard Time": "Europe/Paris",
  "Central European Standard Time": "Europe/Warsaw",
  "W. Central Africa Standard Time": "Africa/Lagos",
  "GTB Standard Time": "Europe/Bucharest",
  "Middle East Standard Time": "Asia/Beirut",
  "Egypt Standard Time": "Africa/Cairo",
  "South Africa Standard Time": "Africa/Johannesburg",
  "FLE Standard Time": "Europe/Kiev",
  "Israel Standard Time": "Asia/Jerusalem",
  "Turkey Standard Time": "Europe/Istanbul",
  "Arabic Standard Time": "Asia/Baghdad",
  "Arab Standard Time": "Asia/Riyadh",
  "Russian Standard Time": "Europe/Moscow",
  "E. Africa Standard Time": "Africa/Nairobi",
  "Iran Standard Time": "Asia/Tehran",
  "Arabian Standard Time": "Asia/Dubai",
  "Azerbaijan Standard Time": "Asia/Baku",
  "Georgian Standard Time": "Asia/Tbilisi",
  "Afghanistan Standard Time": "Asia/Kabul",
  "West Asia Standard Time": "Asia/Tashkent",
  "Ekaterinburg Standard Time": "Asia/Yekaterinburg",
  "Pakistan Standard Time": "Asia/Karachi",
  "India Standard Time": "Asia/Calcutta",
  "Sri Lanka Standard Time": "Asia/Colombo",
  "Nepal Standard Time": "Asia/Katmandu",
  "Central Asia Standard Time": "Asia/Almaty",
  "Bangladesh Standard Time": "Asia/Dhaka",
  "Myanmar Standard Time": "Asia/Rangoon",
  "SE Asia Standard Time": "Asia/Bangkok",
  "N. Central Asia Standard Time": "Asia/Novosibirsk",
  "North Asia Standard Time": "Asia/Krasnoyarsk",
  "China Standard Time": "Asia/Shanghai",
  "North Asia East Standard Time": "Asia/Irkutsk",
  "Singapore Standard Time": "Asia/Singapore",
  "W. Australia Standard Time": "Australia/Perth",
  "Taipei Standard Time": "Asia/Taipei",
  "Ulaanbaatar Standard Time": "Asia/Ulaanbaatar",
  "Tokyo Standard Time": "Asia/Tokyo",
  "Korea Standard Time": "Asia/Seoul",
  "Yakutsk Standard Time": "Asia/Yakutsk",
  "Cen. Australia Standard Time": "Australia/Adelaide",
  "AUS Central Standard Time": "Australia/Darwin",
  "E. Australia Standard Time": "Australia/Brisbane",
  "AUS Eastern Standard Time": "Australia/Sydney",
  "West Pacific Standard Time": "Pacific/Port_Moresby",
  "Tasmania Standard Time": "Australia/Hobart",
  "Vladivostok Standard Time": "Asia/Vladivostok",
  "Central Pacific Standard Time": "Pacific/Guadalcanal",
  "New Zealand Standard Time": "Pacific/Auckland",
  "Fiji Standard Time": "Pacific/Fiji",
  "Tonga Standard Time": "Pacific/Tongatapu",
};

/** The IANA zone a schedule's `time_zone` names, or undefined when it names none. */
export function ianaZone(name: string): string | undefined {
  const mapped = WINDOWS_ZONES[name];
  if (mapped) return mapped;
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name)) return undefined;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return name;
  } catch {
    return undefined;
  }
}

const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, min: 60, h: 3600 };

function bool(v: unknown, path: string): boolean {
  if (v === undefined || v === null) return true;
  if (v === true || v === "true") return true;
  if (v === false || v === "false") return false;
  throw invalid(path, 'must be true or false (or "true"/"false")');
}

function text(v: unknown, path: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw invalid(path, "must be a string");
  return v;
}

function clock(v: unknown, path: string): string {
  const s = text(v, path);
  if (s === undefined) throw invalid(path, 'is required ("HH:mm")');
  if (!HH_MM.test(s)) throw invalid(path, `must be a time of day "HH:mm" (00:00 to 23:59), got "${s}"`);
  return s;
}

/**
 * One entry of a pipeline's `schedules` into a Schedule; throws a 400 naming the field at
 * `path` (e.g. `schedules[0]`). The entry must have its `uuid` already.
 */
export function parseSchedule(raw: unknown, path: string): Schedule {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw invalid(path, "must be an object");
  const o = raw as Record<string, unknown>;
  const uuid = text(o.uuid, `${path}.uuid`);
  if (!uuid) throw invalid(`${path}.uuid`, "is required");
  const given = text(o.type, `${path}.type`);
  const kind: ScheduleKind | undefined =
    given === undefined
      ? o.cron !== undefined
        ? "cron"
        : o.interval_time !== undefined
          ? "periodic"
          : "fixed"
      : given === "fixed" || given === "periodic" || given === "cron"
        ? given
        : undefined;
  if (!kind) throw invalid(`${path}.type`, `must be fixed, periodic or cron, got "${given}"`);
  const timeZone = text(o.time_zone, `${path}.time_zone`) ?? DEFAULT_TIME_ZONE;
  const zone = ianaZone(timeZone);
  if (!zone) {
    throw invalid(
      `${path}.time_zone`,
      `unknown time zone "${timeZone}" (a Windows name such as "China Standard Time", or an IANA name such as "Asia/Shanghai")`,
    );
  }
  const base = {
    uuid,
    kind,
    name: text(o.name, `${path}.name`) ?? "",
    enable: bool(o.enable, `${path}.enable`),
    timeZone,
    zone,
  };
  if (kind === "cron") {
    const cron = text(o.cron, `${path}.cron`)?.trim();
    if (!cron) throw invalid(`${path}.cron`, "is required for a cron schedule");
    if (cron.split(/\s+/).length !== 5) {
      throw invalid(`${path}.cron`, "must have five fields: minute hour day-of-month month day-of-week");
    }
    try {
      new Cron(cron, { timezone: zone, paused: true });
    } catch (err) {
      throw invalid(`${path}.cron`, (err as Error).message);
    }
    if (nextCron(cron, zone, 0) === undefined) throw invalid(`${path}.cron`, "never fires");
    return { ...base, daysOfWeek: [], cron };
  }
  const days = o.days_of_week;
  const dp = `${path}.days_of_week`;
  if (!Array.isArray(days) || days.length === 0)
    throw invalid(dp, "must list at least one day (1 = Sunday … 7 = Saturday)");
  for (const [i, d] of days.entries()) {
    if (!Number.isInteger(d) || d < 1 || d > 7)
      throw invalid(`${dp}[${i}]`, "must be a day 1 (Sunday) to 7 (Saturday)");
  }
  if (new Set(days).size !== days.length) throw invalid(dp, "lists a day twice");
  const daysOfWeek = [...(days as number[])].sort((a, b) => a - b);
  const startTime = clock(o.start_time, `${path}.start_time`);
  if (kind === "fixed") return { ...base, daysOfWeek, startTime };
  const endTime = clock(o.end_time, `${path}.end_time`);
  if (endTime <= startTime) throw invalid(`${path}.end_time`, `must be later than start_time (${startTime})`);
  const unitName = text(o.interval_unit, `${path}.interval_unit`) ?? "s";
  const unit = UNIT_SECONDS[unitName];
  if (!unit) throw invalid(`${path}.interval_unit`, `must be s, min or h, got "${unitName}"`);
  const amount = typeof o.interval_time === "string" ? Number(o.interval_time) : o.interval_time;
  if (typeof amount !== "number" || !Number.isInteger(amount) || amount <= 0) {
    throw invalid(`${path}.interval_time`, "must be a positive whole number");
  }
  const intervalSeconds = amount * unit;
  if (intervalSeconds < MIN_INTERVAL_SECONDS || intervalSeconds > MAX_INTERVAL_SECONDS) {
    throw invalid(
      `${path}.interval_time`,
      `must be from ${MIN_INTERVAL_SECONDS} s to ${MAX_INTERVAL_SECONDS} s, got ${intervalSeconds} s`,
    );
  }
  return { ...base, daysOfWeek, startTime, endTime, intervalSeconds };
}

function nextCron(pattern: string, zone: string, afterMs: number): number | undefined {
  const next = new Cron(pattern, { timezone: zone, paused: true }).nextRun(new Date(afterMs));
  return next ? next.getTime() : undefined;
}

/** A cron pattern for a time of day on the schedule's days (cron counts days 0 = Sunday). */
function dailyAt(hhmm: string, days: readonly number[]): string {
  const [h, m] = hhmm.split(":").map(Number);
  return `${m} ${h} * * ${days.length > 0 ? days.map((d) => d - 1).join(",") : "*"}`;
}

const DAY_MS = 86_400_000;

/**
 * The schedule's first tick strictly after `afterMs` (epoch ms), or undefined when it has none.
 * Disabled schedules have none.
 */
export function nextTick(s: Schedule, afterMs: number): number | undefined {
  if (!s.enable) return undefined;
  if (s.kind === "cron") return nextCron(s.cron!, s.zone, afterMs);
  if (s.kind === "fixed") return nextCron(dailyAt(s.startTime!, s.daysOfWeek), s.zone, afterMs);
  // Periodic: windows open at start_time on the schedule's days; ticks every interval from the
  // opening up to end_time. A window opened at most a day before `afterMs` may still be open.
  const opens = dailyAt(s.startTime!, s.daysOfWeek);
  const interval = s.intervalSeconds! * 1000;
  let open = nextCron(opens, s.zone, afterMs - DAY_MS - 1);
  for (let i = 0; open !== undefined && i < 16; i++) {
    const close = nextCron(dailyAt(s.endTime!, []), s.zone, open);
    if (close === undefined) return undefined;
    const k = afterMs < open ? 0 : Math.floor((afterMs - open) / interval) + 1;
    const t = open + k * interval;
    if (t <= close) return t;
    open = nextCron(opens, s.zone, open);
  }
  return undefined;
}
