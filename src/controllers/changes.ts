// What a config change removes and what it changes, as plan actions: the
// part of the plan the per-kind planners cannot see, since they only plan the
// resources that stay. routerctl plan prints it and the daemon logs it on
// every reload, from this one function, so the preview and the log agree.
import { controllerNameOf, resourceId, type AnyResource } from '../api/kinds.ts';
import { keepalivedConfPath } from '../config/paths.ts';
import { instanceName } from '../engines/keepalived/render.ts';
import { NAT_TABLE } from '../engines/nft/nat.ts';
import { snatAddress } from '../kernel/conntrack.ts';
import { action, status } from './common.ts';
import { Phase } from './status.ts';
import type { Action, Observed, PlanContext, ResourcePlan } from './types.ts';

export const REMOVED = 'Removed';
/** The resource of node-wide actions (a table or a daemon no resource owns any more). */
export const NODE = 'node';

const natTableId = `${NAT_TABLE.family} ${NAT_TABLE.name}`;

function flowsOn(observed: Observed, addresses: readonly string[]): number | undefined {
  if (!observed.natFlows) return undefined;
  const set = new Set(addresses);
  return observed.natFlows.entries.filter((e) => set.has(snatAddress(e) ?? '')).length;
}

function removalActions(r: AnyResource, observed: Observed): Action[] {
  const n = r.metadata.name;
  switch (r.kind) {
    case 'VirtualAddress': {
      const extra = r.spec.extraAddresses.map((x) => x.address);
      return [action(r, 'delete', `keepalived instance ${instanceName(n)}`, `VIP ${[r.spec.address, ...extra].join(', ')} released by this router (VRID ${r.spec.virtualRouterId})`)];
    }
    case 'NAT44Rule': {
      const addrs = [r.spec.snat.address, ...(r.spec.snat.addresses ?? [])].filter((a): a is string => a !== undefined);
      const flows = flowsOn(observed, addrs);
      const what = addrs.length ? `SNAT to ${addrs.join(', ')}` : 'masquerade';
      return [action(r, 'delete', `nft rules of NAT44Rule/${n}`, `${what} stops for ${r.spec.sources?.join(', ') ?? 'all sources'}${flows === undefined ? '' : `; ${flows} tracked flow(s) on those addresses lose their translation`}`)];
    }
    case 'StatelessNAT44':
      return [action(r, 'delete', `nft stateless mappings of ${n}`, `${r.spec.mappings.length} one-to-one mapping(s) removed`)];
    case 'DHCPv4Server':
    case 'DHCPv6Server':
      return [action(r, 'delete', `dnsmasq ${controllerNameOf(r.kind)}-${n}`, `dnsmasq stopped: no DHCP answers on ${r.spec.interface} from this router (the lease file stays)`)];
    case 'DHCPv6PrefixDelegation':
      return [action(r, 'delete', `dhcpcd for ${n}`, `dhcpcd stopped on ${r.spec.interface} (no Release sent; the lease state stays)`)];
    case 'NAT44SessionSync':
    case 'DHCPv4ServerLeaseSync':
    case 'DHCPv6ServerLeaseSync':
    case 'DHCPv6PrefixDelegationLeaseSync':
      return [action(r, 'delete', `sync ${resourceId(r)}`, `sync stopped: ${r.spec.targets.map((t) => t.name ?? t.host).join(', ')} keep their last copy, which ages`)];
    case 'Interface':
      return [action(r, 'noop', `name ${n}`, `routerd forgets the name; link ${r.spec.ifname} is left as it is`)];
    default:
      return [];
  }
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
 * (the running config, when known), plus what the host still holds that no
 * resource owns any more (the NAT table, keepalived), so a plan against a node
 * without a running daemon shows them too.
 */
export function planChanges(previous: readonly AnyResource[] | undefined, next: readonly AnyResource[], observed: Observed, ctx: Pick<PlanContext, 'paths'>): { removals: ResourcePlan[]; updates: Map<string, Action[]> } {
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
  const node: Action[] = [];
  if (!next.some((r) => r.kind === 'NAT44Rule') && observed.nftTables?.has(natTableId)) {
    const flows = observed.natFlows?.entries.length;
    node.push({ resource: NODE, verb: 'delete', object: `nft table ${natTableId}`, detail: `no NAT44Rule left: all outbound NAT on this router stops${flows === undefined ? '' : `; ${flows} tracked NAT flow(s) lose their translation`}` });
  }
  const kaConf = keepalivedConfPath(ctx.paths);
  if (!next.some((r) => r.kind === 'VirtualAddress') && observed.files.get(kaConf) !== undefined)
    node.push({ resource: NODE, verb: 'delete', object: 'keepalived', detail: 'no VirtualAddress left: keepalived stops and every VIP this router holds is released' });
  if (node.length) removals.push({ resource: NODE, actions: node, status: status(Phase.Pending, REMOVED, 'node-wide removals') });
  return { removals, updates };
}

/** Extra paths to observe for planChanges (keepalived's config even when no VIP is left). */
export function changePaths(ctx: Pick<PlanContext, 'paths'>): string[] {
  return [keepalivedConfPath(ctx.paths)];
}

/** Whether a plan changes anything (for --detailed-exitcode): creates, updates or deletes. */
export function hasChanges(plans: readonly ResourcePlan[]): boolean {
  return plans.some((p) => p.actions.some((a) => a.verb === 'create' || a.verb === 'update' || a.verb === 'delete'));
}

/** The node's plans with the updates folded into each resource and the removals appended. */
export function mergeChanges(plans: readonly ResourcePlan[], changes: ReturnType<typeof planChanges>): ResourcePlan[] {
  return [...plans.map((p) => (changes.updates.has(p.resource) ? { ...p, actions: [...changes.updates.get(p.resource)!, ...p.actions] } : p)), ...changes.removals];
}
