// Every kind routerd plans and reconciles, once each, in dependency order:
// what a later planner reads (a VIP's role, a NAT rule's SNAT addresses), an
// earlier one projects, and the manager reconciles in the same order. This is
// the only list: planning, the controllers `routerd serve` runs and removal
// plans all derive from it, and so do the lookups by kind name (kinds.ts): each
// module carries its kind's API facts (the kind folder's schema.ts).
import type { Kind } from '../api/kinds.ts';
import type { Controller } from './controller.ts';
import { dhcpv4ServerKind, dhcpv6ServerKind } from './dhcp-server/kind.ts';
import { addressPoolKind, bfdKind, bgpPeerKind, bgpRouterKind } from './address-pool/kind.ts';
import { interfaceKind } from './interface/kind.ts';
import type { KindModule } from './kind-module.ts';
import { dhcpv4LeaseSyncKind, dhcpv6LeaseSyncKind, prefixDelegationLeaseSyncKind } from './lease-sync/kind.ts';
import { nat44RuleKind } from './nat44-rule/kind.ts';
import { prefixDelegationKind } from './prefix-delegation/kind.ts';
import { sessionSyncKind } from './session-sync/kind.ts';
import { statelessNat44Kind } from './stateless-nat44/kind.ts';
import { virtualAddressKind } from './virtual-address/kind.ts';

export const KIND_MODULES = [
  interfaceKind,
  virtualAddressKind,
  nat44RuleKind,
  statelessNat44Kind,
  dhcpv4ServerKind,
  dhcpv6ServerKind,
  prefixDelegationKind,
  sessionSyncKind,
  dhcpv4LeaseSyncKind,
  dhcpv6LeaseSyncKind,
  prefixDelegationLeaseSyncKind,
  addressPoolKind,
  bfdKind,
  bgpPeerKind,
  bgpRouterKind,
] as const;

/** A kind declared in KindSpecs (api/kinds.ts) with no module here fails to compile. */
type Unregistered = Exclude<Kind, (typeof KIND_MODULES)[number]['kind']>;
const everyKindRegistered: [Unregistered] extends [never] ? true : Unregistered = true;
void everyKindRegistered;

/** One module, with its payload type forgotten: what generic code (plan, manager) handles. */
export type AnyKindModule = { [K in Kind]: KindModule<K, unknown> }[Kind];

export const MODULES: readonly AnyKindModule[] = KIND_MODULES as unknown as readonly AnyKindModule[];

export function moduleOf<K extends Kind>(kind: K): KindModule<K, unknown> {
  return MODULES.find((m) => m.kind === kind) as unknown as KindModule<K, unknown>;
}

/** The modules that make a controller (the others' kinds are reconciled by one of these: Controller.alsoKinds). */
const CONTROLLING = MODULES.filter((m) => m.newController !== undefined);

/** Controller names, in reconcile order. */
export const CONTROLLER_NAMES = CONTROLLING.map((m) => m.api.controller);

export function makeControllers(names?: readonly string[]): Controller[] {
  const unknown = (names ?? []).filter((n) => !CONTROLLER_NAMES.includes(n));
  if (unknown.length) throw new Error(`unknown controller(s) ${unknown.join(', ')}; available: ${CONTROLLER_NAMES.join(', ')}`);
  const wanted = new Set(names ?? CONTROLLER_NAMES);
  return CONTROLLING.filter((m) => wanted.has(m.api.controller)).map((m) => m.newController!() as unknown as Controller);
}
