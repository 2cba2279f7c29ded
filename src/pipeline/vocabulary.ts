// The words every layer shares: CodeArts's status values (spec §2) and the sets of them the
// scheduling rules and the clients test against, the task names Pipewright executes, and the
// mask that stands for a secret value. Defined once here so no layer spells them again.

/** CodeArts ids of projects, pipelines and runs: 32 digits and letters (ours are lowercase hex). */
export const ID_PATTERN = "^[0-9a-zA-Z]{32}$";

export const RUN_STATUSES = [
  "COMPLETED",
  "RUNNING",
  "FAILED",
  "CANCELED",
  "PAUSED",
  "SUSPEND",
  "IGNORED",
  "QUEUED",
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const NODE_STATUSES = [
  "INIT",
  "QUEUED",
  "RUNNING",
  "CANCELED",
  "COMPLETED",
  "FAILED",
  "SKIPPED",
  "IGNORED",
  "PAUSED",
  "SUSPEND",
  "ASYNC_RUNNING",
  "ASYNC_FAILED",
  "UNSELECTED",
  "REDISPATCH",
] as const;
/** Status of a stage, job or step run. */
export type NodeStatus = (typeof NODE_STATUSES)[number];

/** A run in one of these states has ended for good (until a retry). */
export const TERMINAL_RUN_STATUSES: ReadonlySet<string> = new Set<RunStatus>([
  "COMPLETED",
  "FAILED",
  "CANCELED",
  "IGNORED",
]);

/** Runs in these states are not finished: they count against concurrency and need scheduling. */
export const ACTIVE_RUN_STATUSES = ["RUNNING", "PAUSED", "QUEUED", "SUSPEND"] as const satisfies RunStatus[];

/** A stage, job or step in one of these states will not change again (until a retry). */
export const TERMINAL_NODE_STATUSES: ReadonlySet<string> = new Set<NodeStatus>([
  "COMPLETED",
  "FAILED",
  "CANCELED",
  "SKIPPED",
  "UNSELECTED",
  "IGNORED",
  "ASYNC_FAILED",
]);

/** What a runner reports a step or job ended with. */
export const STEP_RESULTS = ["COMPLETED", "FAILED", "CANCELED"] as const satisfies NodeStatus[];
export type StepResult = (typeof STEP_RESULTS)[number];

export const SHELL_TASK = "official_shell_plugin";
export const GIT_CLONE_TASK = "official_git_clone";
/** The manual review: the scheduler pauses the job there; no runner executes it. */
export const CHECKPOINT_TASK = "official_devcloud_checkpoint";

/** Runs another pipeline of the project; the step follows the child run (engine/subpipelines.ts). */
export const SUBPIPELINE_TASK = "official_devcloud_subPipeline";
/** DelayedExecution: the job waits a while on the server, then goes on. */
export const DELAY_TASK = "official_devcloud_delay";
/** PipelineSuspension: the run is SUSPEND until someone resumes it. */
export const SUSPEND_TASK = "SuspendPipeline";
/**
 * CodeArts's Build step. In the cloud it starts a CodeArts Build task (`jobId`); here it runs its
 * `command` as a shell step does (docs/decisions.md, "Build-style tasks").
 */
export const BUILD_TASK = "official_devcloud_cloudBuild";
/** ExecuteImage: runs `command` in the container `image`, through the runner's container runtime. */
export const CONTAINER_TASK = "official_docker_executor";

/** Steps the server itself carries out: no runner executes them (the job waits at them). */
export const SERVER_TASKS: ReadonlySet<string> = new Set([
  CHECKPOINT_TASK,
  SUBPIPELINE_TASK,
  DELAY_TASK,
  SUSPEND_TASK,
]);

export const SUPPORTED_TASKS = [
  SHELL_TASK,
  BUILD_TASK,
  CONTAINER_TASK,
  GIT_CLONE_TASK,
  CHECKPOINT_TASK,
  SUBPIPELINE_TASK,
  DELAY_TASK,
  SUSPEND_TASK,
] as const;
export type TaskName = (typeof SUPPORTED_TASKS)[number];

/** The shell task's script input. */
export const SHELL_SCRIPT_INPUT = "OFFICIAL_SHELL_SCRIPT_INPUT";
/** The build and container tasks' command input (CodeArts Build's `sh` step and ExecuteImage call it so). */
export const COMMAND_INPUT = "command";
/** Tasks whose script the runner runs with bash: they leave outputs ($PIPEWRIGHT_OUTPUT) alike. */
export const SCRIPT_TASKS: ReadonlySet<string> = new Set([SHELL_TASK, BUILD_TASK, CONTAINER_TASK]);

/** Stands for a secret value wherever one would be shown; sent back unchanged, it keeps the stored value. */
export const SECRET_MASK = "******";

/**
 * The code in the message of a container-image step that no container runtime can run. The
 * runner writes it into the step's message (it knows no error catalogue); errors.ts lists it.
 */
export const NO_CONTAINER_RUNTIME_CODE = "DEVPIPE.00020257";

/**
 * The code of a registration refused because the runner id belongs to another credential. The
 * agent, registering with the id its work dir kept, reads it and registers as a new runner.
 */
export const RUNNER_OF_ANOTHER_CREDENTIAL_CODE = "DEVPIPE.00020270";
