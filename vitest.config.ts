import { existsSync, readdirSync } from "node:fs";
import { defineConfig } from "vitest/config";

/** The engine's end-to-end tests run twice: on the embedded SQLite store and on PostgreSQL. */
const ENGINE_E2E = [
  "test/batch-runs.test.ts",
  "test/runs.test.ts",
  "test/scheduling.test.ts",
  "test/concurrency.test.ts",
  "test/lifecycle.test.ts",
  "test/logs.test.ts",
  "test/crash.test.ts",
  "test/outputs.test.ts",
  "test/caches.test.ts",
  "test/variable-group-runs.test.ts",
  "test/subpipelines.test.ts",
  "test/delays.test.ts",
  "test/build-tasks.test.ts",
  "test/subpipeline-triggers.test.ts",
];

const hasPostgres =
  existsSync("/usr/lib/postgresql") &&
  readdirSync("/usr/lib/postgresql").some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`));
if (!hasPostgres) {
  console.warn(
    "PostgreSQL binaries not found (apt-get install postgresql): the engine e2e tests run on SQLite only, PostgreSQL tests are skipped",
  );
}

const common = { testTimeout: 30_000, hookTimeout: 60_000, pool: "forks" as const };

export default defineConfig({
  test: {
    projects: [
      { test: { ...common, name: "sqlite", include: ["src/**/*.test.ts", "test/**/*.test.ts"] } },
      ...(hasPostgres
        ? [
            {
              test: {
                ...common,
                name: "postgres",
                include: ENGINE_E2E,
                env: { PIPEWRIGHT_TEST_DB: "postgres" },
                globalSetup: ["test/helpers/postgres-global.ts"],
              },
            },
          ]
        : []),
    ],
  },
});
