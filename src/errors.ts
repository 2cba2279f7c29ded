// The one error type of Pipewright and the catalogue of its codes. Every error that reaches a
// client is a PipewrightError; `docs/errors.md` lists every entry of ERRORS (a test checks it).
// The domain's validation issues become errors here, so pipeline/ needs no error codes.

import { InvalidInput, type IssueKind } from "./pipeline/issues.js";

export interface ErrorSpec {
  readonly code: string;
  readonly status: number;
  readonly summary: string;
}

/**
 * Codes that CodeArts is known to use keep their numbers (spec §1.4); our own live in 0002xxxx.
 * The key is what code refers to; the `code` is what clients see.
 */
export const ERRORS = {
  // Codes CodeArts itself answers with.
  PIPELINE_NOT_FOUND: { code: "DEVPIPE.00011401", status: 404, summary: "The pipeline does not exist." },
  PROJECT_NOT_FOUND: {
    code: "DEVPIPE.00011412",
    status: 404,
    summary: "The project does not exist or the caller may not see it.",
  },
  PROJECT_PIPELINE_MISMATCH: {
    code: "DEVPIPE.00011136",
    status: 400,
    summary: "The pipeline belongs to another project than the one in the path.",
  },
  NO_PERMISSION: {
    code: "DEVPIPE.30011011",
    status: 403,
    summary: "The caller's role does not allow this operation.",
  },
  // Our own codes.
  UNAUTHENTICATED: {
    code: "DEVPIPE.00020001",
    status: 401,
    summary: "No valid credentials: send X-Auth-Token or an SDK-HMAC-SHA256 Authorization header.",
  },
  SIGNATURE_INVALID: {
    code: "DEVPIPE.00020002",
    status: 401,
    summary:
      "The AK/SK signature does not match, the access key is unknown or revoked, or X-Sdk-Date is too far from the server clock.",
  },
  SUPERUSER_ONLY: {
    code: "DEVPIPE.00020003",
    status: 403,
    summary: "Only the bootstrap admin token may do this.",
  },
  INVALID_REQUEST: {
    code: "DEVPIPE.00020100",
    status: 400,
    summary:
      "The request is malformed: a field is missing, of the wrong type or out of range (the message names it).",
  },
  INVALID_JSON: { code: "DEVPIPE.00020101", status: 400, summary: "The request body is not valid JSON." },
  BODY_TOO_LARGE: {
    code: "DEVPIPE.00020102",
    status: 413,
    summary: "The request body is larger than the limit (4 MiB, docs/limits.md).",
  },
  UNSUPPORTED_MEDIA_TYPE: {
    code: "DEVPIPE.00020103",
    status: 415,
    summary: "The request body must be application/json.",
  },
  URI_TOO_LONG: {
    code: "DEVPIPE.00020104",
    status: 414,
    summary: "A segment of the request path is longer than 100 characters (no id is that long).",
  },
  HEADERS_TOO_LARGE: {
    code: "DEVPIPE.00020105",
    status: 431,
    summary: "The request line and headers together are larger than the server accepts (16 KiB).",
  },
  BAD_HTTP_REQUEST: {
    code: "DEVPIPE.00020106",
    status: 400,
    summary: "The request is not valid HTTP, or its path is not a valid URL.",
  },
  INVALID_DEFINITION: {
    code: "DEVPIPE.00020110",
    status: 400,
    summary: "The pipeline definition is invalid (the message names the field path).",
  },
  PIPELINE_NAME_TAKEN: {
    code: "DEVPIPE.00020111",
    status: 409,
    summary: "Another pipeline of the project already has this name.",
  },
  PIPELINE_BANNED: {
    code: "DEVPIPE.00020112",
    status: 409,
    summary: "The pipeline is disabled (banned); enable it first.",
  },
  ROUTE_NOT_FOUND: { code: "DEVPIPE.00020404", status: 404, summary: "No such route." },
  TOKEN_NOT_FOUND: { code: "DEVPIPE.00020120", status: 404, summary: "No such token." },
  ACCESS_KEY_NOT_FOUND: { code: "DEVPIPE.00020121", status: 404, summary: "No such access key." },
  PROJECT_NAME_TAKEN: { code: "DEVPIPE.00020122", status: 409, summary: "A project with this name exists." },
  TAG_NOT_FOUND: { code: "DEVPIPE.00020123", status: 404, summary: "The project has no such pipeline tag." },
  MEMBER_NOT_FOUND: {
    code: "DEVPIPE.00020160",
    status: 404,
    summary: "The project has no such member (an unrevoked token or access key with a role in it).",
  },
  TAG_NAME_TAKEN: {
    code: "DEVPIPE.00020124",
    status: 409,
    summary: "The project has a pipeline tag of this name.",
  },
  // CodeArts's own code for a missing template (the Terraform provider reads it as "deleted").
  TEMPLATE_NOT_FOUND: {
    code: "DEVPIPE.00011203",
    status: 404,
    summary: "The pipeline template does not exist, or is of a project you cannot see.",
  },
  TEMPLATE_NAME_TAKEN: {
    code: "DEVPIPE.00020130",
    status: 409,
    summary: "The project has a pipeline template of this name, or a built-in template has it.",
  },
  TEMPLATE_BUILT_IN: {
    code: "DEVPIPE.00020131",
    status: 403,
    summary: "Built-in pipeline templates are read-only: they cannot be updated or deleted.",
  },
  GROUP_NOT_FOUND: {
    code: "DEVPIPE.00020140",
    status: 404,
    summary: "The project has no such pipeline group.",
  },
  GROUP_NAME_TAKEN: {
    code: "DEVPIPE.00020141",
    status: 409,
    summary: "A sibling group (same parent) already has this name.",
  },
  GROUP_TOO_DEEP: {
    code: "DEVPIPE.00020142",
    status: 400,
    summary: "Pipeline groups nest at most three levels deep.",
  },
  HOST_NOT_ALLOWED: {
    code: "DEVPIPE.00020170",
    status: 400,
    summary:
      "The Host header names a host this server does not answer to (loopback and --allowed-hosts / PIPEWRIGHT_ALLOWED_HOSTS only).",
  },
  TOO_MANY_AUTH_FAILURES: {
    code: "DEVPIPE.00020171",
    status: 429,
    summary:
      "Too many failed authentications from this source address: its credentials are refused until Retry-After seconds have passed.",
  },
  GROUP_LIMIT_REACHED: {
    code: "DEVPIPE.00020143",
    status: 400,
    summary: "The project already has the most pipeline groups it may have (1000).",
  },
  GROUPS_NOT_SIBLINGS: {
    code: "DEVPIPE.00020144",
    status: 400,
    summary: "Only two groups of the same parent can swap places.",
  },
  GROUP_HAS_NO_PIPELINES: {
    code: "DEVPIPE.00020145",
    status: 400,
    summary:
      "batch-runs of a group rejected: the group and its subgroups hold no pipeline; no run was created.",
  },
  GROUP_TOO_LARGE_FOR_BATCH: {
    code: "DEVPIPE.00020146",
    status: 400,
    summary:
      "batch-runs of a group rejected: it holds more pipelines than PIPEWRIGHT_MAX_BATCH_SIZE; no run was created.",
  },
  VARIABLE_GROUP_NOT_FOUND: {
    code: "DEVPIPE.00020150",
    status: 404,
    summary: "The project has no such parameter group (variable group).",
  },
  VARIABLE_GROUP_NAME_TAKEN: {
    code: "DEVPIPE.00020151",
    status: 409,
    summary: "The project has a parameter group of this name.",
  },
  VARIABLE_GROUP_IN_USE: {
    code: "DEVPIPE.00020152",
    status: 409,
    summary: "The parameter group is related to pipelines (listed); relate them to other groups first.",
  },
  NOTICE_NOT_FOUND: {
    code: "DEVPIPE.00020180",
    status: 404,
    summary: "The pipeline has no such notification target (notice_id).",
  },
  NOTICE_TARGET_INVALID: {
    code: "DEVPIPE.00020181",
    status: 400,
    summary:
      "A notification target's fields do not fit its notice_type (a URL that is not http(s), an address that is not one); the message names the field.",
  },
  NOTICE_LIMIT_REACHED: {
    code: "DEVPIPE.00020182",
    status: 409,
    summary: "The pipeline has as many notification targets as it may have (20).",
  },
  RUN_NOT_FOUND: { code: "DEVPIPE.00020200", status: 404, summary: "The pipeline run does not exist." },
  NEVER_RUN: {
    code: "DEVPIPE.00020201",
    status: 404,
    summary: "The pipeline has no run yet, so it has no latest run detail.",
  },
  BATCH_INVALID_IDS: {
    code: "DEVPIPE.00020210",
    status: 400,
    summary:
      "batch-runs rejected: some pipeline_ids are malformed, duplicated, unknown or of another project (all listed); no run was created.",
  },
  BATCH_TOO_LARGE: {
    code: "DEVPIPE.00020211",
    status: 400,
    summary: "batch-runs rejected: pipeline_ids must hold 1 to PIPEWRIGHT_MAX_BATCH_SIZE ids.",
  },
  IDEMPOTENCY_KEY_REUSED: {
    code: "DEVPIPE.00020212",
    status: 422,
    summary: "This Idempotency-Key was already used with another request body.",
  },
  RUN_NOT_STOPPABLE: {
    code: "DEVPIPE.00020220",
    status: 409,
    summary: "The run has already finished; there is nothing to stop.",
  },
  RUN_NOT_RETRYABLE: {
    code: "DEVPIPE.00020221",
    status: 409,
    summary: "Only a FAILED or CANCELED run can be retried.",
  },
  STEP_NOT_WAITING: {
    code: "DEVPIPE.00020222",
    status: 409,
    summary: "The step is not a manual review waiting for a decision.",
  },
  JOB_NOT_FOUND: {
    code: "DEVPIPE.00020223",
    status: 404,
    summary: "The job or step run does not exist in this run.",
  },
  RUN_ABORTED_BY_CONCURRENCY: {
    code: "DEVPIPE.00020224",
    status: 409,
    summary:
      "Concurrency limit of the pipeline reached and its exceed_action is ABORT; the run was not started.",
  },
  ARTIFACT_NOT_FOUND: {
    code: "DEVPIPE.00020240",
    status: 404,
    summary: "The run has no artifact of this name (or the job does not ask for it).",
  },
  ARTIFACT_TOO_LARGE: {
    code: "DEVPIPE.00020241",
    status: 413,
    summary: "The artifact is larger than the server's cap (--max-artifact-bytes).",
  },
  INVALID_VARIABLE: {
    code: "DEVPIPE.00020230",
    status: 400,
    summary: "A run variable is unknown, not a runtime variable, or has a value its type does not allow.",
  },
  SUBPIPELINE_CYCLE: {
    code: "DEVPIPE.00020250",
    status: 409,
    summary:
      "A sub-pipeline step would run a pipeline already running above it (A runs B runs A); the step fails with this code in its message.",
  },
  SUBPIPELINE_TOO_DEEP: {
    code: "DEVPIPE.00020251",
    status: 409,
    summary:
      "A sub-pipeline step is already subpipelineDepth levels deep (docs/limits.md); the step fails with this code in its message.",
  },
  STEP_NOT_DELAYED: {
    code: "DEVPIPE.00020252",
    status: 409,
    summary: "The step is not a delayed execution waiting (delay-pass, delay-refuse and delay act on one).",
  },
  DELAY_EXTENSIONS_USED: {
    code: "DEVPIPE.00020253",
    status: 409,
    summary: "The delay was already extended as often as allowed (delayExtensions in docs/limits.md).",
  },
  STEP_NOT_SUSPENDED: {
    code: "DEVPIPE.00020254",
    status: 409,
    summary: "The step is not a pipeline suspension waiting to be resumed.",
  },
  NOT_AN_APPROVER: {
    code: "DEVPIPE.00020255",
    status: 403,
    summary: "The manual review names its approvers and the caller is not one of them.",
  },
  ALREADY_DECIDED: {
    code: "DEVPIPE.00020256",
    status: 409,
    summary: "This approver already decided this manual review.",
  },
  NO_CONTAINER_RUNTIME: {
    // The runner writes it into the step's message as NO_CONTAINER_RUNTIME_CODE (pipeline/vocabulary).
    code: "DEVPIPE.00020257",
    status: 409,
    summary:
      "A container-image step needs a container runtime and the runner has none (--container-runtime); the step fails with this code in its message.",
  },
  SERVER_STARTING: {
    code: "DEVPIPE.00020260",
    status: 503,
    summary:
      "The server is starting and its database is not reachable yet: it answers once it is. Try again after Retry-After seconds, or another replica.",
  },
  SERVER_STOPPING: {
    code: "DEVPIPE.00020261",
    status: 503,
    summary:
      "The server is stopping and takes no new request; nothing was done. Send it again (to another replica).",
  },
  DATABASE_UNREACHABLE: {
    code: "DEVPIPE.00020262",
    status: 503,
    summary:
      "The database could not be reached (down, restarting, or cut off), so the request failed; a change it makes is one transaction and was not half done. Try again after Retry-After seconds, or another replica.",
  },
  RUNNER_OF_ANOTHER_CREDENTIAL: {
    // The agent reads it as RUNNER_OF_ANOTHER_CREDENTIAL_CODE (pipeline/vocabulary).
    code: "DEVPIPE.00020270",
    status: 403,
    summary:
      "The runner_id a runner registers with belongs to another runner credential (an agent given a new token): it registers as a new runner instead.",
  },
  INTERNAL: { code: "DEVPIPE.00020500", status: 500, summary: "Internal server error." },
  UNAVAILABLE: {
    code: "DEVPIPE.00020503",
    status: 503,
    summary: "The server is shutting down or not ready.",
  },
  STORAGE_FULL: {
    code: "DEVPIPE.00020507",
    status: 503,
    summary:
      "The server's storage is full, so nothing was changed. Free space on the disk of the data dir or the database; the server goes on by itself once there is room.",
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorKey = keyof typeof ERRORS;

export class PipewrightError extends Error {
  readonly key: ErrorKey;
  readonly code: string;
  readonly status: number;
  /** Extra fields merged into the JSON body (e.g. `error: { pipeline_run_id, queue_id }`). */
  readonly extra: Readonly<Record<string, unknown>> | undefined;

  constructor(
    key: ErrorKey,
    message?: string,
    options?: { cause?: unknown; extra?: Record<string, unknown> },
  ) {
    const spec = ERRORS[key];
    super(message ?? spec.summary, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PipewrightError";
    this.key = key;
    this.code = spec.code;
    this.status = spec.status;
    this.extra = options?.extra;
  }

  toBody(): Record<string, unknown> {
    return { error_code: this.code, error_msg: this.message, ...this.extra };
  }
}

const ISSUE_ERRORS: Readonly<Record<IssueKind, ErrorKey>> = {
  definition: "INVALID_DEFINITION",
  request: "INVALID_REQUEST",
  variable: "INVALID_VARIABLE",
};

/**
 * Normalise any throwable into a PipewrightError: a validation issue of the domain becomes the
 * 400 of its kind (its message names the field); unknown ones become INTERNAL, keeping the cause.
 */
export function toPipewrightError(err: unknown): PipewrightError {
  if (err instanceof PipewrightError) return err;
  if (err instanceof InvalidInput) {
    return new PipewrightError(ISSUE_ERRORS[err.issue.kind], err.message, { cause: err });
  }
  if (isStorageFull(err)) return new PipewrightError("STORAGE_FULL", undefined, { cause: err });
  return new PipewrightError("INTERNAL", undefined, { cause: err });
}

/**
 * Whether err (or an error it wraps) says the disk is full: SQLite's SQLITE_FULL, PostgreSQL's
 * disk_full (53100), or ENOSPC from the file system.
 */
export function isStorageFull(err: unknown): boolean {
  for (let e = err, depth = 0; typeof e === "object" && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === "SQLITE_FULL" || code === "53100" || code === "ENOSPC") return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Shorthand for the most common case: a request field is wrong. */
export function invalid(field: string, problem: string): PipewrightError {
  return new PipewrightError("INVALID_REQUEST", `${field}: ${problem}`);
}
