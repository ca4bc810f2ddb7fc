// NAT44SessionSync mode conntrackd, the pure part: which VRRP role conntrackd
// is driven to (read as spec.when reads it) and the plan routerctl shows.
import { resourceId, type AnyResource, type ResourceOf } from '../../api/kinds.ts';
import { stateKeys } from '../../api/when.ts';
import { TRANSITION_COMMANDS } from '../../engines/conntrackd/engine.ts';
import { evaluateWhen, type StatusLookup } from '../../when/evaluate.ts';
import { action, status } from '../common.ts';
import { Phase, Reason } from '../status.ts';
import type { PlanContext, ResourcePlan } from '../types.ts';
import type { SyncRole } from './mode.ts';
import { selectSnatAddresses } from './select.ts';

/** The VirtualAddresses whose role this resource follows: those spec.when names, else the only one. */
function roleSources(r: ResourceOf<'NAT44SessionSync'>, resources: readonly AnyResource[]): string[] {
  const named = r.spec.when ? stateKeys(r.spec.when).filter((k) => k.key.kind === 'VirtualAddress' && k.key.field === 'role').map((k) => k.key.name) : [];
  if (named.length) return [...new Set(named)];
  const vips = resources.filter((x) => x.kind === 'VirtualAddress');
  return vips.length === 1 ? [vips[0]!.metadata.name] : [];
}

/**
 * The role conntrackd is driven to: spec.when true → master, false → backup
 * (fault when a VirtualAddress it reads is in fault), unknown → unknown. With
 * no spec.when, the only VirtualAddress's role.
 */
export function conntrackdRole(r: ResourceOf<'NAT44SessionSync'>, resources: readonly AnyResource[], lookup: StatusLookup): SyncRole {
  const sources = roleSources(r, resources);
  const roles = sources.map((n) => lookup('VirtualAddress', n, 'role'));
  if (roles.includes('fault')) return 'fault';
  if (r.spec.when) {
    const truth = evaluateWhen(r.spec.when, lookup).truth;
    return truth === 'true' ? 'master' : truth === 'false' ? 'backup' : 'unknown';
  }
  const [role] = roles;
  return role === 'master' || role === 'backup' ? role : 'unknown';
}

/** The plan for a conntrackd-mode resource: conntrackd runs in every role, so spec.when is not a gate here. */
export function planConntrackd(r: ResourceOf<'NAT44SessionSync'>, ctx: PlanContext): ResourcePlan {
  const id = resourceId(r);
  const role = conntrackdRole(r, ctx.resources, ctx.status);
  const sel = selectSnatAddresses(r, ctx.status);
  const cfg = r.spec.conntrackd;
  const peer = cfg?.multicast ? `multicast ${cfg.multicast.group}` : (cfg?.peerAddress ?? r.spec.targets[0]?.host ?? '?');
  const then = role === 'unknown' ? 'role unknown: no transition yet' : `role ${role}: conntrackd ${TRANSITION_COMMANDS[role].map((c) => c.join(' ')).join(', ')}`;
  const actions = [action(r, 'run', 'conntrackd', `FTFW to ${peer} port ${cfg?.port ?? 3780}, external cache disabled (peer entries go into the kernel); ${then}`)];
  return {
    resource: id,
    actions,
    status: status(Phase.Pending, Reason.Planned, `run conntrackd (${role})`, sel.ok ? { snatAddresses: sel.addresses, role } : { role }),
  };
}
