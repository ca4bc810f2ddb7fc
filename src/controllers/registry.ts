// The controllers routerd can run, by their kebab-case name.
import type { Controller } from './controller.ts';
import { InterfaceController } from './interface/controller.ts';
import { NAT44RuleController } from './nat44-rule/controller.ts';
import { SessionSyncController } from './session-sync/controller.ts';
import { StatelessNAT44Controller } from './stateless-nat44/controller.ts';
import { VirtualAddressController } from './virtual-address/controller.ts';

export const CONTROLLER_FACTORIES: Readonly<Record<string, () => Controller>> = {
  interface: () => new InterfaceController(),
  'virtual-address': () => new VirtualAddressController(),
  'nat44-rule': () => new NAT44RuleController(),
  'stateless-nat44': () => new StatelessNAT44Controller(),
  'nat44-session-sync': () => new SessionSyncController(),
};

export const CONTROLLER_NAMES = Object.keys(CONTROLLER_FACTORIES);

export function makeControllers(names?: readonly string[]): Controller[] {
  const unknown = (names ?? []).filter((n) => !CONTROLLER_FACTORIES[n]);
  if (unknown.length) throw new Error(`unknown controller(s) ${unknown.join(', ')}; available: ${CONTROLLER_NAMES.join(', ')}`);
  return (names ?? CONTROLLER_NAMES).map((n) => CONTROLLER_FACTORIES[n]!());
}
