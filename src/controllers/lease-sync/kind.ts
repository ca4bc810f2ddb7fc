import { controllerNameOf } from '../../api/kinds.ts';
import { syncRemoval } from '../common.ts';
import { kindModule } from '../kind-module.ts';
import { LeaseSyncController } from './controller.ts';
import { dhcpv4LeaseSyncPlanner, dhcpv6LeaseSyncPlanner, prefixDelegationLeaseSyncPlanner } from './plan.ts';

export const dhcpv4LeaseSyncKind = kindModule({
  kind: 'DHCPv4ServerLeaseSync',
  planner: dhcpv4LeaseSyncPlanner,
  newController: () => new LeaseSyncController('DHCPv4ServerLeaseSync', controllerNameOf('DHCPv4ServerLeaseSync')),
  removal: (r) => syncRemoval(r),
});

export const dhcpv6LeaseSyncKind = kindModule({
  kind: 'DHCPv6ServerLeaseSync',
  planner: dhcpv6LeaseSyncPlanner,
  newController: () => new LeaseSyncController('DHCPv6ServerLeaseSync', controllerNameOf('DHCPv6ServerLeaseSync')),
  removal: (r) => syncRemoval(r),
});

export const prefixDelegationLeaseSyncKind = kindModule({
  kind: 'DHCPv6PrefixDelegationLeaseSync',
  planner: prefixDelegationLeaseSyncPlanner,
  newController: () => new LeaseSyncController('DHCPv6PrefixDelegationLeaseSync', controllerNameOf('DHCPv6PrefixDelegationLeaseSync')),
  removal: (r) => syncRemoval(r),
});
