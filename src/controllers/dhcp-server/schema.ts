import { z } from 'zod';
import { ErrorCode } from '../../api/errors.ts';
import { kindApi } from '../../api/kinds.ts';
import { compareAddresses, domainName, duration, ifname, ipv4Address, ipv6Address } from '../../api/primitives.ts';

function pool(address: typeof ipv4Address) {
  return z
    .strictObject({
      start: address.describe('First address handed out.'),
      end: address.describe('Last address handed out.'),
    })
    .superRefine((p, ctx) => {
      if (compareAddresses(p.start, p.end) > 0)
        ctx.addIssue({
          code: 'custom',
          path: ['end'],
          message: `pool end ${p.end} is below its start ${p.start}`,
          params: { rdCode: ErrorCode.InvalidValue },
        });
    });
}

const leaseTime = duration({ minMs: 120_000, maxMs: 90 * 24 * 3_600_000 }).default('1h').describe('Lease time handed to clients (2m to 2160h, i.e. 90 days).');

export const dhcpv4ServerSpec = z.strictObject({
  interface: ifname.describe('Serve DHCPv4 on this interface.'),
  addressPool: pool(ipv4Address).describe('The range of addresses to lease.'),
  leaseTime,
  router: ipv4Address.optional().describe('Default gateway for clients (option 3); in HA, the VIP.'),
  dnsServers: z.array(ipv4Address).optional().describe('DNS servers for clients (option 6).'),
  domain: domainName.optional().describe('Domain name for clients (option 15).'),
  authoritative: z
    .boolean()
    .default(true)
    .describe('Answer requests for unknown leases (rebinds after failover) instead of ignoring them.'),
  serveDNS: z.boolean().default(false).describe('Also answer DNS on this interface (off: DHCP only).'),
});

export const dhcpv6ServerSpec = z
  .strictObject({
    interface: ifname.describe('Serve DHCPv6 on this interface.'),
    mode: z.enum(['stateful', 'stateless']).default('stateful').describe('stateful: lease addresses; stateless: options only.'),
    addressPool: pool(ipv6Address).optional().describe('The range of addresses to lease (stateful mode).'),
    prefixLength: z.number().int().min(64).max(128).default(64).describe('Prefix length of the LAN the pool is in.'),
    leaseTime,
    dnsServers: z.array(ipv6Address).optional().describe('DNS servers for clients.'),
    domain: domainName.optional().describe('Domain search list entry for clients.'),
    routerAdvertisements: z
      .boolean()
      .default(true)
      .describe('Send router advertisements (managed flag set in stateful mode) so clients find the router and ask DHCPv6.'),
    serveDNS: z.boolean().default(false).describe('Also answer DNS on this interface (off: DHCP only).'),
  })
  .superRefine((s, ctx) => {
    if (s.mode === 'stateful' && !s.addressPool)
      ctx.addIssue({
        code: 'custom',
        path: ['addressPool'],
        message: 'stateful mode needs an addressPool',
        params: { rdCode: ErrorCode.MissingField },
      });
  });

declare module '../../api/kinds.ts' { interface KindSpecs { DHCPv4Server: typeof dhcpv4ServerSpec; DHCPv6Server: typeof dhcpv6ServerSpec } }

export const dhcpv4ServerApi = kindApi({
  kind: 'DHCPv4Server', spec: dhcpv4ServerSpec, controller: 'dhcpv4-server', statusFields: ['leaseCount', 'leaseFile', 'process'],
  description: 'A DHCPv4 server (dnsmasq) with its lease file under the state directory.',
});

export const dhcpv6ServerApi = kindApi({
  kind: 'DHCPv6Server', spec: dhcpv6ServerSpec, controller: 'dhcpv6-server', statusFields: ['leaseCount', 'leaseFile', 'process'],
  description: 'A DHCPv6 server (dnsmasq) with its lease file under the state directory.',
});
