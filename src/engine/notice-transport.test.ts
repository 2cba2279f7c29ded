import { describe, expect, it } from "vitest";
import { isSpecialAddress, postWebhook } from "./notice-transport.js";

describe("notice transport", () => {
  it("refuses loopback, private, link-local and mapped addresses; public ones pass", () => {
    for (const a of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "fd00::1",
      "fe80::1",
      "::ffff:127.0.0.1",
      "::",
    ])
      expect(isSpecialAddress(a), a).toBe(true);
    for (const a of ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"])
      expect(isSpecialAddress(a), a).toBe(false);
  });

  it("an address literal in a refused range fails before any connection", async () => {
    await expect(
      postWebhook(
        { url: "http://169.254.169.254/latest/meta-data", headers: {}, body: "{}" },
        { timeoutMs: 1000, allowPrivate: false },
      ),
    ).rejects.toThrow(/loopback, private or reserved/);
  });
});
