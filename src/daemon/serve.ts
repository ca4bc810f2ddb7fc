// routerd serve: load the config, run the controllers, serve status. SIGHUP
// reloads (an invalid file changes nothing and is reported); SIGTERM/SIGINT
// stop routerd, leaving the daemons it supervises running unless
// --stop-engines-on-exit, so a routerd restart moves no address.
import type { Server } from 'node:http';
import { formatConfigError } from '../api/errors.ts';
import type { Controller } from '../controllers/controller.ts';
import { StatusStore } from '../controllers/status-store.ts';
import { desiredResources, loadDesired } from '../config/desired.ts';
import { socketPath, type NodePaths } from '../config/paths.ts';
import type { Host } from '../host/host.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { createApiServer, listenTcp, listenUnix } from './api.ts';
import { Manager } from './manager.ts';

export interface ServeOptions {
  readonly configPath: string;
  readonly paths: NodePaths;
  readonly nodeName: string;
  readonly controllers: readonly Controller[];
  readonly host: Host;
  readonly listen?: string;
  readonly resyncMs?: number;
  readonly stopEnginesOnExit?: boolean;
  readonly log?: Logger;
}

export interface RunningDaemon {
  readonly manager: Manager;
  readonly log: Logger;
  readonly store: StatusStore;
  reload(): Promise<boolean>;
  shutdown(): Promise<void>;
}

export async function startDaemon(opts: ServeOptions): Promise<RunningDaemon> {
  const log = opts.log ?? createLogger({ node: opts.nodeName });
  const metrics = createMetrics();
  const store = new StatusStore();
  const startedAt = new Date().toISOString();
  let lastReload: { time: string; outcome: 'applied' | 'invalid'; errors?: string[] } | undefined;

  const load = async () => {
    const t0 = performance.now();
    let r: Awaited<ReturnType<typeof loadDesired>>;
    try {
      r = await loadDesired({ files: [], basePath: opts.configPath, baseExplicit: true });
    } catch (e) {
      metrics.configReloads.inc({ outcome: 'invalid' });
      lastReload = { time: new Date().toISOString(), outcome: 'invalid', errors: [(e as Error).message] };
      log.error({ action: 'config-load', outcome: 'error', config: opts.configPath, err: (e as Error).stack }, 'config load failed; nothing changed');
      return undefined;
    }
    const durationMs = Math.round(performance.now() - t0);
    if (r.errors.length > 0) {
      const errors = r.errors.map(formatConfigError);
      metrics.configReloads.inc({ outcome: 'invalid' });
      lastReload = { time: new Date().toISOString(), outcome: 'invalid', errors };
      log.error({ action: 'config-load', outcome: 'invalid', config: opts.configPath, errors, durationMs }, `config ${opts.configPath} is invalid; nothing changed`);
      return undefined;
    }
    metrics.configReloads.inc({ outcome: 'applied' });
    lastReload = { time: new Date().toISOString(), outcome: 'applied' };
    const resources = desiredResources(r.config);
    log.info({ action: 'config-load', outcome: 'applied', config: opts.configPath, resources: resources.length, durationMs }, 'config loaded');
    return resources;
  };

  const initial = await load();
  if (!initial) throw new Error(`config ${opts.configPath} is invalid (see the log); routerd did not start`);
  await opts.host.mkdirp(opts.paths.runDir, 0o755);
  await opts.host.mkdirp(opts.paths.stateDir, 0o755);

  const manager = new Manager({
    host: opts.host,
    paths: opts.paths,
    nodeName: opts.nodeName,
    controllers: opts.controllers,
    log,
    metrics,
    status: store,
    resyncMs: opts.resyncMs ?? 10_000,
  });
  manager.setConfig(initial);

  const api = {
    store,
    registry: metrics.registry,
    config: () => manager.config,
    generation: (id: string) => manager.generation(id),
    summary: () => ({
      node: opts.nodeName,
      config: opts.configPath,
      controllers: opts.controllers.map((c) => c.name),
      startedAt,
      passes: manager.passes,
      lastReload,
      pid: process.pid,
    }),
  };
  const servers: Server[] = [];
  const unix = createApiServer(api);
  await listenUnix(unix, socketPath(opts.paths));
  servers.push(unix);
  if (opts.listen) {
    const tcp = createApiServer(api);
    await listenTcp(tcp, opts.listen);
    servers.push(tcp);
  }
  manager.start();
  log.info({ action: 'start', controllers: opts.controllers.map((c) => c.name), socket: socketPath(opts.paths), listen: opts.listen, pid: process.pid }, 'routerd serving');

  return {
    manager,
    log,
    store,
    async reload() {
      const next = await load();
      if (next) manager.setConfig(next);
      return next !== undefined;
    },
    async shutdown() {
      const keep = !opts.stopEnginesOnExit;
      log.info({ action: 'stop', keepEngines: keep }, keep ? 'routerd stopping; supervised daemons keep running' : 'routerd stopping with its daemons');
      await manager.stop(keep);
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
