// A run's artifacts from the CLI: `artifacts list` shows what the run's jobs kept, `artifacts
// download` streams one archive to a file or stdout, checking its SHA-256 on the way.

import path from "node:path";
import type { Artifact, ProjectApi } from "./api.js";
import { closest } from "./args.js";
import {
  ARTIFACT_HEADERS,
  artifactFileName,
  artifactRow,
  formatBytes,
  progressText,
} from "./artifacts-format.js";
import { CliError, EXIT, usageError } from "./cli-error.js";
import { CLIENT_OPTIONS, type Command, type Ctx, OUTPUT_FORMAT_OPTION } from "./command.js";
import { shellWord, table } from "./format.js";
import { PIPELINE_OPTION, RUN_HELP, resolveRun, runLabel } from "./refs.js";
import { checkDestination, type Destination, saveDownload } from "./save-download.js";

const KEEP_HINT = `A job keeps files with "artifacts": [{"name": "dist", "paths": ["dist/**"]}] beside its steps.`;

const list: Command = {
  spec: {
    path: ["artifacts", "list"],
    summary: "List the artifacts a run's jobs kept: name, job, size, SHA-256 and when",
    args: "RUN",
    description: `${RUN_HELP}

An artifact is a tar archive of the files a job kept (its "artifacts" field: a name and glob
paths); 'pipewright artifacts download RUN NAME' saves one. --json prints the server's answer
(ShowPipelineArtifacts): {artifacts: [...]}, with the full sha256 in hash_code.`,
    options: [PIPELINE_OPTION, ...CLIENT_OPTIONS],
    minArgs: 1,
    maxArgs: 1,
    examples: [
      "pipewright artifacts list 'build#3'",
      "pipewright artifacts list build --json | jq -r '.artifacts[].name'",
    ],
  },
  async run(ctx) {
    const api = await ctx.project();
    const { pipeline, detail } = await resolveRun(api, ctx.args.positionals[0]!, ctx.args.str("pipeline"));
    const answer = await api.artifacts(pipeline.id, detail.id);
    if (ctx.json) {
      ctx.out(`${JSON.stringify(answer, null, 2)}\n`);
      return EXIT.OK;
    }
    const label = runLabel(pipeline.name, detail.run_number);
    if (answer.artifacts.length === 0) {
      ctx.out(`${label} kept no artifacts.\n`);
      ctx.note(ctx.errStyle.dim(KEEP_HINT));
      return EXIT.OK;
    }
    ctx.out(table(ARTIFACT_HEADERS, answer.artifacts.map(artifactRow), ctx.style));
    return EXIT.OK;
  },
};

/** A server's refusal of NAME, said with the names the run does have. */
async function unknownArtifact(
  api: ProjectApi,
  pipelineId: string,
  runId: string,
  name: string,
  label: string,
  err: CliError,
): Promise<CliError> {
  let artifacts: readonly Artifact[];
  try {
    artifacts = (await api.artifacts(pipelineId, runId)).artifacts;
  } catch {
    return err;
  }
  const names = artifacts.map((a) => a.name);
  // Listed, yet refused: the refusal is about something else (a permission, a file gone).
  if (names.includes(name)) return err;
  const guess = closest(name, names);
  return new CliError(
    err.exitCode,
    `${label} has no artifact "${name}"${guess ? ` (did you mean "${guess}"?)` : ""}${err.code ? ` (${err.code})` : ""}`,
    {
      code: err.code,
      hint: names.length > 0 ? `Its artifacts: ${names.join(", ")}.` : `It kept none. ${KEEP_HINT}`,
      cause: err,
    },
  );
}

/** Redraws one line on a terminal's stderr, at most every 200 ms. */
function progressLine(ctx: Ctx, file: string, total: number | undefined) {
  const on = ctx.io.stderr.isTTY && !ctx.json;
  let last = 0;
  let shown = false;
  return {
    update(bytes: number): void {
      if (!on) return;
      const now = ctx.io.now();
      if (now - last < 200) return;
      last = now;
      shown = true;
      ctx.io.stderr.write(`\r\x1b[2K${ctx.errStyle.dim(`${file}: ${progressText(bytes, total)}`)}`);
    },
    clear(): void {
      if (shown) ctx.io.stderr.write("\r\x1b[2K");
    },
  };
}

const download: Command = {
  spec: {
    path: ["artifacts", "download"],
    summary: "Download an artifact of a run: the tar archive of the files its job kept",
    args: "RUN NAME",
    description: `${RUN_HELP}

The archive goes to ./NAME.tar, or to the file -o names, or to stdout with -o - (not to a
terminal), as it arrives: it is never held in memory. An existing file is kept unless --force.
Its SHA-256 is checked against the one the server sends (X-Checksum-Sha256) while it is
written. A file is written under a temporary name and takes its own only when whole and
matching: a download that breaks off (exit 4) or does not match (exit 3) leaves no file and
does not touch the one --force would replace. With -o - the bytes have already gone out by
then: check the exit status. --json prints {name, file, bytes, sha256} of the saved file.`,
    options: [
      {
        name: "output",
        short: "o",
        type: "string",
        arg: "FILE",
        help: "where to write the archive (default ./NAME.tar); - for stdout",
      },
      { name: "force", type: "boolean", help: "replace FILE if it exists" },
      PIPELINE_OPTION,
      ...CLIENT_OPTIONS.filter((o) => o !== OUTPUT_FORMAT_OPTION),
    ],
    minArgs: 2,
    maxArgs: 2,
    examples: [
      "pipewright artifacts download 'build#3' dist",
      "pipewright artifacts download build dist -o - | tar -xf -",
      "pipewright artifacts download build dist -o out/dist.tar --force",
    ],
  },
  async run(ctx) {
    const [runRef, name] = ctx.args.positionals as [string, string];
    const output = ctx.args.str("output");
    const toStdout = output === "-";
    const force = ctx.args.bool("force");
    if (toStdout && ctx.io.binaryOut.isTTY) {
      throw usageError(
        "not writing a tar archive to a terminal",
        "Redirect stdout (-o - > file, -o - | tar -xf -) or give -o a file name.",
      );
    }
    if (toStdout && ctx.json) throw usageError("--json prints to stdout, where -o - writes the archive");
    const shown = toStdout ? "-" : (output ?? artifactFileName(name));
    const file = path.resolve(ctx.io.cwd, shown);
    // Before any request: a refusal to overwrite should not cost a download.
    if (!toStdout) checkDestination(file, shown, force);

    const api = await ctx.project();
    const { pipeline, detail } = await resolveRun(api, runRef, ctx.args.str("pipeline"));
    const label = runLabel(pipeline.name, detail.run_number);
    let answer: Awaited<ReturnType<ProjectApi["downloadArtifact"]>>;
    try {
      answer = await api.downloadArtifact(pipeline.id, detail.id, name, ctx.io.signal);
    } catch (err) {
      if (err instanceof CliError && err.exitCode === EXIT.SERVER) {
        throw await unknownArtifact(api, pipeline.id, detail.id, name, label, err);
      }
      throw err;
    }
    const length = answer.header("content-length");
    const expectedBytes = length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
    const expectedSha256 = answer.header("x-checksum-sha256");
    const dest: Destination = toStdout
      ? { kind: "stream", out: ctx.io.binaryOut }
      : { kind: "file", path: file, shown, force };
    const progress = progressLine(ctx, shown, expectedBytes);
    let saved: Awaited<ReturnType<typeof saveDownload>>;
    try {
      saved = await saveDownload(answer.body, dest, {
        what: `artifact ${name} of ${label}`,
        expectedSha256,
        expectedBytes,
        signal: ctx.io.signal,
        onProgress: progress.update,
      });
    } finally {
      progress.clear();
    }
    if (!saved.verified) {
      ctx.note(
        ctx.errStyle.yellow(
          `warning: the server sent no X-Checksum-Sha256: ${name} was not checked (sha256 ${saved.sha256})`,
        ),
      );
    }
    if (ctx.json) {
      ctx.out(`${JSON.stringify({ name, file, bytes: saved.bytes, sha256: saved.sha256 }, null, 2)}\n`);
    } else if (!toStdout) {
      const checked = saved.verified ? "sha256 verified" : "sha256 not checked";
      ctx.out(`Saved ${label} ${name} to ${shellWord(shown)} (${formatBytes(saved.bytes)}, ${checked})\n`);
    }
    return EXIT.OK;
  },
};

export const artifactCommands: readonly Command[] = [list, download];
