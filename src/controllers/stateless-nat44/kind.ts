import { action } from '../common.ts';
import { kindModule } from '../kind-module.ts';
import { StatelessNAT44Controller } from './controller.ts';
import { statelessNat44Planner } from './plan.ts';
import { statelessNat44Api } from './schema.ts';

export const statelessNat44Kind = kindModule({
  api: statelessNat44Api,
  planner: statelessNat44Planner,
  newController: () => new StatelessNAT44Controller(),
  removal: (r) => [action(r, 'delete', `nft stateless mappings of ${r.metadata.name}`, `${r.spec.mappings.length} one-to-one mapping(s) removed`)],
});
