import { describe, expect, it } from "vitest";
import { createTestClock, systemClock } from "./clock.js";

describe("test clock", () => {
  it("fires timers in time order as time is advanced, intervals repeatedly", async () => {
    const clock = createTestClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 200);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 100);
    const every = clock.setInterval(() => fired.push(`i@${clock.now()}`), 150);
    await clock.advance(99);
    expect(fired).toEqual([]);
    await clock.advance(250);
    expect(fired).toEqual(["a@1100", "i@1150", "b@1200", "i@1300"]);
    every.cancel();
    await clock.advance(1000);
    expect(fired).toHaveLength(4);
    expect(clock.now()).toBe(2349);
    expect(clock.pending()).toBe(0);
  });

  it("lets the work a timer starts run before the next timer fires", async () => {
    const clock = createTestClock(0);
    const order: string[] = [];
    clock.setTimeout(() => {
      void Promise.resolve()
        .then(() => new Promise<void>((r) => setImmediate(r)))
        .then(() => order.push("work of the first"));
    }, 10);
    clock.setTimeout(() => order.push("second"), 20);
    await clock.advance(30);
    expect(order).toEqual(["work of the first", "second"]);
  });

  it("sleeps until time is advanced, or until the signal aborts", async () => {
    const clock = createTestClock(0);
    let woke = false;
    const sleeping = clock.sleep(500).then(() => (woke = true));
    await clock.advance(499);
    expect(woke).toBe(false);
    await clock.advance(1);
    await sleeping;
    expect(woke).toBe(true);

    const ac = new AbortController();
    const aborted = clock.sleep(10_000, ac.signal);
    ac.abort();
    await aborted;
    expect(clock.pending()).toBe(0);
  });
});

describe("system clock", () => {
  it("ends a sleep early on abort", async () => {
    const ac = new AbortController();
    const sleeping = systemClock.sleep(60_000, ac.signal);
    ac.abort();
    await sleeping;
    await systemClock.sleep(10, ac.signal); // an aborted signal answers at once
  });
});
