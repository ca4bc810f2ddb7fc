// A controller makes the host match the plan for its kinds and reports status.
// It is level-based: every pass gets the whole desired state and the whole plan,
// never a diff, so a missed event heals on the next pass.
import type { AnyResource, Kind } from '../api/kinds.ts';
import type { NodePaths } from '../config/paths.ts';
import type { Host } from '../host/host.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { StatusStore } from './status-store.ts';
import type { Observed, PlanContext, ResourcePlan } from './types.ts';

export interface ControllerContext {
  readonly host: Host;
  readonly paths: NodePaths;
  readonly nodeName: string;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly status: StatusStore;
  /** Ask the manager for another pass soon (an engine reported something). */
  trigger(reason: string): void;
  /** The generation of a resource's spec (bumped when its spec changes). */
  generation(id: string): number;
}

export interface ReconcileInput {
  /** This controller's resources. */
  readonly resources: readonly AnyResource[];
  /** Their plans, in the same order. */
  readonly plans: readonly ResourcePlan[];
  readonly observed: Observed;
  /** Every resource this node manages (for cross-references). */
  readonly all: readonly AnyResource[];
  /** The context the plans were made in (interface names, paths, statuses). */
  readonly planCtx: PlanContext;
}

export interface Controller {
  /** kebab-case, as in `routerd serve --controllers`. */
  readonly name: string;
  readonly kinds: readonly Kind[];
  reconcile(input: ReconcileInput, ctx: ControllerContext): Promise<void>;
  /** keepEngines: leave supervised daemons running (a routerd restart must not move the VIP). */
  stop(opts: { keepEngines: boolean }): Promise<void>;
}
