// `pipewright completion bash|zsh|fish`: a completion script for the shell, made from the
// commands' own declarations, so it names every command and option there is and no other.

import { EXIT, usageError } from "./cli-error.js";
import type { Command } from "./command.js";

const SHELLS = ["bash", "zsh", "fish"] as const;
type Shell = (typeof SHELLS)[number];

/** What may follow each run of command words: the next words, or a command's options. */
function nextWords(commands: readonly Command[], extra: readonly string[]): Map<string, Set<string>> {
  const next = new Map<string, Set<string>>();
  const add = (key: string, word: string) => {
    const set = next.get(key) ?? new Set<string>();
    set.add(word);
    next.set(key, set);
  };
  for (const w of extra) add("", w);
  for (const c of commands) {
    const path = c.spec.path;
    for (let i = 0; i < path.length; i++) add(path.slice(0, i).join(" "), path[i]!);
    const key = path.join(" ");
    for (const o of c.spec.options) add(key, `--${o.name}`);
    add(key, "--help");
  }
  return next;
}

const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;

function bash(next: Map<string, Set<string>>): string {
  // Keys are the command words joined by "/" after a "/" (bash refuses an empty key).
  const entries = [...next]
    .map(([k, v]) => `  [${quote(`/${k.replaceAll(" ", "/")}`)}]=${quote([...v].join(" "))}`)
    .join("\n");
  return `# pipewright completion for bash: eval "$(pipewright completion bash)" (e.g. in ~/.bashrc)
declare -gA _pipewright_next=(
${entries}
)
_pipewright() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" key="/" w i
  # The command so far: the words before the cursor that are not options or their values.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    [[ -n "\${_pipewright_next["\${key%/}/$w"]+x}" ]] && key="\${key%/}/$w"
  done
  COMPREPLY=($(compgen -W "\${_pipewright_next[$key]}" -- "$cur"))
  # Where no word fits (a file, a pipeline name), the shell completes file names.
  [[ \${#COMPREPLY[@]} -eq 0 ]] && COMPREPLY=($(compgen -f -- "$cur"))
  return 0
}
complete -F _pipewright pipewright
`;
}

function zsh(next: Map<string, Set<string>>): string {
  return `# pipewright completion for zsh: eval "$(pipewright completion zsh)" (e.g. in ~/.zshrc)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bash(next).split("\n").slice(1).join("\n")}`;
}

function fish(commands: readonly Command[], extra: readonly string[]): string {
  const lines = [
    "# pipewright completion for fish: pipewright completion fish | source",
    "complete -c pipewright -f",
  ];
  const tops = [...new Set([...extra, ...commands.map((c) => c.spec.path[0]!)])];
  lines.push(`complete -c pipewright -n __fish_use_subcommand -a ${quote(tops.join(" "))}`);
  const groups = new Map<string, Set<string>>();
  for (const c of commands)
    if (c.spec.path.length > 1) {
      const g = groups.get(c.spec.path[0]!) ?? new Set<string>();
      g.add(c.spec.path[1]!);
      groups.set(c.spec.path[0]!, g);
    }
  for (const [g, subs] of groups)
    lines.push(
      `complete -c pipewright -n ${quote(`__fish_seen_subcommand_from ${g}; and not __fish_seen_subcommand_from ${[...subs].join(" ")}`)} -a ${quote([...subs].join(" "))}`,
    );
  for (const c of commands) {
    const last = c.spec.path[c.spec.path.length - 1]!;
    const cond = quote(`__fish_seen_subcommand_from ${last}`);
    for (const o of c.spec.options) {
      const short = o.short ? ` -s ${o.short}` : "";
      const value = o.type === "string" ? " -r" : "";
      lines.push(
        `complete -c pipewright -n ${cond} -l ${o.name}${short}${value} -d ${quote(o.help.slice(0, 60))}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

/** The command; `all` answers every command (this one included) when it runs. */
export function completionCommand(all: () => readonly Command[], extra: readonly string[]): Command {
  return {
    spec: {
      path: ["completion"],
      summary: "Print a shell completion script (bash, zsh or fish)",
      args: "SHELL",
      description: `Completes commands and their options. Install it with:
  bash: eval "$(pipewright completion bash)"     (in ~/.bashrc)
  zsh:  eval "$(pipewright completion zsh)"      (in ~/.zshrc)
  fish: pipewright completion fish | source      (in ~/.config/fish/config.fish)`,
      options: [],
      minArgs: 1,
      maxArgs: 1,
      examples: ['eval "$(pipewright completion bash)"'],
    },
    async run(ctx) {
      const shell = ctx.args.positionals[0] as Shell;
      if (!SHELLS.includes(shell)) throw usageError(`unknown shell "${shell}" (${SHELLS.join(", ")})`);
      const commands = all();
      ctx.out(
        shell === "fish"
          ? fish(commands, extra)
          : (shell === "bash" ? bash : zsh)(nextWords(commands, extra)),
      );
      return EXIT.OK;
    },
  };
}
