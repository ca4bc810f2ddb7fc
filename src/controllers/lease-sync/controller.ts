// DHCPv4ServerLeaseSync, DHCPv6ServerLeaseSync, DHCPv6PrefixDelegationLeaseSync:
// one worker per resource while its spec.when gate is open (usually: this
// router's VIP role is master). The gate shutting stops the worker at once and
// aborts a push in flight, so a demoted router never overwrites the new
// master's leases with its own.
import { resourceId, type ResourceOf } from '../../api/kinds.ts';
import { parseDuration } from '../../api/primitives.ts';
import { targetName } from '../../api/target.ts';
import { sshControlDir } from '../../api/paths.ts';
import { sshExitMasterArgv } from '../../transport/ssh.ts';
import { Outcome, type Controller, type ControllerContext, type ReconcileInput, type ReconcileOutcome } from '../controller.ts';
import { Reason } from '../status.ts';
import { leaseSyncSource, type LeaseSyncKind, type LeaseSyncPayload } from './plan.ts';
import { LeaseSyncWorker, type LeaseSyncSpec, type RsyncRunner, type TargetStatus } from './worker.ts';

type LeaseSyncResource = ResourceOf<LeaseSyncKind>;

export interface LeaseSyncControllerOptions {
  readonly runner?: RsyncRunner;
  readonly debounceMs?: number;
}

export class LeaseSyncController<K extends LeaseSyncKind> implements Controller<K, LeaseSyncPayload> {
  readonly name: string;
  private readonly workers = new Map<string, { worker: LeaseSyncWorker; generation: number }>();
  /** Last target statuses of stopped workers, so describe still shows the last push. */
  private readonly lastTargets = new Map<string, TargetStatus[]>();
  private ctx: ControllerContext | undefined;

  constructor(
    readonly kind: K,
    controllerName: string,
    private readonly opts: LeaseSyncControllerOptions = {},
  ) {
    this.name = controllerName;
  }

  async reconcile(input: ReconcileInput<K, LeaseSyncPayload>, ctx: ControllerContext): Promise<ReconcileOutcome> {
    this.ctx = ctx;
    const resources = input.resources;
    const plans = new Map(input.plans.map((p) => [p.resource, p]));
    const ids = new Set(resources.map(resourceId));
    for (const [id, w] of this.workers) if (!ids.has(id)) await this.stopWorker(id, w.worker, 'resource removed');
    for (const id of [...this.lastTargets.keys()]) if (!ids.has(id)) this.lastTargets.delete(id);

    for (const r of resources) {
      const id = resourceId(r);
      const plan = plans.get(id);
      const generation = ctx.generation(id);
      const existing = this.workers.get(id);
      if (!plan || !input.payload.has(id)) {
        if (existing) await this.stopWorker(id, existing.worker, 'spec.when no longer holds');
        const targets = (this.lastTargets.get(id) ?? []).map((t) => ({ ...t, phase: 'Paused' }));
        ctx.status.set(id, { ...(plan?.status ?? { phase: 'Pending', reason: Reason.WhenFalse, message: 'not planned' }), observedGeneration: generation, ...(targets.length ? { targets } : {}) });
        continue;
      }
      if (existing && existing.generation === generation) continue;
      if (existing) await this.stopWorker(id, existing.worker, 'spec changed');
      const worker = new LeaseSyncWorker(
        this.specOf(r, input),
        {
          host: ctx.host,
          paths: ctx.paths,
          log: ctx.log,
          metrics: ctx.metrics,
          status: ctx.status,
          generation: () => ctx.generation(id),
          ...(this.opts.runner ? { runner: this.opts.runner } : {}),
          ...(this.opts.debounceMs !== undefined ? { debounceMs: this.opts.debounceMs } : {}),
        },
        this.lastTargets.get(id),
      );
      this.workers.set(id, { worker, generation });
      ctx.log.info({ resource: id, action: 'lease-sync-start', path: worker.spec.path, targets: worker.spec.targets.map((t) => t.name) }, `${id}: syncing ${worker.spec.path}`);
      ctx.status.set(id, worker.statusNow());
      await worker.start();
    }
    return Outcome.ok;
  }

  private specOf(r: LeaseSyncResource, input: ReconcileInput<K, LeaseSyncPayload>): LeaseSyncSpec {
    const src = leaseSyncSource(r, input.planCtx);
    return {
      id: resourceId(r),
      sourceKind: src.kind,
      sourceRef: r.spec.source.resource,
      path: src.path,
      intervalMs: parseDuration(r.spec.interval) ?? 30_000,
      targets: r.spec.targets.map((t) => ({
        name: targetName(t),
        host: t.host,
        port: t.port,
        user: t.user,
        sshOptions: t.sshOptions,
        options: t.options,
      })),
    };
  }

  private async stopWorker(id: string, worker: LeaseSyncWorker, why: string): Promise<void> {
    await worker.stop();
    this.lastTargets.set(id, worker.targetStatuses());
    this.workers.delete(id);
    this.ctx?.log.info({ resource: id, action: 'lease-sync-stop', why }, `${id}: sync stopped (${why})`);
  }

  async stop(): Promise<void> {
    const ctx = this.ctx;
    const targets = [...this.workers.values()].flatMap((w) => w.worker.spec.targets);
    for (const [id, w] of [...this.workers]) await this.stopWorker(id, w.worker, 'routerd stopping');
    if (!ctx) return;
    // Close the persistent ssh connections this controller opened.
    const conn = { controlDir: sshControlDir(ctx.paths) };
    await Promise.all(targets.map((t) => ctx.host.run(sshExitMasterArgv(t, conn), { timeoutMs: 3000 }).catch(() => undefined)));
  }
}
