import { z } from 'zod';
import { ErrorCode } from '../../api/errors.ts';
import { kindApi, type KindSpecs, type RefUse } from '../../api/kinds.ts';
import { duration, resourceRef } from '../../api/primitives.ts';
import { targetFields, uniqueTargets } from '../../api/target.ts';
import { whenSchema } from '../../api/when.ts';

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

declare module '../../api/kinds.ts' { interface KindSpecs { DHCPv4ServerLeaseSync: typeof dhcpv4ServerLeaseSyncSpec; DHCPv6ServerLeaseSync: typeof dhcpv6ServerLeaseSyncSpec; DHCPv6PrefixDelegationLeaseSync: typeof dhcpv6PrefixDelegationLeaseSyncSpec } }

type LeaseSyncKind = 'DHCPv4ServerLeaseSync' | 'DHCPv6ServerLeaseSync' | 'DHCPv6PrefixDelegationLeaseSync';

/** The three lease syncs differ in their source only: same status fields, one reference (the source). */
function leaseSyncApi<K extends LeaseSyncKind>(kind: K, spec: KindSpecs[K] & z.ZodType, controller: string, description: string) {
  const references = (s: { readonly source: { readonly resource: string } }): RefUse[] => [{ path: ['spec', 'source', 'resource'], target: s.source.resource }];
  return kindApi<K>({ kind, spec, controller, description, statusFields: ['targets', 'lastSyncTime', 'leaseFile'], references });
}

export const dhcpv4LeaseSyncApi = leaseSyncApi('DHCPv4ServerLeaseSync', dhcpv4ServerLeaseSyncSpec, 'dhcpv4-server-lease-sync', 'Copies a DHCPv4Server lease file to standby routers (rsync over SSH).');
export const dhcpv6LeaseSyncApi = leaseSyncApi('DHCPv6ServerLeaseSync', dhcpv6ServerLeaseSyncSpec, 'dhcpv6-server-lease-sync', 'Copies a DHCPv6Server lease file to standby routers (rsync over SSH).');
export const prefixDelegationLeaseSyncApi = leaseSyncApi('DHCPv6PrefixDelegationLeaseSync', dhcpv6PrefixDelegationLeaseSyncSpec, 'dhcpv6-prefix-delegation-lease-sync', 'Copies the prefix-delegation client state to standby routers (rsync over SSH).');
