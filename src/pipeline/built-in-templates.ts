// The pipeline templates every installation ships with (CodeArts's "system" templates): each is a
// definition Pipewright runs as it is (spec §5.5 tasks only), read-only, the same in every project.

import type { Variable } from "./types.js";

export interface BuiltInTemplate {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  /** CodeArts's template language: java python nodejs go net cpp php other none. */
  readonly language: string;
  readonly icon: string;
  /** Whether the "new pipeline" form asks for sources: the template checks one out. */
  readonly is_show_source: boolean;
  /** The definition as the API stores it: a string of JSON. */
  readonly definition: string;
  readonly variables: readonly Variable[];
}

/** Who the built-ins say created them, and when (they do not change between restarts). */
export const BUILT_IN_AUTHOR = { id: "pipewright", name: "Pipewright" } as const;
export const BUILT_IN_TIME = Date.UTC(2026, 11, 1);

const shell = (name: string, identifier: string, script: string) => ({
  name,
  identifier,
  task: "official_shell_plugin",
  inputs: [{ key: "OFFICIAL_SHELL_SCRIPT_INPUT", value: script }],
});
const checkout = {
  name: "Checkout",
  identifier: "checkout",
  task: "official_git_clone",
  // No alias: the run's first source; the later steps work in src/.
  inputs: [{ key: "path", value: "src" }],
};

const variable = (v: Partial<Variable> & Pick<Variable, "name" | "value">, sequence: number): Variable => ({
  type: "string",
  is_secret: false,
  description: "",
  is_runtime: false,
  limits: [],
  is_reset: false,
  latest_value: "",
  ...v,
  sequence,
});

const SHELL_BUILD_TEST: BuiltInTemplate = {
  id: "5e11b0117e3a1a7e0000000000000001",
  name: "Shell build and test",
  description:
    "One job that builds, then tests, with shell scripts in one workspace. Replace the two scripts with your own; it needs no repository.",
  language: "none",
  icon: "shell",
  is_show_source: false,
  definition: JSON.stringify({
    stages: [
      {
        name: "Build and test",
        identifier: "build_and_test",
        sequence: 0,
        jobs: [
          {
            name: "Build and test",
            identifier: "build_and_test",
            timeout: "30m",
            steps: [
              shell(
                "Build",
                "build",
                'mkdir -p out\necho "build $PIPELINE_RUN_NUMBER of $PIPELINE_NAME" > out/build.txt\ncat out/build.txt',
              ),
              shell("Test", "test", 'test -s out/build.txt && echo "tests passed"'),
            ],
          },
        ],
      },
    ],
  }),
  variables: [],
};

const GIT_MAKE: BuiltInTemplate = {
  id: "5e11b0117e3a1a7e0000000000000002",
  name: "Git checkout, make build and test",
  description:
    "Checks out the pipeline's repository into src/, then runs `make build` and `make test` there.",
  language: "other",
  icon: "git",
  is_show_source: true,
  definition: JSON.stringify({
    stages: [
      {
        name: "Build",
        identifier: "build",
        sequence: 0,
        jobs: [
          {
            name: "Build and test",
            identifier: "build_and_test",
            timeout: "30m",
            steps: [
              checkout,
              shell("Build", "make_build", "cd src\nmake build"),
              shell("Test", "make_test", "cd src\nmake test"),
            ],
          },
        ],
      },
    ],
  }),
  variables: [],
};

const NODE_BUILD_TEST: BuiltInTemplate = {
  id: "5e11b0117e3a1a7e0000000000000003",
  name: "Node.js build and test",
  description:
    "Checks out a Node.js project into src/, installs with `npm ci` (node_modules cached by the hash of package-lock.json), then runs the build script if there is one and `npm test`.",
  language: "nodejs",
  icon: "nodejs",
  is_show_source: true,
  definition: JSON.stringify({
    stages: [
      {
        name: "Build",
        identifier: "build",
        sequence: 0,
        jobs: [
          {
            name: "Build and test",
            identifier: "build_and_test",
            timeout: "30m",
            cache: { key: "npm-${{ hashFiles('src/package-lock.json') }}", paths: ["src/node_modules"] },
            steps: [
              checkout,
              shell("Install", "npm_ci", "cd src\nnpm ci --no-audit --no-fund"),
              shell("Build", "npm_build", "cd src\nnpm run build --if-present"),
              shell("Test", "npm_test", "cd src\nnpm test"),
            ],
          },
        ],
      },
    ],
  }),
  variables: [],
};

const BUILD_REVIEW_DEPLOY: BuiltInTemplate = {
  id: "5e11b0117e3a1a7e0000000000000004",
  name: "Build, manual review, deploy",
  description:
    "Builds, then waits for a manual review (refused after a day without an answer) before the deploy stage runs. `target` picks where to deploy at run time.",
  language: "none",
  icon: "review",
  is_show_source: false,
  definition: JSON.stringify({
    stages: [
      {
        name: "Build",
        identifier: "build",
        sequence: 0,
        jobs: [
          {
            name: "Build",
            identifier: "build",
            steps: [shell("Build", "build", 'echo "building release $PIPELINE_RUN_NUMBER for $target"')],
          },
        ],
      },
      {
        name: "Review",
        identifier: "review",
        sequence: 1,
        jobs: [
          {
            name: "Approve",
            identifier: "approve",
            steps: [
              {
                name: "Manual review",
                identifier: "manual_review",
                task: "official_devcloud_checkpoint",
                inputs: [
                  { key: "check_strategy", value: "any" },
                  { key: "timeout", value: 86400 },
                  { key: "timeout_strategy", value: "reject" },
                  { key: "comment", value: "Deploy this build?" },
                ],
              },
            ],
          },
        ],
      },
      {
        name: "Deploy",
        identifier: "deploy",
        sequence: 2,
        jobs: [
          {
            name: "Deploy",
            identifier: "deploy",
            steps: [shell("Deploy", "deploy", 'echo "deploying release $PIPELINE_RUN_NUMBER to $target"')],
          },
        ],
      },
    ],
  }),
  variables: [
    variable(
      {
        name: "target",
        value: "staging",
        type: "enum",
        limits: ["staging", "production"],
        is_runtime: true,
        description: "Where the deploy stage deploys",
      },
      1,
    ),
  ],
};

export const BUILT_IN_TEMPLATES: readonly BuiltInTemplate[] = [
  SHELL_BUILD_TEST,
  GIT_MAKE,
  NODE_BUILD_TEST,
  BUILD_REVIEW_DEPLOY,
];

export function builtInTemplate(id: string): BuiltInTemplate | undefined {
  return BUILT_IN_TEMPLATES.find((t) => t.id === id);
}

/** The languages CodeArts's template models list. */
export const TEMPLATE_LANGUAGES = [
  "java",
  "python",
  "nodejs",
  "go",
  "net",
  "cpp",
  "php",
  "other",
  "none",
] as const;
