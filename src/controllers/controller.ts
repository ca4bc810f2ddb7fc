// A controller makes the host match the plan for its kinds and reports status.
// It is level-based: every pass gets the whole desired state and the whole plan,
// never a diff, so a missed event heals on the next pass.
import type { AnyResource, Kind, ResourceOf } from '../api/kinds.ts';
import type { NodePaths } from '../api/paths.ts';
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
  /**
   * Ask for a pass after `afterMs` (work that runs outside a pass failed and
   * is worth another look); inside a pass, return Outcome.requeue instead.
   */
  requeue(afterMs: number, why: string): void;
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
    requeue: () => undefined,
    generation: () => 1,
  };
}

export interface ReconcileInput<K extends Kind = Kind, P = unknown> {
  /** This controller's resources. */
  readonly resources: readonly (ResourceOf<K> & AnyResource)[];
  /** Their plans, in the same order. */
  readonly plans: readonly ResourcePlan[];
  /** What the plan decided for this kind; the controller applies it and renders nothing again. */
  readonly payload: P;
  readonly observed: Observed;
  /** Every resource this node manages (for cross-references). */
  readonly all: readonly AnyResource[];
  /** The context the plans were made in (interface names, paths, statuses). */
  readonly planCtx: PlanContext;
}

/**
 * How a pass ended, for the manager: done; done for now but look again after
 * a while (a daemon in restart backoff); or failed (the manager retries with
 * its backoff). Statuses say the details; the outcome only schedules.
 */
export type ReconcileOutcome =
  | { readonly result: 'ok' }
  | { readonly result: 'requeue'; readonly afterMs: number; readonly why: string }
  | { readonly result: 'error'; readonly error: string };

export const Outcome = {
  ok: { result: 'ok' } as ReconcileOutcome,
  requeue: (afterMs: number, why: string): ReconcileOutcome => ({ result: 'requeue', afterMs: Math.max(0, Math.round(afterMs)), why }),
  error: (error: string): ReconcileOutcome => ({ result: 'error', error }),
  /** Several outcomes in one: an error wins, then the soonest requeue. */
  merge(outcomes: readonly ReconcileOutcome[]): ReconcileOutcome {
    const errors = outcomes.flatMap((o) => (o.result === 'error' ? [o.error] : []));
    if (errors.length) return Outcome.error(errors.join('; '));
    const requeues = outcomes.flatMap((o) => (o.result === 'requeue' ? [o] : []));
    if (requeues.length) return requeues.reduce((a, b) => (b.afterMs < a.afterMs ? b : a));
    return Outcome.ok;
  },
};

export interface Controller<K extends Kind = Kind, P = unknown> {
  /** kebab-case, as in `routerd serve --controllers`. */
  readonly name: string;
  /** The kind whose module makes this controller, and whose payload it gets. */
  readonly kind: K;
  /** Kinds it reconciles together with `kind` (one FRR serves the four BGP kinds); their modules make no controller. */
  readonly alsoKinds?: readonly K[];
  reconcile(input: ReconcileInput<K, P>, ctx: ControllerContext): Promise<ReconcileOutcome>;
  /** keepEngines: leave supervised daemons running (a routerd restart must not move the VIP). */
  stop(opts: { keepEngines: boolean }): Promise<void>;
}
