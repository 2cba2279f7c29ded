// Pipeline groups from the CLI: `group list` (the tree), `group create|rename|delete|move|swap`
// (the pipeline-group API). `pipeline list --group` and `batch-run --group` use the same GROUP
// arguments (groups.ts).

import { EXIT, usageError } from "./cli-error.js";
import { CLIENT_OPTIONS, type Command, type Ctx } from "./command.js";
import { findGroup, flattenGroups, treeLines } from "./groups.js";
import { resolvePipelines } from "./refs.js";

function printJson(ctx: Ctx, value: unknown): void {
  ctx.out(`${JSON.stringify(value, null, 2)}\n`);
}

const GROUP_HELP =
  "GROUP is a group's id, its name when no other group has it, or its path of names (backend/api).";

const list: Command = {
  spec: {
    path: ["group", "list"],
    summary: "Show the project's pipeline groups as a tree",
    description: `Each group with how many pipelines it and the groups below it hold, and its id; then how many
pipelines are in no group. --json prints the server's tree: [{id, name, parent_id, path_id,
ordinal, pipeline_count, no_group_count, children, ...}].`,
    options: [...CLIENT_OPTIONS],
    maxArgs: 0,
    examples: ["pipewright group list", "pipewright group list --json | jq -r '.[].name'"],
  },
  async run(ctx) {
    const api = await ctx.project();
    const tree = await api.groupTree();
    if (ctx.json) printJson(ctx, tree);
    else if (tree.length === 0) ctx.out("No groups yet: create one with 'pipewright group create NAME'.\n");
    else ctx.out(`${treeLines(tree, ctx.style).join("\n")}\n`);
    return EXIT.OK;
  },
};

const create: Command = {
  spec: {
    path: ["group", "create"],
    summary: "Create a pipeline group (--parent: below another group)",
    args: "NAME",
    description: `Groups nest three levels deep at most; a name is unique among the groups of one parent
(DEVPIPE.00020141, exit 3, when taken). --json prints the group as the server answers it.`,
    options: [
      { name: "parent", type: "string", arg: "GROUP", help: "the group to create it in (default: the top)" },
      ...CLIENT_OPTIONS,
    ],
    minArgs: 1,
    maxArgs: 1,
    examples: ["pipewright group create backend", "pipewright group create api --parent backend"],
  },
  async run(ctx) {
    const name = ctx.args.positionals[0]!;
    const parentRef = ctx.args.str("parent");
    const api = await ctx.project();
    const parent = parentRef === undefined ? undefined : findGroup(parentRef, await api.groupTree());
    const g = await api.createGroup(name, parent?.group.id ?? "");
    if (ctx.json) printJson(ctx, g);
    else ctx.out(`created group ${ctx.style.bold(parent ? `${parent.path}/${g.name}` : g.name)} (${g.id})\n`);
    return EXIT.OK;
  },
};

const rename: Command = {
  spec: {
    path: ["group", "rename"],
    summary: "Rename a pipeline group",
    args: "GROUP NEW-NAME",
    description: `${GROUP_HELP} Its pipelines and subgroups stay in it.`,
    options: [...CLIENT_OPTIONS],
    minArgs: 2,
    maxArgs: 2,
    examples: ["pipewright group rename backend services"],
  },
  async run(ctx) {
    const [ref, name] = ctx.args.positionals as [string, string];
    const api = await ctx.project();
    const g = findGroup(ref, await api.groupTree());
    await api.renameGroup(g.group.id, name);
    if (ctx.json) printJson(ctx, { id: g.group.id, name });
    else ctx.out(`renamed group ${g.path} to ${ctx.style.bold(name)} (${g.group.id})\n`);
    return EXIT.OK;
  },
};

const del: Command = {
  spec: {
    path: ["group", "delete"],
    summary: "Delete pipeline groups and the groups below them; their pipelines become ungrouped",
    args: "GROUP...",
    description: `${GROUP_HELP} Every GROUP is looked up before any is deleted, so an unknown one deletes
nothing. No pipeline is deleted. --json prints [{id, path, deleted, pipelines}].`,
    options: [...CLIENT_OPTIONS],
    minArgs: 1,
    examples: ["pipewright group delete backend/api"],
  },
  async run(ctx) {
    const api = await ctx.project();
    const tree = await api.groupTree();
    const groups = ctx.args.positionals.map((ref) => findGroup(ref, tree));
    const done: { id: string; path: string; deleted: true; pipelines: number }[] = [];
    const gone: string[] = [];
    for (const g of groups) {
      // A group below one deleted before it went with it.
      const path = g.group.path_id;
      if (gone.some((p) => path === p || path.startsWith(`${p}.`))) continue;
      gone.push(path);
      await api.deleteGroup(g.group.id);
      const n = g.group.pipeline_count;
      done.push({ id: g.group.id, path: g.path, deleted: true, pipelines: n });
      if (!ctx.json)
        ctx.out(
          `deleted group ${ctx.style.bold(g.path)} (${g.group.id}); ${n === 0 ? "no pipeline was" : n === 1 ? "1 pipeline is now" : `${n} pipelines are now`} ${n === 0 ? "in it" : "ungrouped"}\n`,
        );
    }
    if (ctx.json) printJson(ctx, done);
    return EXIT.OK;
  },
};

const move: Command = {
  spec: {
    path: ["group", "move"],
    summary: "Move pipelines into a group (--ungroup: out of any group)",
    args: "GROUP PIPELINE...",
    description: `${GROUP_HELP} A pipeline sits in one group: moving it takes it out of the one it was in. With
--ungroup, every argument is a PIPELINE. All or nothing: an unknown pipeline moves none.
--json prints the server's answer: [{code, pipeline_id, pipeline_name}].`,
    options: [
      { name: "ungroup", type: "boolean", help: "take the pipelines out of any group" },
      ...CLIENT_OPTIONS,
    ],
    minArgs: 1,
    examples: [
      "pipewright group move backend/api build-api test-api",
      "pipewright group move --ungroup docs",
    ],
  },
  async run(ctx) {
    const ungroup = ctx.args.bool("ungroup");
    const [first, ...rest] = ctx.args.positionals as [string, ...string[]];
    const refs = ungroup ? [first, ...rest] : rest;
    if (refs.length === 0)
      throw usageError(
        "name the pipelines to move after GROUP",
        "Run 'pipewright group move --help' for usage.",
      );
    const api = await ctx.project();
    const target = ungroup ? undefined : findGroup(first, await api.groupTree());
    const pipelines = await resolvePipelines(api, refs);
    const answer = await api.moveToGroup(target?.group.id ?? "", pipelines);
    if (ctx.json) printJson(ctx, answer);
    else {
      const names = answer.map((a) => a.pipeline_name).join(", ");
      ctx.out(
        target
          ? `moved ${names} to ${ctx.style.bold(target.path)}\n`
          : `${names} ${answer.length === 1 ? "is" : "are"} in no group now\n`,
      );
    }
    return EXIT.OK;
  },
};

const swap: Command = {
  spec: {
    path: ["group", "swap"],
    summary: "Swap the places of two groups of the same parent",
    args: "GROUP GROUP",
    description: `${GROUP_HELP} The tree lists siblings in their order; this exchanges two of them.`,
    options: [...CLIENT_OPTIONS],
    minArgs: 2,
    maxArgs: 2,
    examples: ["pipewright group swap frontend backend"],
  },
  async run(ctx) {
    const api = await ctx.project();
    const tree = await api.groupTree();
    const [a, b] = (ctx.args.positionals as [string, string]).map((ref) => findGroup(ref, tree)) as [
      ReturnType<typeof findGroup>,
      ReturnType<typeof findGroup>,
    ];
    await api.swapGroups(a.group.id, b.group.id);
    const order = flattenGroups(await api.groupTree())
      .filter((f) => f.group.parent_id === a.group.parent_id)
      .map((f) => f.group.name);
    if (ctx.json) printJson(ctx, { swapped: [a.group.id, b.group.id], order });
    else ctx.out(`swapped ${a.path} and ${b.path}: ${order.join(", ")}\n`);
    return EXIT.OK;
  },
};

export const groupCommands: readonly Command[] = [list, create, rename, del, move, swap];
