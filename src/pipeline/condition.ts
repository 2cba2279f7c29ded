// Job `condition` expressions (`${{ … }}`, spec §5.1): a small parser run at definition time,
// so a typo fails create/update, and a total evaluator run by the scheduler, which never throws.
// Semantics follow GitHub Actions expressions, which CodeArts's language is modelled on.

import { invalidDefinition } from "./issues.js";
import { LIMITS } from "./limits.js";

export const CONDITION_FUNCTIONS = [
  "default",
  "always",
  "success",
  "failure",
  "contains",
  "startsWith",
  "endsWith",
] as const;
export type ConditionFunction = (typeof CONDITION_FUNCTIONS)[number];

const ARITY: Readonly<Record<ConditionFunction, number>> = {
  default: 0,
  always: 0,
  success: 0,
  failure: 0,
  contains: 2,
  startsWith: 2,
  endsWith: 2,
};

/**
 * Context roots and how many segments a path below each must have: `pipeline.x`, `variables.x`
 * (`env.x` is CodeArts's spelling of the same), `sources.<alias>.x`, `jobs.<id>.status` and
 * `jobs.<id>.outputs.<name>` (what its steps wrote to their outputs files). Jobs take any depth ≥ 3.
 */
export const CONDITION_CONTEXTS = ["pipeline", "variables", "env", "sources", "jobs"] as const;
export type ConditionContextName = (typeof CONDITION_CONTEXTS)[number];

const PATH_LENGTH: Readonly<Record<ConditionContextName, { min: number; max: number }>> = {
  pipeline: { min: 2, max: 2 },
  variables: { min: 2, max: 2 },
  env: { min: 2, max: 2 },
  sources: { min: 3, max: 3 },
  jobs: { min: 3, max: Number.POSITIVE_INFINITY },
};

export type ConditionAst =
  | { readonly kind: "literal"; readonly value: string | number | boolean | null }
  /** `path[0]` is the context root (normalised: `env` becomes `variables`); `*` is the object filter. */
  | { readonly kind: "context"; readonly path: readonly string[] }
  | { readonly kind: "not"; readonly operand: ConditionAst }
  | {
      readonly kind: "binary";
      readonly op: "==" | "!=" | "&&" | "||";
      readonly left: ConditionAst;
      readonly right: ConditionAst;
    }
  | { readonly kind: "call"; readonly name: ConditionFunction; readonly args: readonly ConditionAst[] };

export interface ConditionContext {
  readonly pipeline: Readonly<Record<string, string>>;
  readonly variables: Readonly<Record<string, string>>;
  readonly sources: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Keyed by job identifier: its status, and the outputs its steps left (`jobs.<id>.outputs.<name>`). */
  readonly jobs: Readonly<
    Record<string, { readonly status: string; readonly outputs?: Readonly<Record<string, string>> }>
  >;
  /** Statuses of the jobs this job depends on (or of the previous stage when it has none). */
  readonly predecessors: readonly string[];
}

/** A value during evaluation. Arrays come only from the `*` object filter. */
export type ConditionValue = string | number | boolean | null | readonly ConditionValue[];

// Deep enough for any hand-written condition; the bound keeps a hostile definition from
// overflowing the stack of the recursive-descent parser (a RangeError would surface as a 500).
const MAX_DEPTH = LIMITS.conditionDepth;
const MAX_LENGTH = LIMITS.conditionLength;

type Token =
  | { readonly type: "string"; readonly value: string; readonly pos: number }
  | { readonly type: "number"; readonly value: number; readonly pos: number }
  | { readonly type: "ident"; readonly value: string; readonly pos: number }
  | { readonly type: "punct"; readonly value: string; readonly pos: number }
  | { readonly type: "end"; readonly value: ""; readonly pos: number };

function fail(src: string, pos: number, problem: string): never {
  // Positions are 1-based columns in the text the client wrote, wrapper included.
  throw invalidDefinition("", `${problem} at position ${pos + 1} of condition ${JSON.stringify(src)}`);
}

/** Strip an optional `${{ … }}` wrapper; returns the inner text and its offset in `src`. */
function unwrap(src: string): { text: string; offset: number } {
  const start = src.indexOf("${{");
  if (start === -1) return { text: src, offset: 0 };
  const end = src.lastIndexOf("}}");
  // Only a wrapper around the whole text is meaningful for a boolean condition; text outside it
  // would be string interpolation, which a condition has no use for.
  if (src.slice(0, start).trim() !== "" || end < start + 3 || src.slice(end + 2).trim() !== "") {
    fail(src, start, "a condition must be one ${{ … }} expression (or a bare expression)");
  }
  return { text: src.slice(start + 3, end), offset: start + 3 };
}

const PUNCT = ["==", "!=", "&&", "||", "!", "(", ")", ",", "."] as const;

function tokenize(src: string, text: string, offset: number): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] ?? "";
    const pos = offset + i;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === "'" || ch === '"') {
      // Single quotes escape themselves by doubling (GitHub style); double quotes do the same
      // with `""`, kept symmetric so no backslash rules exist.
      let value = "";
      let j = i + 1;
      for (;;) {
        if (j >= text.length) fail(src, pos, "unterminated string");
        const c = text[j];
        if (c === ch) {
          if (text[j + 1] === ch) {
            value += ch;
            j += 2;
            continue;
          }
          break;
        }
        value += c;
        j++;
      }
      tokens.push({ type: "string", value, pos });
      i = j + 1;
      continue;
    }
    const prev = tokens[tokens.length - 1];
    const afterDot = prev?.type === "punct" && prev.value === ".";
    if (afterDot) {
      // A property name may hold what identifiers allow (`-`, leading digits: `jobs.build-1.status`).
      const m = /^(?:\*|[A-Za-z0-9_-]+)/.exec(text.slice(i));
      if (!m) fail(src, pos, "expected a property name after '.'");
      tokens.push({ type: "ident", value: m[0], pos });
      i += m[0].length;
      continue;
    }
    const num = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(text.slice(i));
    if (num && (ch !== "." || /\d/.test(text[i + 1] ?? ""))) {
      const value = Number(num[0]);
      if (!Number.isFinite(value)) fail(src, pos, `invalid number ${num[0]}`);
      tokens.push({ type: "number", value, pos });
      i += num[0].length;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (ident) {
      tokens.push({ type: "ident", value: ident[0], pos });
      i += ident[0].length;
      continue;
    }
    const punct = PUNCT.find((p) => text.startsWith(p, i));
    if (punct) {
      tokens.push({ type: "punct", value: punct, pos });
      i += punct.length;
      continue;
    }
    fail(src, pos, `unexpected character ${JSON.stringify(ch)}`);
  }
  tokens.push({ type: "end", value: "", pos: offset + text.length });
  return tokens;
}

function describe(t: Token): string {
  if (t.type === "end") return "end of expression";
  if (t.type === "string") return `string ${JSON.stringify(t.value)}`;
  return `'${t.value}'`;
}

/** Parse a condition, with or without its `${{ }}` wrapper. Throws InvalidInput (a definition issue). */
export function parseCondition(src: string): ConditionAst {
  if (src.length > MAX_LENGTH) {
    throw invalidDefinition("", `condition is longer than ${MAX_LENGTH} characters`);
  }
  const { text, offset } = unwrap(src);
  if (text.trim() === "") fail(src, offset, "empty expression");
  const tokens = tokenize(src, text, offset);
  let at = 0;
  let depth = 0;

  const peek = (): Token => tokens[at] ?? { type: "end", value: "", pos: src.length };
  const next = (): Token => {
    const t = peek();
    at++;
    return t;
  };
  const isPunct = (value: string): boolean => {
    const t = peek();
    return t.type === "punct" && t.value === value;
  };
  const expect = (value: string): void => {
    const t = next();
    if (t.type !== "punct" || t.value !== value)
      fail(src, t.pos, `expected '${value}' but found ${describe(t)}`);
  };

  // Precedence, loosest first: ||, &&, == !=, !, primary.
  const parseOr = (): ConditionAst => {
    if (++depth > MAX_DEPTH) fail(src, peek().pos, `expression nested deeper than ${MAX_DEPTH}`);
    let left = parseAnd();
    while (isPunct("||")) {
      next();
      left = { kind: "binary", op: "||", left, right: parseAnd() };
    }
    depth--;
    return left;
  };
  const parseAnd = (): ConditionAst => {
    let left = parseEquality();
    while (isPunct("&&")) {
      next();
      left = { kind: "binary", op: "&&", left, right: parseEquality() };
    }
    return left;
  };
  const parseEquality = (): ConditionAst => {
    let left = parseUnary();
    while (isPunct("==") || isPunct("!=")) {
      const op = next().value === "==" ? "==" : "!=";
      left = { kind: "binary", op, left, right: parseUnary() };
    }
    return left;
  };
  const parseUnary = (): ConditionAst => {
    if (isPunct("!")) {
      next();
      if (++depth > MAX_DEPTH) fail(src, peek().pos, `expression nested deeper than ${MAX_DEPTH}`);
      const operand = parseUnary();
      depth--;
      return { kind: "not", operand };
    }
    return parsePrimary();
  };
  const parsePrimary = (): ConditionAst => {
    const t = next();
    switch (t.type) {
      case "string":
      case "number":
        return { kind: "literal", value: t.value };
      case "end":
        return fail(src, t.pos, "unexpected end of expression");
      case "punct":
        if (t.value === "(") {
          const inner = parseOr();
          expect(")");
          return inner;
        }
        return fail(src, t.pos, `unexpected ${describe(t)}`);
      case "ident":
        return parseIdent(t);
    }
  };
  const parseIdent = (t: Token & { type: "ident" }): ConditionAst => {
    // Keywords, function names and context roots are case-insensitive, as in GitHub Actions.
    const lower = t.value.toLowerCase();
    if (lower === "true") return { kind: "literal", value: true };
    if (lower === "false") return { kind: "literal", value: false };
    if (lower === "null") return { kind: "literal", value: null };
    if (isPunct("(")) {
      const name = CONDITION_FUNCTIONS.find((f) => f.toLowerCase() === lower);
      if (!name) fail(src, t.pos, `unknown function ${t.value}(); known: ${CONDITION_FUNCTIONS.join(", ")}`);
      next();
      const args: ConditionAst[] = [];
      if (!isPunct(")")) {
        args.push(parseOr());
        while (isPunct(",")) {
          next();
          args.push(parseOr());
        }
      }
      expect(")");
      if (args.length !== ARITY[name]) {
        fail(src, t.pos, `${name}() takes ${ARITY[name]} argument(s), got ${args.length}`);
      }
      return { kind: "call", name, args };
    }
    const root = CONDITION_CONTEXTS.find((c) => c === lower);
    if (!root) fail(src, t.pos, `unknown name ${t.value}; contexts are ${CONDITION_CONTEXTS.join(", ")}`);
    const path: string[] = [root === "env" ? "variables" : root];
    while (isPunct(".")) {
      next();
      const seg = next();
      if (seg.type !== "ident") fail(src, seg.pos, "expected a property name after '.'");
      path.push(seg.value);
    }
    const { min, max } = PATH_LENGTH[root];
    if (path.length < min || path.length > max) {
      const shape = {
        pipeline: "pipeline.<name>",
        variables: "variables.<name>",
        env: "env.<name>",
        sources: "sources.<alias>.<name>",
        jobs: "jobs.<identifier>.status",
      }[root];
      fail(src, t.pos, `${root} must be used as ${shape}`);
    }
    return { kind: "context", path };
  };

  const ast = parseOr();
  const rest = peek();
  if (rest.type !== "end") fail(src, rest.pos, `unexpected ${describe(rest)}`);
  return ast;
}

// ---- evaluation ---------------------------------------------------------------------------

type Tree = string | { readonly [key: string]: Tree } | undefined;

/** Object keys match exactly first, then case-insensitively (GitHub Actions looks keys up ignoring case). */
function lookup(obj: { readonly [key: string]: Tree }, key: string): Tree {
  if (Object.hasOwn(obj, key)) return obj[key];
  const lower = key.toLowerCase();
  const found = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return found === undefined ? undefined : obj[found];
}

function walk(node: Tree, path: readonly string[]): ConditionValue {
  const [head, ...rest] = path;
  if (head === undefined) return typeof node === "string" ? node : "";
  if (node === undefined || typeof node === "string") return rest.includes("*") || head === "*" ? [] : "";
  if (head === "*") return Object.values(node).flatMap((child) => flattenOne(walk(child, rest)));
  return walk(lookup(node, head), rest);
}

function flattenOne(v: ConditionValue): ConditionValue[] {
  return Array.isArray(v) ? [...v] : [v as Exclude<ConditionValue, readonly ConditionValue[]>];
}

function resolve(path: readonly string[], ctx: ConditionContext): ConditionValue {
  // The records are plain string maps; jobs values are objects with a status. Seen as one tree,
  // one walk serves every context and the `*` filter.
  const root: { readonly [key: string]: Tree } = {
    pipeline: ctx.pipeline,
    variables: ctx.variables,
    sources: ctx.sources,
    jobs: ctx.jobs as Readonly<Record<string, { readonly [key: string]: Tree }>>,
  };
  return walk(root, path);
}

export function truthy(v: ConditionValue): boolean {
  if (Array.isArray(v)) return true;
  return !(v === "" || v === 0 || v === false || v === null || Number.isNaN(v));
}

function toNumber(v: Exclude<ConditionValue, readonly ConditionValue[]>): number {
  if (v === null) return 0;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "number") return v;
  const t = v.trim();
  return t === "" ? 0 : Number(t);
}

function toText(v: ConditionValue): string {
  if (Array.isArray(v)) return "";
  if (v === null) return "";
  return String(v);
}

/** GitHub Actions loose equality: strings ignore case; mixed scalar types compare as numbers. */
export function looseEquals(a: ConditionValue, b: ConditionValue): boolean {
  if (Array.isArray(a) || Array.isArray(b)) return a === b;
  const x = a as Exclude<ConditionValue, readonly ConditionValue[]>;
  const y = b as Exclude<ConditionValue, readonly ConditionValue[]>;
  if (typeof x === "string" && typeof y === "string") return x.toLowerCase() === y.toLowerCase();
  if (typeof x === typeof y && (x === null) === (y === null)) return x === y;
  return toNumber(x) === toNumber(y);
}

// ASYNC_FAILED is the failed end of an asynchronous job, so failure() counts it too.
const FAILED = new Set(["FAILED", "ASYNC_FAILED"]);

function evaluate(ast: ConditionAst, ctx: ConditionContext): ConditionValue {
  switch (ast.kind) {
    case "literal":
      return ast.value;
    case "context":
      return resolve(ast.path, ctx);
    case "not":
      return !truthy(evaluate(ast.operand, ctx));
    case "binary": {
      const left = evaluate(ast.left, ctx);
      // && and || yield an operand, not a boolean, as in GitHub Actions (`a || 'fallback'`).
      if (ast.op === "&&") return truthy(left) ? evaluate(ast.right, ctx) : left;
      if (ast.op === "||") return truthy(left) ? left : evaluate(ast.right, ctx);
      const eq = looseEquals(left, evaluate(ast.right, ctx));
      return ast.op === "==" ? eq : !eq;
    }
    case "call":
      return call(ast.name, ast.args, ctx);
  }
}

function call(name: ConditionFunction, args: readonly ConditionAst[], ctx: ConditionContext): ConditionValue {
  switch (name) {
    case "default":
    case "success":
      return ctx.predecessors.every((s) => s === "COMPLETED");
    case "always":
      return true;
    case "failure":
      return ctx.predecessors.some((s) => FAILED.has(s));
    case "contains":
    case "startsWith":
    case "endsWith": {
      const [a, b] = args.map((arg) => evaluate(arg, ctx));
      const haystack = a ?? "";
      const needle = b ?? "";
      if (name === "contains" && Array.isArray(haystack))
        return haystack.some((item) => looseEquals(item, needle));
      const h = toText(haystack).toLowerCase();
      const n = toText(needle).toLowerCase();
      if (name === "contains") return h.includes(n);
      return name === "startsWith" ? h.startsWith(n) : h.endsWith(n);
    }
  }
}

/** Evaluate a parsed condition to a boolean; never throws (missing values read as ""). */
export function evaluateCondition(ast: ConditionAst, ctx: ConditionContext): boolean {
  return truthy(evaluate(ast, ctx));
}
