import { snatAddress } from '../../kernel/conntrack.ts';
import { action } from '../common.ts';
import { kindModule } from '../kind-module.ts';
import { NAT44RuleController } from './controller.ts';
import { nat44RulePlanner } from './plan.ts';
import { nat44RuleApi } from './schema.ts';

export const nat44RuleKind = kindModule({
  api: nat44RuleApi,
  planner: nat44RulePlanner,
  newController: () => new NAT44RuleController(),
  removal: (r, observed) => {
    const addrs = [r.spec.snat.address, ...(r.spec.snat.addresses ?? [])].filter((a): a is string => a !== undefined);
    const set = new Set(addrs);
    const flows = observed.natFlows?.entries.filter((e) => set.has(snatAddress(e) ?? '')).length;
    const what = addrs.length ? `SNAT to ${addrs.join(', ')}` : 'masquerade';
    return [
      action(r, 'delete', `nft rules of NAT44Rule/${r.metadata.name}`, `${what} stops for ${r.spec.sources?.join(', ') ?? 'all sources'}${flows === undefined ? '' : `; ${flows} tracked flow(s) on those addresses lose their translation`}`),
    ];
  },
});
