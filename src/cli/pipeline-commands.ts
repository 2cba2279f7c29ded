// `pipewright pipeline apply|list|show|delete`: pipelines from files (YAML form, definition JSON or a
// request body), created or updated by name.

import fs from "node:fs";
import path from "node:path";
import readline from "node:readline/promises";
import { toPipewrightError } from "../errors.js";
import { DEFAULT_CONDITION, parseDefinition } from "../pipeline/definition.js";
import { InvalidInput } from "../pipeline/issues.js";
import { type PipelineBody, pipelineBodyFromText } from "../pipeline/yaml-form.js";
import { yamlFormFromDetail } from "../pipeline/yaml-form-write.js";
import type { PipelineListItem, ProjectApi } from "./api.js";
import { CliError, EXIT, type ExitCode, usageError } from "./cli-error.js";
import { CLIENT_OPTIONS, type Command, type Ctx } from "./command.js";
import { colorStatus, formatTime, shellWord, table } from "./format.js";
import { findGroup, groupPath } from "./groups.js";
import { resolvePipeline, resolvePipelines, runLabel } from "./refs.js";
import { tagsOfPipelines } from "./tag-commands.js";
import { findTags, tagNames } from "./tags.js";
import { type ScheduleView, scheduleLine, type TriggerView, triggerLines } from "./triggers-format.js";

/**
 * Stands for a child pipeline named by name until it is resolved (validation, --dry-run): a
 * well-formed id no pipeline has.
 */
const UNRESOLVED_CHILD = "0".repeat(32);

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/** Reads and validates one file; an invalid file is a usage error carrying the server's code. */
export async function loadFile(
  ctx: Ctx,
  file: string,
  name: string | undefined,
  pipelineIdOf?: (name: string) => string | undefined,
): Promise<PipelineBody> {
  let text: string;
  try {
    text = file === "-" ? await readAll(ctx.io.stdin) : fs.readFileSync(file, "utf8");
  } catch (err) {
    throw usageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return parseFile(text, file, name, pipelineIdOf);
}

/** Parses and validates one file's text (see loadFile). */
function parseFile(
  text: string,
  file: string,
  name: string | undefined,
  pipelineIdOf?: (name: string) => string | undefined,
): PipelineBody {
  try {
    return pipelineBodyFromText(text, {
      fileName: file === "-" ? "stdin" : file,
      ...(name ? { name } : {}),
      ...(pipelineIdOf ? { pipelineIdOf } : {}),
    }).body;
  } catch (err) {
    if (!(err instanceof InvalidInput)) throw err;
    const { code } = toPipewrightError(err);
    throw new CliError(EXIT.USAGE, `${err.message} (${code})`, { code, cause: err });
  }
}

const PIPELINE_FILE = /\.(ya?ml|json)$/i;

/** The files named: each file as given, each directory's pipeline files by name (not recursive). */
export function expandPipelineFiles(named: readonly string[], cwd: string): string[] {
  const out: string[] = [];
  for (const f of named) {
    let isDir = false;
    try {
      isDir = f !== "-" && fs.statSync(path.resolve(cwd, f)).isDirectory();
    } catch {
      // Not there: loadFile says so, naming it.
    }
    if (!isDir) {
      out.push(f);
      continue;
    }
    const inside = fs
      .readdirSync(path.resolve(cwd, f), { withFileTypes: true })
      .filter((e) => e.isFile() && PIPELINE_FILE.test(e.name))
      .map((e) => path.join(f, e.name))
      .sort();
    if (inside.length === 0) throw usageError(`${f} holds no pipeline file (*.yaml, *.yml, *.json)`);
    out.push(...inside);
  }
  return [...new Set(out)];
}

function isNameTaken(err: unknown): boolean {
  return err instanceof CliError && err.code === "DEVPIPE.00020111";
}

const apply: Command = {
  spec: {
    path: ["pipeline", "apply"],
    summary: "Create or update pipelines from files, matched by name",
    description: `Each FILE is YAML (or JSON) in one of three shapes (docs/definition.md):
  - the YAML form: name, variables, stages of jobs of steps written as \`uses\` + \`with\`;
  - a bare CodeArts definition: {"stages": [...]} with steps as \`task\` + \`inputs\`;
  - a create/update request body: {"name", "definition", "variables", ...}.
A file is validated here first, with errors naming FILE:LINE:COL and the path inside it. A
pipeline of the same name is updated (a full replace), otherwise one is created.`,
    options: [
      {
        name: "file",
        short: "f",
        type: "string",
        multiple: true,
        arg: "FILE",
        help: "pipeline file or directory (its *.yaml, *.yml and *.json files); - reads stdin; repeat for several",
      },
      {
        name: "name",
        type: "string",
        arg: "NAME",
        help: "pipeline name, overriding the file's (one file only)",
      },
      {
        name: "dry-run",
        type: "boolean",
        help: "validate only; print the request body (with --json) and contact no server",
      },
      ...CLIENT_OPTIONS,
    ],
    args: "[FILE...]",
    examples: [
      "pipewright pipeline apply -f examples/fan-out.yaml",
      "pipewright pipeline apply -f examples/*.yaml",
      "pipewright pipeline apply -f pipelines/",
      "pipewright pipeline apply -f build.yaml --name build-release",
      "cat p.json | pipewright pipeline apply -f - --json",
    ],
  },
  async run(ctx) {
    // A shell glob after -f (`-f examples/*.yaml`) arrives as one -f value and more words: all
    // of them are files. A directory stands for the pipeline files in it.
    const files = expandPipelineFiles([...ctx.args.list("file"), ...ctx.args.positionals], ctx.io.cwd);
    if (files.length === 0)
      throw usageError("-f FILE is required", "Run 'pipewright pipeline apply --help' for usage.");
    const name = ctx.args.str("name");
    if (name !== undefined && files.length > 1) throw usageError("--name applies to one file, not several");
    // A sub-pipeline step of the YAML form may name its child by name. The first pass validates
    // every file before anything is sent, taking any name (the stand-in id below) and noting it.
    const texts: { file: string; text: string; refs: Set<string>; body: PipelineBody }[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = file === "-" ? await readAll(ctx.io.stdin) : fs.readFileSync(file, "utf8");
      } catch (err) {
        throw usageError(`cannot read ${file}: ${(err as Error).message}`);
      }
      const refs = new Set<string>();
      const body = parseFile(text, file, name, (n) => {
        refs.add(n);
        return UNRESOLVED_CHILD;
      });
      texts.push({ file, text, refs, body });
    }
    const bodies = texts.map(({ file, body }) => ({ file, body }));
    if (ctx.args.bool("dry-run")) {
      if (ctx.json)
        ctx.out(
          `${JSON.stringify(
            bodies.map((b) => b.body),
            null,
            2,
          )}\n`,
        );
      else {
        for (const { file, body } of bodies) {
          const def = parseDefinition(body.definition);
          const jobs = def.stages.reduce((n, s) => n + s.jobs.length, 0);
          ctx.out(`${file}: valid: pipeline ${body.name}, ${def.stages.length} stage(s), ${jobs} job(s)\n`);
        }
      }
      return EXIT.OK;
    }
    const api = await ctx.project();
    const existing = new Map((await api.allPipelines()).map((p) => [p.name, p.pipeline_id]));
    // Every child named must be a pipeline of the project or one of these files; checked again
    // with the names so that an unknown one is reported at its line, before anything is sent.
    const known = (n: string): string | undefined =>
      existing.has(n) || texts.some((t) => t.body.name === n) ? UNRESOLVED_CHILD : undefined;
    for (const t of texts) if (t.refs.size > 0) parseFile(t.text, t.file, name, known);
    // Children first: a file is applied once the pipelines it names exist (the order given otherwise).
    const ordered: typeof texts = [];
    const pending = [...texts];
    while (pending.length > 0) {
      const made = new Set([...existing.keys(), ...ordered.map((t) => t.body.name)]);
      const i = pending.findIndex((t) => [...t.refs].every((r) => made.has(r)));
      if (i === -1) {
        throw usageError(
          `sub-pipelines name each other in a cycle: ${pending.map((t) => `${t.file} (${t.body.name})`).join(", ")}`,
        );
      }
      ordered.push(...pending.splice(i, 1));
    }
    const results: { file: string; name: string; pipeline_id: string; action: "created" | "updated" }[] = [];
    for (const t of ordered) {
      const { file } = t;
      // Parsed again with the ids the children have now (created by this same apply, perhaps).
      const body = t.refs.size > 0 ? parseFile(t.text, file, name, (n) => existing.get(n)) : t.body;
      let id = existing.get(body.name);
      let action: "created" | "updated" = id ? "updated" : "created";
      if (id) {
        await api.updatePipeline(id, body);
      } else {
        try {
          id = (await api.createPipeline(body)).pipeline_id;
        } catch (err) {
          // Created by someone else since the listing: update it instead, as asked.
          if (!isNameTaken(err)) throw err;
          const p = await resolvePipeline(api, body.name);
          id = p.id;
          action = "updated";
          await api.updatePipeline(id, body);
        }
        existing.set(body.name, id);
      }
      results.push({ file, name: body.name, pipeline_id: id, action });
      if (!ctx.json) ctx.out(`${action} pipeline ${ctx.style.bold(body.name)} (${id})\n`);
    }
    if (ctx.json) ctx.out(`${JSON.stringify(results, null, 2)}\n`);
    return EXIT.OK;
  },
};

/** Fills `latest_run` (the list answers null) from one pipelines/status call. */
async function withLatestRuns(api: ProjectApi, items: PipelineListItem[]): Promise<PipelineListItem[]> {
  const latest = new Map(
    (await api.latestStatus(items.map((p) => p.pipeline_id))).map((r) => [r.pipeline_id, r]),
  );
  for (const p of items) p.latest_run = latest.get(p.pipeline_id) ?? null;
  return items;
}

const list: Command = {
  spec: {
    path: ["pipeline", "list"],
    summary: "List the project's pipelines with their latest run",
    description: `When the project has tags, a TAGS column shows the ones each pipeline carries (found with one
filtered listing per tag). --tag lists only the pipelines carrying TAG (by name or id); given
several times, those carrying any of them. --json prints the list items, each with its latest_run.`,
    options: [
      { name: "filter", type: "string", arg: "TEXT", help: "only pipelines whose name contains TEXT" },
      {
        name: "tag",
        type: "string",
        multiple: true,
        arg: "TAG",
        help: "only pipelines carrying TAG; repeat for any of several",
      },
      {
        name: "group",
        type: "string",
        arg: "GROUP",
        help: "only pipelines in GROUP or a group below it (id, name or path such as backend/api)",
      },
      ...CLIENT_OPTIONS,
    ],
    maxArgs: 0,
    examples: [
      "pipewright pipeline list",
      "pipewright pipeline list --filter nightly --json | jq -r '.[].name'",
      "pipewright pipeline list --tag release --tag hotfix",
      "pipewright pipeline list --group backend",
    ],
  },
  async run(ctx) {
    const api = await ctx.project();
    const filter = ctx.args.str("filter");
    const tagRefs = ctx.args.list("tag");
    // Read once: it resolves --tag and, for text, names the TAGS column.
    const tags = tagRefs.length > 0 || !ctx.json ? await api.listTags() : [];
    const wanted = findTags(tagRefs, tags);
    const groupRef = ctx.args.str("group");
    const group = groupRef === undefined ? undefined : findGroup(groupRef, await api.groupTree());
    const items = await withLatestRuns(
      api,
      await api.allPipelines(
        filter,
        wanted.map((t) => t.tag_id),
        group?.group.path_id,
      ),
    );
    if (ctx.json) {
      ctx.out(`${JSON.stringify(items, null, 2)}\n`);
      return EXIT.OK;
    }
    if (items.length === 0) {
      const tagged =
        (wanted.length > 0 ? ` carrying ${wanted.map((t) => t.name).join(" or ")}` : "") +
        (group ? ` in group ${group.path}` : "");
      ctx.out(
        filter
          ? tagged
            ? `No pipeline${tagged} has a name containing "${filter}".\n`
            : `No pipeline name contains "${filter}".\n`
          : tagged
            ? `No pipeline${tagged}.\n`
            : "No pipelines yet: create one with 'pipewright pipeline apply -f FILE'.\n",
      );
      return EXIT.OK;
    }
    const { style } = ctx;
    const carried = await tagsOfPipelines(api, tags, filter);
    const withTags = tags.length > 0;
    ctx.out(
      table(
        [
          "NAME",
          "ID",
          ...(withTags ? ["TAGS"] : []),
          "LATEST RUN",
          "STATUS",
          "UPDATED",
          ...(ctx.wide ? ["CREATED", "VERSION", "PROJECT"] : []),
        ],
        items.map((p) => [
          p.name + (p.banned ? style.yellow(" (disabled)") : ""),
          p.pipeline_id,
          ...(withTags ? [tagNames(carried.get(p.pipeline_id))] : []),
          p.latest_run ? runLabel(p.name, p.latest_run.run_number) : "-",
          p.latest_run ? colorStatus(style, p.latest_run.status) : style.dim("never run"),
          formatTime(p.update_time),
          ...(ctx.wide ? [formatTime(p.create_time), p.manifest_version, p.project_name] : []),
        ]),
        style,
      ),
    );
    return EXIT.OK;
  },
};

const show: Command = {
  spec: {
    path: ["pipeline", "show"],
    summary: "Show a pipeline: its stages, jobs, steps, variables, schedules and triggers",
    args: "PIPELINE",
    description: `Schedules show when each fires (in the schedule's zone), its next tick and the last one
fired (in local time), and ticks missed while no server ran. Triggers show the repository, the
events that start the pipeline and its branch, tag and path filters. --json prints the server's
pipeline detail, where schedules carry next_time, last_fire_time and missed_count.`,
    options: [
      { name: "yaml", type: "boolean", help: "print it in the YAML form (can be applied again)" },
      ...CLIENT_OPTIONS,
    ],
    minArgs: 1,
    maxArgs: 1,
    examples: ["pipewright pipeline show build", "pipewright pipeline show build --yaml > build.yaml"],
  },
  async run(ctx) {
    const api = await ctx.project();
    const ref = await resolvePipeline(api, ctx.args.positionals[0]!);
    const p = await api.getPipeline(ref.id);
    if (ctx.json) {
      ctx.out(`${JSON.stringify(p, null, 2)}\n`);
      return EXIT.OK;
    }
    if (ctx.args.bool("yaml")) {
      ctx.out(yamlFormFromDetail(p));
      return EXIT.OK;
    }
    const { style } = ctx;
    const lines: string[] = [
      `${style.bold(p.name)}  ${style.dim(p.id)}${p.banned ? style.yellow("  disabled") : ""}`,
    ];
    if (p.description) lines.push(p.description);
    const tags = await api.listTags();
    const carried = (await tagsOfPipelines(api, tags, p.name)).get(p.id);
    if (carried && carried.length > 0) lines.push(`tags: ${tagNames(carried)}`);
    if (p.group_id) lines.push(`group: ${groupPath(p.group_id, await api.groupTree()) ?? p.group_id}`);
    lines.push(
      `created ${formatTime(p.create_time)}${p.creator_name ? ` by ${p.creator_name}` : ""} · updated ${formatTime(p.update_time)}`,
    );
    if (p.variables.length > 0) {
      lines.push("", "Variables:");
      for (const v of p.variables) {
        const flags = [
          v.is_runtime ? "runtime" : "",
          v.is_secret ? "secret" : "",
          v.type !== "string" ? String(v.type) : "",
        ].filter(Boolean);
        lines.push(
          `  ${v.name} = ${JSON.stringify(v.value)}${flags.length ? style.dim(`  (${flags.join(", ")})`) : ""}`,
        );
      }
    }
    const cc = p.concurrency_control;
    if (cc)
      lines.push(
        "",
        `Concurrency: ${cc.concurrency_number} at once, then ${cc.exceed_action}${cc.enable === false ? " (disabled)" : ""}${cc.supersede ? "; a newer run of a branch stops its older ones" : ""}`,
      );
    const schedules = p.schedules as readonly ScheduleView[];
    if (schedules.length > 0) {
      lines.push("", "Schedules:");
      const now = ctx.io.now();
      for (const s of schedules) lines.push(`  ${scheduleLine(s, now, style)}`);
    }
    const triggers = p.triggers as readonly TriggerView[];
    if (triggers.length > 0) {
      lines.push("", "Triggers:");
      for (const t of triggers) lines.push(...triggerLines(t, style).map((l) => `  ${l}`));
      lines.push(
        style.dim(
          `  (forges deliver to the project's webhook: pipewright pipeline webhook ${shellWord(p.name)})`,
        ),
      );
    }
    const def = parseDefinition(p.definition);
    lines.push("", "Stages:");
    for (const st of def.stages) {
      const deps = st.depends_on.length ? style.dim(`  after ${st.depends_on.join(", ")}`) : "";
      lines.push(
        `  ${st.name} ${style.dim(`[${st.identifier}]`)}${st.run_always ? style.dim("  run_always") : ""}${deps}`,
      );
      for (const job of st.jobs) {
        const extra = [
          job.depends_on.length ? `after ${job.depends_on.join(", ")}` : "",
          job.condition !== DEFAULT_CONDITION ? `if ${job.condition}` : "",
          job.timeout ? `timeout ${job.timeout}` : "",
        ].filter(Boolean);
        lines.push(
          `    ${job.name} ${style.dim(`[${job.identifier}]`)}${extra.length ? style.dim(`  ${extra.join(" · ")}`) : ""}`,
        );
        for (const step of job.steps)
          lines.push(`      ${step.name} ${style.dim(`[${step.identifier}] ${step.task}`)}`);
      }
    }
    ctx.out(`${lines.join("\n")}\n`);
    return EXIT.OK;
  },
};

async function confirm(ctx: Ctx, question: string): Promise<boolean> {
  ctx.io.stderr.write(question);
  const rl = readline.createInterface({ input: ctx.io.stdin, terminal: false });
  try {
    return /^y(es)?$/i.test((await rl.question("")).trim());
  } finally {
    rl.close();
  }
}

const del: Command = {
  spec: {
    path: ["pipeline", "delete"],
    summary: "Delete pipelines and all their runs (running ones are stopped first)",
    args: "PIPELINE...",
    options: [
      { name: "yes", short: "y", type: "boolean", help: "do not ask; needed when stdin is not a terminal" },
      ...CLIENT_OPTIONS,
    ],
    minArgs: 1,
    examples: ["pipewright pipeline delete old-build --yes"],
  },
  async run(ctx): Promise<ExitCode> {
    const api = await ctx.project();
    const refs = await resolvePipelines(api, ctx.args.positionals);
    if (!ctx.args.bool("yes")) {
      if (!ctx.io.stdin.isTTY) {
        throw usageError("refusing to delete without --yes (stdin is not a terminal to ask on)");
      }
      const names = refs.map((r) => r.name).join(", ");
      if (!(await confirm(ctx, `Delete ${names} and all their runs? [y/N] `))) {
        ctx.note("Nothing deleted.");
        return EXIT.OK;
      }
    }
    for (const r of refs) {
      await api.deletePipeline(r.id);
      if (!ctx.json) ctx.out(`deleted pipeline ${ctx.style.bold(r.name)} (${r.id})\n`);
    }
    if (ctx.json)
      ctx.out(
        `${JSON.stringify(
          refs.map((r) => ({ pipeline_id: r.id, name: r.name, deleted: true })),
          null,
          2,
        )}\n`,
      );
    return EXIT.OK;
  },
};

export const pipelineCommands: readonly Command[] = [apply, list, show, del];
