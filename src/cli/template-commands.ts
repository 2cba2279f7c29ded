// Pipeline templates from the CLI: `template list|show|create|delete` (the pipeline-templates API,
// the project being the tenant) and `pipeline create --template`, which makes a pipeline from one.

import type { TemplateDetail, TemplateList, TemplateListItem } from "../wire/templates.js";
import type { ProjectApi } from "./api.js";
import { CliError, EXIT, usageError } from "./cli-error.js";
import { CLIENT_OPTIONS, type Command, type Ctx, ID_RE } from "./command.js";
import { formatTime, shellWord, table } from "./format.js";
import { loadFile } from "./pipeline-commands.js";

const PAGE = 100;
const LANGUAGES = ["java", "python", "nodejs", "go", "net", "cpp", "php", "other", "none"];

/** The template calls, on the project's path (its tenant). */
function templateApi(api: ProjectApi) {
  const base = `/v5/${encodeURIComponent(api.projectId)}/api/pipeline-templates`;
  return {
    async all(filter: Record<string, unknown> = {}): Promise<TemplateListItem[]> {
      const out: TemplateListItem[] = [];
      for (let offset = 0; ; offset += PAGE) {
        const page = await api.http.request<TemplateList>("POST", `${base}/list`, {
          body: { ...filter, offset, limit: PAGE },
        });
        out.push(...page.templates);
        if (page.templates.length < PAGE || out.length >= page.total) return out;
      }
    },
    show: (id: string) => api.http.request<TemplateDetail>("GET", `${base}/${id}`),
    create: (body: Record<string, unknown>) =>
      api.http.request<{ templateId: string }>("POST", base, { body }),
    delete: (id: string) => api.http.request<{ templateId: string }>("DELETE", `${base}/${id}`),
    createPipeline: (id: string, body: Record<string, unknown>) =>
      api.http.request<{ pipeline_id: string }>("POST", `${base}/${id}/create-pipeline`, { body }),
  };
}

/** A TEMPLATE argument: an id, or a name (any case) that names one template. */
function findTemplate(ref: string, all: readonly TemplateListItem[]): TemplateListItem {
  const byId = ID_RE.test(ref) ? all.find((t) => t.id === ref) : undefined;
  if (byId) return byId;
  const exact = all.filter((t) => t.name === ref);
  const named = exact.length > 0 ? exact : all.filter((t) => t.name.toLowerCase() === ref.toLowerCase());
  if (named.length === 1) return named[0]!;
  if (named.length > 1)
    throw usageError(`"${ref}" names ${named.length} templates: give its id (pipewright template list)`);
  throw new CliError(EXIT.USAGE, `no template "${ref}" in this project`, {
    hint: "List them with 'pipewright template list'.",
  });
}

const kindOf = (t: { is_system: boolean }): string => (t.is_system ? "built-in" : "project");

function printJson(ctx: Ctx, value: unknown): void {
  ctx.out(`${JSON.stringify(value, null, 2)}\n`);
}

const TEMPLATE_HELP = "TEMPLATE is a template's id or name.";

const list: Command = {
  spec: {
    path: ["template", "list"],
    summary: "List pipeline templates: the built-in ones and the project's",
    description: `--built-in lists only the built-in templates, --own only the project's. --json prints the
server's list items (PipelineTemplateSimpleVO).`,
    options: [
      { name: "built-in", type: "boolean", help: "only the built-in templates" },
      { name: "own", type: "boolean", help: "only the project's templates" },
      {
        name: "language",
        type: "string",
        arg: "LANG",
        help: `only templates of LANG (${LANGUAGES.join(", ")})`,
      },
      { name: "name", type: "string", arg: "TEXT", help: "only templates whose name contains TEXT" },
      ...CLIENT_OPTIONS,
    ],
    maxArgs: 0,
    examples: ["pipewright template list", "pipewright template list --own --json | jq -r '.[].name'"],
  },
  async run(ctx) {
    const builtIn = ctx.args.bool("built-in");
    const own = ctx.args.bool("own");
    if (builtIn && own) throw usageError("--built-in and --own exclude each other");
    const language = ctx.args.str("language");
    const name = ctx.args.str("name");
    const api = templateApi(await ctx.project());
    const items = await api.all({
      ...(builtIn ? { is_system: true } : own ? { is_system: false } : {}),
      ...(language ? { language } : {}),
      ...(name ? { name } : {}),
    });
    if (ctx.json) {
      printJson(ctx, items);
      return EXIT.OK;
    }
    if (items.length === 0) {
      ctx.out("No templates match: create one with 'pipewright template create -f FILE'.\n");
      return EXIT.OK;
    }
    ctx.out(
      table(
        ["NAME", "KIND", "LANGUAGE", "STAGES", "ID"],
        items.map((t) => [t.name, kindOf(t), t.language, t.stages.map((s) => s.name).join(" → "), t.id]),
        ctx.style,
      ),
    );
    return EXIT.OK;
  },
};

const show: Command = {
  spec: {
    path: ["template", "show"],
    summary: "Show a template: what it is, its stages and variables",
    args: "TEMPLATE",
    description: `${TEMPLATE_HELP} --json prints the server's detail (definition included).`,
    options: [...CLIENT_OPTIONS],
    minArgs: 1,
    maxArgs: 1,
    examples: ['pipewright template show "Shell build and test"'],
  },
  async run(ctx) {
    const api = templateApi(await ctx.project());
    const t = await api.show(findTemplate(ctx.args.positionals[0]!, await api.all()).id);
    if (ctx.json) {
      printJson(ctx, t);
      return EXIT.OK;
    }
    const def = JSON.parse(t.definition) as {
      stages: { name: string; jobs: { name: string; steps: { name: string; task: string }[] }[] }[];
    };
    const lines = [
      `${ctx.style.bold(t.name)} (${t.id})`,
      `${kindOf(t)} template · ${t.language}${t.is_show_source ? " · asks for a source" : ""}`,
      ...(t.description ? [t.description] : []),
      `created ${formatTime(t.create_time)} by ${t.creator_id} · updated ${formatTime(t.update_time)}`,
      "stages:",
      ...def.stages.flatMap((s) => [
        `  ${s.name}`,
        ...s.jobs.map((j) => `    ${j.name}: ${j.steps.map((st) => `${st.name} (${st.task})`).join(", ")}`),
      ]),
      ...(t.variables.length > 0
        ? [
            "variables:",
            ...t.variables.map((v) => `  ${v.name}=${v.value}${v.is_runtime ? " (runtime)" : ""}`),
          ]
        : []),
    ];
    ctx.out(`${lines.join("\n")}\n`);
    return EXIT.OK;
  },
};

const create: Command = {
  spec: {
    path: ["template", "create"],
    summary: "Create a project template from a pipeline file",
    description: `FILE takes the forms 'pipeline apply' takes (the YAML form, definition JSON, a request body),
and is checked the same way; its definition, variables, name and description make the template.
A name is unique in the project and may not be a built-in template's (DEVPIPE.00020130, exit 3).
Without --source-form the template asks for a source when the file has one.`,
    options: [
      { name: "file", short: "f", type: "string", arg: "FILE", help: "the pipeline file ('-' for stdin)" },
      { name: "name", type: "string", arg: "NAME", help: "the template's name (default: the file's)" },
      { name: "language", type: "string", arg: "LANG", help: `the template's language (default none)` },
      { name: "description", type: "string", arg: "TEXT", help: "the template's description" },
      { name: "source-form", type: "boolean", help: "the new-pipeline form asks for a source" },
      ...CLIENT_OPTIONS,
    ],
    maxArgs: 0,
    examples: ["pipewright template create -f examples/fan-out.yaml --name 'Fan-out' --language other"],
  },
  async run(ctx) {
    const file = ctx.args.str("file");
    if (file === undefined)
      throw usageError("-f FILE is required", "Run 'pipewright template create --help' for usage.");
    const language = ctx.args.str("language") ?? "none";
    if (!LANGUAGES.includes(language)) throw usageError(`--language must be one of ${LANGUAGES.join(", ")}`);
    const name = ctx.args.str("name");
    const body = await loadFile(ctx, file, name);
    const api = templateApi(await ctx.project());
    const { templateId } = await api.create({
      name: body.name,
      description: ctx.args.str("description") ?? body.description ?? "",
      language,
      definition: body.definition,
      variables: body.variables ?? [],
      is_system: false,
      is_show_source: ctx.args.bool("source-form") || (body.sources ?? []).length > 0,
    });
    if (ctx.json) printJson(ctx, { templateId, name: body.name });
    else ctx.out(`created template ${ctx.style.bold(body.name)} (${templateId})\n`);
    return EXIT.OK;
  },
};

const del: Command = {
  spec: {
    path: ["template", "delete"],
    summary: "Delete project templates (built-in ones are read-only); pipelines made from them stay",
    args: "TEMPLATE...",
    description: `${TEMPLATE_HELP} Every TEMPLATE is looked up before any is deleted, so an unknown one
deletes nothing.`,
    options: [...CLIENT_OPTIONS],
    minArgs: 1,
    examples: ["pipewright template delete 'Go service'"],
  },
  async run(ctx) {
    const api = templateApi(await ctx.project());
    const all = await api.all();
    const found = ctx.args.positionals.map((ref) => findTemplate(ref, all));
    const builtIn = found.find((t) => t.is_system);
    if (builtIn) throw usageError(`"${builtIn.name}" is a built-in template: it is read-only`);
    for (const t of found) {
      await api.delete(t.id);
      if (!ctx.json) ctx.out(`deleted template ${ctx.style.bold(t.name)} (${t.id})\n`);
    }
    if (ctx.json)
      printJson(
        ctx,
        found.map((t) => ({ templateId: t.id, name: t.name, deleted: true })),
      );
    return EXIT.OK;
  },
};

function parseVars(list: readonly string[]): { name: string; value: string }[] {
  return list.map((kv) => {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw usageError(`--var "${kv}" must be NAME=VALUE`);
    return { name: kv.slice(0, eq), value: kv.slice(eq + 1) };
  });
}

const createPipeline: Command = {
  spec: {
    path: ["pipeline", "create"],
    summary: "Create a pipeline from a template",
    description: `${TEMPLATE_HELP} The pipeline takes the template's definition and variables; --var
sets a variable's default (repeatable), --git-url (with --branch) gives it its source, which the
templates that check out code need. The name is unique in the project (DEVPIPE.00020111, exit 3).
--json prints {pipeline_id, name, template}.`,
    options: [
      { name: "template", short: "t", type: "string", arg: "TEMPLATE", help: "the template to start from" },
      { name: "name", type: "string", arg: "NAME", help: "the pipeline's name" },
      { name: "description", type: "string", arg: "TEXT", help: "the pipeline's description" },
      { name: "git-url", type: "string", arg: "URL", help: "the repository the pipeline builds" },
      { name: "branch", type: "string", arg: "BRANCH", help: "its default branch (default main)" },
      {
        name: "var",
        type: "string",
        multiple: true,
        arg: "NAME=VALUE",
        help: "a variable's default; repeatable",
      },
      ...CLIENT_OPTIONS,
    ],
    maxArgs: 0,
    examples: [
      'pipewright pipeline create --template "Shell build and test" --name build',
      "pipewright pipeline create -t 'Node.js build and test' --name web --git-url https://git.example.com/web.git",
    ],
  },
  async run(ctx) {
    const ref = ctx.args.str("template");
    const name = ctx.args.str("name");
    if (ref === undefined || name === undefined)
      throw usageError(
        "--template and --name are required",
        "Run 'pipewright pipeline create --help' for usage.",
      );
    const gitUrl = ctx.args.str("git-url");
    const variables = parseVars(ctx.args.list("var"));
    const project = await ctx.project();
    const api = templateApi(project);
    const template = findTemplate(ref, await api.all());
    const description = ctx.args.str("description");
    const { pipeline_id } = await api.createPipeline(template.id, {
      name,
      is_publish: false,
      ...(description !== undefined ? { description } : {}),
      ...(gitUrl
        ? {
            sources: [
              {
                type: "code",
                params: { alias: "app", git_url: gitUrl, default_branch: ctx.args.str("branch") ?? "main" },
              },
            ],
          }
        : {}),
      ...(variables.length > 0 ? { variables } : {}),
    });
    if (ctx.json) printJson(ctx, { pipeline_id, name, template: template.id });
    else {
      ctx.out(`created pipeline ${ctx.style.bold(name)} (${pipeline_id}) from template ${template.name}\n`);
      if (template.is_show_source && !gitUrl)
        ctx.note(
          `The template checks out a source: give the pipeline one (pipewright pipeline show ${shellWord(name)}).`,
        );
    }
    return EXIT.OK;
  },
};

export const templateCommands: readonly Command[] = [list, show, create, del];
export const pipelineTemplateCommands: readonly Command[] = [createPipeline];
