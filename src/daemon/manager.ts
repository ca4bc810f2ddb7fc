// The controller manager: one reconcile pass at a time over the whole desired
// state (observe → plan → each controller applies), triggered by config
// changes, engine events and status changes that can open a spec.when gate,
// plus a periodic resync so a missed event heals. Each controller's pass ends
// in an outcome (ok, requeue after, error); the manager schedules the next
// look from it (requeues at their time, errors with one backoff per
// controller) and counts outcomes in routerd_reconcile_total.
import { resourceId, type AnyResource, type Kind } from '../api/kinds.ts';
import { controllerNameOf } from '../controllers/kinds.ts';
import { Outcome, type Controller, type ControllerContext, type ReconcileOutcome } from '../controllers/controller.ts';
import { observeAndPlan, reconcileInput } from '../controllers/plan.ts';
import { MODULES } from '../controllers/registry.ts';
import type { StatusStore } from '../controllers/status-store.ts';
import { Phase, Reason } from '../controllers/status.ts';
import type { NodePaths } from '../api/paths.ts';
import { Backoff } from '../support/backoff.ts';
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
  private readonly backoffs = new Map<string, Backoff>();
  /** The one timer for the soonest requeue or retry, and when it fires. */
  private requeueTimer: { timer: NodeJS.Timeout; at: number } | undefined;
  passes = 0;

  constructor(private readonly opts: ManagerOptions) {
    const order = MODULES.map((m) => m.kind);
    this.controllers = [...opts.controllers].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
    this.enabledKinds = new Set(this.controllers.flatMap((c) => [c.kind, ...(c.alsoKinds ?? [])]));
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
    // A queued pass has no promise yet (and the last one's is settled): wait for its timer.
    while (this.timer || this.running) await (this.running && this.current ? this.current : new Promise((r) => setTimeout(r, DEBOUNCE_MS)));
  }

  /** A pass after `afterMs`: timers coalesce into one, for the soonest. */
  requeue(afterMs: number, reason: string): void {
    if (this.stopped) return;
    const at = Date.now() + afterMs;
    if (this.requeueTimer && this.requeueTimer.at <= at) return;
    if (this.requeueTimer) clearTimeout(this.requeueTimer.timer);
    const timer = setTimeout(() => {
      this.requeueTimer = undefined;
      this.trigger(reason);
    }, afterMs);
    timer.unref();
    this.requeueTimer = { timer, at };
  }

  async stop(keepEngines: boolean): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.requeueTimer) clearTimeout(this.requeueTimer.timer);
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
    for (const r of this.resources)
      if (!this.enabledKinds.has(r.kind))
        status.set(resourceId(r), {
          phase: Phase.Pending,
          reason: Reason.ControllerDisabled,
          message: `the ${controllerNameOf(r.kind)} controller does not run on this node (routerd serve --controllers)`,
        });
    const { observed, problems, plan } = await observeAndPlan(host, all, { paths, nodeName, reported: status.lookup, kinds: this.enabledKinds });
    if (problems.length) log.warn({ action: 'observe', problems }, 'parts of the host could not be observed');
    const ctx: ControllerContext = {
      host,
      paths,
      nodeName,
      log,
      metrics,
      status,
      trigger: (reason) => this.trigger(reason),
      requeue: (afterMs, why) => this.requeue(afterMs, why),
      generation: (id) => this.generation(id),
    };
    for (const c of this.controllers) {
      const kinds = new Set<Kind>([c.kind, ...(c.alsoKinds ?? [])]);
      const resources = all.filter((r) => kinds.has(r.kind));
      const ids = new Set(resources.map(resourceId));
      const c0 = performance.now();
      let outcome: ReconcileOutcome;
      try {
        outcome = await c.reconcile(reconcileInput(plan, c, all, observed), ctx);
      } catch (e) {
        // A throw is a bug or a host that failed under us: every resource of the controller says so.
        const message = (e as Error).message;
        for (const id of ids) status.set(id, { ...(status.get(id) ?? {}), phase: Phase.Failed, reason: Reason.ReconcileError, message });
        outcome = Outcome.error(message);
      } finally {
        metrics.reconcileSeconds.observe({ controller: c.name }, (performance.now() - c0) / 1000);
      }
      this.schedule(c.name, outcome);
    }
    metrics.resourcePhase.reset();
    for (const r of this.resources) {
      const s = status.get(resourceId(r));
      if (s) metrics.resourcePhase.set({ kind: r.kind, name: r.metadata.name, phase: s.phase }, 1);
    }
    log.debug({ action: 'pass', reasons: [...new Set(reasons)].slice(0, 10), durationMs: Math.round(performance.now() - t0) }, 'reconcile pass');
  }

  /** Count a controller's outcome and schedule what it asks for: nothing, a requeue, or a retry after its backoff. */
  private schedule(controller: string, outcome: ReconcileOutcome): void {
    const { log, metrics } = this.opts;
    metrics.reconcileTotal.inc({ controller, outcome: outcome.result });
    let backoff = this.backoffs.get(controller);
    if (outcome.result !== 'error') {
      backoff?.reset();
      if (outcome.result === 'requeue') this.requeue(outcome.afterMs, outcome.why);
      return;
    }
    if (!backoff) this.backoffs.set(controller, (backoff = new Backoff()));
    const retryInMs = backoff.fail();
    log.error({ controller, action: 'reconcile', outcome: 'error', err: outcome.error, retryInMs }, `${controller} reconcile failed; retrying in ${Math.round(retryInMs / 1000)} s`);
    this.requeue(retryInMs, `retry ${controller}`);
  }
}
