// Parameter groups (CodeArts's variable groups) from the CLI: `vargroup list|show|create|delete`.
// Secret values never come back from the server (they are the mask); `create --secret NAME` takes
// the value from the environment, so it stays out of the shell's history.

import { ERRORS } from "../errors.js";
import type { VariableGroupView } from "../wire/variable-groups.js";
import { CliError, EXIT, usageError } from "./cli-error.js";
import { CLIENT_OPTIONS, type Command, type Ctx } from "./command.js";
import { table } from "./format.js";

const GROUP_HELP = "GROUP is a parameter group's name or id.";

function printJson(ctx: Ctx, value: unknown): void {
  ctx.out(`${JSON.stringify(value, null, 2)}\n`);
}

/** The groups `refs` name (each by id or exact name), without repeats; every unknown one is named in one error. */
export function findGroups(
  refs: readonly string[],
  groups: readonly VariableGroupView[],
): VariableGroupView[] {
  const out: VariableGroupView[] = [];
  const missing: string[] = [];
  for (const ref of refs) {
    const g = groups.find((x) => x.id === ref) ?? groups.find((x) => x.name === ref);
    if (!g) missing.push(ref);
    else if (!out.includes(g)) out.push(g);
  }
  if (missing.length > 0) {
    const code = ERRORS.VARIABLE_GROUP_NOT_FOUND.code;
    throw new CliError(EXIT.SERVER, `no parameter group ${missing.join(", ")} in this project (${code})`, {
      code,
      hint:
        groups.length > 0
          ? `Its groups: ${groups.map((g) => g.name).join(", ")}.`
          : "The project has no parameter groups yet: create one with 'pipewright vargroup create NAME'.",
    });
  }
  return out;
}

/** `NAME=VALUE` of --var; of --secret also a bare NAME, whose value is the environment's. */
export function parseAssignment(
  text: string,
  option: "var" | "secret",
  env: Readonly<Record<string, string | undefined>>,
): { name: string; value: string } {
  const eq = text.indexOf("=");
  if (eq > 0) return { name: text.slice(0, eq), value: text.slice(eq + 1) };
  if (option === "secret" && eq < 0 && text !== "") {
    const value = env[text];
    if (value === undefined)
      throw usageError(
        `--secret ${text}: the environment has no ${text} to take the value from`,
        `Export it first, or give --secret ${text}=VALUE.`,
      );
    return { name: text, value };
  }
  throw usageError(
    `--${option} must be NAME=VALUE${option === "secret" ? " or NAME (value from the environment)" : ""}, got "${text}"`,
  );
}

const list: Command = {
  spec: {
    path: ["vargroup", "list"],
    summary: "List the project's parameter groups",
    description:
      "--json prints the groups as the server lists them (ShowVariableGroupDetail fields, secrets masked).",
    options: [...CLIENT_OPTIONS],
    maxArgs: 0,
    examples: ["pipewright vargroup list", "pipewright vargroup list --json | jq -r '.[].name'"],
  },
  async run(ctx) {
    const groups = await (await ctx.project()).allVariableGroups();
    if (ctx.json) {
      printJson(ctx, groups);
      return EXIT.OK;
    }
    if (groups.length === 0) {
      ctx.out(
        "No parameter groups yet: create one with 'pipewright vargroup create NAME --var NAME=VALUE'.\n",
      );
      return EXIT.OK;
    }
    const rows = groups.map((g) => [
      g.name,
      String(g.variables.length),
      String(g.related_pipelines.length),
      g.id,
    ]);
    ctx.out(table(["NAME", "VARIABLES", "PIPELINES", "ID"], rows, ctx.style));
    return EXIT.OK;
  },
};

const show: Command = {
  spec: {
    path: ["vargroup", "show"],
    summary: "Show a parameter group: its variables (secrets masked) and the pipelines related to it",
    args: "GROUP",
    description: `${GROUP_HELP} --json prints the server's answer.`,
    options: [...CLIENT_OPTIONS],
    minArgs: 1,
    maxArgs: 1,
    examples: ["pipewright vargroup show release"],
  },
  async run(ctx) {
    const api = await ctx.project();
    const [found] = findGroups(ctx.args.positionals, await api.allVariableGroups());
    const g = await api.getVariableGroup(found!.id);
    if (ctx.json) {
      printJson(ctx, g);
      return EXIT.OK;
    }
    const lines = [`${ctx.style.bold(g.name)} (${g.id})`];
    if (g.description) lines.push(g.description);
    lines.push(`created by ${g.creator_name}, last changed by ${g.updater_name}`);
    ctx.out(`${lines.join("\n")}\n\n`);
    if (g.variables.length === 0) ctx.out("No variables.\n");
    else
      ctx.out(
        table(
          ["NAME", "VALUE", "SECRET"],
          g.variables.map((v) => [v.name, v.value, v.is_secret ? "yes" : ""]),
          ctx.style,
        ),
      );
    ctx.out(
      g.related_pipelines.length === 0
        ? "\nNo pipeline is related to it.\n"
        : `\nPipelines: ${g.related_pipelines.map((p) => p.name).join(", ")}\n`,
    );
    return EXIT.OK;
  },
};

const create: Command = {
  spec: {
    path: ["vargroup", "create"],
    summary: "Create a parameter group",
    args: "NAME",
    description: `A name is unique in its project (DEVPIPE.00020151, exit 3, when taken). --secret NAME takes
the value from the environment variable NAME (kept out of the shell's history); --secret
NAME=VALUE is accepted too. --json prints the group as 'vargroup show --json' does.`,
    options: [
      { name: "var", type: "string", multiple: true, arg: "NAME=VALUE", help: "a variable; repeatable" },
      {
        name: "secret",
        type: "string",
        multiple: true,
        arg: "NAME[=VALUE]",
        help: "a secret variable, its value from the environment unless given; repeatable",
      },
      { name: "description", type: "string", arg: "TEXT", help: "what the group is for" },
      ...CLIENT_OPTIONS,
    ],
    minArgs: 1,
    maxArgs: 1,
    examples: [
      "pipewright vargroup create release --var REGION=eu-west --secret DEPLOY_TOKEN",
      "pipewright vargroup create staging --var REGION=eu-north --description 'staging targets'",
    ],
  },
  async run(ctx) {
    const name = ctx.args.positionals[0]!;
    const variables = [
      ...ctx.args.list("var").map((t) => ({ ...parseAssignment(t, "var", ctx.io.env), is_secret: false })),
      ...ctx.args
        .list("secret")
        .map((t) => ({ ...parseAssignment(t, "secret", ctx.io.env), is_secret: true })),
    ];
    const api = await ctx.project();
    const { pipeline_variable_group_id: id } = await api.createVariableGroup({
      name,
      description: ctx.args.str("description") ?? "",
      variables,
    });
    if (ctx.json) printJson(ctx, await api.getVariableGroup(id));
    else
      ctx.out(
        `created parameter group ${ctx.style.bold(name)} (${id}) with ${variables.length === 1 ? "1 variable" : `${variables.length} variables`}\n`,
      );
    return EXIT.OK;
  },
};

const del: Command = {
  spec: {
    path: ["vargroup", "delete"],
    summary: "Delete parameter groups",
    args: "GROUP...",
    description: `${GROUP_HELP} Every GROUP is looked up before any is deleted, so an unknown one deletes
nothing. A group related to pipelines is not deleted (DEVPIPE.00020152, exit 3): relate them to
other groups first. Runs already created keep the values they were created with.`,
    options: [...CLIENT_OPTIONS],
    minArgs: 1,
    examples: ["pipewright vargroup delete staging"],
  },
  async run(ctx) {
    const api = await ctx.project();
    const groups = findGroups(ctx.args.positionals, await api.allVariableGroups());
    const done: { id: string; name: string; deleted: true }[] = [];
    for (const g of groups) {
      await api.deleteVariableGroup(g.id);
      done.push({ id: g.id, name: g.name, deleted: true });
      if (!ctx.json) ctx.out(`deleted parameter group ${ctx.style.bold(g.name)} (${g.id})\n`);
    }
    if (ctx.json) printJson(ctx, done);
    return EXIT.OK;
  },
};

export const vargroupCommands: readonly Command[] = [list, show, create, del];
