// The controller manager: one reconcile pass at a time over the whole desired
// state (observe → plan → each controller applies), triggered by config
// changes, engine events and status changes that can open a spec.when gate,
// plus a periodic resync so a missed event heals.
import { controllerNameOf, resourceId, type AnyResource, type Kind } from '../api/kinds.ts';
import type { Controller, ControllerContext } from '../controllers/controller.ts';
import { observeNode } from '../controllers/observe.ts';
import { PLANNERS, planContext, planNode, pathsToObserve } from '../controllers/plan.ts';
import type { StatusStore } from '../controllers/status-store.ts';
import { Phase } from '../controllers/status.ts';
import type { NodePaths } from '../config/paths.ts';
import { shortDigest } from '../support/digest.ts';
import type { Host } from '../host/host.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';

export interface ManagerOptions {
  readonly host: Host;
  readonly paths: NodePaths;
  readonly nodeName: string;
  readonly controllers: readonly Controller[];
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly status: StatusStore;
  readonly resyncMs: number;
}

const DEBOUNCE_MS = 30;
const RETRY_AFTER_ERROR_MS = 2000;

export class Manager {
  private resources: AnyResource[] = [];
  private readonly generations = new Map<string, { hash: string; generation: number }>();
  private readonly controllers: Controller[];
  private readonly enabledKinds: Set<Kind>;
  private running = false;
  private pending: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private stopped = false;
  passes = 0;

  constructor(private readonly opts: ManagerOptions) {
    const order = PLANNERS.map((p) => p.kind);
    this.controllers = [...opts.controllers].sort((a, b) => order.indexOf(a.kinds[0]!) - order.indexOf(b.kinds[0]!));
    this.enabledKinds = new Set(this.controllers.flatMap((c) => c.kinds));
    opts.status.on('change', (id) => this.trigger(`status ${id}`));
  }

  get config(): readonly AnyResource[] {
    return this.resources;
  }

  generation(id: string): number {
    return this.generations.get(id)?.generation ?? 0;
  }

  /** Replace the desired config (already validated); bumps generations of changed specs. */
  setConfig(resources: readonly AnyResource[]): void {
    const seen = new Set<string>();
    for (const r of resources) {
      const id = resourceId(r);
      seen.add(id);
      const hash = shortDigest(JSON.stringify(r.spec));
      const prev = this.generations.get(id);
      if (!prev) this.generations.set(id, { hash, generation: 1 });
      else if (prev.hash !== hash) this.generations.set(id, { hash, generation: prev.generation + 1 });
    }
    for (const id of [...this.generations.keys()])
      if (!seen.has(id)) {
        this.generations.delete(id);
        this.opts.status.delete(id);
      }
    this.resources = [...resources];
    this.trigger('config');
  }

  start(): void {
    this.resyncTimer = setInterval(() => this.trigger('resync'), this.opts.resyncMs);
    this.resyncTimer.unref();
    this.trigger('start');
  }

  /** Ask for a pass; bursts of triggers coalesce into one. */
  trigger(reason: string): void {
    if (this.stopped) return;
    this.pending.push(reason);
    if (this.timer || this.running) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.current = this.runPasses();
    }, DEBOUNCE_MS);
  }

  /** Wait until no pass is running or queued (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.timer || this.running) await (this.current ?? new Promise((r) => setTimeout(r, DEBOUNCE_MS)));
  }

  async stop(keepEngines: boolean): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.current;
    for (const c of [...this.controllers].reverse()) await c.stop({ keepEngines });
  }

  private async runPasses(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.length > 0 && !this.stopped) {
        const reasons = this.pending;
        this.pending = [];
        await this.pass(reasons);
      }
    } finally {
      this.running = false;
    }
  }

  private async pass(reasons: readonly string[]): Promise<void> {
    const { host, paths, nodeName, log, metrics, status } = this.opts;
    const t0 = performance.now();
    this.passes++;
    const all = this.resources;
    const enabled = all.filter((r) => this.enabledKinds.has(r.kind));
    for (const r of this.resources)
      if (!this.enabledKinds.has(r.kind))
        status.set(resourceId(r), {
          phase: Phase.Pending,
          reason: 'ControllerDisabled',
          message: `the ${controllerNameOf(r.kind)} controller does not run on this node (routerd serve --controllers)`,
        });
    const planOpts = { paths, nodeName, reported: status.lookup, kinds: this.enabledKinds };
    const { observed, problems } = await observeNode(host, pathsToObserve(all, planOpts));
    if (problems.length) log.warn({ action: 'observe', problems }, 'parts of the host could not be observed');
    const plans = planNode(all, observed, planOpts);
    const planCtx = planContext(all, planOpts, new Map());
    const ctx: ControllerContext = {
      host,
      paths,
      nodeName,
      log,
      metrics,
      status,
      trigger: (reason) => this.trigger(reason),
      generation: (id) => this.generation(id),
    };
    for (const c of this.controllers) {
      const kinds = new Set<Kind>(c.kinds);
      const resources = enabled.filter((r) => kinds.has(r.kind));
      const ids = new Set(resources.map(resourceId));
      const c0 = performance.now();
      try {
        await c.reconcile({ resources, plans: plans.filter((p) => ids.has(p.resource)), observed, all, planCtx }, ctx);
        metrics.reconcileTotal.inc({ controller: c.name, outcome: 'ok' });
      } catch (e) {
        metrics.reconcileTotal.inc({ controller: c.name, outcome: 'error' });
        const message = (e as Error).message;
        log.error({ controller: c.name, action: 'reconcile', outcome: 'error', err: message }, `${c.name} reconcile failed`);
        for (const id of ids) status.set(id, { ...(status.get(id) ?? {}), phase: Phase.Failed, reason: 'ReconcileError', message });
        setTimeout(() => this.trigger(`retry ${c.name}`), RETRY_AFTER_ERROR_MS).unref();
      } finally {
        metrics.reconcileSeconds.observe({ controller: c.name }, (performance.now() - c0) / 1000);
      }
    }
    metrics.resourcePhase.reset();
    for (const r of this.resources) {
      const s = status.get(resourceId(r));
      if (s) metrics.resourcePhase.set({ kind: r.kind, name: r.metadata.name, phase: s.phase }, 1);
    }
    log.debug({ action: 'pass', reasons: [...new Set(reasons)].slice(0, 10), durationMs: Math.round(performance.now() - t0) }, 'reconcile pass');
  }
}
