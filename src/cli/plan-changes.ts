// routerctl plan's view of removals and updates: the running daemon's config
// (from its API) against the new one, through controllers/changes.ts, and the
// --detailed-exitcode contract (docs/operations.md).
import { API_VERSION } from '../api/primitives.ts';
import type { AnyResource } from '../api/kinds.ts';
import { hasChanges } from '../controllers/changes.ts';
import type { ResourcePlan } from '../controllers/types.ts';
import { apiGet, type ApiResource } from '../daemon/api-client.ts';

/** Exit codes of `routerctl plan --detailed-exitcode`, as terraform's. */
export const PlanExit = { NoChanges: 0, Error: 1, Changes: 2 } as const;

/** The config the running daemon applies, or undefined when none answers. */
export async function runningConfig(socket: string): Promise<AnyResource[] | undefined> {
  try {
    const { status, body } = await apiGet<{ items: ApiResource[] }>(socket, '/api/v1/resources', 2000);
    if (status !== 200) return undefined;
    return body.items.map((i) => ({ apiVersion: API_VERSION, kind: i.kind, metadata: { name: i.name }, spec: i.spec }) as unknown as AnyResource);
  } catch {
    return undefined;
  }
}

export function planExitCode(plans: readonly ResourcePlan[]): number {
  return hasChanges(plans) ? PlanExit.Changes : PlanExit.NoChanges;
}
