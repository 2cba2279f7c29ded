// Keeps an error that repeats (a full disk, a database that is down) from filling the log: of each
// kind, the first is logged and then at most one per window, saying how many were left out. A
// kind is the message with the error's code, so different failures still each get their line.

import type { Logger } from "pino";

export interface ErrorThrottle {
  /** Whether to log this occurrence, and how many of its kind were left out since the last line. */
  admit(kind: string): { readonly log: boolean; readonly suppressed: number };
}

export function createErrorThrottle(now: () => number, windowMs = 60_000): ErrorThrottle {
  const kinds = new Map<string, { next: number; suppressed: number }>();
  return {
    admit(kind) {
      const t = now();
      const k = kinds.get(kind);
      if (k && t < k.next) {
        k.suppressed++;
        return { log: false, suppressed: 0 };
      }
      if (kinds.size > 1000) kinds.clear();
      kinds.set(kind, { next: t + windowMs, suppressed: 0 });
      return { log: true, suppressed: k?.suppressed ?? 0 };
    },
  };
}

const codeOf = (obj: unknown): string => {
  const err = typeof obj === "object" && obj !== null ? (obj as { err?: unknown }).err : undefined;
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : "";
};

/** The logger with its error and warn lines throttled per kind (see createErrorThrottle). */
export function throttleErrors(logger: Logger, now: () => number, windowMs = 60_000): Logger {
  const throttle = createErrorThrottle(now, windowMs);
  const wrap =
    (level: "error" | "warn") =>
    (obj: unknown, msg?: string, ...rest: unknown[]): void => {
      const text = typeof obj === "string" ? obj : (msg ?? "");
      const { log, suppressed } = throttle.admit(`${level}:${text}:${codeOf(obj)}`);
      if (!log) return;
      if (suppressed > 0 && typeof obj === "object" && obj !== null) {
        logger[level](
          { ...obj, suppressed },
          `${text} (and ${suppressed} more like it since the last such line)`,
        );
      } else {
        (logger[level] as (...args: unknown[]) => void).call(logger, obj, msg, ...rest);
      }
    };
  return new Proxy(logger, {
    get(target, prop, receiver) {
      if (prop === "error" || prop === "warn") return wrap(prop);
      return Reflect.get(target, prop, receiver);
    },
  });
}
