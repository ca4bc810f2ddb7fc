// routerd serve: load the config, run the controllers, serve status. SIGHUP
// reloads (an invalid file changes nothing and is reported; one that would
// remove everything, or every VIP, NAT rule or DHCP server, is refused unless
// asked for explicitly); SIGTERM/SIGINT
// stop routerd, leaving the daemons it supervises running unless
// --stop-engines-on-exit, so a routerd restart moves no address.
import type { Server } from 'node:http';
import { formatConfigError } from '../api/errors.ts';
import type { Controller } from '../controllers/controller.ts';
import { StatusStore } from '../controllers/status-store.ts';
import { desiredResources, loadDesired } from '../config/desired.ts';
import { checkNodeSettings, socketPath, type NodePaths } from '../api/paths.ts';
import type { AnyResource } from '../api/kinds.ts';
import type { Host } from '../host/host.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../host/local.ts';
import { createApiServer, listenTcp, listenUnix, type ApiActions, type ApiSource } from './api.ts';
import { GenerationStore } from './generations.ts';
import type { ListenAddress } from './listen.ts';
import { acquireLock, type DaemonLock } from './lock.ts';
import { mergeChanges, planChanges } from '../controllers/changes.ts';
import { ALLOW_REMOVAL_HINT, destructiveChange, RELOAD_REFUSED } from './reload-guard.ts';
import { Manager } from './manager.ts';

export interface ServeOptions {
  readonly configPath: string;
  readonly paths: NodePaths;
  readonly nodeName: string;
  readonly controllers: readonly Controller[];
  readonly host: Host;
  readonly listen?: ListenAddress;
  readonly resyncMs?: number;
  readonly stopEnginesOnExit?: boolean;
  /** Start even when the config has no resources (default: refuse, it is almost always a truncated file). */
  readonly allowEmptyConfig?: boolean;
  readonly log?: Logger;
}

export interface ReloadOptions {
  /** Apply even a config that removes every VirtualAddress, NAT44Rule or DHCP server, or everything. */
  readonly allowRemoval?: boolean;
  /** What asked for the reload, for the log: "SIGHUP", "api". */
  readonly trigger?: string;
}

export interface ReloadOutcome {
  readonly outcome: 'applied' | 'invalid' | 'refused';
  readonly message: string;
  readonly errors?: readonly string[];
  readonly resources?: number;
}

export interface ApplyOutcome extends ReloadOutcome {
  readonly generation?: number;
  readonly confirmBy?: string;
}

export interface ApplyOptions {
  readonly allowRemoval?: boolean;
  /** Roll back unless confirmed within this long. */
  readonly confirmMs?: number;
}

export interface RunningDaemon {
  readonly manager: Manager;
  readonly log: Logger;
  readonly store: StatusStore;
  /** Reloads run one at a time; one asked for while another runs starts after it, re-reading the file. */
  reload(opts?: ReloadOptions): Promise<ReloadOutcome>;
  shutdown(): Promise<void>;
}

export async function startDaemon(opts: ServeOptions): Promise<RunningDaemon> {
  const problems = checkNodeSettings(opts.nodeName, opts.paths);
  if (problems.length > 0) throw new Error(problems.join('; '));
  const log = opts.log ?? createLogger({ node: opts.nodeName });
  // First the lock, so a second routerd stops here, before it reads or touches anything.
  await opts.host.mkdirp(opts.paths.runDir, 0o755);
  const lock = await acquireLock(opts.paths.runDir);
  try {
    return await startLocked(opts, log, lock);
  } catch (e) {
    await lock.release();
    throw e;
  }
}

async function startLocked(opts: ServeOptions, log: Logger, lock: DaemonLock): Promise<RunningDaemon> {
  const metrics = createMetrics();
  const store = new StatusStore();
  const startedAt = new Date().toISOString();
  let lastReload: { time: string; outcome: ReloadOutcome['outcome']; message?: string; errors?: readonly string[] } | undefined;

  const load = async (): Promise<AnyResource[] | ReloadOutcome> => {
    const t0 = performance.now();
    let r: Awaited<ReturnType<typeof loadDesired>>;
    try {
      r = await loadDesired({ files: [], basePath: opts.configPath, baseExplicit: true });
    } catch (e) {
      log.error({ action: 'config-load', outcome: 'error', config: opts.configPath, err: (e as Error).stack }, 'config load failed; nothing changed');
      return { outcome: 'invalid', message: `config ${opts.configPath} could not be loaded; nothing changed`, errors: [(e as Error).message] };
    }
    const durationMs = Math.round(performance.now() - t0);
    if (r.errors.length > 0) {
      const errors = r.errors.map(formatConfigError);
      log.error({ action: 'config-load', outcome: 'invalid', config: opts.configPath, errors, durationMs }, `config ${opts.configPath} is invalid; nothing changed`);
      return { outcome: 'invalid', message: `config ${opts.configPath} is invalid; nothing changed`, errors };
    }
    return desiredResources(r.config);
  };
  const record = (o: ReloadOutcome): ReloadOutcome => {
    metrics.configReloads.inc({ outcome: o.outcome });
    lastReload = { time: new Date().toISOString(), outcome: o.outcome, message: o.message, ...(o.errors ? { errors: o.errors } : {}) };
    return o;
  };

  const initial = await load();
  if (!Array.isArray(initial)) {
    record(initial);
    throw new Error(`config ${opts.configPath} is invalid (see the log); routerd did not start${initial.errors ? `: ${initial.errors.join('; ')}` : ''}`);
  }
  if (initial.length === 0 && !opts.allowEmptyConfig)
    throw new Error(`config ${opts.configPath} has no resources; routerd did not start (an empty file is almost always a mistake; --allow-empty-config starts anyway)`);
  record({ outcome: 'applied', message: 'initial config', resources: initial.length });
  log.info({ action: 'config-load', outcome: 'applied', config: opts.configPath, resources: initial.length }, 'config loaded');
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

  const reloadOnce = async (ro: ReloadOptions): Promise<ReloadOutcome> => {
    const next = await load();
    if (!Array.isArray(next)) return record(next);
    const why = destructiveChange(manager.config, next);
    if (why && !ro.allowRemoval) {
      const message = `reload refused: ${why}; the running config stays (${manager.config.length} resources). ${ALLOW_REMOVAL_HINT}`;
      log.error({ action: 'config-reload', outcome: 'refused', code: RELOAD_REFUSED, config: opts.configPath, trigger: ro.trigger, running: manager.config.length, next: next.length }, message);
      return record({ outcome: 'refused', message, errors: [`${RELOAD_REFUSED}: ${why}`] });
    }
    if (why) log.warn({ action: 'config-reload', outcome: 'applied', allowRemoval: true, trigger: ro.trigger }, `applying a config that ${why.replace(/^the new config /, '')}: --allow-removal given`);
    // What routerctl plan shows for this change (controllers/changes.ts), in the log.
    const changes = planChanges(manager.config, next, { files: new Map(), existing: new Set() });
    for (const p of mergeChanges([], changes)) for (const a of p.actions) log.info({ action: 'plan', resource: a.resource, verb: a.verb, object: a.object, detail: a.detail }, `plan: ${a.verb} ${a.object}: ${a.detail}`);
    for (const [, actions] of changes.updates) for (const a of actions) log.info({ action: 'plan', resource: a.resource, verb: a.verb, object: a.object, detail: a.detail }, `plan: ${a.resource} ${a.object}: ${a.detail}`);
    manager.setConfig(next);
    log.info({ action: 'config-load', outcome: 'applied', config: opts.configPath, resources: next.length, trigger: ro.trigger }, 'config loaded');
    return record({ outcome: 'applied', message: `config ${opts.configPath} applied (${next.length} resources)`, resources: next.length });
  };
  // Serialised: a reload asked for while one runs waits, then reads the file as
  // it is then, so the last request (the last SIGHUP) decides what runs.
  let reloadChain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = reloadChain.then(fn);
    reloadChain = run.catch(() => undefined);
    return run;
  };
  const reload = (ro: ReloadOptions = {}): Promise<ReloadOutcome> => serial(() => reloadOnce(ro));

  // apply / confirm / rollback (docs/operations.md): the config file is the
  // node's config, so every one of them writes it and reloads it, in the same
  // serial chain as SIGHUP reloads.
  const generations = new GenerationStore(opts.paths.stateDir);
  let pending: { generation: number; previous: number; deadline: string; timer: NodeJS.Timeout } | undefined;
  const install = async (text: string, ro: ReloadOptions): Promise<ReloadOutcome> => {
    const before = await readFile(opts.configPath, 'utf8').catch(() => undefined);
    if ((await generations.list()).length === 0 && before !== undefined)
      await generations.record(before, { origin: 'initial', resources: manager.config.length, confirmed: true });
    await writeFileAtomic(opts.configPath, text, 0o640);
    const outcome = await reloadOnce(ro);
    if (outcome.outcome !== 'applied' && before !== undefined) await writeFileAtomic(opts.configPath, before, 0o640);
    return outcome;
  };
  const check = async (text: string, allowRemoval: boolean): Promise<ReloadOutcome | undefined> => {
    const candidate = join(opts.paths.runDir, 'apply-candidate.yaml');
    await writeFileAtomic(candidate, text, 0o600);
    const r = await loadDesired({ files: [], basePath: candidate, baseExplicit: true });
    if (r.errors.length > 0) return { outcome: 'invalid', message: 'the config is invalid; nothing changed', errors: r.errors.map((e) => formatConfigError({ ...e, file: 'config' })) };
    const why = destructiveChange(manager.config, desiredResources(r.config));
    if (why && !allowRemoval) return { outcome: 'refused', message: `refused: ${why}; nothing changed. ${ALLOW_REMOVAL_HINT}`, errors: [`${RELOAD_REFUSED}: ${why}`] };
    return undefined;
  };
  const cancelPending = () => {
    if (pending) clearTimeout(pending.timer);
    pending = undefined;
  };
  const rollbackTo = async (to: number, origin: 'rollback' | 'confirm-timeout', allowRemoval: boolean): Promise<ApplyOutcome> => {
    const text = await generations.text(to);
    if (text === undefined) return { outcome: 'invalid', message: `there is no generation ${to} (routerctl history lists them)` };
    const refused = await check(text, allowRemoval);
    if (refused) return refused;
    const outcome = await install(text, { allowRemoval: true, trigger: origin });
    if (outcome.outcome !== 'applied') return outcome;
    const g = await generations.record(text, { origin, from: to, resources: manager.config.length, confirmed: true });
    return { ...outcome, generation: g.generation, message: `rolled back to generation ${to} (now generation ${g.generation})` };
  };
  const actions: ApiActions = {
    reload,
    apply: (text, ao) =>
      serial(async (): Promise<ApplyOutcome> => {
        if (pending) return { outcome: 'refused', message: `generation ${pending.generation} waits for routerctl confirm (until ${pending.deadline}); confirm it or let it roll back first` };
        const refused = await check(text, ao.allowRemoval === true);
        if (refused) return refused;
        const previous = (await generations.list()).at(-1)?.generation;
        const outcome = await install(text, { allowRemoval: true, trigger: 'apply' });
        if (outcome.outcome !== 'applied') return outcome;
        const g = await generations.record(text, { origin: 'apply', resources: manager.config.length, confirmed: ao.confirmMs === undefined });
        if (ao.confirmMs === undefined) return { ...outcome, generation: g.generation, message: `applied as generation ${g.generation} (${manager.config.length} resources)` };
        const prev = previous ?? g.generation - 1;
        const deadline = new Date(Date.now() + ao.confirmMs).toISOString();
        const timer = setTimeout(() => {
          void serial(async () => {
            if (pending?.generation !== g.generation) return;
            pending = undefined;
            const r = await rollbackTo(prev, 'confirm-timeout', true);
            log.error({ action: 'apply-rollback', outcome: r.outcome, generation: g.generation, to: prev, now: r.generation }, `generation ${g.generation} was not confirmed in time: ${r.message}`);
          });
        }, ao.confirmMs);
        timer.unref();
        pending = { generation: g.generation, previous: prev, deadline, timer };
        log.warn({ action: 'apply', generation: g.generation, confirmBy: deadline }, `generation ${g.generation} applied; it rolls back to generation ${prev} unless confirmed by ${deadline}`);
        return { ...outcome, generation: g.generation, confirmBy: deadline, message: `applied as generation ${g.generation}; run routerctl confirm before ${deadline} or it rolls back to generation ${prev}` };
      }),
    confirm: () =>
      serial(async (): Promise<ApplyOutcome> => {
        if (!pending) return { outcome: 'refused', message: 'nothing waits for confirmation' };
        const g = pending.generation;
        cancelPending();
        await generations.markConfirmed(g);
        log.info({ action: 'confirm', generation: g }, `generation ${g} confirmed`);
        return { outcome: 'applied', generation: g, message: `generation ${g} confirmed` };
      }),
    rollback: (to, allowRemoval) =>
      serial(async () => {
        cancelPending();
        return rollbackTo(to, 'rollback', allowRemoval);
      }),
    history: async () => ({ generations: await generations.list(), pending: pending ? { generation: pending.generation, rollbackTo: pending.previous, confirmBy: pending.deadline } : null }),
  };

  const api: ApiSource = {
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
      ...(pending ? { pendingConfirm: { generation: pending.generation, rollbackTo: pending.previous, confirmBy: pending.deadline } } : {}),
      pid: process.pid,
    }),
  };
  const servers: Server[] = [];
  const unix = createApiServer(api, actions);
  await listenUnix(unix, socketPath(opts.paths));
  servers.push(unix);
  if (opts.listen) {
    // No actions over TCP: it has no authentication (docs/api.md).
    const tcp = createApiServer(api);
    try {
      await listenTcp(tcp, opts.listen);
    } catch (e) {
      await new Promise<void>((r) => unix.close(() => r()));
      throw e;
    }
    servers.push(tcp);
  }
  manager.start();
  log.info({ action: 'start', controllers: opts.controllers.map((c) => c.name), socket: socketPath(opts.paths), listen: opts.listen, lock: lock.path, pid: process.pid }, 'routerd serving');

  return {
    manager,
    log,
    store,
    reload,
    async shutdown() {
      const keep = !opts.stopEnginesOnExit;
      log.info({ action: 'stop', keepEngines: keep }, keep ? 'routerd stopping; supervised daemons keep running' : 'routerd stopping with its daemons');
      cancelPending();
      await reloadChain;
      await manager.stop(keep);
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      await lock.release();
    },
  };
}
