// `routerctl get [KIND | KIND/NAME]`: resources and their phase, from the
// running daemon. -o wide adds generation and since; -o name prints Kind/name
// lines (for scripts and shell completion).
import type { Command} from 'commander';
import { Option } from 'commander';
import { DEFAULT_RUN_DIR } from '../api/paths.ts';
import { apiGet, type ApiResource } from '../daemon/api-client.ts';
import { Exit } from './exit.ts';
import { formatList, formatListWide } from './format.ts';
import { resolveKind, resolveRef } from './kind-ref.ts';
import { OUTPUTS, print, type Output } from './output.ts';

interface GetFlags {
  runDir: string;
  socket?: string;
  output: Output | 'name';
}

export function registerGet(program: Command, socketOf: (flags: { socket?: string; runDir?: string }) => string): void {
  program
    .command('get')
    .description('list resources and their phase: all, one kind, or one Kind/name')
    .argument('[kind-or-ref]', 'a kind (any case) or Kind/name')
    .option('--run-dir <dir>', 'run directory of the routerd instance', DEFAULT_RUN_DIR)
    .option('--socket <path>', 'status socket (default <run-dir>/routerd.sock)')
    .addOption(new Option('-o, --output <format>', 'output format').choices([...OUTPUTS, 'name']).default('table'))
    .action(async (arg: string | undefined, flags: GetFlags) => {
      const socket = socketOf(flags);
      let items: ApiResource[];
      let data: unknown;
      if (arg?.includes('/')) {
        const ref = resolveRef(arg);
        const { status, body } = await apiGet<ApiResource | { error: string }>(socket, `/api/v1/resources/${ref.kind}/${ref.name}`);
        if (status !== 200) {
          process.stderr.write(`${'error' in body ? body.error : `HTTP ${status}`}\n`);
          process.exitCode = Exit.Failed;
          return;
        }
        items = [body as ApiResource];
        data = body;
      } else {
        const kind = arg === undefined ? undefined : resolveKind(arg);
        const { body } = await apiGet<{ items: ApiResource[] }>(socket, `/api/v1/resources${kind ? `/${kind}` : ''}`);
        items = body.items;
        data = body;
      }
      if (flags.output === 'name') {
        process.stdout.write(items.map((i) => `${i.kind}/${i.name}\n`).join(''));
        return;
      }
      print(flags.output, data, () => formatList(items), () => formatListWide(items));
    });
}
