// Planning a whole node: every kind's planner in dependency order, each
// reading the statuses projected by the ones before it (a NAT44SessionSync sees
// the snatAddresses its NAT44Rules will have). The same code serves
// `routerctl plan` and `routerd serve`.
import { resourceId, type AnyResource, type Kind, type ResourceOf } from '../api/kinds.ts';
import type { NodePaths } from '../config/paths.ts';
import { interfaceResolver } from '../config/validate.ts';
import { readField, type StatusLookup } from '../when/evaluate.ts';
import { addressPoolPlanner, bfdPlanner, bgpPeerPlanner, bgpRouterPlanner } from './address-pool/plan.ts';
import { dhcpv4ServerPlanner, dhcpv6ServerPlanner } from './dhcp-server/plan.ts';
import { interfacePlanner } from './interface/plan.ts';
import { dhcpv4LeaseSyncPlanner, dhcpv6LeaseSyncPlanner, prefixDelegationLeaseSyncPlanner } from './lease-sync/plan.ts';
import { nat44RulePlanner } from './nat44-rule/plan.ts';
import { prefixDelegationPlanner } from './prefix-delegation/plan.ts';
import { sessionSyncPlanner } from './session-sync/plan.ts';
import { statelessNat44Planner } from './stateless-nat44/plan.ts';
import type { ResourceStatus } from './status.ts';
import type { Observed, PlanContext, Planner, ResourcePlan } from './types.ts';
import { virtualAddressPlanner } from './virtual-address/plan.ts';

type AnyPlanner = { [K in Kind]: Planner<K> }[Kind];

/** Dependency order: what a later planner reads, an earlier one projects. */
export const PLANNERS: readonly AnyPlanner[] = [
  interfacePlanner,
  virtualAddressPlanner,
  nat44RulePlanner,
  statelessNat44Planner,
  dhcpv4ServerPlanner,
  dhcpv6ServerPlanner,
  prefixDelegationPlanner,
  sessionSyncPlanner,
  dhcpv4LeaseSyncPlanner,
  dhcpv6LeaseSyncPlanner,
  prefixDelegationLeaseSyncPlanner,
  addressPoolPlanner,
  bfdPlanner,
  bgpPeerPlanner,
  bgpRouterPlanner,
];

export interface NodePlanOptions {
  readonly paths: NodePaths;
  readonly nodeName: string;
  /** Statuses the running daemon reports (role, sync state); unknown when not running. */
  readonly reported?: StatusLookup;
  /** Plan only these kinds (the daemon's enabled controllers); the others still name interfaces etc. */
  readonly kinds?: ReadonlySet<Kind>;
}

function selected(opts: NodePlanOptions): readonly AnyPlanner[] {
  return opts.kinds ? PLANNERS.filter((p) => opts.kinds!.has(p.kind)) : PLANNERS;
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

function runPlanner<K extends Kind>(p: Planner<K>, resources: readonly AnyResource[], observed: Observed, ctx: PlanContext): ResourcePlan[] {
  return p.plan(ofKind(resources, p.kind), observed, ctx);
}

/** Files and paths the planners compare against, so `observe` reads exactly those. */
export function pathsToObserve(resources: readonly AnyResource[], opts: NodePlanOptions): { contents: string[]; existence: string[] } {
  const ctx = planContext(resources, opts, new Map());
  const contents: string[] = [];
  const existence: string[] = [];
  for (const p of selected(opts)) {
    const want = (p as Planner<Kind>).paths(ofKind(resources, p.kind), ctx);
    contents.push(...want.contents);
    existence.push(...want.existence);
  }
  return { contents, existence };
}

export function planNode(resources: readonly AnyResource[], observed: Observed, opts: NodePlanOptions): ResourcePlan[] {
  const projected = new Map<string, ResourceStatus>();
  const ctx = planContext(resources, opts, projected);
  const byId = new Map<string, ResourcePlan>();
  for (const p of selected(opts))
    for (const rp of runPlanner(p as Planner<Kind>, resources, observed, ctx)) {
      projected.set(rp.resource, rp.status);
      byId.set(rp.resource, rp);
    }
  // Report in config order.
  return resources.map((r) => byId.get(resourceId(r))).filter((x): x is ResourcePlan => x !== undefined);
}
