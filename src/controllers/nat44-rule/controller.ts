// NAT44Rule → one nftables table (routerd_nat), replaced atomically when its
// digest differs from the one stamped on the live table.
import { resourceId, type AnyResource, type ResourceOf } from '../../api/kinds.ts';
import { applyTable, removeTable } from '../../engines/nft/apply.ts';
import { NAT_TABLE } from '../../engines/nft/nat.ts';
import type { Controller, ControllerContext, ReconcileInput } from '../controller.ts';
import { Phase, Reason } from '../status.ts';
import { MASQUERADE_WARNING, desiredNatTable, natTableKey, resolveNatRule } from './plan.ts';

export class NAT44RuleController implements Controller {
  readonly name = 'nat44-rule';
  readonly kinds = ['NAT44Rule'] as const;

  async reconcile(input: ReconcileInput, ctx: ControllerContext): Promise<void> {
    const rules = input.resources.filter((r): r is ResourceOf<'NAT44Rule'> & AnyResource => r.kind === 'NAT44Rule');
    const key = natTableKey();
    const present = input.observed.nftTables?.has(key) ?? false;
    if (rules.length === 0) {
      if (present) {
        const r = await removeTable(ctx.host, NAT_TABLE);
        ctx.metrics.nftApplies.inc({ table: key, outcome: r.ok ? 'removed' : 'error' });
        ctx.log.info({ action: 'nft-remove', table: key, outcome: r.ok ? 'ok' : 'error', durationMs: r.durationMs }, `removed ${key}`);
      }
      return;
    }
    const resolutions = rules.map((r) => ({ r, res: resolveNatRule(r, input.observed, input.planCtx) }));
    const resolved = resolutions.flatMap(({ res }) => (res.ok ? [res.rule] : []));
    const { text, digest } = desiredNatTable(resolved);
    let applyError: string | undefined;
    if (!present || input.observed.nftTables?.get(key) !== digest) {
      const r = await applyTable(ctx.host, text);
      ctx.metrics.nftApplies.inc({ table: key, outcome: r.ok ? 'applied' : 'error' });
      if (r.ok) ctx.log.info({ action: 'nft-apply', table: key, outcome: 'ok', rules: resolved.length, digest, durationMs: r.durationMs }, `applied ${key}`);
      else {
        applyError = r.error;
        ctx.log.error({ action: 'nft-apply', table: key, outcome: 'error', err: r.error, durationMs: r.durationMs }, `nft rejected ${key}`);
      }
    }
    const plans = new Map(input.plans.map((p) => [p.resource, p]));
    for (const { r, res } of resolutions) {
      const id = resourceId(r);
      const planned = plans.get(id)?.status;
      const gen = ctx.generation(id);
      const warnings = r.spec.snat.masquerade ? [MASQUERADE_WARNING] : [];
      if (!res.ok) ctx.status.set(id, { phase: Phase.Pending, reason: Reason.SNATAddressPending, message: res.message, observedGeneration: gen });
      else if (applyError) ctx.status.set(id, { phase: Phase.Failed, reason: Reason.ApplyFailed, message: `nft: ${applyError}`, observedGeneration: gen, warnings });
      else ctx.status.set(id, { ...planned!, phase: Phase.Ready, reason: Reason.Applied, observedGeneration: gen, table: key, warnings });
    }
  }

  async stop(): Promise<void> {
    // The table stays: NAT keeps working while routerd restarts.
  }
}
