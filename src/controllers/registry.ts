// The controllers routerd can run, by their kebab-case name.
import { BgpController } from './address-pool/controller.ts';
import type { Controller } from './controller.ts';
import { DhcpServerController } from './dhcp-server/controller.ts';
import { InterfaceController } from './interface/controller.ts';
import { LeaseSyncController } from './lease-sync/controller.ts';
import { NAT44RuleController } from './nat44-rule/controller.ts';
import { PrefixDelegationController } from './prefix-delegation/controller.ts';
import { SessionSyncController } from './session-sync/controller.ts';
import { StatelessNAT44Controller } from './stateless-nat44/controller.ts';
import { VirtualAddressController } from './virtual-address/controller.ts';

export const CONTROLLER_FACTORIES: Readonly<Record<string, () => Controller>> = {
  interface: () => new InterfaceController(),
  'virtual-address': () => new VirtualAddressController(),
  'nat44-rule': () => new NAT44RuleController(),
  'dhcpv4-server': () => new DhcpServerController('DHCPv4Server', 'dhcpv4-server'),
  'dhcpv6-server': () => new DhcpServerController('DHCPv6Server', 'dhcpv6-server'),
  'dhcpv6-prefix-delegation': () => new PrefixDelegationController(),
  'dhcpv4-server-lease-sync': () => new LeaseSyncController('DHCPv4ServerLeaseSync', 'dhcpv4-server-lease-sync'),
  'dhcpv6-server-lease-sync': () => new LeaseSyncController('DHCPv6ServerLeaseSync', 'dhcpv6-server-lease-sync'),
  'dhcpv6-prefix-delegation-lease-sync': () => new LeaseSyncController('DHCPv6PrefixDelegationLeaseSync', 'dhcpv6-prefix-delegation-lease-sync'),
  'stateless-nat44': () => new StatelessNAT44Controller(),
  'nat44-session-sync': () => new SessionSyncController(),
  bgp: () => new BgpController(),
};

export const CONTROLLER_NAMES = Object.keys(CONTROLLER_FACTORIES);

export function makeControllers(names?: readonly string[]): Controller[] {
  const unknown = (names ?? []).filter((n) => !CONTROLLER_FACTORIES[n]);
  if (unknown.length) throw new Error(`unknown controller(s) ${unknown.join(', ')}; available: ${CONTROLLER_NAMES.join(', ')}`);
  return (names ?? CONTROLLER_NAMES).map((n) => CONTROLLER_FACTORIES[n]!());
}
