import { z } from 'zod';
import { kindApi } from '../../api/kinds.ts';
import { ifname } from '../../api/primitives.ts';

export const dhcpv6PrefixDelegationSpec = z.strictObject({
  interface: ifname.describe('The WAN interface to request a delegated prefix on.'),
  prefixLength: z.number().int().min(32).max(64).optional().describe('Prefix length to ask for (a hint to the server).'),
  iaid: z
    .number()
    .int()
    .min(0)
    .max(0xffffffff)
    .optional()
    .describe('IA_PD identifier; defaults to one derived from the resource name, so both routers use the same.'),
});

declare module '../../api/kinds.ts' { interface KindSpecs { DHCPv6PrefixDelegation: typeof dhcpv6PrefixDelegationSpec } }

export const prefixDelegationApi = kindApi({
  kind: 'DHCPv6PrefixDelegation', spec: dhcpv6PrefixDelegationSpec, controller: 'dhcpv6-prefix-delegation', statusFields: ['prefix', 'validLifetime', 'preferredLifetime', 'leaseFile', 'process'],
  description: 'Requests a delegated IPv6 prefix on the WAN (dhcpcd).',
});
