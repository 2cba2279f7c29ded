// Step outputs: what a step writes to the file `$PIPEWRIGHT_OUTPUT` names, read into named values
// (`name=value` lines, and `name<<DELIMITER` … `DELIMITER` for a value of several lines, as
// GitHub Actions reads its output file). A later job reads them as
// `${{ jobs.<job>.outputs.<name> }}`, in its condition and in its steps' inputs.

import { LIMITS } from "./limits.js";

export interface StepOutput {
  readonly key: string;
  readonly value: string;
}

/** An output's name: what an expression's path segment can be. */
export const OUTPUT_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** The environment variable naming a step's outputs file. */
export const OUTPUT_FILE_VARIABLE = "PIPEWRIGHT_OUTPUT";

/**
 * The outputs a step's file holds, the last of a name winning, and what was refused in it (each
 * a sentence for the step's log). A file past LIMITS.stepOutputBytes is refused whole.
 */
export function parseOutputs(
  text: string,
  bytes: number = Buffer.byteLength(text),
): { readonly outputs: StepOutput[]; readonly problems: string[] } {
  const problems: string[] = [];
  if (bytes > LIMITS.stepOutputBytes) {
    return {
      outputs: [],
      problems: [`the outputs file holds ${bytes} bytes, more than the limit of ${LIMITS.stepOutputBytes}`],
    };
  }
  const found = new Map<string, string>();
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, "");
    if (line.trim() === "") continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    let name: string;
    let value: string;
    if (heredoc && (!line.includes("=") || line.indexOf("<<") < line.indexOf("="))) {
      name = heredoc[1]!;
      const delimiter = heredoc[2]!;
      const end = lines.findIndex((l, j) => j > i && l.replace(/\r$/, "") === delimiter);
      if (end < 0) {
        problems.push(`line ${i + 1}: "${name}<<${delimiter}" has no closing "${delimiter}" line`);
        break;
      }
      value = lines
        .slice(i + 1, end)
        .map((l) => l.replace(/\r$/, ""))
        .join("\n");
      i = end;
    } else {
      const eq = line.indexOf("=");
      if (eq < 0) {
        problems.push(`line ${i + 1}: not "name=value" nor "name<<DELIMITER"`);
        continue;
      }
      name = line.slice(0, eq);
      value = line.slice(eq + 1);
    }
    if (!OUTPUT_NAME.test(name) || name.length > LIMITS.nameLength) {
      problems.push(
        `output ${JSON.stringify(name.slice(0, 200))}: a name is a letter or _ then letters, digits, _ or - (at most ${LIMITS.nameLength})`,
      );
      continue;
    }
    if (value.length > LIMITS.stepOutputValueLength) {
      problems.push(`output ${name}: its value is longer than ${LIMITS.stepOutputValueLength} characters`);
      continue;
    }
    found.delete(name);
    found.set(name, value);
  }
  let outputs = [...found].map(([key, value]) => ({ key, value }));
  if (outputs.length > LIMITS.stepOutputs) {
    problems.push(
      `${outputs.length} outputs, more than the limit of ${LIMITS.stepOutputs}: the first ones are kept`,
    );
    outputs = outputs.slice(0, LIMITS.stepOutputs);
  }
  return { outputs, problems };
}

/**
 * A job's outputs: those of its steps in order, a later step's winning for a name (what
 * `${{ jobs.<job>.outputs.<name> }}` reads).
 */
export function jobOutputs(
  steps: readonly { readonly outputs: readonly StepOutput[] }[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of steps) for (const o of s.outputs) out[o.key] = o.value;
  return out;
}

/** `${{ jobs.<job>.outputs.<name> }}` in a step input's text (spaces allowed inside the braces). */
const OUTPUT_REFERENCE = /\$\{\{\s*jobs\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}/g;

/** The jobs a text's output references name. */
export function referencedJobs(text: string): string[] {
  return [...new Set([...text.matchAll(OUTPUT_REFERENCE)].map((m) => m[1]!))];
}

/** The text with each output reference replaced by that output ("" when the job has none of that name). */
export function substituteOutputs(
  text: string,
  outputsOf: (job: string) => Readonly<Record<string, string>> | undefined,
): string {
  return text.replace(OUTPUT_REFERENCE, (_m, job: string, name: string) => outputsOf(job)?.[name] ?? "");
}
