// NAT44Rule → one nftables table (routerd_nat), replaced atomically when its
// digest differs from the one stamped on the live table; then every flow bound
// to a managed address is judged against the new rules and exactly the invalid
// ones are removed (seed 004). The ruleset goes first, so no new flow gets an
// old translation; the cleanup follows in one conntrack batch.
import { resourceId } from '../../api/kinds.ts';
import { applyTable, removeTable } from '../../engines/nft/apply.ts';
import { NAT_TABLE, type ResolvedNatRule } from '../../engines/nft/nat.ts';
import { deleteExact } from '../../kernel/ct-delete.ts';
import { Outcome, type Controller, type ControllerContext, type ReconcileInput, type ReconcileOutcome } from '../controller.ts';
import { Phase, Reason } from '../status.ts';
import type { Observed } from '../types.ts';
import { deleteAddressFlows, dumpNatFlows, managedAddresses, ruleAddresses, runCleanup } from './flows.ts';
import { computeImpact, deletionPlan, describeGroups, REASON_TEXT, shrunkAddresses, type ImpactGroup } from './impact.ts';
import { LEGACY_FREEZE_TABLE, MASQUERADE_WARNING, type NatPayload } from './plan.ts';
import { natTableKey } from './resolve.ts';
import { readNatState, writeNatState } from './state.ts';

interface ReconfigOutcome {
  readonly groups: readonly ImpactGroup[];
  readonly kept: number;
  readonly removed: number;
  readonly error?: string;
}

export class NAT44RuleController implements Controller<'NAT44Rule', NatPayload> {
  readonly name = 'nat44-rule';
  readonly kind = 'NAT44Rule';
  private lastReconfig: (ReconfigOutcome & { time: string }) | undefined;

  async reconcile(input: ReconcileInput<'NAT44Rule', NatPayload>, ctx: ControllerContext): Promise<ReconcileOutcome> {
    const { table, digest, tableCurrent, resolved, resolutions } = input.payload;
    const key = natTableKey();
    const state = await readNatState(ctx.host, ctx.paths);
    if (input.payload.removeLegacyFreeze) {
      const r = await removeTable(ctx.host, LEGACY_FREEZE_TABLE);
      ctx.log.warn({ action: 'nft-remove', table: LEGACY_FREEZE_TABLE.name, outcome: r.ok ? 'ok' : 'error' }, 'removed a freeze table left by an earlier routerd');
    }
    let applyError: string | undefined;
    let cleanupError: string | undefined;
    if (!tableCurrent) {
      const r = table ? await applyTable(ctx.host, table.text) : await removeTable(ctx.host, NAT_TABLE);
      ctx.metrics.nftApplies.inc({ table: key, outcome: r.ok ? (table ? 'applied' : 'removed') : 'error' });
      if (r.ok) ctx.log.info({ action: table ? 'nft-apply' : 'nft-remove', table: key, outcome: 'ok', rules: resolved.length, digest, durationMs: r.durationMs }, `${table ? 'applied' : 'removed'} ${key}`);
      else {
        applyError = r.error;
        ctx.log.error({ action: 'nft-apply', table: key, outcome: 'error', err: r.error, durationMs: r.durationMs }, `nft rejected ${key}`);
      }
    }
    if (!applyError && (!tableCurrent || !state || state.digest !== digest || state.cleanupPending)) {
      const outcome = await this.reconfigureFlows(ctx, input.observed, resolved, digest, state);
      this.lastReconfig = { ...outcome, time: new Date().toISOString() };
      cleanupError = outcome.error;
    }
    const plans = new Map(input.plans.map((p) => [p.resource, p]));
    for (const r of input.resources) {
      const id = resourceId(r);
      const res = resolutions.get(id)!;
      const planned = plans.get(id)?.status;
      const gen = ctx.generation(id);
      const warnings = r.spec.snat.masquerade ? [MASQUERADE_WARNING] : [];
      const flows = this.flowsOf(r.metadata.name);
      if (!res.ok) ctx.status.set(id, { phase: Phase.Pending, reason: Reason.SNATAddressPending, message: res.message, observedGeneration: gen });
      else if (applyError) ctx.status.set(id, { phase: Phase.Failed, reason: Reason.ApplyFailed, message: `nft: ${applyError}`, observedGeneration: gen, warnings });
      else if (this.lastReconfig?.error)
        ctx.status.set(id, { ...planned!, phase: Phase.Degraded, reason: Reason.FlowCleanupFailed, message: this.lastReconfig.error, observedGeneration: gen, table: key, warnings, ...flows });
      else ctx.status.set(id, { ...planned!, phase: Phase.Ready, reason: Reason.Applied, observedGeneration: gen, table: key, warnings, ...flows });
    }
    if (applyError) return Outcome.error(`nft: ${applyError}`);
    // A cleanup that failed is owed: its state says so, and the next pass retries it.
    if (cleanupError) return Outcome.error(`NAT44 flow cleanup: ${cleanupError}`);
    return Outcome.ok;
  }

  private flowsOf(rule: string): Record<string, unknown> {
    const rc = this.lastReconfig;
    if (!rc) return {};
    const mine = rc.groups.filter((g) => g.rule === rule);
    return {
      lastReconfig: {
        time: rc.time,
        flowsKept: mine.filter((g) => !g.reason).reduce((n, g) => n + g.count, 0),
        flowsRemoved: mine.filter((g) => g.reason).reduce((n, g) => n + g.count, 0),
        removedByReason: Object.fromEntries(mine.filter((g) => g.reason).map((g) => [`${g.address} (${REASON_TEXT[g.reason!]})`, g.count])),
      },
    };
  }

  /** Judge the flows on every managed address against the new rules; delete exactly the invalid ones. */
  private async reconfigureFlows(
    ctx: ControllerContext,
    observed: Observed,
    resolved: readonly ResolvedNatRule[],
    digest: string,
    state: Awaited<ReturnType<typeof readNatState>>,
  ): Promise<ReconfigOutcome> {
    const t0 = performance.now();
    const addressesOf = ruleAddresses(observed);
    const current = managedAddresses(resolved, addressesOf);
    // Flows on an address no rule uses any more are all invalid: one delete each, no need to read them.
    const gone = (state?.addresses ?? []).filter((a) => !current.includes(a));
    // Of the others, only addresses whose allowance shrank can hold invalid flows (all of them after a failed cleanup or without state).
    const judged = !state || state.cleanupPending ? current : shrunkAddresses(state.rules, resolved, addressesOf).filter((a) => current.includes(a));
    const save = (cleanupPending: boolean) =>
      writeNatState(ctx.host, ctx.paths, { digest, rules: resolved, addresses: current, appliedAt: new Date().toISOString(), ...(cleanupPending ? { cleanupPending } : {}) });
    try {
      const entries = await dumpNatFlows(ctx.host, judged);
      const tDump = performance.now();
      const impact = computeImpact(entries, resolved, new Set(judged), addressesOf);
      const cidrs = [...(state?.rules ?? []), ...resolved].flatMap((r) => r.sources);
      const plan = deletionPlan(impact, cidrs);
      const tJudge = performance.now();
      await runCleanup(ctx.host, plan.lines);
      const exact = await deleteExact(ctx.host, plan.exact);
      const stages = { dumpMs: Math.round(tDump - t0), judgeMs: Math.round(tJudge - tDump), cleanupMs: Math.round(performance.now() - tJudge) };
      const goneGroups: ImpactGroup[] = [];
      for (const a of gone) goneGroups.push({ address: a, reason: 'address-removed', count: await deleteAddressFlows(ctx.host, a) });
      await save(false);
      const groups = [...impact.groups, ...goneGroups];
      const removed = impact.removed.length + goneGroups.reduce((n, g) => n + g.count, 0);
      const durationMs = Math.round(performance.now() - t0);
      ctx.metrics.natReconfigFlows.inc({ outcome: 'kept' }, impact.kept.length);
      ctx.metrics.natReconfigFlows.inc({ outcome: 'removed' }, removed);
      ctx.metrics.natReconfigSeconds.observe(durationMs / 1000);
      ctx.log.info(
        {
          action: 'nat-reconfig',
          outcome: 'ok',
          judgedAddresses: judged,
          removedAddresses: gone,
          kept: impact.kept.length,
          removed,
          scans: plan.scans + gone.length,
          exactDeletes: plan.exact.length,
          exactMissing: exact.missing,
          ...stages,
          groups,
          durationMs,
        },
        `NAT44 flows: ${describeGroups(groups)}${current.length > judged.length ? ` (flows on ${current.filter((a) => !judged.includes(a)).join(', ')} stay valid: nothing narrowed there)` : ''}`,
      );
      return { groups, kept: impact.kept.length, removed };
    } catch (e) {
      await save(true).catch(() => undefined);
      const error = (e as Error).message;
      ctx.log.error({ action: 'nat-reconfig', outcome: 'error', err: error, durationMs: Math.round(performance.now() - t0) }, 'NAT44 flow cleanup failed; retrying on the next pass');
      return { groups: [], kept: 0, removed: 0, error };
    }
  }

  async stop(): Promise<void> {
    // The table stays: NAT keeps working while routerd restarts.
  }
}
