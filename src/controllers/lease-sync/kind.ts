import { syncRemoval } from '../common.ts';
import { kindModule } from '../kind-module.ts';
import { LeaseSyncController } from './controller.ts';
import { dhcpv4LeaseSyncPlanner, dhcpv6LeaseSyncPlanner, prefixDelegationLeaseSyncPlanner } from './plan.ts';
import { dhcpv4LeaseSyncApi, dhcpv6LeaseSyncApi, prefixDelegationLeaseSyncApi } from './schema.ts';

export const dhcpv4LeaseSyncKind = kindModule({
  api: dhcpv4LeaseSyncApi,
  planner: dhcpv4LeaseSyncPlanner,
  newController: () => new LeaseSyncController('DHCPv4ServerLeaseSync', dhcpv4LeaseSyncApi.controller),
  removal: (r) => syncRemoval(r),
});

export const dhcpv6LeaseSyncKind = kindModule({
  api: dhcpv6LeaseSyncApi,
  planner: dhcpv6LeaseSyncPlanner,
  newController: () => new LeaseSyncController('DHCPv6ServerLeaseSync', dhcpv6LeaseSyncApi.controller),
  removal: (r) => syncRemoval(r),
});

export const prefixDelegationLeaseSyncKind = kindModule({
  api: prefixDelegationLeaseSyncApi,
  planner: prefixDelegationLeaseSyncPlanner,
  newController: () => new LeaseSyncController('DHCPv6PrefixDelegationLeaseSync', prefixDelegationLeaseSyncApi.controller),
  removal: (r) => syncRemoval(r),
});
