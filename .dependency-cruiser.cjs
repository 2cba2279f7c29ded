// The layer rules of docs/architecture.md, checked by test/architecture.test.ts (and by
// `npx depcruise src web/src` by hand). Each rule names what a layer may NOT import; the
// reasons are in docs/architecture.md.

/** A folder of src/ (or a top-level module), as a path pattern. */
const layer = (name) => `^src/${name}`;
const ours = "^src/";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "pipeline-is-pure",
      comment: "The domain imports nothing of ours: the UI bundles it, every layer uses it.",
      severity: "error",
      from: { path: layer("pipeline/"), pathNot: "\\.test\\.ts$" },
      to: { path: ours, pathNot: layer("pipeline/") },
    },
    {
      name: "leaf-modules",
      comment: "clock, ids and config are leaves; errors knows only the domain's issues.",
      severity: "error",
      from: { path: "^src/(clock|ids|config|os-lock)\\.ts$" },
      to: { path: ours },
    },
    {
      name: "errors-leaf",
      severity: "error",
      from: { path: "^src/errors\\.ts$" },
      to: { path: ours, pathNot: "^src/pipeline/issues\\.ts$" },
    },
    {
      name: "wire-is-the-contract",
      comment: "The wire contract depends on the domain's vocabulary only, so clients can import it.",
      severity: "error",
      from: { path: layer("wire/"), pathNot: "\\.test\\.ts$" },
      to: { path: ours, pathNot: `${layer("wire/")}|${layer("pipeline/")}` },
    },
    {
      name: "store-below-engine",
      comment:
        "The store knows records and the domain, nothing that uses it (its contract suite, test code, builds runs as the engine does).",
      severity: "error",
      from: { path: layer("store/"), pathNot: "\\.test\\.ts$|store-contract\\.ts$" },
      to: { path: ours, pathNot: `${layer("store/")}|${layer("pipeline/")}` },
    },
    {
      name: "store-backends-behind-the-port",
      comment: "Only the composition root picks and opens a backend; everyone else sees the ports.",
      severity: "error",
      from: { path: ours, pathNot: `^src/main\\.ts$|${layer("store/")}|\\.test\\.ts$` },
      to: { path: `${layer("store/")}(sql|sqlite|postgres)/` },
    },
    {
      name: "runner-executes-only",
      comment: "The runner executes jobs; it knows the domain's words and the clock, not the server.",
      severity: "error",
      from: { path: layer("runner/"), pathNot: "\\.test\\.ts$" },
      to: {
        path: ours,
        pathNot: `${layer("runner/")}|${layer("pipeline/")}|${layer("wire/")}|^src/(clock|os-lock)\\.ts$`,
      },
    },
    {
      name: "engine-sees-ports",
      comment: "The engine sees the store and the runner through their interfaces, never HTTP or the CLI.",
      severity: "error",
      from: { path: layer("engine/"), pathNot: "\\.test\\.ts$" },
      to: {
        path: ours,
        pathNot: [
          layer("engine/"),
          layer("pipeline/"),
          "^src/store/(store|run-records|blobs|unreachable)\\.ts$",
          "^src/runner/job\\.ts$",
          "^src/(errors|clock)\\.ts$",
        ].join("|"),
      },
    },
    {
      name: "api-over-engine",
      comment: "HTTP reads through the store ports and changes runs through the engine; no runner, no CLI.",
      severity: "error",
      from: { path: layer("api/"), pathNot: "\\.test\\.ts$" },
      to: {
        path: ours,
        pathNot: [
          layer("api/"),
          layer("engine/"),
          layer("pipeline/"),
          layer("wire/"),
          "^src/store/(store|run-records|blobs|unreachable)\\.ts$",
          "^src/(errors|clock)\\.ts$",
        ].join("|"),
      },
    },
    {
      name: "cli-is-a-client",
      comment: "The CLI talks to the API over HTTP; it starts the server and the agent through their entry points.",
      severity: "error",
      from: { path: layer("cli/"), pathNot: "\\.test\\.ts$" },
      to: {
        path: ours,
        pathNot: [
          layer("cli/"),
          layer("pipeline/"),
          layer("wire/"),
          "^src/runner/(agent|runner-process)\\.ts$",
          "^src/(errors|clock|config|main)\\.ts$",
        ].join("|"),
      },
    },
    {
      name: "web-talks-to-the-api",
      comment: "The UI bundles the domain and the wire contract, nothing of the server.",
      severity: "error",
      from: { path: "^web/src/" },
      to: { path: ours, pathNot: `${layer("pipeline/")}|${layer("wire/")}` },
    },
    {
      name: "no-test-code-in-production",
      severity: "error",
      from: { path: "^(src|web/src)/", pathNot: "\\.test\\.ts$|store-contract\\.ts$" },
      to: { path: "(^test/|\\.test\\.ts$|store-contract\\.ts$)" },
    },
    {
      name: "no-circular",
      comment: "Modules form a tree of layers; a cycle means two of them are one thing, or one is in the wrong place.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};
