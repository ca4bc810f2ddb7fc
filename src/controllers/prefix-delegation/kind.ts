import { action } from '../common.ts';
import { kindModule } from '../kind-module.ts';
import { PrefixDelegationController } from './controller.ts';
import { prefixDelegationPlanner } from './plan.ts';
import { prefixDelegationApi } from './schema.ts';

export const prefixDelegationKind = kindModule({
  api: prefixDelegationApi,
  planner: prefixDelegationPlanner,
  newController: () => new PrefixDelegationController(),
  removal: (r) => [action(r, 'delete', `dhcpcd for ${r.metadata.name}`, `dhcpcd stopped on ${r.spec.interface} (no Release sent; the lease state stays)`)],
});
