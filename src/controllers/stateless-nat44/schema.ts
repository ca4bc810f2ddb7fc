import { z } from 'zod';
import { kindApi } from '../../api/kinds.ts';
import { ifname, ipv4Address } from '../../api/primitives.ts';

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

declare module '../../api/kinds.ts' { interface KindSpecs { StatelessNAT44: typeof statelessNat44Spec } }

export const statelessNat44Api = kindApi({
  kind: 'StatelessNAT44', spec: statelessNat44Spec, controller: 'stateless-nat44', statusFields: ['mappings', 'externalAddresses'],
  description: 'One-to-one floating IPs translated without conntrack.',
});
