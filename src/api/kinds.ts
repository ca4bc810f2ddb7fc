// Each kind's API facts: its schema, controller name, description, the status
// fields other resources may gate on and the references its spec holds. This
// is the schema side of a kind, not a second list of kinds: the ordered list is
// src/controllers/registry.ts, which api/ must not import (config/ loads these
// schemas, below controllers/). The compiler fails on a kind here with no
// module there (registry.ts, Unregistered), a module needs its kind here
// (KindModule<K extends Kind>), and test/unit/registry.test.ts checks that the
// entries stand in the registry's order.
import { z } from 'zod';
import { bfdSpec, bgpPeerSpec, bgpRouterSpec } from './bgp.ts';
import {
  dhcpv4ServerLeaseSyncSpec,
  dhcpv4ServerSpec,
  dhcpv6PrefixDelegationLeaseSyncSpec,
  dhcpv6PrefixDelegationSpec,
  dhcpv6ServerLeaseSyncSpec,
  dhcpv6ServerSpec,
} from './dhcp.ts';
import { nat44RuleSpec, nat44SessionSyncSpec, statelessNat44Spec } from './nat.ts';
import { interfaceSpec, virtualAddressSpec } from './network.ts';
import { nat44AddressPoolSpec } from './pool.ts';
import { API_VERSION, resourceName } from './primitives.ts';
import type { When } from './when.ts';

export const COMMON_STATUS_FIELDS = ['phase', 'reason', 'message', 'observedGeneration', 'lastTransitionTime'] as const;

interface KindEntry {
  readonly spec: z.ZodType;
  /** kebab-case controller name for `routerd serve --controllers`. */
  readonly controller: string;
  readonly description: string;
  readonly statusFields: readonly string[];
  /** Resource references in the spec (not counting `when`, which the loader walks itself). */
  readonly references?: (spec: never) => readonly RefUse[];
}

/** A reference from one resource to another, with the field path that holds it. */
export interface RefUse {
  readonly path: readonly (string | number)[];
  readonly target: string;
}

const sourceRef = (s: { readonly source: { readonly resource: string } }): RefUse[] => [{ path: ['spec', 'source', 'resource'], target: s.source.resource }];

export const KINDS = {
  Interface: {
    spec: interfaceSpec,
    controller: 'interface',
    description: 'Names a kernel interface so other resources can refer to it.',
    statusFields: ['ifname', 'up', 'operState', 'mac', 'addresses'],
  },
  VirtualAddress: {
    spec: virtualAddressSpec,
    controller: 'virtual-address',
    description: 'A floating address shared by the routers through VRRP (keepalived).',
    statusFields: ['role', 'since', 'roleReason', 'keepalived'],
  },
  NAT44Rule: {
    spec: nat44RuleSpec,
    controller: 'nat44-rule',
    description: 'Stateful source NAT (nftables) for traffic leaving an interface.',
    statusFields: ['snatAddress', 'snatAddresses'],
  },
  StatelessNAT44: {
    spec: statelessNat44Spec,
    controller: 'stateless-nat44',
    description: 'One-to-one floating IPs translated without conntrack.',
    statusFields: ['mappings', 'externalAddresses'],
  },
  DHCPv4Server: {
    spec: dhcpv4ServerSpec,
    controller: 'dhcpv4-server',
    description: 'A DHCPv4 server (dnsmasq) with its lease file under the state directory.',
    statusFields: ['leaseCount', 'leaseFile', 'process'],
  },
  DHCPv6Server: {
    spec: dhcpv6ServerSpec,
    controller: 'dhcpv6-server',
    description: 'A DHCPv6 server (dnsmasq) with its lease file under the state directory.',
    statusFields: ['leaseCount', 'leaseFile', 'process'],
  },
  DHCPv6PrefixDelegation: {
    spec: dhcpv6PrefixDelegationSpec,
    controller: 'dhcpv6-prefix-delegation',
    description: 'Requests a delegated IPv6 prefix on the WAN (dhcpcd).',
    statusFields: ['prefix', 'validLifetime', 'preferredLifetime', 'leaseFile', 'process'],
  },
  NAT44SessionSync: {
    spec: nat44SessionSyncSpec,
    controller: 'nat44-session-sync',
    description: 'Keeps selected NAT44 conntrack sessions warm on standby routers.',
    statusFields: ['targets', 'lastSyncTime', 'snatAddresses'],
    references: (s: z.output<typeof nat44SessionSyncSpec>) => [
      ...s.natRules.map((t, i) => ({ path: ['spec', 'natRules', i], target: t })),
      ...s.excludeNatRules.map((t, i) => ({ path: ['spec', 'excludeNatRules', i], target: t })),
    ],
  },
  DHCPv4ServerLeaseSync: {
    spec: dhcpv4ServerLeaseSyncSpec,
    controller: 'dhcpv4-server-lease-sync',
    description: 'Copies a DHCPv4Server lease file to standby routers (rsync over SSH).',
    statusFields: ['targets', 'lastSyncTime', 'leaseFile'],
    references: sourceRef,
  },
  DHCPv6ServerLeaseSync: {
    spec: dhcpv6ServerLeaseSyncSpec,
    controller: 'dhcpv6-server-lease-sync',
    description: 'Copies a DHCPv6Server lease file to standby routers (rsync over SSH).',
    statusFields: ['targets', 'lastSyncTime', 'leaseFile'],
    references: sourceRef,
  },
  DHCPv6PrefixDelegationLeaseSync: {
    spec: dhcpv6PrefixDelegationLeaseSyncSpec,
    controller: 'dhcpv6-prefix-delegation-lease-sync',
    description: 'Copies the prefix-delegation client state to standby routers (rsync over SSH).',
    statusFields: ['targets', 'lastSyncTime', 'leaseFile'],
    references: sourceRef,
  },
  NAT44AddressPool: {
    spec: nat44AddressPoolSpec,
    controller: 'bgp',
    description: 'SNAT addresses shared by N routers: one owner and one successor per address, announced over BGP.',
    statusFields: ['membersUp', 'owned', 'standby', 'assignments', 'since', 'ready', 'readySince', 'sync'],
    references: (s: z.output<typeof nat44AddressPoolSpec>) => [{ path: ['spec', 'bgpRouter'], target: s.bgpRouter }, ...(s.liveness ? [{ path: ['spec', 'liveness'], target: s.liveness }] : [])],
  },
  BFD: {
    spec: bfdSpec,
    controller: 'bgp',
    description: 'A BFD profile (FRR bfdd): detection timers for BGP sessions and pool members.',
    statusFields: ['sessions', 'up'],
  },
  BGPPeer: {
    spec: bgpPeerSpec,
    controller: 'bgp',
    description: 'A BGP session of a BGPRouter with an upstream router, optionally watched by BFD.',
    statusFields: ['state', 'bfd', 'prefixesSent'],
    references: (s: z.output<typeof bgpPeerSpec>) => [{ path: ['spec', 'routerRef'], target: s.routerRef }, ...(s.bfd ? [{ path: ['spec', 'bfd'], target: s.bfd }] : [])],
  },
  BGPRouter: {
    spec: bgpRouterSpec,
    controller: 'bgp',
    description: 'This node\'s BGP speaker (FRR bgpd, with zebra and bfdd).',
    statusFields: ['process', 'established', 'peers'],
  },
} as const satisfies Record<string, KindEntry>;

export type Kind = keyof typeof KINDS;
export const KIND_NAMES = Object.keys(KINDS) as Kind[];

export function isKind(s: string): s is Kind {
  return Object.hasOwn(KINDS, s);
}

export type SpecOf<K extends Kind> = z.output<(typeof KINDS)[K]['spec']>;

export const metadataSchema = z.strictObject({
  name: resourceName,
  labels: z.record(z.string(), z.string()).optional().describe('Free-form labels.'),
  annotations: z.record(z.string(), z.string()).optional().describe('Free-form annotations.'),
});
export type Metadata = z.infer<typeof metadataSchema>;

export interface ResourceOf<K extends Kind> {
  readonly apiVersion: typeof API_VERSION;
  readonly kind: K;
  readonly metadata: Metadata;
  readonly spec: SpecOf<K>;
}

export type AnyResource = { [K in Kind]: ResourceOf<K> }[Kind];

function buildResourceSchema(kind: Kind) {
  return z.strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(kind),
    metadata: metadataSchema,
    spec: KINDS[kind].spec,
  });
}

const resourceSchemas = new Map<Kind, ReturnType<typeof buildResourceSchema>>();

/** The whole-resource schema of one kind (strict: unknown fields are errors). */
export function resourceSchema(kind: Kind) {
  let s = resourceSchemas.get(kind);
  if (!s) resourceSchemas.set(kind, (s = buildResourceSchema(kind)));
  return s;
}

export function resourceId(r: { kind: string; metadata: { name: string } }): string {
  return `${r.kind}/${r.metadata.name}`;
}

export function isKindOf<K extends Kind>(r: AnyResource, kind: K): r is ResourceOf<K> & AnyResource {
  return r.kind === kind;
}

export function statusFieldsOf(kind: Kind): readonly string[] {
  return [...COMMON_STATUS_FIELDS, ...KINDS[kind].statusFields];
}

export function controllerNameOf(kind: Kind): string {
  return KINDS[kind].controller;
}

export function kindOfController(name: string): Kind | undefined {
  return KIND_NAMES.find((k) => KINDS[k].controller === name);
}

/** Resource references in a spec (not counting `when`, which the loader walks itself). */
export function referencesOf(r: AnyResource): RefUse[] {
  const entry: KindEntry = KINDS[r.kind];
  return [...(entry.references?.(r.spec as never) ?? [])];
}

export function whenOf(r: AnyResource): When | undefined {
  return 'when' in r.spec ? (r.spec.when as When | undefined) : undefined;
}
