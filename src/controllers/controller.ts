// A controller makes the host match the plan for its kinds and reports status.
// It is level-based: every pass gets the whole desired state and the whole plan,
// never a diff, so a missed event heals on the next pass.
import type { AnyResource, Kind } from '../api/kinds.ts';
import type { NodePaths } from '../config/paths.ts';
import type { Host } from '../host/host.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createMetrics, type Metrics } from '../observability/metrics.ts';
import { StatusStore } from './status-store.ts';
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

/**
 * A context for running a controller outside the daemon (tests, benchmarks):
 * no manager to trigger, every resource at generation 1, a silent log unless given.
 */
export function standaloneContext(o: { host: Host; paths: NodePaths; nodeName: string; status?: StatusStore; log?: Logger; metrics?: Metrics }): ControllerContext {
  return {
    host: o.host,
    paths: o.paths,
    nodeName: o.nodeName,
    log: o.log ?? createLogger({ node: o.nodeName, level: 'silent' }),
    metrics: o.metrics ?? createMetrics(),
    status: o.status ?? new StatusStore(),
    trigger: () => undefined,
    generation: () => 1,
  };
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
