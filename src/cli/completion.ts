// `routerctl completion bash`: a bash completion script generated from the
// command tree itself, so new commands and options complete without edits.
// Kinds complete case-insensitively; describe/get complete Kind/name from the
// running daemon (`routerctl get -o name`), silently nothing when it is down.
import type { Command} from 'commander';
import { CommanderError } from 'commander';
import { KIND_NAMES } from '../controllers/kinds.ts';
import { Exit } from './exit.ts';
import { OUTPUTS } from './output.ts';

const KIND_ARGS = new Set(['schema', 'explain']);
const REF_ARGS = new Set(['describe', 'get']);
const FILE_OPTS = ['-f', '--file', '--config', '--socket'];
const DIR_OPTS = ['--run-dir', '--state-dir'];

/** Words for bash's compgen -W: our own command and option names only. */
const words = (xs: readonly string[]) => xs.filter((x) => /^[-A-Za-z0-9]+$/.test(x)).join(' ');

export function bashCompletion(program: Command): string {
  const name = program.name();
  const fn = `_${name.replace(/[^A-Za-z0-9]/g, '_')}`;
  const commands = program.commands.filter((c) => c.name() !== 'help');
  const optsOf = (c: Command) => words([...c.options.flatMap((o) => [o.short, o.long].filter((x): x is string => !!x)), '--help']);
  const cases = commands.map((c) => `    ${c.name()}) opts="${optsOf(c)}" ;;`).join('\n');
  return `# bash completion for ${name}; install: ${name} completion bash > /etc/bash_completion.d/${name}
${fn}() {
  local cur prev cmd opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${words(commands.map((c) => c.name()))} --help --version" -- "$cur") )
    return
  fi
  case "$prev" in
    ${FILE_OPTS.join('|')}) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
    ${DIR_OPTS.join('|')}) COMPREPLY=( $(compgen -d -- "$cur") ); return ;;
    -o|--output) COMPREPLY=( $(compgen -W "${words([...OUTPUTS, 'name'])}" -- "$cur") ); return ;;
  esac
  case "$cmd" in
${cases}
    *) opts="--help" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
    return
  fi
  local kinds="${words(KIND_NAMES)}"
  case "$cmd" in
    ${[...KIND_ARGS].join('|')})
      COMPREPLY=( $(shopt -s nocasematch; for k in $kinds; do [[ "$k" == "\${cur%%.*}"* ]] && echo "$k"; done) ) ;;
    ${[...REF_ARGS].join('|')})
      if [[ "$cur" == */* ]]; then
        COMPREPLY=( $(compgen -W "$(${name} get "\${cur%%/*}" -o name 2>/dev/null)" -- "$cur") )
      else
        COMPREPLY=( $(shopt -s nocasematch; for k in $kinds; do [[ "$k" == "$cur"* ]] && echo "$k/"; done) )
        compopt -o nospace 2>/dev/null
      fi ;;
  esac
}
complete -F ${fn} ${name}
`;
}

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (bash)')
    .argument('<shell>', 'bash')
    .action((shell: string) => {
      if (shell !== 'bash') throw new CommanderError(Exit.Usage, 'routerctl.usage', `no completion for "${shell}"; supported: bash`);
      process.stdout.write(bashCompletion(program));
    });
}
