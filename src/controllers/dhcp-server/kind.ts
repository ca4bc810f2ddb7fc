import type { AnyResource, ResourceOf } from '../../api/kinds.ts';
import { action } from '../common.ts';
import { kindModule } from '../kind-module.ts';
import { DhcpServerController } from './controller.ts';
import { dhcpv4ServerPlanner, dhcpv6ServerPlanner } from './plan.ts';
import { dhcpv4ServerApi, dhcpv6ServerApi } from './schema.ts';

const API = { DHCPv4Server: dhcpv4ServerApi, DHCPv6Server: dhcpv6ServerApi };

const removal = (r: (ResourceOf<'DHCPv4Server'> | ResourceOf<'DHCPv6Server'>) & AnyResource) => [
  action(r, 'delete', `dnsmasq ${API[r.kind].controller}-${r.metadata.name}`, `dnsmasq stopped: no DHCP answers on ${r.spec.interface} from this router (the lease file stays)`),
];

export const dhcpv4ServerKind = kindModule({
  api: dhcpv4ServerApi,
  planner: dhcpv4ServerPlanner,
  newController: () => new DhcpServerController('DHCPv4Server', dhcpv4ServerApi.controller),
  removal,
});

export const dhcpv6ServerKind = kindModule({
  api: dhcpv6ServerApi,
  planner: dhcpv6ServerPlanner,
  newController: () => new DhcpServerController('DHCPv6Server', dhcpv6ServerApi.controller),
  removal,
});
