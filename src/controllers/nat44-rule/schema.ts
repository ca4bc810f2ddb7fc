import { z } from 'zod';
import { ErrorCode } from '../../api/errors.ts';
import { kindApi } from '../../api/kinds.ts';
import { ifname, ipv4Address, networkCidr, portRange, uniqueList } from '../../api/primitives.ts';

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

declare module '../../api/kinds.ts' { interface KindSpecs { NAT44Rule: typeof nat44RuleSpec } }

export const nat44RuleApi = kindApi({
  kind: 'NAT44Rule', spec: nat44RuleSpec, controller: 'nat44-rule', statusFields: ['snatAddress', 'snatAddresses'],
  description: 'Stateful source NAT (nftables) for traffic leaving an interface.',
});
