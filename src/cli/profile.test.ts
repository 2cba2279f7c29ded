import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CliError } from "./cli-error.js";
import { configDir, normalizeServer, readProfiles, resolveSettings, saveProfile } from "./profile.js";

const profiles = {
  profiles: {
    default: { server: "http://file:1", token: "file-token", project: "file-project" },
    prod: { server: "https://prod.example", token: "prod-token", project: "p" },
  },
};

describe("resolveSettings", () => {
  it("takes each setting from flag, else environment, else profile, else default", () => {
    expect(resolveSettings({}, {}, { profiles: {} })).toEqual({
      server: "http://127.0.0.1:8080",
      token: undefined,
      project: undefined,
      profileName: "default",
    });
    expect(resolveSettings({}, {}, profiles)).toMatchObject({ server: "http://file:1", token: "file-token" });
    const env = { PIPEWRIGHT_SERVER: "http://env:2/", PIPEWRIGHT_TOKEN: "env-token" };
    expect(resolveSettings({}, env, profiles)).toMatchObject({
      server: "http://env:2",
      token: "env-token",
      project: "file-project",
    });
    expect(resolveSettings({ token: "flag-token", project: "x" }, env, profiles)).toMatchObject({
      server: "http://env:2",
      token: "flag-token",
      project: "x",
    });
  });

  it("selects a profile by flag or PIPEWRIGHT_PROFILE, and refuses an unknown one", () => {
    expect(resolveSettings({ profile: "prod" }, {}, profiles).server).toBe("https://prod.example");
    expect(resolveSettings({}, { PIPEWRIGHT_PROFILE: "prod" }, profiles).token).toBe("prod-token");
    expect(() => resolveSettings({ profile: "nope" }, {}, profiles)).toThrow(
      /no profile "nope" \(known: default, prod\)/,
    );
  });
});

describe("normalizeServer", () => {
  it("adds http:// and drops trailing slashes", () => {
    expect(normalizeServer("localhost:8080/")).toBe("http://localhost:8080");
    expect(normalizeServer("https://ci.example/pw")).toBe("https://ci.example/pw");
    expect(() => normalizeServer("ftp://x")).toThrow(CliError);
  });
});

describe("configDir", () => {
  it("honours an absolute XDG_CONFIG_HOME, else ~/.config", () => {
    expect(configDir({ XDG_CONFIG_HOME: "/xdg" }, "/home/u")).toBe("/xdg/pipewright");
    expect(configDir({ XDG_CONFIG_HOME: "rel" }, "/home/u")).toBe("/home/u/.config/pipewright");
    expect(configDir({ HOME: "/h" }, "/home/u")).toBe("/h/.config/pipewright");
  });
});

describe("saveProfile / readProfiles", () => {
  it("writes mode 0600, keeps other profiles, and warns about a file others can read", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pw-profile-"));
    const file = path.join(dir, "sub", "config.json");
    expect(readProfiles(file).file).toEqual({ profiles: {} });
    saveProfile(file, "default", { server: "http://a", token: "t1", project: "p1" });
    saveProfile(file, "other", { server: "http://b", token: "t2", project: "p2" });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const loaded = readProfiles(file);
    expect(Object.keys(loaded.file.profiles)).toEqual(["default", "other"]);
    expect(loaded.warning).toBeUndefined();
    fs.chmodSync(file, 0o644);
    expect(readProfiles(file).warning).toContain("chmod 600");
    fs.writeFileSync(file, "{nope");
    expect(() => readProfiles(file)).toThrow(/is not valid JSON/);
  });
});
