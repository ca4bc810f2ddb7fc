// routerd: the daemon. `routerd serve` runs the controllers for one node.
import { hostname } from 'node:os';
import { Command, CommanderError } from 'commander';
import { CONTROLLER_NAMES, makeControllers } from '../controllers/registry.ts';
import { DEFAULT_CONFIG_PATH } from '../config/desired.ts';
import { checkNodeSettings, DEFAULT_RUN_DIR, DEFAULT_STATE_DIR } from '../api/paths.ts';
import { parseListen, type ListenAddress } from '../daemon/listen.ts';
import type { Logger } from '../observability/logger.ts';
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
  listenAllowRemote?: boolean;
  allowEmptyConfig?: boolean;
}

/** Signals bin/routerd queued before this module was loaded, and the handler that queued them. */
export interface EarlySignals {
  readonly signals: NodeJS.Signals[];
  readonly handler: (s: NodeJS.Signals) => void;
}

export function buildRouterd(early?: EarlySignals): Command {
  const program = new Command('routerd').description('routerd: HA router control plane').version(VERSION).showHelpAfterError().exitOverride();
  program
    .command('serve')
    .description('run the controllers for this node')
    .option('--config <file>', 'config file', DEFAULT_CONFIG_PATH)
    .option('--controllers <list>', `comma-separated controllers to run (default all: ${CONTROLLER_NAMES.join(',')})`)
    .option('--state-dir <dir>', 'persistent state (lease files)', DEFAULT_STATE_DIR)
    .option('--run-dir <dir>', 'runtime files (socket, rendered configs, pid files)', DEFAULT_RUN_DIR)
    .option('--listen <host:port>', 'also serve the read-only status API over TCP, unauthenticated: loopback only unless --listen-allow-remote (default: unix socket only)')
    .option('--listen-allow-remote', 'allow --listen on a non-loopback address (anyone who reaches it can read status and metrics)')
    .option('--allow-empty-config', 'start even if the config has no resources')
    .option('--node <name>', 'node name (logs, VRRP router_id)', hostname())
    .option('--resync <seconds>', 'periodic full reconcile interval', '10')
    .option('--stop-engines-on-exit', 'stop keepalived/dnsmasq when routerd exits (default: leave them running, so a restart moves nothing)')
    .action(async (flags: ServeFlags) => {
      // Signal handlers come first: a SIGHUP or SIGTERM during startup is
      // queued, not fatal (Node's default for SIGHUP is to exit).
      const signals: NodeJS.Signals[] = [...(early?.signals ?? [])];
      let onSignal: (s: NodeJS.Signals) => void = (s) => void signals.push(s);
      const handler = (s: NodeJS.Signals) => onSignal(s);
      for (const s of ['SIGHUP', 'SIGTERM', 'SIGINT'] as const) {
        process.on(s, handler);
        if (early) process.off(s, early.handler);
      }
      let controllers;
      try {
        controllers = makeControllers(flags.controllers?.split(',').map((s) => s.trim()).filter(Boolean));
      } catch (e) {
        throw new CommanderError(Exit.Usage, 'routerd.usage', (e as Error).message);
      }
      const resync = Number(flags.resync);
      if (!Number.isFinite(resync) || resync <= 0 || resync > 86_400) throw new CommanderError(Exit.Usage, 'routerd.usage', '--resync must be a number of seconds from 0 to 86400');
      const paths = { stateDir: flags.stateDir, runDir: flags.runDir };
      const problems = checkNodeSettings(flags.node, paths);
      if (problems.length > 0) throw new CommanderError(Exit.Usage, 'routerd.usage', problems.join('; '));
      let listen: ListenAddress | undefined;
      if (flags.listen !== undefined) {
        const l = parseListen(flags.listen, flags.listenAllowRemote ?? false);
        if (typeof l === 'string') throw new CommanderError(Exit.Usage, 'routerd.usage', l);
        listen = l;
      }
      // A bug in one code path is logged, not fatal: the other resources keep working.
      const started: { log?: Logger } = {};
      process.on('unhandledRejection', (e) => {
        const err = (e as Error)?.stack ?? String(e);
        if (started.log) started.log.error({ action: 'internal-error', err }, 'unhandled rejection');
        else process.stderr.write(`routerd: unhandled rejection: ${err}\n`);
      });
      const daemon = await startDaemon({
        configPath: flags.config,
        paths,
        nodeName: flags.node,
        controllers,
        host: new LocalHost(),
        ...(listen ? { listen } : {}),
        resyncMs: resync * 1000,
        stopEnginesOnExit: flags.stopEnginesOnExit ?? false,
        allowEmptyConfig: flags.allowEmptyConfig ?? false,
      });
      started.log = daemon.log;
      await new Promise<void>((resolve) => {
        let stopping = false;
        onSignal = (s) => {
          if (s === 'SIGHUP') {
            if (!stopping) void daemon.reload({ trigger: 'SIGHUP' });
            return;
          }
          if (stopping) return;
          stopping = true;
          void daemon.shutdown().then(resolve);
        };
        if (signals.length > 0) daemon.log.info({ action: 'signals', queued: signals }, 'signals received during startup, handled now');
        // SIGHUPs queued during startup collapse into one reload (it reads the file as it is now).
        if (signals.some((s) => s !== 'SIGHUP')) onSignal('SIGTERM');
        else if (signals.includes('SIGHUP')) onSignal('SIGHUP');
      });
    });
  return program;
}

export async function main(argv: readonly string[], early?: EarlySignals): Promise<number> {
  const program = buildRouterd(early);
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
