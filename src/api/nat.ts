import { z } from 'zod';
import { ErrorCode } from './errors.ts';
import { duration, ifname, ipv4Address, networkCidr, portRange, resourceRef } from './primitives.ts';
import { targetFields, uniqueTargets } from './target.ts';
import { whenSchema } from './when.ts';

function uniqueList<T extends z.ZodType<string>>(item: T, what: string) {
  return z.array(item).superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((v, i) => {
      if (seen.has(v))
        ctx.addIssue({ code: 'custom', path: [i], message: `${what} "${v}" is listed twice`, params: { rdCode: ErrorCode.DuplicateName } });
      seen.add(v);
    });
  });
}

const SNAT_FORMS = ['address', 'addresses', 'fromInterface', 'masquerade'] as const;

export const snatSpec = z
  .strictObject({
    address: ipv4Address.optional().describe('Translate to this address (it should move with the VIP).'),
    addresses: uniqueList(ipv4Address, 'address').min(1).optional().describe('Translate to these addresses.'),
    fromInterface: ifname.optional().describe('Translate to the first IPv4 address of this interface, read live.'),
    masquerade: z
      .literal(true)
      .optional()
      .describe('Masquerade. The kernel drops masqueraded flows when the address goes away: prefer address for HA.'),
  })
  .superRefine((s, ctx) => {
    const set = SNAT_FORMS.filter((k) => s[k] !== undefined);
    if (set.length !== 1)
      ctx.addIssue({
        code: 'custom',
        message: `snat needs exactly one of ${SNAT_FORMS.join(', ')} (found ${set.length === 0 ? 'none' : set.join(', ')})`,
        params: { rdCode: set.length === 0 ? ErrorCode.MissingField : ErrorCode.Conflict },
      });
  });
export type SnatSpec = z.infer<typeof snatSpec>;

export const nat44RuleSpec = z.strictObject({
  outInterface: ifname.describe('Translate packets leaving through this interface.'),
  sources: uniqueList(networkCidr(4), 'source')
    .min(1)
    .default(['0.0.0.0/0'])
    .describe('Source prefixes to translate; default all. More specific rules win over broader ones.'),
  snat: snatSpec.describe('What to translate the source to: exactly one of address, addresses, fromInterface, masquerade.'),
  portRange: portRange.optional().describe('Source ports to use for translated flows, e.g. "20000-60000".'),
  random: z.boolean().default(false).describe('Randomise the translated source port (fully-random).'),
});
export type NAT44RuleSpec = z.infer<typeof nat44RuleSpec>;

export const statelessNat44Spec = z.strictObject({
  interface: ifname.describe('The external interface, where the floating addresses live.'),
  mappings: z
    .array(
      z.strictObject({
        external: ipv4Address.describe('The floating (public) address.'),
        internal: ipv4Address.describe('The internal host it maps to, one to one.'),
      }),
    )
    .min(1)
    .describe('One-to-one address mappings; translated without conntrack.'),
});
export type StatelessNAT44Spec = z.infer<typeof statelessNat44Spec>;

export const SESSION_SYNC_MODES = ['snapshot', 'stream', 'conntrackd'] as const;

export const nat44SessionSyncSpec = z
  .strictObject({
    mode: z
      .enum(SESSION_SYNC_MODES)
      .default('snapshot')
      .describe('snapshot: periodic dump and restore; stream: follow conntrack events plus periodic resync; conntrackd: run conntrackd.'),
    interval: duration({ minMs: 100 })
      .optional()
      .describe('snapshot: how often to dump and restore (default 2s). stream: full resync and prune period (default 30s).'),
    natRules: z
      .array(resourceRef(['NAT44Rule']))
      .default([])
      .describe('NAT44Rules whose SNAT addresses (from their status) are mirrored.'),
    excludeNatRules: z
      .array(resourceRef(['NAT44Rule']))
      .default([])
      .describe('NAT44Rules whose SNAT addresses are left out even if another rule shares them.'),
    snatAddresses: uniqueList(ipv4Address, 'address').default([]).describe('Static SNAT addresses to mirror, in addition to natRules.'),
    targets: z
      .array(
        z.strictObject({
          ...targetFields,
          restoreCommand: z
            .array(z.string().min(1))
            .min(1)
            .default(['conntrack'])
            .describe('Command run on the target to restore entries; [sudo, conntrack] when the user needs elevation.'),
        }),
      )
      .min(1)
      .describe('Standby routers that receive the sessions.'),
    when: whenSchema.optional().describe('Gate: sync only while this holds, usually the VIP role being master.'),
  })
  .superRefine((s, ctx) => {
    if (s.natRules.length === 0 && s.snatAddresses.length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['natRules'],
        message: 'select sessions with natRules or snatAddresses (both are empty)',
        params: { rdCode: ErrorCode.MissingField },
      });
    uniqueTargets(s.targets, ctx);
  });
export type NAT44SessionSyncSpec = z.infer<typeof nat44SessionSyncSpec>;

export const DEFAULT_SNAPSHOT_INTERVAL = '2s';
export const DEFAULT_STREAM_RESYNC_INTERVAL = '30s';
