import { describe, expect, it } from "vitest";
import { isDatabaseUnreachable } from "./unreachable.js";

const coded = (code: string, message = "x"): Error => Object.assign(new Error(message), { code });

describe("isDatabaseUnreachable", () => {
  it("knows a database that is down, restarting or cut off", () => {
    expect(isDatabaseUnreachable(coded("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432"))).toBe(true);
    expect(isDatabaseUnreachable(coded("57P01", "terminating connection due to administrator command"))).toBe(
      true,
    );
    expect(isDatabaseUnreachable(coded("57P03", "the database system is starting up"))).toBe(true);
    expect(isDatabaseUnreachable(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(isDatabaseUnreachable(new Error("timeout exceeded when trying to connect"))).toBe(true);
    expect(isDatabaseUnreachable(new AggregateError([coded("ECONNREFUSED")], ""))).toBe(true);
    expect(isDatabaseUnreachable(new Error("wrapped", { cause: coded("ECONNRESET") }))).toBe(true);
  });

  it("does not mistake a refused statement, a wrong password or a bug for an outage", () => {
    expect(isDatabaseUnreachable(coded("23505", "duplicate key value violates unique constraint"))).toBe(
      false,
    );
    expect(isDatabaseUnreachable(coded("28P01", "password authentication failed"))).toBe(false);
    expect(isDatabaseUnreachable(coded("3D000", 'database "x" does not exist'))).toBe(false);
    expect(isDatabaseUnreachable(new TypeError("Cannot read properties of undefined"))).toBe(false);
    expect(isDatabaseUnreachable("ECONNREFUSED")).toBe(false);
  });
});
