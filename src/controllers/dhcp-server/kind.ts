import { controllerNameOf, type AnyResource, type ResourceOf } from '../../api/kinds.ts';
import { action } from '../common.ts';
import { kindModule } from '../kind-module.ts';
import { DhcpServerController } from './controller.ts';
import { dhcpv4ServerPlanner, dhcpv6ServerPlanner } from './plan.ts';

const removal = (r: (ResourceOf<'DHCPv4Server'> | ResourceOf<'DHCPv6Server'>) & AnyResource) => [
  action(r, 'delete', `dnsmasq ${controllerNameOf(r.kind)}-${r.metadata.name}`, `dnsmasq stopped: no DHCP answers on ${r.spec.interface} from this router (the lease file stays)`),
];

export const dhcpv4ServerKind = kindModule({
  kind: 'DHCPv4Server',
  planner: dhcpv4ServerPlanner,
  newController: () => new DhcpServerController('DHCPv4Server', controllerNameOf('DHCPv4Server')),
  removal,
});

export const dhcpv6ServerKind = kindModule({
  kind: 'DHCPv6Server',
  planner: dhcpv6ServerPlanner,
  newController: () => new DhcpServerController('DHCPv6Server', controllerNameOf('DHCPv6Server')),
  removal,
});
