import { resourceId, type ResourceOf } from '../../api/kinds.ts';
import { STATELESS_TABLE, renderStatelessTable } from '../../engines/nft/stateless.ts';
import { stampTable } from '../../engines/nft/table.ts';
import { action, status } from '../common.ts';
import { Phase, Reason } from '../status.ts';
import type { PlanContext, Planner, ResourcePlan } from '../types.ts';

export function desiredStatelessTable(resources: readonly ResourceOf<'StatelessNAT44'>[], ctx: PlanContext) {
  const inputs = resources.map((r) => ({ ifname: ctx.ifname(r.spec.interface), mappings: r.spec.mappings }));
  return stampTable(renderStatelessTable(inputs), STATELESS_TABLE);
}

export const statelessNat44Planner: Planner<'StatelessNAT44'> = {
  kind: 'StatelessNAT44',
  paths: () => ({ contents: [], existence: [] }),
  plan(resources, observed, ctx) {
    if (resources.length === 0) return [];
    const { digest } = desiredStatelessTable(resources, ctx);
    const key = `${STATELESS_TABLE.family} ${STATELESS_TABLE.name}`;
    const present = observed.nftTables?.has(key) ?? false;
    const verb = !present ? 'create' : observed.nftTables?.get(key) === digest ? 'noop' : 'update';
    return resources.map((r): ResourcePlan => {
      const dev = ctx.ifname(r.spec.interface);
      const n = r.spec.mappings.length;
      const sample = r.spec.mappings
        .slice(0, 3)
        .map((m) => `${m.external}↔${m.internal}`)
        .join(', ');
      return {
        resource: resourceId(r),
        actions: [action(r, verb, `nft table ${key}`, `${n} mapping(s) on ${dev} without conntrack: ${sample}${n > 3 ? ', …' : ''}`)],
        status: status(Phase.Ready, Reason.Applied, `${n} mapping(s) on ${dev}`, {
          mappings: n,
          externalAddresses: r.spec.mappings.map((m) => m.external),
        }),
      };
    });
  },
};
