// NAT44SessionSync: while the gate (spec.when, usually the VIP role) is true
// and the SNAT addresses are known, a worker pushes the selected sessions to
// every target; when the gate shuts, the worker stops, so a backup never
// copies its stale sessions back to the master.
import { resourceId } from '../../api/kinds.ts';
import { sshControlDir } from '../../config/paths.ts';
import { targetName } from '../../api/target.ts';
import { describeFailure, type Host } from '../../host/host.ts';
import { applyRestore, restoreDeleteBySnatLine } from '../../kernel/conntrack-batch.ts';
import { SshHost } from '../../transport/ssh-host.ts';
import { Outcome, type Controller, type ControllerContext, type ReconcileInput, type ReconcileOutcome } from '../controller.ts';
import type { SessionSyncPayload } from './plan.ts';
import { ConntrackdSessionSyncs } from './conntrackd.ts';
import { SessionSyncWorker, type SyncTarget } from './worker.ts';

/**
 * The Host a target's restores run on: ssh over the shared connection, its
 * restoreCommand for conntrack, restore output left on the target, and a
 * restore refused by a target that holds one of `snatAddresses` (it became master).
 */
export function targetHost(local: Host, t: SyncTarget, controlDir: string, snatAddresses: readonly string[] = []): SshHost {
  return new SshHost(
    local,
    t,
    { controlDir },
    { commandMap: { conntrack: t.restoreCommand }, discardStdout: (argv) => argv[0] === 'conntrack' && argv[1] === '-R', refuseIfHolding: snatAddresses },
  );
}

export class SessionSyncController implements Controller<'NAT44SessionSync', SessionSyncPayload> {
  readonly name = 'nat44-session-sync';
  readonly kind = 'NAT44SessionSync';
  private readonly workers = new Map<string, SessionSyncWorker>();
  /** Addresses each resource last exported, to prune the ones that leave the selection. */
  private readonly addresses = new Map<string, string[]>();
  private readonly conntrackd = new ConntrackdSessionSyncs();

  async reconcile(input: ReconcileInput<'NAT44SessionSync', SessionSyncPayload>, ctx: ControllerContext): Promise<ReconcileOutcome> {
    const plans = new Map(input.plans.map((p) => [p.resource, p]));
    const live = new Set<string>();
    const conntrackdIds = new Set<string>();
    const outcomes: ReconcileOutcome[] = [];
    for (const r of input.resources) {
      const id = resourceId(r);
      const plan = plans.get(id);
      const decision = input.payload.get(id);
      if (decision?.mode === 'conntrackd') {
        // conntrackd runs in every role (spec.when gives it the role, it does not gate it).
        this.stopWorker(id, ctx, 'mode conntrackd');
        conntrackdIds.add(id);
        outcomes.push(await this.conntrackd.reconcile(r, decision, input, ctx));
        continue;
      }
      if (!decision?.run || !plan) {
        this.stopWorker(id, ctx, plan?.status.reason ?? 'not planned');
        if (plan) ctx.status.set(id, { ...plan.status, observedGeneration: ctx.generation(id) });
        continue;
      }
      live.add(id);
      const addresses = [...decision.addresses];
      const existing = this.workers.get(id);
      if (existing?.matches(r.spec, addresses)) continue;
      if (existing) this.stopWorker(id, ctx, 'spec or addresses changed');
      const controlDir = sshControlDir(ctx.paths);
      await ctx.host.mkdirp(controlDir, 0o700);
      const remote = (t: SyncTarget) => targetHost(ctx.host, t, controlDir, addresses);
      const dropped = (this.addresses.get(id) ?? []).filter((a) => !addresses.includes(a));
      if (dropped.length) await pruneDropped(id, r.spec.targets, dropped, remote, ctx);
      this.addresses.set(id, addresses);
      const worker = new SessionSyncWorker(id, r.spec, addresses, {
        local: ctx.host,
        remote,
        log: ctx.log,
        metrics: ctx.metrics,
        report: (s) => ctx.status.set(id, s),
        generation: () => ctx.generation(id),
      });
      this.workers.set(id, worker);
      ctx.log.info({ resource: id, action: 'sync-start', mode: r.spec.mode, addresses, targets: r.spec.targets.map((t) => t.name ?? t.host), intervalMs: worker.intervalMs }, `${id}: exporting sessions`);
      worker.start();
    }
    for (const id of [...this.workers.keys()]) if (!live.has(id)) this.stopWorker(id, ctx, 'resource removed or gate shut');
    await this.conntrackd.retain(conntrackdIds);
    return Outcome.merge(outcomes);
  }

  private stopWorker(id: string, ctx: ControllerContext, why: string): void {
    const w = this.workers.get(id);
    if (!w) return;
    w.stop();
    this.workers.delete(id);
    ctx.log.info({ resource: id, action: 'sync-stop', why }, `${id}: stopped exporting (${why})`);
  }

  async stop(opts: { keepEngines: boolean } = { keepEngines: true }): Promise<void> {
    await this.conntrackd.stop(opts);
    this.addresses.clear();
    for (const w of this.workers.values()) w.stop();
    this.workers.clear();
  }
}

/**
 * An address left the selection (its NAT44Rule lost it): the targets still hold
 * its sessions, which no later replace would touch, so they go now.
 */
async function pruneDropped(id: string, targets: readonly SyncTarget[], dropped: readonly string[], remote: (t: SyncTarget) => SshHost, ctx: ControllerContext): Promise<void> {
  await Promise.all(
    targets.map(async (t) => {
      const r = await applyRestore(remote(t), dropped.map((a) => `${restoreDeleteBySnatLine(a)}\n`).join(''), { timeoutMs: 30_000 });
      const ok = r.code === 0;
      ctx.log[ok ? 'info' : 'warn'](
        { resource: id, target: targetName(t), action: 'sync-prune', addresses: dropped, outcome: ok ? 'ok' : 'error', ...(ok ? {} : { err: describeFailure(r) }) },
        `pruned sessions of ${dropped.join(', ')} on ${targetName(t)}`,
      );
    }),
  );
}
