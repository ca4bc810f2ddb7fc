// NAT44SessionSync: one SyncMode per resource (modes.ts picks it). Gated modes
// (snapshot, stream) run while the gate (spec.when, usually the VIP role) is
// true and the SNAT addresses are known, and stop when it shuts, so a backup
// never copies its stale sessions back to the master; conntrackd runs in every
// role and takes the role from the gate.
import { resourceId } from '../../api/kinds.ts';
import { sshControlDir } from '../../api/paths.ts';
import { targetName } from '../../api/target.ts';
import { describeFailure, type Host } from '../../host/host.ts';
import { applyRestore, restoreDeleteBySnatLine } from '../../kernel/conntrack-batch.ts';
import { SshHost } from '../../transport/ssh-host.ts';
import { Outcome, type Controller, type ControllerContext, type ReconcileInput, type ReconcileOutcome } from '../controller.ts';
import type { SessionSyncPayload } from './plan.ts';
import { conntrackdRole } from './conntrackd-role.ts';
import type { ConntrackdModeDeps } from './conntrackd.ts';
import type { SyncMode } from './mode.ts';
import { SYNC_MODES, type ModeName } from './modes.ts';
import { openSession, type SyncTarget } from './targets.ts';

export type { SyncTarget };

/**
 * The Host a target's commands run on: ssh over the shared connection, its
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

interface Running {
  readonly mode: ModeName;
  readonly impl: SyncMode;
}

export class SessionSyncController implements Controller<'NAT44SessionSync', SessionSyncPayload> {
  readonly name = 'nat44-session-sync';
  readonly kind = 'NAT44SessionSync';
  private readonly running = new Map<string, Running>();
  /** Addresses each resource last exported, to prune the ones that leave the selection. */
  private readonly addresses = new Map<string, string[]>();

  constructor(private readonly makeEngine?: ConntrackdModeDeps['makeEngine']) {}

  async reconcile(input: ReconcileInput<'NAT44SessionSync', SessionSyncPayload>, ctx: ControllerContext): Promise<ReconcileOutcome> {
    const plans = new Map(input.plans.map((p) => [p.resource, p]));
    const live = new Set<string>();
    const outcomes: ReconcileOutcome[] = [];
    for (const r of input.resources) {
      const id = resourceId(r);
      const plan = plans.get(id);
      const decision = input.payload.get(id);
      const entry = SYNC_MODES[r.spec.mode];
      const existing = this.running.get(id);
      if (existing && existing.mode !== r.spec.mode) await this.stopMode(id, ctx, `mode ${r.spec.mode}`, false);
      // The plan decided: conntrackd runs in every role; the gated modes only while the gate is open.
      const runs = plan !== undefined && decision !== undefined && (decision.mode === 'conntrackd' || decision.run);
      if (!runs || !plan) {
        await this.stopMode(id, ctx, plan?.status.reason ?? 'not planned', false);
        if (plan) ctx.status.set(id, { ...plan.status, observedGeneration: ctx.generation(id) });
        continue;
      }
      live.add(id);
      const addresses = [...(decision?.addresses ?? [])];
      const controlDir = sshControlDir(ctx.paths);
      if (entry.gated) {
        await ctx.host.mkdirp(controlDir, 0o700);
        const dropped = (this.addresses.get(id) ?? []).filter((a) => !addresses.includes(a));
        // Batches already sent land first (mode.ts, quiesce): one dumped before the
        // dropped address's flows were deleted would otherwise put them back for good.
        if (dropped.length) await this.running.get(id)?.impl.quiesce?.();
        if (dropped.length) await pruneDropped(id, r.spec.targets, dropped, (t) => targetHost(ctx.host, t, controlDir, addresses), ctx);
        this.addresses.set(id, addresses);
      }
      let run = this.running.get(id);
      if (!run) {
        const impl = entry.create(id, r.metadata.name, {
          ctx,
          routed: {
            local: ctx.host,
            remote: (t) => targetHost(ctx.host, t, controlDir),
            session: (t, addrs) => openSession(ctx.host, t, controlDir, addrs),
            log: ctx.log,
            metrics: ctx.metrics,
            report: (s) => ctx.status.set(id, s),
            generation: () => ctx.generation(id),
          },
          ...(this.makeEngine ? { makeEngine: this.makeEngine } : {}),
        });
        run = { mode: r.spec.mode, impl };
        this.running.set(id, run);
      }
      const role = decision?.mode === 'conntrackd' ? decision.role : conntrackdRole(r, input.all, input.planCtx.status);
      outcomes.push((await run.impl.update({ spec: r.spec, addresses, role, planCtx: input.planCtx, observed: input.observed })) ?? Outcome.ok);
    }
    for (const id of [...this.running.keys()]) if (!live.has(id)) await this.stopMode(id, ctx, 'resource removed or gate shut', false);
    return Outcome.merge(outcomes);
  }

  private async stopMode(id: string, ctx: ControllerContext, why: string, keepEngines: boolean): Promise<void> {
    const run = this.running.get(id);
    if (!run) return;
    this.running.delete(id);
    await run.impl.stop({ keepEngines });
    ctx.log.info({ resource: id, action: 'sync-stop', mode: run.mode, why }, `${id}: stopped (${why})`);
  }

  async stop(opts: { keepEngines: boolean } = { keepEngines: true }): Promise<void> {
    this.addresses.clear();
    for (const run of this.running.values()) await run.impl.stop(opts);
    this.running.clear();
  }
}

/**
 * An address left the selection (its NAT44Rule lost it): the targets still hold
 * its sessions, which no later resync would touch, so they go now.
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
