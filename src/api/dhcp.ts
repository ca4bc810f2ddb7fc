import { z } from 'zod';
import { ErrorCode } from './errors.ts';
import { compareAddresses, domainName, duration, ifname, ipv4Address, ipv6Address, resourceRef } from './primitives.ts';
import { targetFields, uniqueTargets } from './target.ts';
import { whenSchema } from './when.ts';

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
export type DHCPv4ServerSpec = z.infer<typeof dhcpv4ServerSpec>;

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
export type DHCPv6ServerSpec = z.infer<typeof dhcpv6ServerSpec>;

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
export type DHCPv6PrefixDelegationSpec = z.infer<typeof dhcpv6PrefixDelegationSpec>;

const RSYNC_OWNED = [/^-e$/, /^--rsh(=|$)/, /^--rsync-path(=|$)/];

/** Bounds for numeric rsync options: a timeout past them would outlast routerd's own push deadline timer. */
const RSYNC_NUMERIC_MAX: Readonly<Record<string, number>> = { timeout: 3600, contimeout: 3600, 'max-delete': 1_000_000, bwlimit: 10_000_000, 'block-size': 131_072, 'compress-level': 9 };

/** A plain `--name` or `--name=value` of letters, digits and . , _ / : = + - (no spaces); numbers within bounds. */
export function rsyncOptionProblem(o: string): string | undefined {
  const m = /^(--?[a-zA-Z][a-zA-Z0-9-]*)(?:=([A-Za-z0-9.,_/:=+-]*))?$/.exec(o);
  if (!m) return `"${o}" is not a plain rsync option (--name or --name=value, no spaces or quotes)`;
  const name = m[1]!.replace(/^-+/, '');
  const max = RSYNC_NUMERIC_MAX[name];
  if (max !== undefined) {
    if (m[2] === undefined || !/^\d{1,10}$/.test(m[2])) return `${m[1]} needs a whole number, e.g. ${m[1]}=30`;
    const n = Number(m[2]);
    if (n > max || (name.endsWith('timeout') && n < 1)) return `${o}: ${m[1]} must be ${name.endsWith('timeout') ? 1 : 0}-${max}`;
  }
  return undefined;
}

const rsyncOptions = z
  .array(z.string())
  .default([])
  .superRefine((opts, ctx) => {
    opts.forEach((o, i) => {
      if (!o.startsWith('-'))
        ctx.addIssue({ code: 'custom', path: [i], message: `"${o}" is not an rsync option`, params: { rdCode: ErrorCode.InvalidOption } });
      else if (RSYNC_OWNED.some((re) => re.test(o)))
        ctx.addIssue({
          code: 'custom',
          path: [i],
          message: `"${o}" is set by routerd; use sshOptions for ssh settings`,
          params: { rdCode: ErrorCode.InvalidOption },
        });
      else {
        const problem = rsyncOptionProblem(o);
        if (problem) ctx.addIssue({ code: 'custom', path: [i], message: problem, params: { rdCode: ErrorCode.InvalidOption } });
      }
    });
  })
  .describe('Extra rsync options; --timeout=N replaces the default --timeout=60.');

function leaseSyncSpec(sourceKind: string) {
  return z
    .strictObject({
      source: z
        .strictObject({ resource: resourceRef([sourceKind]).describe(`The ${sourceKind} whose lease file is copied.`) })
        .describe('Where the leases come from; the file path is derived from its kind and name.'),
      interval: duration({ minMs: 1000 }).default('30s').describe('Sync at least this often (and whenever the lease file changes).'),
      targets: z
        .array(z.strictObject({ ...targetFields, options: rsyncOptions }))
        .min(1)
        .describe('Standby routers that receive the lease file.'),
      when: whenSchema.optional().describe('Gate: sync only while this holds, usually the VIP role being master.'),
    })
    .superRefine((s, ctx) => uniqueTargets(s.targets, ctx));
}

export const dhcpv4ServerLeaseSyncSpec = leaseSyncSpec('DHCPv4Server');
export const dhcpv6ServerLeaseSyncSpec = leaseSyncSpec('DHCPv6Server');
export const dhcpv6PrefixDelegationLeaseSyncSpec = leaseSyncSpec('DHCPv6PrefixDelegation');
export type LeaseSyncSpec = z.infer<typeof dhcpv4ServerLeaseSyncSpec>;
