import { syncRemoval } from '../common.ts';
import { kindModule } from '../kind-module.ts';
import { SessionSyncController } from './controller.ts';
import { sessionSyncPlanner } from './plan.ts';

export const sessionSyncKind = kindModule({
  kind: 'NAT44SessionSync',
  planner: sessionSyncPlanner,
  newController: () => new SessionSyncController(),
  removal: (r) => syncRemoval(r),
});
