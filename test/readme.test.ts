// The README's curl walk-through, run as written against a real server (only the URL differs).

import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers/app.js";
import { type ServerProcess, startServerProcess } from "./helpers/server.js";

const run = promisify(execFile);
const hasCurl = fs.existsSync("/usr/bin/curl");

describe.skipIf(!hasCurl)("README walk-through (skipped: curl is not installed)", () => {
  let server: ServerProcess;
  let cwd: string;
  beforeAll(async () => {
    cwd = tempDir("pipewright-readme-");
    server = await startServerProcess({ dataDir: path.join(cwd, ".pipewright"), generateAdminToken: true });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("works as written", async () => {
    const readme = fs.readFileSync(path.join(import.meta.dirname, "..", "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Walk-through"));
    const script = /```sh\n([\s\S]*?)```/
      .exec(section)![1]!
      .replace("URL=http://127.0.0.1:8080", `URL=${server.url}`);
    expect(fs.existsSync(path.join(cwd, ".pipewright", "admin-token")), server.output()).toBe(true);
    const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], { cwd, timeout: 60_000 });
    expect(stdout).toContain('"result":[');
    expect(stdout).toContain("hello from run 1");
    expect(stdout.match(/"success":true/g)?.length).toBe(2);
  }, 90_000);
});
