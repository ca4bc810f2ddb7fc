// Planning a whole node: every kind's planner in dependency order (the
// registry's), each reading the statuses projected by the ones before it (a
// NAT44SessionSync sees the snatAddresses its NAT44Rules will have). One
// function observes and plans, for `routerctl plan` and `routerd serve` alike.
import { resourceId, type AnyResource, type Kind, type ResourceOf } from '../api/kinds.ts';
import type { NodePaths } from '../api/paths.ts';
import { interfaceResolver } from './interface/resolve.ts';
import type { Host } from '../host/host.ts';
import { readField, type StatusLookup } from '../when/evaluate.ts';
import type { Controller, ControllerContext, ReconcileInput, ReconcileOutcome } from './controller.ts';
import { observeNode } from './observe.ts';
import { MODULES, type AnyKindModule } from './registry.ts';
import type { ResourceStatus } from './status.ts';
import type { Action, KindPlan, Observed, PlanContext, Planner, ResourcePlan } from './types.ts';

export interface NodePlanOptions {
  readonly paths: NodePaths;
  readonly nodeName: string;
  /** Statuses the running daemon reports (role, sync state); unknown when not running. */
  readonly reported?: StatusLookup;
  /** Plan only these kinds (the daemon's enabled controllers); the others still name interfaces etc. */
  readonly kinds?: ReadonlySet<Kind>;
}

/** A node's plan: each resource's plan in config order, and each kind's plan for its controller. */
export interface NodePlan {
  readonly plans: readonly ResourcePlan[];
  readonly byKind: ReadonlyMap<Kind, KindPlan<unknown>>;
  /** Node-wide removals (a table or a daemon no resource owns any more). */
  readonly removals: readonly Action[];
  /** The context the plans were made in. */
  readonly ctx: PlanContext;
}

function selected(opts: NodePlanOptions): readonly AnyKindModule[] {
  return opts.kinds ? MODULES.filter((m) => opts.kinds!.has(m.kind)) : MODULES;
}

export function planContext(resources: readonly AnyResource[], opts: NodePlanOptions, projected: Map<string, ResourceStatus>): PlanContext {
  const reported = opts.reported ?? (() => undefined);
  return {
    resources,
    ifname: interfaceResolver(resources),
    paths: opts.paths,
    nodeName: opts.nodeName,
    status: (kind, name, field) => {
      const own = readField(projected.get(`${kind}/${name}`), field);
      return own !== undefined ? own : reported(kind, name, field);
    },
  };
}

function ofKind<K extends Kind>(resources: readonly AnyResource[], kind: K): ResourceOf<K>[] {
  return resources.filter((r) => r.kind === kind) as unknown as ResourceOf<K>[];
}

const plannerOf = (m: AnyKindModule) => m.planner as Planner<Kind, unknown>;

/** Files and paths the planners compare against, so `observe` reads exactly those. */
export function pathsToObserve(resources: readonly AnyResource[], opts: NodePlanOptions): { contents: string[]; existence: string[] } {
  const ctx = planContext(resources, opts, new Map());
  const contents: string[] = [];
  const existence: string[] = [];
  for (const m of selected(opts)) {
    const want = plannerOf(m).paths(ofKind(resources, m.kind), ctx);
    contents.push(...want.contents);
    existence.push(...want.existence);
  }
  return { contents, existence };
}

export function planPass(resources: readonly AnyResource[], observed: Observed, opts: NodePlanOptions): NodePlan {
  const projected = new Map<string, ResourceStatus>();
  const ctx = planContext(resources, opts, projected);
  const byId = new Map<string, ResourcePlan>();
  const byKind = new Map<Kind, KindPlan<unknown>>();
  const removals: Action[] = [];
  for (const m of selected(opts)) {
    const kp = plannerOf(m).plan(ofKind(resources, m.kind), observed, ctx);
    byKind.set(m.kind, kp);
    removals.push(...(kp.removals ?? []));
    for (const rp of kp.resources) {
      projected.set(rp.resource, rp.status);
      byId.set(rp.resource, rp);
    }
  }
  // Report in config order.
  const plans = resources.map((r) => byId.get(resourceId(r))).filter((x): x is ResourcePlan => x !== undefined);
  return { plans, byKind, removals, ctx };
}

/** What a controller gets from a node's plan: its kinds' resources and plans, and its own kind's payload. */
export function reconcileInput<K extends Kind, P>(plan: NodePlan, c: Pick<Controller<K, P>, 'kind' | 'alsoKinds'>, all: readonly AnyResource[], observed: Observed): ReconcileInput<K, P> {
  const kinds = new Set<Kind>([c.kind, ...(c.alsoKinds ?? [])]);
  const kp = plan.byKind.get(c.kind);
  if (!kp) throw new Error(`${c.kind} was not planned`);
  return {
    resources: all.filter((r): r is ResourceOf<K> & AnyResource => kinds.has(r.kind)),
    plans: [...kinds].flatMap((k) => plan.byKind.get(k)?.resources ?? []),
    payload: kp.payload as P,
    observed,
    all,
    planCtx: plan.ctx,
  };
}

/** Plan the node and reconcile one controller against it (tests, benchmarks: one daemon pass for one kind). */
export function reconcileKind<K extends Kind, P>(c: Controller<K, P>, all: readonly AnyResource[], observed: Observed, opts: NodePlanOptions, ctx: ControllerContext): Promise<ReconcileOutcome> {
  return c.reconcile(reconcileInput<K, P>(planPass(all, observed, opts), c, all, observed), ctx);
}

/** Each resource's plan, in config order. */
export function planNode(resources: readonly AnyResource[], observed: Observed, opts: NodePlanOptions): ResourcePlan[] {
  return [...planPass(resources, observed, opts).plans];
}

export interface ObserveAndPlanOptions extends NodePlanOptions {
  /** Also read what only a preview needs (routerctl plan: the NAT flows a rule change judges). */
  readonly deep?: boolean;
}

/** Observe what the planners compare against, then plan: the one pass both routerctl plan and the daemon make. */
export async function observeAndPlan(host: Host, resources: readonly AnyResource[], opts: ObserveAndPlanOptions): Promise<{ observed: Observed; problems: string[]; plan: NodePlan }> {
  const base = await observeNode(host, pathsToObserve(resources, opts));
  const problems = [...base.problems];
  let observed = base.observed;
  if (opts.deep) {
    const ctx = planContext(resources, opts, new Map());
    for (const m of selected(opts)) {
      const deep = plannerOf(m).observeDeep;
      if (!deep) continue;
      try {
        observed = { ...observed, ...(await deep.call(m.planner, host, ofKind(resources, m.kind), observed, ctx)) };
      } catch (e) {
        problems.push(`${m.kind}: ${(e as Error).message}`);
      }
    }
  }
  return { observed, problems, plan: planPass(resources, observed, opts) };
}
