// Inputs for property-based fuzzing of the API, generated from the route schemas the server
// publishes (its OpenAPI document): mostly values of the declared shape, at and around their
// bounds, mixed with values of the classes an adversarial probe uses (wrong types, huge and
// negative numbers, NUL and lone surrogates, very long text, deep nesting, `__proto__` keys).

import fc from "fast-check";

// biome-ignore lint/suspicious/noExplicitAny: JSON Schemas of the OpenAPI document, read loosely
type Schema = any;

const deep = (n: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = [v];
  return v;
};

/** Values no route should take, of every JSON type. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.constantFrom(-1, 0, 1e20, -1e20, 2 ** 53 + 2, 0.5, 1e308),
  fc.constantFrom("", "\u0000", "a\u0000b", "\ud800", "\udfff x", "x".repeat(10_000), "🚀".repeat(300)),
  fc.constantFrom("../../etc/passwd", "%00", "$(id)", "`id`", "'; DROP TABLE pipelines; --", "<script>"),
  fc.constant(deep(40)),
  fc.constant(JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}')),
  fc.string({ maxLength: 20 }),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);

function stringOf(s: Schema): fc.Arbitrary<string> {
  const max = typeof s.maxLength === "number" ? s.maxLength : 64;
  const min = typeof s.minLength === "number" ? s.minLength : 0;
  const parts: fc.WeightedArbitrary<string>[] = [
    { weight: 4, arbitrary: fc.string({ minLength: min, maxLength: Math.min(max, 40) }) },
    // At the bound and one past it.
    { weight: 1, arbitrary: fc.constantFrom("a".repeat(max), "a".repeat(max + 1)) },
  ];
  if (typeof s.pattern === "string") {
    parts.push({ weight: 6, arbitrary: fc.stringMatching(new RegExp(s.pattern, "u")) });
  }
  return fc.oneof(...parts);
}

/** Numbers a store, a timer or a Date cannot take: past 2^53, fractions, negatives. */
const awkwardNumbers = fc.constantFrom(1e20, 2 ** 63, 2 ** 53 + 2, 0.5, 1e-7, -1, -(2 ** 31), 1e308);

function integerOf(s: Schema): fc.Arbitrary<number> {
  const min = typeof s.minimum === "number" ? s.minimum : -1000;
  const max = typeof s.maximum === "number" ? s.maximum : 1_000_000;
  return fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31) }) },
    { weight: 2, arbitrary: fc.constantFrom(min, max, min - 1, max + 1) },
    { weight: 1, arbitrary: awkwardNumbers },
  );
}

/** A value of the schema's shape (at and around its bounds). */
export const shapedOf = (s: Schema): fc.Arbitrary<unknown> => shapeOf(s, 0);

/**
 * A value of the schema's shape with one fault: one node anywhere in it replaced by a hostile
 * value (so a fault deep inside is not hidden behind another one the validator meets first), or
 * hostile as a whole.
 */
export function faultyOf(s: Schema): fc.Arbitrary<unknown> {
  const shaped = shapeOf(s, 0);
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.tuple(shaped, hostileValue, fc.nat()).map(([v, h, n]) => replaceNode(v, n, h)),
    },
    { weight: 1, arbitrary: hostileValue },
  );
}

/** v with its n-th node (in depth-first order, modulo their number) replaced by h. */
function replaceNode(v: unknown, n: number, h: unknown): unknown {
  const count = (x: unknown): number =>
    1 +
    (typeof x === "object" && x !== null ? Object.values(x).reduce<number>((a, y) => a + count(y), 0) : 0);
  let target = n % count(v);
  const walk = (x: unknown): unknown => {
    if (target-- === 0) return h;
    if (Array.isArray(x)) return x.map(walk);
    if (typeof x === "object" && x !== null) {
      return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, walk(y)]));
    }
    return x;
  };
  return walk(v);
}

/** A value of the schema's shape, at and around its bounds, to `depth` levels. */
function shapeOf(s: Schema, depth: number): fc.Arbitrary<unknown> {
  if (!s || depth > 4) return fc.jsonValue({ maxDepth: 1 });
  return shapedValue(s, depth);
}

function shapedValue(s: Schema, depth: number): fc.Arbitrary<unknown> {
  // OpenAPI writes `type: [a, b]` as anyOf, and null as `nullable`.
  const alternatives = s.anyOf ?? s.oneOf;
  if (Array.isArray(alternatives)) {
    const { anyOf: _a, oneOf: _o, ...rest } = s;
    return fc.oneof(...alternatives.map((alt: Schema) => shapedValue({ ...rest, ...alt }, depth)));
  }
  if (s.nullable === true) {
    const { nullable: _n, ...rest } = s;
    return fc.oneof(
      { weight: 1, arbitrary: fc.constant(null) },
      { weight: 4, arbitrary: shapedValue(rest, depth) },
    );
  }
  if (Array.isArray(s.enum)) return fc.constantFrom(...s.enum);
  if (s.const !== undefined) return fc.constant(s.const);
  const types: string[] = Array.isArray(s.type) ? s.type : [s.type ?? (s.properties ? "object" : "any")];
  return fc.oneof(...types.map((t) => typed(t, s, depth)));
}

function typed(type: string, s: Schema, depth: number): fc.Arbitrary<unknown> {
  switch (type) {
    case "string":
      return stringOf(s);
    case "integer":
      return integerOf(s);
    case "number":
      return fc.oneof(integerOf(s), fc.double({ noNaN: true, noDefaultInfinity: true }));
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array": {
      const max = typeof s.maxItems === "number" ? Math.min(s.maxItems, 4) : 4;
      return fc.array(shapeOf(s.items ?? {}, depth + 1), { maxLength: max });
    }
    case "object": {
      const props: Record<string, Schema> = s.properties ?? {};
      const required: string[] = s.required ?? [];
      // Optional keys are there more often than not, so deep fields are reached.
      const record = fc
        .tuple(
          ...Object.entries(props).map(([k, v]) =>
            fc.tuple(
              fc.constant(k),
              shapeOf(v, depth + 1),
              required.includes(k) ? fc.constant(true) : fc.nat(3).map((n) => n > 0),
            ),
          ),
        )
        .map((entries) => Object.fromEntries(entries.filter(([, , keep]) => keep).map(([k, v]) => [k, v])));
      // Sometimes with a key the schema does not know.
      return fc.oneof(
        { weight: 6, arbitrary: record },
        {
          weight: 1,
          arbitrary: fc
            .tuple(record, fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 1 }))
            .map(([r, k, v]) => ({ [k]: v, ...r })),
        },
      );
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}
