import { kindModule } from '../kind-module.ts';
import { action } from '../common.ts';
import { InterfaceController } from './controller.ts';
import { interfacePlanner } from './plan.ts';
import { interfaceApi } from './schema.ts';

export const interfaceKind = kindModule({
  api: interfaceApi,
  planner: interfacePlanner,
  newController: () => new InterfaceController(),
  removal: (r) => [action(r, 'noop', `name ${r.metadata.name}`, `routerd forgets the name; link ${r.spec.ifname} is left as it is`)],
});
