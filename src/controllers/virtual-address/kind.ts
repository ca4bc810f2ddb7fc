import { instanceName } from '../../engines/keepalived/render.ts';
import { action } from '../common.ts';
import { kindModule } from '../kind-module.ts';
import { VirtualAddressController } from './controller.ts';
import { virtualAddressPlanner } from './plan.ts';
import { virtualAddressApi } from './schema.ts';

export const virtualAddressKind = kindModule({
  api: virtualAddressApi,
  planner: virtualAddressPlanner,
  newController: () => new VirtualAddressController(),
  removal: (r) => {
    const extra = r.spec.extraAddresses.map((x) => x.address);
    return [action(r, 'delete', `keepalived instance ${instanceName(r.metadata.name)}`, `VIP ${[r.spec.address, ...extra].join(', ')} released by this router (VRID ${r.spec.virtualRouterId})`)];
  },
});
