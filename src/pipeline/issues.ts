// What validation in the domain reports: the field path and the problem. The domain knows
// nothing of HTTP or error codes; the layers above turn an issue into their own error (the API
// into a DEVPIPE.* answer naming the field, the CLI into a line pointing at the file).

/** What kind of input is wrong: a pipeline definition, another request field, a run variable. */
export type IssueKind = "definition" | "request" | "variable";

export interface Issue {
  readonly kind: IssueKind;
  /** Where: `definition.stages[0].jobs[1].timeout`, `variables[2].name`, … */
  readonly path: string;
  readonly problem: string;
  /** Where in a file, when the input came from one: `pipeline.yaml:12:7`. */
  readonly location?: string;
}

/** Thrown by the domain's validators; carries the issue found. */
export class InvalidInput extends Error {
  readonly issue: Issue;

  constructor(issue: Issue, options?: { cause?: unknown }) {
    super(
      [issue.location, issue.path, issue.problem].filter((p) => p !== undefined && p !== "").join(": "),
      options,
    );
    this.name = "InvalidInput";
    this.issue = issue;
  }
}

export function invalidDefinition(path: string, problem: string): InvalidInput {
  return new InvalidInput({ kind: "definition", path, problem });
}

export function invalidField(path: string, problem: string): InvalidInput {
  return new InvalidInput({ kind: "request", path, problem });
}

export function invalidVariable(path: string, problem: string): InvalidInput {
  return new InvalidInput({ kind: "variable", path, problem });
}

/** The same issue with a prefix on its path (a condition's issue, placed at its job). */
export function withPathPrefix(err: InvalidInput, prefix: string): InvalidInput {
  const { issue } = err;
  const path = issue.path === "" ? prefix : `${prefix}: ${issue.path}`;
  return new InvalidInput({ ...issue, path }, { cause: err });
}

export type Validation<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly issue: Issue };

/** Runs a throwing validator and answers its issue as a value instead. */
export function validate<T>(fn: () => T): Validation<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof InvalidInput) return { ok: false, issue: err.issue };
    throw err;
  }
}
