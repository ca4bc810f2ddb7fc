// routerctl reload [--allow-removal]: ask the running routerd to re-read its
// config, like SIGHUP, but with the answer: applied, invalid (with the errors)
// or refused by the reload guard (docs/operations.md).
import type { Command } from 'commander';
import { DEFAULT_RUN_DIR, DEFAULT_STATE_DIR, socketPath } from '../api/paths.ts';
import type { ReloadOutcome } from '../daemon/serve.ts';
import { apiPost, reportOutcome } from './api-post.ts';

export function registerReload(program: Command): void {
  program
    .command('reload')
    .description('re-read the config of the running routerd; a config that removes everything, or every VIP, NAT rule or DHCP server, is refused unless --allow-removal')
    .option('--allow-removal', 'apply even a config that removes every VirtualAddress, NAT44Rule or DHCP server (or all resources)')
    .option('--run-dir <dir>', 'run directory of the routerd instance', DEFAULT_RUN_DIR)
    .option('--socket <path>', 'status socket (default <run-dir>/routerd.sock)')
    .action(async (flags: { allowRemoval?: boolean; runDir: string; socket?: string }) => {
      const sock = flags.socket ?? socketPath({ runDir: flags.runDir, stateDir: DEFAULT_STATE_DIR });
      const { body } = await apiPost<ReloadOutcome | { error: string }>(sock, '/api/v1/reload', { allowRemoval: flags.allowRemoval === true });
      reportOutcome(body);
    });
}
