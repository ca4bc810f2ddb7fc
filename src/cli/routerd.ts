// routerd: the daemon. `routerd serve` runs the controllers for one node.
import { hostname } from 'node:os';
import { Command, CommanderError } from 'commander';
import { CONTROLLER_NAMES, makeControllers } from '../controllers/registry.ts';
import { DEFAULT_CONFIG_PATH } from '../config/desired.ts';
import { DEFAULT_RUN_DIR, DEFAULT_STATE_DIR } from '../config/paths.ts';
import { startDaemon } from '../daemon/serve.ts';
import { LocalHost } from '../host/local.ts';
import { Exit } from './exit.ts';
import { VERSION } from './version.ts';

interface ServeFlags {
  config: string;
  controllers?: string;
  stateDir: string;
  runDir: string;
  listen?: string;
  node: string;
  resync: string;
  stopEnginesOnExit?: boolean;
}

export function buildRouterd(): Command {
  const program = new Command('routerd').description('routerd: HA router control plane').version(VERSION).showHelpAfterError().exitOverride();
  program
    .command('serve')
    .description('run the controllers for this node')
    .option('--config <file>', 'config file', DEFAULT_CONFIG_PATH)
    .option('--controllers <list>', `comma-separated controllers to run (default all: ${CONTROLLER_NAMES.join(',')})`)
    .option('--state-dir <dir>', 'persistent state (lease files)', DEFAULT_STATE_DIR)
    .option('--run-dir <dir>', 'runtime files (socket, rendered configs, pid files)', DEFAULT_RUN_DIR)
    .option('--listen <host:port>', 'also serve the status API over TCP (default: unix socket only)')
    .option('--node <name>', 'node name (logs, VRRP router_id)', hostname())
    .option('--resync <seconds>', 'periodic full reconcile interval', '10')
    .option('--stop-engines-on-exit', 'stop keepalived/dnsmasq when routerd exits (default: leave them running, so a restart moves nothing)')
    .action(async (flags: ServeFlags) => {
      let controllers;
      try {
        controllers = makeControllers(flags.controllers?.split(',').map((s) => s.trim()).filter(Boolean));
      } catch (e) {
        throw new CommanderError(Exit.Usage, 'routerd.usage', (e as Error).message);
      }
      const resync = Number(flags.resync);
      if (!Number.isFinite(resync) || resync <= 0) throw new CommanderError(Exit.Usage, 'routerd.usage', '--resync must be a positive number of seconds');
      const daemon = await startDaemon({
        configPath: flags.config,
        paths: { stateDir: flags.stateDir, runDir: flags.runDir },
        nodeName: flags.node,
        controllers,
        host: new LocalHost(),
        listen: flags.listen,
        resyncMs: resync * 1000,
        stopEnginesOnExit: flags.stopEnginesOnExit ?? false,
      });
      process.on('SIGHUP', () => void daemon.reload());
      // A bug in one code path is logged, not fatal: the other resources keep working.
      process.on('unhandledRejection', (e) => daemon.log.error({ action: 'internal-error', err: (e as Error)?.stack ?? String(e) }, 'unhandled rejection'));
      await new Promise<void>((resolve) => {
        const stop = () => void daemon.shutdown().then(resolve);
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildRouterd();
  if (argv.length === 0) {
    process.stderr.write(program.helpInformation());
    return Exit.Usage;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return Exit.Ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version') return Exit.Ok;
      if (e.code === 'routerd.usage') process.stderr.write(`routerd: ${e.message}\n`);
      return Exit.Usage;
    }
    process.stderr.write(`routerd: ${(e as Error).message}\n`);
    return Exit.Failed;
  }
}
