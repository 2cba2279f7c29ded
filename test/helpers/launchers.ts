// The two ways the runner starts step processes, for unit tests that must hold for both.

import { join } from "node:path";
import { startForkserver } from "../../src/runner/forkserver.js";
import { FALLBACK_PATH, type Launcher, spawnLauncher } from "../../src/runner/process.js";

/** [name, start in dir]: spawned by the test process, and from a forkserver of its own. */
export const LAUNCHERS: [string, (dir: string) => Promise<Launcher>][] = [
  ["by this process", async () => spawnLauncher],
  [
    "from the forkserver",
    async (dir) => {
      const f = await startForkserver({
        dir: join(dir, ".fifo"),
        path: process.env.PATH ?? FALLBACK_PATH,
        log: () => {},
      });
      if (!f) throw new Error("perl is needed for the forkserver tests");
      return f;
    },
  ],
];
