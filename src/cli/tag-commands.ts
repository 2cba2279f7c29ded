// Pipeline tags from the CLI: `tag list|create|rename|delete` (the pipeline-tag API) and
// `pipeline tag PIPELINE [TAG…]`, which sets a pipeline's tags. The API says which pipelines carry
// a tag (the pipeline list filtered by it), not which tags a pipeline carries: that is found by
// asking once per tag.

import type { PipelineTag, ProjectApi } from "./api.js";
import { EXIT, usageError } from "./cli-error.js";
import { CLIENT_OPTIONS, type Command, type Ctx } from "./command.js";
import { shellWord, table } from "./format.js";
import { resolvePipeline } from "./refs.js";
import {
  DEFAULT_TAG_COLOR,
  findTag,
  findTags,
  nextTagIds,
  parseColor,
  tagNames,
  tagRows,
  tagsByPipeline,
} from "./tags.js";

/** Runs `task` on each item, at most four at a time (as the CLI's other fan-outs do). */
async function eachInTurns<T>(items: readonly T[], task: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await task(item);
  };
  await Promise.all(Array.from({ length: Math.min(4, queue.length) }, worker));
}

/**
 * Which pipelines carry each tag: one filtered listing per tag. `name` narrows each listing to
 * pipelines whose name contains it (one pipeline's tags need only the few that share its name).
 */
export async function pipelinesOfTags(
  api: ProjectApi,
  tags: readonly PipelineTag[],
  name?: string,
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  await eachInTurns(tags, async (t) => {
    out.set(
      t.tag_id,
      (await api.allPipelines(name, [t.tag_id])).map((p) => p.pipeline_id),
    );
  });
  return out;
}

/** The tags each pipeline carries; none asked for when the project has no tags. */
export async function tagsOfPipelines(
  api: ProjectApi,
  tags: readonly PipelineTag[],
  name?: string,
): Promise<Map<string, PipelineTag[]>> {
  if (tags.length === 0) return new Map();
  return tagsByPipeline(tags, await pipelinesOfTags(api, tags, name));
}

function printJson(ctx: Ctx, value: unknown): void {
  ctx.out(`${JSON.stringify(value, null, 2)}\n`);
}

/** The tag of this name as the server now lists it (create and update answer only success). */
async function tagNamed(api: ProjectApi, name: string): Promise<PipelineTag | undefined> {
  return (await api.listTags()).find((t) => t.name === name);
}

const TAG_HELP = "TAG is a tag's name or id.";

const list: Command = {
  spec: {
    path: ["tag", "list"],
    summary: "List the project's pipeline tags",
    description: "--json prints the server's answer: [{tag_id, name, color, project_id, project_name}].",
    options: [...CLIENT_OPTIONS],
    maxArgs: 0,
    examples: ["pipewright tag list", "pipewright tag list --json | jq -r '.[].name'"],
  },
  async run(ctx) {
    const api = await ctx.project();
    const tags = await api.listTags();
    if (ctx.json) {
      printJson(ctx, tags);
      return EXIT.OK;
    }
    if (tags.length === 0) {
      ctx.out("No tags yet: create one with 'pipewright tag create NAME'.\n");
      return EXIT.OK;
    }
    ctx.out(table(["NAME", "COLOR", "ID"], tagRows(tags, ctx.style), ctx.style));
    return EXIT.OK;
  },
};

const COLOR_OPTION = {
  name: "color",
  type: "string",
  arg: "#RRGGBB",
  help: "the tag's colour; the # may be left out (an unquoted #… is a comment to the shell)",
} as const;

const create: Command = {
  spec: {
    path: ["tag", "create"],
    summary: "Create a pipeline tag",
    args: "NAME",
    description: `A name is unique in its project (DEVPIPE.00020124, exit 3, when taken). Without --color the
tag is ${DEFAULT_TAG_COLOR}. --json prints the tag as 'tag list --json' lists it.`,
    options: [COLOR_OPTION, ...CLIENT_OPTIONS],
    minArgs: 1,
    maxArgs: 1,
    examples: ["pipewright tag create release", "pipewright tag create nightly --color '#7a3ee0'"],
  },
  async run(ctx) {
    const name = ctx.args.positionals[0]!;
    const raw = ctx.args.str("color");
    const color = raw === undefined ? DEFAULT_TAG_COLOR : parseColor(raw);
    const api = await ctx.project();
    await api.createTag(name, color);
    const tag = await tagNamed(api, name);
    if (ctx.json) printJson(ctx, tag ?? { name, color });
    else ctx.out(`created tag ${ctx.style.bold(name)} (${color}${tag ? `, ${tag.tag_id}` : ""})\n`);
    return EXIT.OK;
  },
};

const rename: Command = {
  spec: {
    path: ["tag", "rename"],
    summary: "Rename or recolour a pipeline tag",
    args: "TAG [NEW-NAME]",
    description: `${TAG_HELP} Give NEW-NAME, --color, or both; what is not given stays as it is. Pipelines keep
the tag. --json prints the tag as it now is.`,
    options: [COLOR_OPTION, ...CLIENT_OPTIONS],
    minArgs: 1,
    maxArgs: 2,
    examples: [
      "pipewright tag rename nightly nightly-builds",
      "pipewright tag rename release --color 1a7f37",
    ],
  },
  async run(ctx) {
    const [ref, newName] = ctx.args.positionals as [string, string | undefined];
    const raw = ctx.args.str("color");
    if (newName === undefined && raw === undefined)
      throw usageError("give NEW-NAME, --color or both", "Run 'pipewright tag rename --help' for usage.");
    const color = raw === undefined ? undefined : parseColor(raw);
    const api = await ctx.project();
    const tag = findTag(ref, await api.listTags());
    const name = newName ?? tag.name;
    await api.updateTag(tag.tag_id, name, color ?? tag.color);
    const now = { ...tag, name, color: color ?? tag.color };
    if (ctx.json) printJson(ctx, now);
    else {
      const what =
        name !== tag.name
          ? `renamed tag ${tag.name} to ${ctx.style.bold(name)}`
          : `tag ${ctx.style.bold(name)}`;
      ctx.out(`${what} (${now.color}, ${tag.tag_id})\n`);
    }
    return EXIT.OK;
  },
};

const del: Command = {
  spec: {
    path: ["tag", "delete"],
    summary: "Delete pipeline tags; the pipelines carrying them lose them",
    args: "TAG...",
    description: `${TAG_HELP} Every TAG is looked up before any is deleted, so an unknown one deletes
nothing. --json prints [{tag_id, name, deleted, pipelines}], pipelines being how many carried it.`,
    options: [...CLIENT_OPTIONS],
    minArgs: 1,
    examples: ["pipewright tag delete nightly"],
  },
  async run(ctx) {
    const api = await ctx.project();
    const tags = findTags(ctx.args.positionals, await api.listTags());
    const carried = await pipelinesOfTags(api, tags);
    const done: { tag_id: string; name: string; deleted: true; pipelines: number }[] = [];
    for (const t of tags) {
      await api.deleteTag(t.tag_id);
      const n = carried.get(t.tag_id)?.length ?? 0;
      done.push({ tag_id: t.tag_id, name: t.name, deleted: true, pipelines: n });
      if (!ctx.json)
        ctx.out(
          `deleted tag ${ctx.style.bold(t.name)} (${t.tag_id}); ${n === 0 ? "no pipeline" : n === 1 ? "1 pipeline" : `${n} pipelines`} carried it\n`,
        );
    }
    if (ctx.json) printJson(ctx, done);
    return EXIT.OK;
  },
};

const tagPipeline: Command = {
  spec: {
    path: ["pipeline", "tag"],
    summary: "Set the tags a pipeline carries (no TAG: it loses them all)",
    args: "PIPELINE [TAG...]",
    description: `${TAG_HELP} PIPELINE then carries exactly the TAGs given. --add and --remove change the tags
it carries instead (read first, with one filtered pipeline listing per tag of the project); they
do not mix with TAG arguments. A change made elsewhere between the read and the write is
overwritten. Prints what the pipeline now carries; --json prints {pipeline_id, name, tags}.`,
    options: [
      { name: "add", type: "string", multiple: true, arg: "TAG", help: "add TAG to its tags; repeatable" },
      {
        name: "remove",
        type: "string",
        multiple: true,
        arg: "TAG",
        help: "remove TAG from its tags; repeatable",
      },
      ...CLIENT_OPTIONS,
    ],
    minArgs: 1,
    examples: [
      "pipewright pipeline tag build release nightly",
      "pipewright pipeline tag build --add release --remove nightly",
      "pipewright pipeline tag build   # it carries no tag now",
    ],
  },
  async run(ctx) {
    const [pipelineRef, ...setRefs] = ctx.args.positionals as [string, ...string[]];
    const addRefs = ctx.args.list("add");
    const removeRefs = ctx.args.list("remove");
    const changing = addRefs.length > 0 || removeRefs.length > 0;
    if (changing && setRefs.length > 0)
      throw usageError(
        "TAG arguments set the tags; --add and --remove change them: use one or the other",
        "Run 'pipewright pipeline tag --help' for usage.",
      );
    const api = await ctx.project();
    const pipeline = await resolvePipeline(api, pipelineRef);
    const tags = await api.listTags();
    // Every TAG is checked before anything is sent.
    const set = findTags(setRefs, tags).map((t) => t.tag_id);
    const add = findTags(addRefs, tags).map((t) => t.tag_id);
    const remove = findTags(removeRefs, tags).map((t) => t.tag_id);
    let ids: string[];
    if (changing) {
      const current = (await tagsOfPipelines(api, tags, pipeline.name)).get(pipeline.id) ?? [];
      ids = nextTagIds(
        current.map((t) => t.tag_id),
        { add, remove },
        tags,
      );
    } else {
      ids = nextTagIds([], { set }, tags);
    }
    await api.setTags([pipeline.id], ids);
    const carried = ids.map((id) => tags.find((t) => t.tag_id === id)).filter((t) => t !== undefined);
    if (ctx.json) printJson(ctx, { pipeline_id: pipeline.id, name: pipeline.name, tags: carried });
    else
      ctx.out(
        carried.length > 0
          ? `${ctx.style.bold(pipeline.name)} carries ${tagNames(carried)}\n`
          : `${ctx.style.bold(pipeline.name)} carries no tag (add one: pipewright pipeline tag ${shellWord(pipeline.name)} --add TAG)\n`,
      );
    return EXIT.OK;
  },
};

export const tagCommands: readonly Command[] = [list, create, rename, del];
export const pipelineTagCommands: readonly Command[] = [tagPipeline];
