// The API answers the UI reads: the server's wire contract (src/wire/types.ts, types only), and
// the status sets it tests them against (src/pipeline/vocabulary.ts).

export {
  TERMINAL_NODE_STATUSES as STEP_DONE,
  TERMINAL_RUN_STATUSES as TERMINAL,
} from "../../src/pipeline/vocabulary.js";
export type {
  BatchResultItem as BatchStartResult,
  JobRun,
  PipelineDetail,
  PipelineList,
  PipelineListItem as PipelineItem,
  RunDetail,
  RunList,
  RunSummary,
  StageRun,
  StageStatus,
  StepRun,
} from "../../src/wire/types.js";

import type { BatchRunAnswer } from "../../src/wire/types.js";

export type BatchStart = BatchRunAnswer["result"][number];

/** A project as GET /admin/v1/projects lists it. */
export interface Project {
  readonly project_id: string;
  readonly name: string;
}
