import { syncRemoval } from '../common.ts';
import { kindModule } from '../kind-module.ts';
import { SessionSyncController } from './controller.ts';
import { sessionSyncPlanner } from './plan.ts';
import { sessionSyncApi } from './schema.ts';

export const sessionSyncKind = kindModule({
  api: sessionSyncApi,
  planner: sessionSyncPlanner,
  newController: () => new SessionSyncController(),
  removal: (r) => syncRemoval(r),
});
