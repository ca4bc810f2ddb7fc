// Interface only names a kernel link: routerd observes it, it does not create it.
import { resourceId, type ResourceOf } from '../../api/kinds.ts';
import { action, findInterface, status } from '../common.ts';
import { Phase, Reason } from '../status.ts';
import type { Planner, ResourcePlan } from '../types.ts';

export const interfacePlanner: Planner<'Interface', undefined> = {
  kind: 'Interface',
  paths: () => ({ contents: [], existence: [] }),
  plan(resources, observed) {
    const plans = resources.map((r: ResourceOf<'Interface'>): ResourcePlan => {
      const ifname = r.spec.ifname;
      const id = resourceId(r);
      if (!observed.interfaces)
        return {
          resource: id,
          actions: [action(r, 'wait', `link ${ifname}`, 'interfaces were not observed')],
          status: status(Phase.Pending, Reason.NotObserved, 'interfaces could not be read', { ifname }),
        };
      const link = findInterface(observed, ifname);
      if (!link)
        return {
          resource: id,
          actions: [action(r, 'wait', `link ${ifname}`, `${ifname} does not exist on this node`)],
          status: status(Phase.Pending, Reason.InterfaceMissing, `${ifname} does not exist`, { ifname }),
        };
      const addresses = link.addresses.map((a) => `${a.address}/${a.prefixLength}`);
      return {
        resource: id,
        actions: [action(r, 'noop', `link ${ifname}`, `present, ${link.up ? 'up' : 'DOWN'}${addresses.length ? `, ${addresses.join(' ')}` : ''}`)],
        status: status(Phase.Ready, Reason.Applied, `${ifname} is ${link.up ? 'up' : 'down'}`, {
          ifname,
          up: link.up,
          operState: link.operState,
          mac: link.mac,
          addresses,
        }),
      };
    });
    return { resources: plans, payload: undefined };
  },
};
