// dnsmasq and dhcpcd: one supervised daemon per resource, running only while
// this router is master of the VirtualAddress that owns the resource's link
// (role.ts). The plan renders the config and decides run or stand by; this
// base writes the config, starts or stops the daemon, and leaves the status
// wording to the kind.
import { resourceId, type AnyResource, type Kind, type ResourceOf } from '../api/kinds.ts';
import type { ConfiguredDaemon, RunOutcome } from '../engines/process.ts';
import { Outcome, type Controller, type ControllerContext, type ReconcileInput, type ReconcileOutcome } from './controller.ts';
import type { RoleDecision } from './role.ts';
import { Phase, Reason, type ResourceStatus } from './status.ts';

/** What the plan decided for one resource: the config to write, where the daemon's files go, and whether it runs here. */
export interface FollowerPlan<F> {
  /** The link the daemon serves. */
  readonly ifname: string;
  readonly conf: string;
  readonly files: F;
  readonly role: RoleDecision;
}

export type FollowerPayload<F> = ReadonlyMap<string, FollowerPlan<F>>;

export type FollowerEngine<F> = ConfiguredDaemon & { readonly files: F; run(configChanged: boolean): Promise<RunOutcome> };

export abstract class RoleFollowingController<K extends Kind, F, E extends FollowerEngine<F>> implements Controller<K, FollowerPayload<F>> {
  private readonly engines = new Map<string, E>();

  protected constructor(
    readonly kind: K,
    readonly name: string,
    /** The daemon, for logs and metrics: "dnsmasq". */
    protected readonly daemon: string,
  ) {}

  protected abstract newEngine(ctx: ControllerContext, r: ResourceOf<K>, files: F): E;
  /** The status of a resource whose daemon stands by here (stopped, holding synced state for promotion). */
  protected abstract standby(r: ResourceOf<K>, p: FollowerPlan<F>, planned: ResourceStatus | undefined, ctx: ControllerContext): Promise<ResourceStatus>;
  /** What a daemon about to start starts from (its lease state), for the log line. */
  protected abstract startingFrom(r: ResourceOf<K>, p: FollowerPlan<F>, ctx: ControllerContext): Promise<{ readonly fields: Record<string, unknown>; readonly text: string }>;
  /** The status of a resource whose daemon should run, after run(). */
  protected abstract serving(r: ResourceOf<K>, p: FollowerPlan<F>, engine: E, ctx: ControllerContext): Promise<ResourceStatus>;
  /**
   * While the role is unknown (routerd just restarted), a daemon an earlier
   * routerd left running may be left alone; return its status to do so.
   */
  protected async whileRoleUnknown(_r: ResourceOf<K>, _p: FollowerPlan<F>, _engine: E, _ctx: ControllerContext): Promise<ResourceStatus | undefined> {
    return undefined;
  }
  /** Whether standing by also stops a daemon an earlier routerd left running (found by its pid file). */
  protected readonly stopsOrphans: boolean = false;

  async reconcile(input: ReconcileInput<K, FollowerPayload<F>>, ctx: ControllerContext): Promise<ReconcileOutcome> {
    const names = new Set(input.resources.map((r) => r.metadata.name));
    for (const [name, engine] of [...this.engines]) {
      if (names.has(name)) continue;
      ctx.log.info({ resource: `${this.kind}/${name}`, action: `${this.daemon}-stop`, why: 'resource removed' }, `stopping ${this.daemon}`);
      await engine.stop(false);
      this.engines.delete(name);
    }
    const plans = new Map(input.plans.map((p) => [p.resource, p]));
    const outcomes: ReconcileOutcome[] = [];
    for (const r of input.resources) {
      const id = resourceId(r);
      const p = input.payload.get(id);
      if (!p) continue;
      try {
        const { status, outcome } = await this.reconcileOne(r, p, plans.get(id)?.status, ctx);
        ctx.status.set(id, status);
        outcomes.push(outcome);
      } catch (e) {
        const message = (e as Error).message;
        ctx.log.error({ resource: id, action: `${this.daemon}-apply`, outcome: 'error', err: message }, `${id}: ${message}`);
        ctx.status.set(id, { phase: Phase.Failed, reason: Reason.ApplyFailed, message, observedGeneration: ctx.generation(id) });
        outcomes.push(Outcome.error(`${id}: ${message}`));
      }
    }
    return Outcome.merge(outcomes);
  }

  private engineFor(r: ResourceOf<K>, ctx: ControllerContext, files: F): E {
    const existing = this.engines.get(r.metadata.name);
    if (existing && JSON.stringify(existing.files) === JSON.stringify(files)) return existing;
    const e = this.newEngine(ctx, r, files);
    this.engines.set(r.metadata.name, e);
    return e;
  }

  private async reconcileOne(r: ResourceOf<K> & AnyResource, p: FollowerPlan<F>, planned: ResourceStatus | undefined, ctx: ControllerContext): Promise<{ status: ResourceStatus; outcome: ReconcileOutcome }> {
    const id = resourceId(r);
    const engine = this.engineFor(r, ctx, p.files);
    const configChanged = await engine.writeConfig(p.conf);
    if (!p.role.run) {
      const kept = p.role.role === 'unknown' ? await this.whileRoleUnknown(r, p, engine, ctx) : undefined;
      if (kept) return { status: kept, outcome: Outcome.ok };
      if (engine.state().state === 'running' || (this.stopsOrphans && (await engine.adopt())))
        ctx.log.info({ resource: id, action: `${this.daemon}-stop`, why: planned?.message }, `${id}: stopping ${this.daemon} (not master)${this.daemon === 'dhcpcd' ? '; no Release is sent' : ''}`);
      await engine.stop(false);
      return { status: await this.standby(r, p, planned, ctx), outcome: Outcome.ok };
    }
    const before = engine.state().state === 'running' ? undefined : await this.startingFrom(r, p, ctx);
    const outcome = await engine.run(configChanged);
    if (outcome === 'started' || outcome === 'restarted' || outcome === 'adopted')
      ctx.log.info(
        { resource: id, action: `${this.daemon}-${outcome === 'adopted' ? 'adopt' : 'start'}`, outcome, configChanged, ...(before?.fields ?? {}) },
        `${id}: ${this.daemon} ${outcome}${before ? ` ${before.text}` : ''}`,
      );
    const status = await this.serving(r, p, engine, ctx);
    return { status, outcome: outcome === 'backoff' || outcome === 'failed' ? Outcome.requeue(engine.retryInMs() + 10, `${this.daemon} ${id} restart backoff`) : Outcome.ok };
  }

  async stop(opts: { keepEngines: boolean }): Promise<void> {
    for (const e of this.engines.values()) await e.stop(opts.keepEngines);
    this.engines.clear();
  }
}
