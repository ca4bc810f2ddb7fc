// What a config change removes and what it changes, as plan actions: the
// part of the plan the per-kind planners cannot see, since they only plan the
// resources that stay. routerctl plan prints it and the daemon logs it on
// every reload, from this one function, so the preview and the log agree.
import { resourceId, type AnyResource } from '../api/kinds.ts';
import { NODE, action, status } from './common.ts';
import { moduleOf } from './registry.ts';
import { Phase, Reason } from './status.ts';
import type { Action, Observed, ResourcePlan } from './types.ts';

export const REMOVED = Reason.Removed;
export { NODE };

function removalActions(r: AnyResource, observed: Observed): Action[] {
  return (moduleOf(r.kind).removal as (r: AnyResource, o: Observed) => Action[])(r, observed);
}

/** Leaf values of a spec, by dotted path. */
function leaves(v: unknown, path: string, out: Map<string, string>): Map<string, string> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) leaves(x, path ? `${path}.${k}` : k, out);
  } else if (Array.isArray(v) && v.some((x) => x !== null && typeof x === 'object')) {
    v.forEach((x, i) => leaves(x, `${path}[${i}]`, out));
  } else out.set(path, JSON.stringify(v));
  return out;
}

/** `field: old → new` for every spec field that differs. */
export function specChanges(before: AnyResource, after: AnyResource): Action[] {
  const a = leaves(before.spec, '', new Map());
  const b = leaves(after.spec, '', new Map());
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys
    .filter((k) => a.get(k) !== b.get(k))
    .map((k) => action(after, 'update', `spec.${k}`, `${a.get(k) ?? '(unset)'} → ${b.get(k) ?? '(unset)'}`));
}

/**
 * Plans for what the new config removes or changes relative to `previous`
 * (the running config, when known). What the host still holds that no
 * resource owns any more (the NAT table, keepalived) the kinds' planners
 * plan themselves (NodePlan.removals), so a node without a running daemon shows it too.
 */
export function planChanges(previous: readonly AnyResource[] | undefined, next: readonly AnyResource[], observed: Observed): { removals: ResourcePlan[]; updates: Map<string, Action[]> } {
  const nextById = new Map(next.map((r) => [resourceId(r), r]));
  const removals: ResourcePlan[] = [];
  const updates = new Map<string, Action[]>();
  for (const r of previous ?? []) {
    const id = resourceId(r);
    const now = nextById.get(id);
    if (now) {
      const changes = specChanges(r, now);
      if (changes.length) updates.set(id, changes);
      continue;
    }
    removals.push({ resource: id, actions: removalActions(r, observed), status: status(Phase.Pending, REMOVED, `${id} is not in the new config`) });
  }
  return { removals, updates };
}

/** Whether a plan changes anything (for --detailed-exitcode): creates, updates or deletes. */
export function hasChanges(plans: readonly ResourcePlan[]): boolean {
  return plans.some((p) => p.actions.some((a) => a.verb === 'create' || a.verb === 'update' || a.verb === 'delete'));
}

/** The node's plans with the updates folded into each resource, the removals and then the node-wide removals appended. */
export function mergeChanges(plans: readonly ResourcePlan[], changes: ReturnType<typeof planChanges>, nodeRemovals: readonly Action[] = []): ResourcePlan[] {
  const node = nodeRemovals.length ? [{ resource: NODE, actions: nodeRemovals, status: status(Phase.Pending, REMOVED, 'node-wide removals') }] : [];
  return [...plans.map((p) => (changes.updates.has(p.resource) ? { ...p, actions: [...changes.updates.get(p.resource)!, ...p.actions] } : p)), ...changes.removals, ...node];
}
