import { resourceId, type ResourceOf } from '../../api/kinds.ts';
import { parseRef } from '../../api/primitives.ts';
import { targetName } from '../../api/target.ts';
import { leaseSyncPath, type LeaseSourceKind } from '../../api/paths.ts';
import { action, gate, status } from '../common.ts';
import { Phase, Reason } from '../status.ts';
import type { Planner, PlanContext, ResourcePlan } from '../types.ts';

export type LeaseSyncKind = 'DHCPv4ServerLeaseSync' | 'DHCPv6ServerLeaseSync' | 'DHCPv6PrefixDelegationLeaseSync';
type LeaseSyncResource = ResourceOf<LeaseSyncKind>;

/** The file (or directory) a lease sync copies: derived from the source's kind and name, the same on both routers. */
export function leaseSyncSource(r: LeaseSyncResource, ctx: Pick<PlanContext, 'paths'>): { kind: LeaseSourceKind; name: string; path: string } {
  const ref = parseRef(r.spec.source.resource)!;
  const kind = ref.kind as LeaseSourceKind;
  return { kind, name: ref.name, path: leaseSyncPath(ctx.paths, kind, ref.name) };
}

function planLeaseSync(r: LeaseSyncResource, observed: Parameters<Planner<LeaseSyncKind>['plan']>[1], ctx: PlanContext): ResourcePlan {
  const shut = gate(r, ctx, 'copy leases');
  if (shut) return shut;
  const src = leaseSyncSource(r, ctx);
  const fields = { leaseFile: src.path };
  if (!observed.existing.has(src.path)) {
    const message = `${src.path} does not exist yet (${src.kind}/${src.name} has written no leases)`;
    return { resource: resourceId(r), actions: [action(r, 'wait', 'lease file', message)], status: status(Phase.Pending, Reason.SourceMissing, message, fields) };
  }
  const actions = r.spec.targets.map((t) =>
    action(r, 'run', `sync → ${targetName(t)}`, `rsync ${src.path} to ${t.user ? `${t.user}@` : ''}${t.host}:${src.path} every ${r.spec.interval} and on change`),
  );
  return { resource: resourceId(r), actions, status: status(Phase.Pending, Reason.Planned, `copy to ${r.spec.targets.length} target(s)`, fields) };
}

/** Resources whose worker runs (their spec.when gate is open), by id. */
export type LeaseSyncPayload = ReadonlySet<string>;

function leaseSyncPlanner<K extends LeaseSyncKind>(kind: K): Planner<K, LeaseSyncPayload> {
  return {
    kind,
    paths: (rs, ctx) => ({ contents: [], existence: rs.map((r) => leaseSyncSource(r, ctx).path) }),
    plan(rs, observed, ctx) {
      const plans = rs.map((r) => planLeaseSync(r, observed, ctx));
      return { resources: plans, payload: new Set(plans.filter((p) => p.status.reason !== Reason.WhenFalse).map((p) => p.resource)) };
    },
  };
}

export const dhcpv4LeaseSyncPlanner = leaseSyncPlanner('DHCPv4ServerLeaseSync');
export const dhcpv6LeaseSyncPlanner = leaseSyncPlanner('DHCPv6ServerLeaseSync');
export const prefixDelegationLeaseSyncPlanner = leaseSyncPlanner('DHCPv6PrefixDelegationLeaseSync');
