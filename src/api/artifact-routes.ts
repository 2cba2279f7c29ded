// Artifacts over HTTP: runners upload what a job keeps and download what a job asks for
// (streams both ways, never whole in memory), users list a run's artifacts (CodeArts's
// ShowPipelineArtifacts) and download them.

import type { FastifyInstance, FastifyRequest } from "fastify";
import { PipewrightError } from "../errors.js";
import { ARTIFACT_NAME } from "../pipeline/artifacts.js";
import type { ArtifactRecord } from "../store/store.js";
import { artifactsSchema } from "../wire/schemas.js";
import { principalOf, type RouteContext } from "./context.js";
import { loadRun } from "./lookups.js";
import { authorizePipeline } from "./pipeline-access.js";
import { idSchema, runParams } from "./schemas.js";
import { typed } from "./type-provider.js";

const nameSchema = { type: "string", pattern: ARTIFACT_NAME.source } as const;
const runnerArtifactParams = {
  type: "object",
  required: ["job_id", "name"],
  properties: { job_id: idSchema, name: nameSchema },
} as const;
const runnerQuery = {
  type: "object",
  required: ["runner_id", "attempt"],
  properties: {
    runner_id: idSchema,
    attempt: { type: "string", pattern: "^\\d{1,15}$" },
  },
} as const;
const userArtifactParams = {
  ...runParams,
  required: [...runParams.required, "name"],
  properties: { ...runParams.properties, name: nameSchema },
} as const;

/** The answer shape of ShowPipelineArtifacts (the SDK's Artifact), plus ours where marked. */
function artifactView(a: ArtifactRecord, runNumber: number, downloadUrl: string) {
  return {
    project_id: a.project_id,
    name: a.name,
    artifact_version: "",
    upload_target: "pipewright",
    artifact_package_type: "tar",
    artifact_uri: `${a.job_identifier}/${a.name}.tar`,
    artifact_download_url_with_id: downloadUrl,
    artifact_type: "file",
    hash_code: [{ hash_type: "sha256", hash_value: a.sha256 }],
    job_id: a.job_run_id,
    build_no: runNumber,
    daily_build_number: "",
    file_size: String(a.size),
    job_identifier: a.job_identifier,
    create_time: a.create_time,
  };
}

export function registerArtifactRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { store, engine } = ctx;

  const cacheQuery = {
    type: "object",
    required: ["runner_id", "attempt", "key"],
    properties: { ...runnerQuery.properties, key: { type: "string", minLength: 1, maxLength: 2048 } },
  } as const;
  const jobOnly = { type: "object", required: ["job_id"], properties: { job_id: idSchema } } as const;
  const runnerOf = async (req: FastifyRequest, what: string) => {
    const p = await principalOf(ctx, req);
    if (!p.superuser && p.role !== "runner")
      throw new PipewrightError("NO_PERMISSION", `Only runner credentials (role runner) may ${what}.`);
    return p;
  };
  // Uploads: their own scope, where a body stays the request's stream.
  void app.register(async (scope) => {
    scope.addContentTypeParser("application/octet-stream", (_req, _payload, done) => done(null));
    typed(scope).put(
      "/runner/v1/jobs/:job_id/artifacts/:name",
      {
        // The blob store counts the bytes against --max-artifact-bytes as they stream.
        bodyLimit: Number.MAX_SAFE_INTEGER,
        schema: {
          tags: ["runners"],
          summary: "A runner sends what a job it holds keeps under this name (a tar stream)",
          params: runnerArtifactParams,
          querystring: runnerQuery,
        },
      },
      async (req) => {
        const p = await runnerOf(req, "send artifacts");
        return engine.artifacts.upload(
          { credentialId: p.id, runnerId: req.query.runner_id },
          req.params.job_id,
          Number(req.query.attempt),
          req.params.name,
          req.raw,
        );
      },
    );
    typed(scope).put(
      "/runner/v1/jobs/:job_id/cache",
      {
        bodyLimit: Number.MAX_SAFE_INTEGER,
        schema: {
          tags: ["runners"],
          summary: "A runner saves a job's cache under its key (kept unless the key is there)",
          params: jobOnly,
          querystring: cacheQuery,
        },
      },
      async (req) => {
        const p = await runnerOf(req, "save caches");
        return engine.caches.save(
          { credentialId: p.id, runnerId: req.query.runner_id },
          req.params.job_id,
          Number(req.query.attempt),
          req.query.key,
          req.raw,
        );
      },
    );
  });

  const api = typed(app);
  api.get(
    "/runner/v1/jobs/:job_id/cache",
    {
      schema: {
        tags: ["runners"],
        summary: "A runner restores a job's cache entry of a key (404 on a miss)",
        params: jobOnly,
        querystring: cacheQuery,
      },
    },
    async (req, reply) => {
      const p = await runnerOf(req, "restore caches");
      const hit = await engine.caches.restore(
        { credentialId: p.id, runnerId: req.query.runner_id },
        req.params.job_id,
        Number(req.query.attempt),
        req.query.key,
      );
      if (!hit)
        throw new PipewrightError(
          "ARTIFACT_NOT_FOUND",
          `There is no cache entry of key ${JSON.stringify(req.query.key)}.`,
        );
      return reply
        .type("application/x-tar")
        .header("content-length", hit.record.size)
        .header("x-checksum-sha256", hit.record.sha256)
        .send(hit.body);
    },
  );

  api.get(
    "/runner/v1/jobs/:job_id/artifacts/:name",
    {
      schema: {
        tags: ["runners"],
        summary: "A runner gets an earlier job's artifact that a job it holds asks for",
        params: runnerArtifactParams,
        querystring: runnerQuery,
      },
    },
    async (req, reply) => {
      const p = await runnerOf(req, "get artifacts");
      const { body, record } = await engine.artifacts.downloadForJob(
        { credentialId: p.id, runnerId: req.query.runner_id },
        req.params.job_id,
        Number(req.query.attempt),
        req.params.name,
      );
      return reply
        .type("application/x-tar")
        .header("content-length", record.size)
        .header("x-checksum-sha256", record.sha256)
        .send(body);
    },
  );

  api.get(
    "/v5/:project_id/api/pipelines/:pipeline_id/pipeline-runs/:pipeline_run_id/artifacts",
    {
      schema: {
        tags: ["runs"],
        summary: "Run artifacts (ShowPipelineArtifacts): what the run's jobs kept, with download URLs",
        params: runParams,
        response: { 200: artifactsSchema },
      },
    },
    async (req) => {
      await authorizePipeline(ctx, req, req.params.project_id, req.params.pipeline_id, "query");
      const run = await loadRun(store, req.params);
      const base = `${req.protocol}://${req.headers.host ?? "localhost"}/v5/${run.project_id}/api/pipelines/${run.pipeline_id}/pipeline-runs/${run.id}/artifacts`;
      const items = await engine.artifacts.list(run.id);
      return {
        artifacts: items.map((a) =>
          artifactView(a, run.run_number, `${base}/${encodeURIComponent(a.name)}/download`),
        ),
      };
    },
  );

  api.get(
    "/v5/:project_id/api/pipelines/:pipeline_id/pipeline-runs/:pipeline_run_id/artifacts/:name/download",
    {
      schema: {
        tags: ["runs"],
        summary: "Download a run's artifact: a tar archive of the files its job kept",
        params: userArtifactParams,
      },
    },
    async (req, reply) => {
      await authorizePipeline(ctx, req, req.params.project_id, req.params.pipeline_id, "query");
      const run = await loadRun(store, req.params);
      const { body, record } = await engine.artifacts.open(run.id, req.params.name);
      return reply
        .type("application/x-tar")
        .header("content-length", record.size)
        .header("content-disposition", `attachment; filename="${record.name}.tar"`)
        .header("x-checksum-sha256", record.sha256)
        .send(body);
    },
  );
}
