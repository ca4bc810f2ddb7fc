import { action } from '../common.ts';
import type { Controller } from '../controller.ts';
import { kindModule } from '../kind-module.ts';
import { BgpController } from './controller.ts';
import { addressPoolPlanner, bfdPlanner, bgpPeerPlanner, bgpRouterPlanner } from './plan.ts';
import { addressPoolApi, bfdApi, bgpPeerApi, bgpRouterApi } from './schema.ts';

// One FRR per node serves the four BGP kinds: BGPRouter's module makes the
// controller, and it reconciles the other three with it (BgpController.alsoKinds).

export const addressPoolKind = kindModule({
  api: addressPoolApi,
  planner: addressPoolPlanner,
  removal: (r) => [action(r, 'delete', `pool ${r.metadata.name}`, `this router stops owning and announcing ${r.spec.addresses.join(', ')}; the other members take them`)],
});

export const bfdKind = kindModule({
  api: bfdApi,
  planner: bfdPlanner,
  removal: (r) => [action(r, 'delete', `bfd profile ${r.metadata.name}`, 'BFD sessions using it fall back to FRR defaults or stop')],
});

export const bgpPeerKind = kindModule({
  api: bgpPeerApi,
  planner: bgpPeerPlanner,
  removal: (r) => [action(r, 'delete', `neighbor ${r.spec.address}`, 'the BGP session with this upstream closes; its announcements are withdrawn there')],
});

export const bgpRouterKind = kindModule<'BGPRouter', undefined>({
  api: bgpRouterApi,
  planner: bgpRouterPlanner,
  // It reconciles BGPRouter and, through alsoKinds, the other three.
  newController: () => new BgpController() as unknown as Controller<'BGPRouter', undefined>,
  removal: (r) => [action(r, 'delete', `bgp speaker AS ${r.spec.asn}`, 'FRR stops: every BGP session closes and every pool address is withdrawn')],
});
