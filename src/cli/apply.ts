// routerctl apply / confirm / history / rollback: change a running routerd's
// config with a way back (docs/operations.md). apply validates the file here
// first, then hands it to the daemon, which checks it again, keeps it as a
// numbered generation, installs it as the node's config and reloads; with
// --confirm it rolls back by itself unless `routerctl confirm` comes in time.
import { readFile } from 'node:fs/promises';
import { CommanderError, type Command } from 'commander';
import { parseDuration } from '../api/primitives.ts';
import { DEFAULT_RUN_DIR, DEFAULT_STATE_DIR, socketPath } from '../api/paths.ts';
import { loadDesired } from '../config/desired.ts';
import type { Generation } from '../daemon/generations.ts';
import type { ApplyOutcome } from '../daemon/serve.ts';
import { apiPost, reportOutcome } from './api-post.ts';
import { apiGet } from '../daemon/api-client.ts';
import { Exit } from './exit.ts';
import { formatErrors } from './format.ts';
import { renderTable } from './table.ts';

interface SocketFlags {
  runDir: string;
  socket?: string;
}

const sock = (f: SocketFlags) => f.socket ?? socketPath({ runDir: f.runDir, stateDir: DEFAULT_STATE_DIR });

function withSocket(cmd: Command): Command {
  return cmd.option('--run-dir <dir>', 'run directory of the routerd instance', DEFAULT_RUN_DIR).option('--socket <path>', 'status socket (default <run-dir>/routerd.sock)');
}

export function registerApply(program: Command): void {
  withSocket(
    program
      .command('apply')
      .description('validate FILE, install it as the node config of the running routerd and reload; --confirm rolls it back unless confirmed in time')
      .requiredOption('-f, --file <path>', 'the whole config for this node')
      .option('--confirm <duration>', 'roll back by itself unless `routerctl confirm` comes within this long (e.g. 5m; 1s-1h)')
      .option('--allow-removal', 'apply even a config that removes every VirtualAddress, NAT44Rule or DHCP server (or all resources)'),
  ).action(async (flags: SocketFlags & { file: string; confirm?: string; allowRemoval?: boolean }) => {
    let confirmMs: number | undefined;
    if (flags.confirm !== undefined) {
      confirmMs = parseDuration(flags.confirm);
      if (confirmMs === undefined || confirmMs < 1000 || confirmMs > 3_600_000) throw new CommanderError(Exit.Usage, 'routerctl.usage', `--confirm ${flags.confirm} must be a duration from 1s to 1h, e.g. 5m`);
    }
    const r = await loadDesired({ files: [flags.file], replace: true });
    if (r.errors.length > 0) {
      process.stderr.write(`${formatErrors(r.errors)}\n`);
      process.exitCode = Exit.Failed;
      return;
    }
    const config = await readFile(flags.file, 'utf8');
    const { body } = await apiPost<ApplyOutcome | { error: string }>(sock(flags), '/api/v1/apply', { config, allowRemoval: flags.allowRemoval === true, ...(confirmMs !== undefined ? { confirmMs } : {}) });
    reportOutcome(body);
  });

  withSocket(program.command('confirm').description('keep the config applied with apply --confirm')).action(async (flags: SocketFlags) => {
    reportOutcome((await apiPost<ApplyOutcome | { error: string }>(sock(flags), '/api/v1/confirm', {})).body);
  });

  withSocket(program.command('history').description('the numbered generations of applied configs')).action(async (flags: SocketFlags) => {
    const { body } = await apiGet<{ generations: Generation[]; pending: { generation: number; rollbackTo: number; confirmBy: string } | null }>(sock(flags), '/api/v1/history');
    const rows = body.generations.map((g) => [String(g.generation), g.time, g.origin + (g.from ? ` of ${g.from}` : ''), String(g.resources), g.confirmed ? 'yes' : 'no']);
    process.stdout.write(`${renderTable(['GEN', 'TIME', 'ORIGIN', 'RESOURCES', 'CONFIRMED'], rows, { maxWidth: 160 })}\n`);
    if (body.pending) process.stdout.write(`\ngeneration ${body.pending.generation} rolls back to ${body.pending.rollbackTo} unless confirmed by ${body.pending.confirmBy}\n`);
  });

  withSocket(
    program
      .command('rollback')
      .description('install an earlier generation again (routerctl history lists them)')
      .requiredOption('--to <generation>', 'generation number')
      .option('--allow-removal', 'even if it removes every VirtualAddress, NAT44Rule or DHCP server'),
  ).action(async (flags: SocketFlags & { to: string; allowRemoval?: boolean }) => {
    const to = Number(flags.to);
    if (!/^\d{1,9}$/.test(flags.to) || to < 1) throw new CommanderError(Exit.Usage, 'routerctl.usage', `--to ${flags.to} is not a generation number`);
    reportOutcome((await apiPost<ApplyOutcome | { error: string }>(sock(flags), '/api/v1/rollback', { to, allowRemoval: flags.allowRemoval === true })).body);
  });
}
