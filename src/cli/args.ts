// Argument parsing and help text for the CLI's commands, on top of node:util parseArgs. A command
// declares its options once; the same declaration parses argv and prints `--help`.

import { parseArgs } from "node:util";
import { usageError } from "./cli-error.js";

export interface OptionSpec {
  /** Long name, without the dashes. */
  readonly name: string;
  readonly type: "string" | "boolean";
  readonly short?: string;
  /** May be given several times; the values are collected in order. */
  readonly multiple?: boolean;
  /** Placeholder of the value in help, e.g. FILE. */
  readonly arg?: string;
  readonly help: string;
  /** Help section; options without one are listed first under "Options". */
  readonly group?: string;
}

export interface CommandSpec {
  /** Words that select the command, e.g. ["pipeline", "apply"]. */
  readonly path: readonly string[];
  readonly summary: string;
  /** Positional arguments as shown in the usage line, e.g. "PIPELINE...". */
  readonly args?: string;
  readonly description?: string;
  readonly options: readonly OptionSpec[];
  readonly examples?: readonly string[];
  readonly minArgs?: number;
  readonly maxArgs?: number;
}

export interface ParsedArgs {
  readonly positionals: readonly string[];
  readonly help: boolean;
  str(name: string): string | undefined;
  bool(name: string): boolean;
  list(name: string): string[];
}

export const HELP_OPTION: OptionSpec = { name: "help", short: "h", type: "boolean", help: "show this help" };

/** The candidate nearest to `word` by edit distance, if it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best !== undefined && bestDist <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

/** Edit distance where swapping two neighbours counts as one edit (the commonest typo). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

function commandName(spec: CommandSpec): string {
  return ["pipewright", ...spec.path].join(" ");
}

/** Parses argv for one command; a problem is a usage error that says how to get help. */
export function parseCommandArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const all = [...spec.options, HELP_OPTION];
  const helpHint = `Run '${commandName(spec)} --help' for usage.`;
  const dashDash = argv.indexOf("--");
  const beforeDashDash = dashDash === -1 ? argv : argv.slice(0, dashDash);
  // Help wins over every other problem, so `--help` always works, even on a half-typed command.
  if (beforeDashDash.includes("--help") || beforeDashDash.includes("-h")) {
    return parsedOf(new Map(), [], true);
  }
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const o of all) {
    options[o.name] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  let result: ReturnType<typeof parseArgs>;
  try {
    result = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    const code = (err as { code?: string }).code;
    // Node names the option as '--name', '-n' or '-n, --name'; the long form is the one to show.
    const msg = (err as Error).message;
    const opt = /--[A-Za-z0-9][A-Za-z0-9-]*/.exec(msg)?.[0] ?? /'(-[^' ,<]+)/.exec(msg)?.[1] ?? "";
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const names = all.map((o) => `--${o.name}`);
      const guess = closest(opt, names);
      throw usageError(`unknown option ${opt}${guess ? ` (did you mean ${guess}?)` : ""}`, helpHint);
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      const o = all.find((x) => `--${x.name}` === opt || `-${x.short}` === opt);
      throw usageError(
        o?.type === "boolean" ? `option ${opt} takes no value` : `option ${opt} needs a value`,
        helpHint,
      );
    }
    throw usageError((err as Error).message, helpHint);
  }
  const values = new Map<string, string | boolean | (string | boolean)[]>();
  for (const [k, v] of Object.entries(result.values)) if (v !== undefined) values.set(k, v);
  const positionals = result.positionals;
  if (spec.minArgs !== undefined && positionals.length < spec.minArgs) {
    throw usageError(`missing argument: ${commandName(spec)} ${spec.args ?? ""}`.trim(), helpHint);
  }
  if (spec.maxArgs !== undefined && positionals.length > spec.maxArgs) {
    throw usageError(`unexpected argument "${positionals[spec.maxArgs]}"`, helpHint);
  }
  return parsedOf(values, positionals, values.get("help") === true);
}

function parsedOf(
  values: Map<string, string | boolean | (string | boolean)[]>,
  positionals: readonly string[],
  help: boolean,
): ParsedArgs {
  return {
    positionals,
    help,
    str(name) {
      const v = values.get(name);
      if (Array.isArray(v)) return v.length > 0 ? String(v[v.length - 1]) : undefined;
      return typeof v === "string" ? v : undefined;
    },
    bool(name) {
      return values.get(name) === true;
    },
    list(name) {
      const v = values.get(name);
      if (v === undefined) return [];
      return (Array.isArray(v) ? v : [v]).map(String);
    },
  };
}

function optionLabel(o: OptionSpec): string {
  const long = `--${o.name}${o.type === "string" ? ` ${o.arg ?? "VALUE"}` : ""}`;
  return o.short ? `-${o.short}, ${long}` : `    ${long}`;
}

function optionTable(options: readonly OptionSpec[]): string {
  const labels = options.map(optionLabel);
  const width = Math.min(34, Math.max(...labels.map((l) => l.length)) + 2);
  return options
    .map((o, i) => {
      const label = labels[i]!;
      const pad = label.length + 2 > width ? `\n  ${" ".repeat(width)}` : " ".repeat(width - label.length);
      return `  ${label}${pad}${o.help}`;
    })
    .join("\n");
}

export function formatCommandHelp(spec: CommandSpec): string {
  const out: string[] = [];
  const opts = spec.options.length > 0 ? " [options]" : "";
  out.push(`Usage: ${commandName(spec)}${spec.args ? ` ${spec.args}` : ""}${opts}`, "", spec.summary);
  if (spec.description) out.push("", spec.description.trim());
  const groups = new Map<string, OptionSpec[]>();
  for (const o of [...spec.options, HELP_OPTION]) {
    const g = o.group ?? "Options";
    groups.set(g, [...(groups.get(g) ?? []), o]);
  }
  for (const [title, options] of groups) out.push("", `${title}:`, optionTable(options));
  if (spec.examples && spec.examples.length > 0) {
    out.push("", "Examples:", ...spec.examples.map((e) => `  ${e}`));
  }
  return `${out.join("\n")}\n`;
}

/** Help of a command group (`pipewright pipeline`): its subcommands, one line each. */
export function formatGroupHelp(
  path: readonly string[],
  summary: string,
  commands: readonly CommandSpec[],
): string {
  const name = ["pipewright", ...path].join(" ");
  const rows = commands.map((c) => [
    c.path.slice(path.length).join(" ") + (c.args ? ` ${c.args}` : ""),
    c.summary,
  ]);
  const width = Math.max(...rows.map((r) => r[0]!.length)) + 3;
  return [
    `Usage: ${name} <command> [options]`,
    "",
    summary,
    "",
    "Commands:",
    ...rows.map(([a, s]) => `  ${a!.padEnd(width)}${s}`),
    "",
    `Run '${name} <command> --help' for a command's options.`,
    "",
  ].join("\n");
}

/**
 * How many leading words of argv are `options` (with the value of each that takes one), e.g. the
 * client options written before a command: `--token T --json pipeline list` → 3.
 */
export function leadingOptionCount(argv: readonly string[], options: readonly OptionSpec[]): number {
  let i = 0;
  while (i < argv.length) {
    const a = argv[i]!;
    if (a === "--" || !a.startsWith("-") || a === "-") break;
    const long = a.startsWith("--") ? a.slice(2).split("=")[0]! : undefined;
    const o = options.find((x) =>
      long !== undefined ? x.name === long : x.short !== undefined && `-${x.short}` === a,
    );
    if (!o) break;
    i += o.type === "string" && !a.includes("=") ? 2 : 1;
  }
  return Math.min(i, argv.length);
}
