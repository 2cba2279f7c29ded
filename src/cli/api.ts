// The endpoints the CLI calls, typed with the fields it reads: CodeArts's v5 API of one project
// (spec §4) and Pipewright's admin API. Shapes are as the server sends them (snake_case).

import type { PipelineBody } from "../pipeline/yaml-form.js";
import type {
  BatchResultItem,
  BatchRunAnswer,
  LogPage,
  PipelineDetail,
  PipelineList,
  ProjectRunList,
  RunDetail,
  RunList,
  RunStarted,
  RunSummary,
  PipelineListItem as WirePipelineListItem,
} from "../wire/types.js";
import type { VariableGroupList, VariableGroupView } from "../wire/variable-groups.js";
import type { HttpClient, SseEvent, StreamedAnswer } from "./client.js";

export type {
  BatchResultItem,
  BatchRunAnswer,
  JobRun,
  LogPage,
  PipelineDetail,
  ProjectRunList,
  RunDetail,
  RunSummary,
  StageRun,
  StageStatus,
  StepRun,
} from "../wire/types.js";

/** A pipeline of the list, with its latest run filled in by the CLI (the list answers null). */
export type PipelineListItem = Omit<WirePipelineListItem, "latest_run"> & { latest_run: RunSummary | null };

/** GET …/pipelines/{pipeline_id}/webhook: where forges deliver and the secret they sign with. */
export interface PipelineWebhook {
  readonly callback_url: string;
  readonly security_token: string;
  readonly pipeline_id: string;
}

export const DELIVERY_STATUSES = ["accepted", "ignored", "rejected"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** One code-event delivery as GET /v5/{project_id}/api/webhook-deliveries lists it. */
export interface WebhookDelivery {
  readonly id: string;
  readonly delivery_id: string;
  readonly forge: string;
  readonly event: string;
  readonly status: DeliveryStatus;
  readonly reason: string | null;
  readonly repository: string;
  readonly ref: string;
  readonly commit_id: string;
  /** The runs it started. */
  readonly pipeline_runs: readonly { readonly pipeline_id: string; readonly pipeline_run_id: string }[];
  /** Pipelines of its repository it did not start, and why. */
  readonly skipped: readonly { readonly pipeline_id: string; readonly reason: string }[];
  readonly create_time: number;
}

export interface DeliveryPage {
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
  readonly deliveries: readonly WebhookDelivery[];
}

/**
 * One artifact as ShowPipelineArtifacts lists it: a tar archive of the files a job kept. The
 * fields the CLI reads; `job_identifier` and `create_time` are Pipewright's, beyond CodeArts's.
 */
export interface Artifact {
  readonly project_id: string;
  readonly name: string;
  readonly artifact_version: string;
  readonly upload_target: string;
  readonly artifact_package_type: string;
  /** The path of the archive within the run, e.g. `build/dist.tar`. */
  readonly artifact_uri: string;
  readonly artifact_download_url_with_id: string;
  readonly artifact_type: string;
  readonly hash_code: readonly { readonly hash_type: string; readonly hash_value: string }[];
  /** The job run that kept it. */
  readonly job_id: string;
  readonly build_no: number;
  readonly daily_build_number: string;
  /** Bytes, as a decimal string. */
  readonly file_size: string;
  readonly job_identifier?: string;
  readonly create_time?: number;
}

export interface ArtifactList {
  readonly artifacts: readonly Artifact[];
}

/** A notification target as `pipeline-notices/{id}/notice/message` lists it (URL and secret masked). */
export interface NoticeTarget {
  readonly notice_id: string;
  readonly pipeline_id: string;
  readonly notice_type: string;
  readonly notice_status: boolean;
  readonly send_url: string;
  readonly notice_events: string[];
  readonly notice_contents: string[];
  readonly notice_users: string[];
  readonly secret_info: string;
  readonly sort_index: number;
}

/** One notice delivery (ours: `…/notice/deliveries`). */
export interface NoticeDelivery {
  readonly delivery_id: string;
  readonly notice_id: string;
  readonly pipeline_run_id: string;
  readonly event: string;
  readonly status: string;
  readonly attempts: number;
  readonly next_attempt_time: number | null;
  readonly last_error: string | null;
  readonly create_time: number;
  readonly update_time: number;
}

/** A pipeline tag as `pipeline-tag/list` answers it (a bare array of these). */
export interface PipelineTag {
  readonly tag_id: string;
  readonly name: string;
  /** `#rrggbb`. */
  readonly color: string;
  readonly project_id: string;
  readonly project_name: string;
}

/** A pipeline group as the tree answers it (PipelineGroupVo). */
export interface PipelineGroup {
  readonly id: string;
  readonly name: string;
  readonly parent_id: string;
  readonly path_id: string;
  readonly ordinal: number;
  readonly pipeline_count: number;
  readonly no_group_count: number;
  readonly children: readonly PipelineGroup[];
}

export interface RunOptions {
  readonly variables?: readonly { name: string; value: string }[];
  readonly choose_stages?: readonly string[];
  readonly choose_jobs?: readonly string[];
  readonly description?: string;
}

const PAGE = 100;

export function projectApi(http: HttpClient, projectId: string) {
  const base = `/v5/${encodeURIComponent(projectId)}/api/pipelines`;
  const runPath = (p: string, r: string): string => `${base}/${p}/pipeline-runs/${r}`;
  const stepPath = (p: string, r: string, j: string, s: string): string =>
    `${runPath(p, r)}/jobs/${j}/steps/${s}`;
  const projectBase = `/v5/${encodeURIComponent(projectId)}/api`;
  const tagBase = `${projectBase}/pipeline-tag`;
  const groupBase = `${projectBase}/pipeline-group`;
  const varGroupBase = `${projectBase}/pipeline/variable/group`;
  return {
    /** Every parameter group of the project, by name (read a page at a time). */
    async allVariableGroups(): Promise<VariableGroupView[]> {
      const out: VariableGroupView[] = [];
      for (;;) {
        const page = await http.request<VariableGroupList>("POST", `${varGroupBase}/list`, {
          body: { offset: out.length, limit: PAGE },
        });
        out.push(...page.pipeline_variable_groups);
        if (page.pipeline_variable_groups.length === 0 || out.length >= page.total) return out;
      }
    },
    getVariableGroup: (id: string) => http.request<VariableGroupView>("GET", `${varGroupBase}/${id}`),
    createVariableGroup: (body: {
      name: string;
      description: string;
      variables: readonly { name: string; value: string; is_secret: boolean }[];
    }) => http.request<{ pipeline_variable_group_id: string }>("POST", `${varGroupBase}/create`, { body }),
    deleteVariableGroup: (id: string) =>
      http.request<{ success: boolean }>("DELETE", `${varGroupBase}/delete?${new URLSearchParams({ id })}`),
    http,
    projectId,
    /**
     * Every pipeline of the project (names containing `name`, carrying one of `tagIds`, when
     * given), oldest first.
     */
    /** `groupPathId`: the pipelines of that group and of the groups below it. */
    async allPipelines(
      name?: string,
      tagIds?: readonly string[],
      groupPathId?: string,
    ): Promise<PipelineListItem[]> {
      const out: PipelineListItem[] = [];
      for (let offset = 0; ; offset += PAGE) {
        const page = await http.request<PipelineList>("POST", `${base}/list`, {
          body: {
            offset,
            limit: PAGE,
            sort_key: "create_time",
            sort_dir: "asc",
            ...(name ? { name } : {}),
            ...(tagIds && tagIds.length > 0 ? { tag_ids: tagIds } : {}),
            ...(groupPathId ? { group_path_id: groupPathId } : {}),
          },
        });
        out.push(...page.pipelines.map((p) => ({ ...p, latest_run: null })));
        if (page.pipelines.length < PAGE || out.length >= page.total) return out;
      }
    },
    listNotices: (pipelineId: string) =>
      http.request<NoticeTarget[]>("GET", `${projectBase}/pipeline-notices/${pipelineId}/notice/message`),
    putNotice: (pipelineId: string, body: Record<string, unknown>) =>
      http.request<{ status: string; notice_id: string }>(
        "POST",
        `${projectBase}/pipeline-notices/${pipelineId}/notice/message`,
        { body },
      ),
    deleteNotice: (pipelineId: string, noticeId: string) =>
      http.request<{ status: string }>(
        "DELETE",
        `${projectBase}/pipeline-notices/${pipelineId}/notice/message/${encodeURIComponent(noticeId)}`,
      ),
    noticeDeliveries: (pipelineId: string, limit: number) =>
      http.request<{ total: number; deliveries: NoticeDelivery[] }>(
        "GET",
        `${projectBase}/pipeline-notices/${pipelineId}/notice/deliveries?${new URLSearchParams({ limit: String(limit) })}`,
      ),
    listTags: () => http.request<PipelineTag[]>("GET", `${tagBase}/list`),
    createTag: (name: string, color: string) =>
      http.request<{ success: boolean }>("POST", `${tagBase}/create`, { body: { name, color } }),
    updateTag: (tagId: string, name: string, color: string) =>
      http.request<{ success: boolean }>("POST", `${tagBase}/update`, { body: { tagId, name, color } }),
    deleteTag: (tagId: string) =>
      http.request<{ success: boolean }>("DELETE", `${tagBase}/delete?${new URLSearchParams({ tagId })}`),
    /** Each listed pipeline carries exactly `tagIds` afterwards (none: it loses them all). */
    setTags: (pipelineIds: readonly string[], tagIds: readonly string[]) =>
      http.request<{ success: boolean }>("POST", `${tagBase}/set-tags`, {
        body: { pipelineList: pipelineIds, tagList: tagIds },
      }),
    groupTree: () => http.request<PipelineGroup[]>("GET", `${groupBase}/tree`),
    createGroup: (name: string, parentId: string) =>
      http.request<PipelineGroup>("POST", `${groupBase}/create`, {
        body: { name, project_id: projectId, parent_id: parentId },
      }),
    renameGroup: (id: string, name: string) =>
      http.request<{ success: boolean }>("POST", `${groupBase}/update`, { body: { id, name } }),
    deleteGroup: (id: string) =>
      http.request<{ success: boolean }>("DELETE", `${groupBase}/delete?${new URLSearchParams({ id })}`),
    /** `groupId` '': out of any group. */
    moveToGroup: (groupId: string, pipelines: readonly { id: string; name: string }[]) =>
      http.request<{ code: string; pipeline_id: string; pipeline_name: string }[]>(
        "POST",
        `${groupBase}/pipeline/move`,
        {
          body: {
            group_id: groupId,
            pipelines: pipelines.map((p) => ({ pipeline_id: p.id, pipeline_name: p.name })),
          },
        },
      ),
    swapGroups: (a: string, b: string) =>
      http.request<{ success: boolean }>(
        "POST",
        `${groupBase}/swap?${new URLSearchParams({ groupId1: a, groupId2: b })}`,
      ),
    /** Every pipeline of the group and of the groups below it, as one batch (our group_id). */
    batchRunGroup: (groupId: string, idempotencyKey: string) =>
      http.request<BatchRunAnswer>("POST", `${base}/batch-runs`, {
        body: { group_id: groupId },
        headers: { "idempotency-key": idempotencyKey },
      }),
    getPipeline: (id: string) => http.request<PipelineDetail>("GET", `${base}/${id}`),
    createPipeline: (body: PipelineBody) => http.request<{ pipeline_id: string }>("POST", base, { body }),
    updatePipeline: (id: string, body: PipelineBody) =>
      http.request<{ pipeline_id: string }>("PUT", `${base}/${id}`, { body }),
    deletePipeline: (id: string) => http.request<{ pipeline_id: string }>("DELETE", `${base}/${id}`),
    /** Needs the right to change pipelines (403 otherwise): the secret starts them. */
    webhook: (id: string) => http.request<PipelineWebhook>("GET", `${base}/${id}/webhook`),
    /** The project's code-event deliveries, newest first (limit 1-100). */
    deliveries: (q: { status?: DeliveryStatus | undefined; offset: number; limit: number }) =>
      http.request<DeliveryPage>(
        "GET",
        `${projectBase}/webhook-deliveries?${new URLSearchParams({
          ...(q.status ? { status: q.status } : {}),
          offset: String(q.offset),
          limit: String(q.limit),
        })}`,
      ),
    run: (id: string, body: RunOptions) => http.request<RunStarted>("POST", `${base}/${id}/run`, { body }),
    /** The project's runs across its pipelines, newest first (ours). */
    projectRuns: (body: {
      status?: readonly string[];
      pipeline_ids?: readonly string[];
      trigger_type?: readonly string[];
      start_time?: number;
      offset: number;
      limit: number;
    }) => http.request<ProjectRunList>("POST", `${projectBase}/pipeline-runs/list`, { body }),
    batchRun: (ids: readonly string[], idempotencyKey: string) =>
      http.request<BatchRunAnswer>("POST", `${base}/batch-runs`, {
        body: { pipeline_ids: ids },
        headers: { "idempotency-key": idempotencyKey },
      }),
    batchResult: (query: readonly { pipeline_id: string; pipeline_run_id: string }[]) =>
      http.request<{ result: BatchResultItem[] }>("POST", `${base}/batch-runs/result`, { body: { query } }),
    runDetail: (pipelineId: string, runId?: string) =>
      http.request<RunDetail>(
        "GET",
        `${base}/${pipelineId}/pipeline-runs/detail${runId ? `?pipeline_run_id=${runId}` : ""}`,
      ),
    listRuns: (pipelineId: string, offset: number, limit: number) =>
      http.request<RunList>("POST", `${base}/${pipelineId}/pipeline-runs/list`, {
        body: { offset, limit, sort_dir: "desc" },
      }),
    /** Latest run of each pipeline, in chunks the server accepts; never-run pipelines are absent. */
    async latestStatus(ids: readonly string[]): Promise<RunSummary[]> {
      const out: RunSummary[] = [];
      for (let i = 0; i < ids.length; i += 1000) {
        out.push(
          ...(await http.request<RunSummary[]>("POST", `${base}/status`, { body: ids.slice(i, i + 1000) })),
        );
      }
      return out;
    },
    artifacts: (p: string, r: string) => http.request<ArtifactList>("GET", `${runPath(p, r)}/artifacts`),
    /** The archive's bytes as they arrive, with its X-Checksum-Sha256 and Content-Length. */
    downloadArtifact: (p: string, r: string, name: string, signal?: AbortSignal): Promise<StreamedAnswer> =>
      http.getStream(`${runPath(p, r)}/artifacts/${encodeURIComponent(name)}/download`, { signal }),
    stop: (p: string, r: string) => http.request<{ success: boolean }>("POST", `${runPath(p, r)}/stop`),
    retry: (p: string, r: string) => http.request<{ success: boolean }>("PUT", `${runPath(p, r)}/retry`),
    review: (p: string, r: string, job: string, step: string, decision: "pass" | "refuse") =>
      http.request<{ success: boolean }>("POST", `${stepPath(p, r, job, step)}/${decision}`),
    stepLog: (p: string, r: string, job: string, step: string, startOffset: number) =>
      http.request<LogPage>("POST", `${stepPath(p, r, job, step)}/logs`, {
        body: { start_offset: startOffset, limit: 10_000, sort: "asc" },
      }),
    stepLogEvents: (p: string, r: string, job: string, step: string, offset: number, signal?: AbortSignal) =>
      http.events(
        `${stepPath(p, r, job, step)}/logs/stream?offset=${offset}`,
        signal,
      ) as AsyncIterable<SseEvent>,
  };
}
export type ProjectApi = ReturnType<typeof projectApi>;

export interface ProjectItem {
  readonly project_id: string;
  readonly name: string;
  readonly create_time: number;
}

export interface Credential {
  readonly id: string;
  readonly name: string;
  readonly role: string;
  readonly project_ids: readonly string[];
  readonly create_time: number;
  readonly revoked_time: number | null;
  readonly token?: string;
  readonly ak?: string;
  readonly sk?: string;
}

export function adminApi(http: HttpClient) {
  return {
    http,
    usage: () =>
      http.request<{
        projects: {
          project_id: string;
          name: string;
          runs: number;
          log_bytes: number;
          artifacts: number;
          artifact_bytes: number;
          caches: number;
          cache_bytes: number;
        }[];
        artifact_store: { kind: string; bytes: number };
      }>("GET", "/admin/v1/usage"),
    listProjects: async () =>
      (await http.request<{ projects: ProjectItem[] }>("GET", "/admin/v1/projects")).projects,
    createProject: (name: string) =>
      http.request<{ project_id: string; name: string }>("POST", "/admin/v1/projects", { body: { name } }),
    createCredential: (
      kind: "tokens" | "access-keys",
      body: { name?: string; role: string; project_ids: string[] },
    ) => http.request<Credential>("POST", `/admin/v1/${kind}`, { body }),
    listCredentials: async (kind: "tokens" | "access-keys"): Promise<Credential[]> => {
      const res = await http.request<{ tokens?: Credential[]; access_keys?: Credential[] }>(
        "GET",
        `/admin/v1/${kind}`,
      );
      return res.tokens ?? res.access_keys ?? [];
    },
    revokeCredential: (kind: "tokens" | "access-keys", id: string) =>
      http.request<Record<string, unknown>>("DELETE", `/admin/v1/${kind}/${encodeURIComponent(id)}`),
  };
}
export type AdminApi = ReturnType<typeof adminApi>;
