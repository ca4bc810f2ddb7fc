// Planning the node's FRR config and its share of each NAT44AddressPool: pure,
// from the resources and the members the controller last saw up (status field
// membersUp, reported), so `routerctl plan` shows what `serve` would do.
import { resourceId, type AnyResource, type ResourceOf } from '../../api/kinds.ts';
import { parseDuration, parseRef } from '../../api/primitives.ts';
import { frrPaths } from '../../engines/frr/paths.ts';
import { FrrConfigError, renderFrrConf, type FrrInput } from '../../engines/frr/render.ts';
import { action, fileVerb, status } from '../common.ts';
import { Phase, Reason } from '../status.ts';
import type { Observed, PlanContext, Planner, ResourcePlan } from '../types.ts';
import { assign, roleOf, type Assignment } from './ownership.ts';

function ofKind<K extends AnyResource['kind']>(rs: readonly AnyResource[], kind: K): ResourceOf<K>[] {
  return rs.filter((r) => r.kind === kind) as unknown as ResourceOf<K>[];
}

/** What one node does for one pool. */
export interface PoolShare {
  readonly pool: string;
  readonly membersUp: readonly string[];
  readonly assignments: readonly Assignment[];
  readonly owned: readonly string[];
  readonly standby: readonly string[];
}

/**
 * Members the node counts as up: as last reported by the controller (BFD),
 * else all of them, so a node that has not looked yet claims nothing that
 * belongs to another.
 */
export function membersUpOf(pool: ResourceOf<'NAT44AddressPool'>, ctx: PlanContext): string[] {
  const all = pool.spec.members.map((m) => m.node);
  const reported = ctx.status('NAT44AddressPool', pool.metadata.name, 'membersUp');
  if (!Array.isArray(reported)) return all;
  // The controller reports the eligible members: this node is among them only once it passed its gate.
  const up = new Set(reported.filter((x): x is string => typeof x === 'string'));
  return all.filter((m) => up.has(m));
}

/** Which addresses of the pool this node owns and which it stands by for, given the members up. */
export function poolShare(pool: ResourceOf<'NAT44AddressPool'>, ctx: PlanContext): PoolShare {
  const membersUp = membersUpOf(pool, ctx);
  const assignments = assign(pool.spec.addresses, membersUp);
  const owned = assignments.filter((a) => roleOf(a, ctx.nodeName) === 'owner').map((a) => a.address);
  const standby = pool.spec.standbyPrepend > 0 ? assignments.filter((a) => roleOf(a, ctx.nodeName) === 'standby').map((a) => a.address) : [];
  return { pool: pool.metadata.name, membersUp, assignments, owned, standby };
}

/** frr.conf input for the node, or a reason it cannot be rendered. */
export function frrInputOf(resources: readonly AnyResource[], ctx: PlanContext): FrrInput | string {
  const routers = ofKind(resources, 'BGPRouter');
  if (routers.length === 0) return 'no BGPRouter';
  if (routers.length > 1) return `one BGPRouter per node (found ${routers.map((r) => r.metadata.name).join(', ')})`;
  const router = routers[0]!;
  const bfds = new Map(ofKind(resources, 'BFD').map((b) => [b.metadata.name, b]));
  const profileOf = (ref: string | undefined): string | undefined => (ref === undefined ? undefined : parseRef(ref)?.name);
  const peers = ofKind(resources, 'BGPPeer').filter((p) => parseRef(p.spec.routerRef)?.name === router.metadata.name);
  const pools = ofKind(resources, 'NAT44AddressPool').filter((p) => parseRef(p.spec.bgpRouter)?.name === router.metadata.name);
  const shares = pools.map((p) => poolShare(p, ctx));
  const bfdPeers = new Map<string, string>();
  for (const p of pools) {
    const profile = profileOf(p.spec.liveness);
    if (profile === undefined) continue;
    for (const m of p.spec.members) if (m.node !== ctx.nodeName) bfdPeers.set(m.address, profile);
  }
  const used = new Set([...peers.map((p) => profileOf(p.spec.bfd)), ...bfdPeers.values()].filter((x): x is string => x !== undefined));
  const missing = [...used].filter((n) => !bfds.has(n));
  if (missing.length) return `BFD ${missing.join(', ')} not found`;
  return {
    asn: router.spec.asn,
    routerId: router.spec.routerID,
    peers: peers.map((p) => ({
      address: p.spec.address,
      remoteAs: p.spec.peerASN,
      holdTimeS: Math.round((parseDuration(p.spec.holdTime) ?? 9000) / 1000),
      bfdProfile: profileOf(p.spec.bfd),
    })),
    bfdProfiles: [...used].map((n) => {
      const s = bfds.get(n)!.spec;
      return { name: n, detectMultiplier: s.detectMultiplier, receiveIntervalMs: parseDuration(s.receiveInterval)!, transmitIntervalMs: parseDuration(s.transmitInterval)! };
    }),
    bfdPeers: [...bfdPeers].map(([address, profile]) => ({ address, profile })),
    pool: [...new Set(pools.flatMap((p) => p.spec.addresses))],
    owned: shares.flatMap((s) => s.owned),
    standby: shares.flatMap((s) => s.standby),
    prepend: Math.max(0, ...pools.map((p) => p.spec.standbyPrepend)),
  };
}

export function renderNodeFrr(resources: readonly AnyResource[], ctx: PlanContext): { text?: string; error?: string; input?: FrrInput } {
  const input = frrInputOf(resources, ctx);
  if (typeof input === 'string') return { error: input };
  try {
    return { text: renderFrrConf(input), input };
  } catch (e) {
    if (e instanceof FrrConfigError) return { error: e.message };
    throw e;
  }
}

const reported = (ctx: PlanContext, kind: string, name: string, field: string) => ctx.status(kind, name, field);

export const bgpRouterPlanner: Planner<'BGPRouter', undefined> = {
  kind: 'BGPRouter',
  paths: () => ({ contents: [frrPaths.conf], existence: [] }),
  plan(resources, observed: Observed, ctx) {
    if (resources.length === 0) return { resources: [], payload: undefined };
    const frr = renderNodeFrr(ctx.resources, ctx);
    const plans = resources.map((r): ResourcePlan => {
      const id = resourceId(r);
      if (frr.text === undefined)
        return { resource: id, actions: [action(r, 'wait', 'frr.conf', frr.error!)], status: status(Phase.Failed, Reason.ConfigInvalid, frr.error!) };
      const verb = fileVerb(observed, frrPaths.conf, frr.text);
      const detail = `AS ${r.spec.asn}, router id ${r.spec.routerID}; zebra, bfdd and bgpd in instance routerd; owns ${frr.input!.owned.join(', ') || 'nothing'}, stands by for ${frr.input!.standby.join(', ') || 'nothing'}`;
      return {
        resource: id,
        actions: [action(r, verb, frrPaths.conf, detail)],
        status: status(Phase.Pending, Reason.Planned, `frr.conf ${verb === 'noop' ? 'up to date' : `to ${verb}`}`, {
          process: reported(ctx, r.kind, r.metadata.name, 'process') ?? 'unknown',
        }),
      };
    });
    return { resources: plans, payload: undefined };
  },
};

export const bgpPeerPlanner: Planner<'BGPPeer', undefined> = {
  kind: 'BGPPeer',
  paths: () => ({ contents: [], existence: [] }),
  plan: (resources, _o, ctx) => ({
    payload: undefined,
    resources: resources.map((r) => ({
      resource: resourceId(r),
      actions: [action(r, 'noop', `neighbor ${r.spec.address}`, `AS ${r.spec.peerASN}, hold ${r.spec.holdTime}${r.spec.bfd ? `, BFD ${r.spec.bfd}` : ''}; sends only pool /32s, accepts nothing`)],
      status: status(Phase.Pending, Reason.Planned, `session with ${r.spec.address}`, { state: reported(ctx, r.kind, r.metadata.name, 'state') ?? 'unknown' }),
    })),
  }),
};

export const bfdPlanner: Planner<'BFD', undefined> = {
  kind: 'BFD',
  paths: () => ({ contents: [], existence: [] }),
  plan: (resources) => ({
    payload: undefined,
    resources: resources.map((r) => ({
      resource: resourceId(r),
      actions: [action(r, 'noop', `bfd profile ${r.metadata.name}`, `tx ${r.spec.transmitInterval}, rx ${r.spec.receiveInterval}, x${r.spec.detectMultiplier}`)],
      status: status(Phase.Ready, Reason.Planned, `profile ${r.metadata.name}`),
    })),
  }),
};

export const addressPoolPlanner: Planner<'NAT44AddressPool', undefined> = {
  kind: 'NAT44AddressPool',
  paths: () => ({ contents: [], existence: [] }),
  plan(resources, observed, ctx) {
    const plans = resources.map((r): ResourcePlan => {
      const share = poolShare(r, ctx);
      const dev = r.spec.interface === undefined ? undefined : ctx.ifname(r.spec.interface);
      const iface = dev === undefined ? undefined : observed.interfaces?.find((i) => i.name === dev);
      const have = new Set((iface?.addresses ?? []).filter((a) => a.family === 4 && a.prefixLength === 32).map((a) => a.address));
      const actions = [
        ...share.owned.map((a) =>
          dev === undefined ? action(r, 'noop', `owned ${a}/32`, 'owner; announce it') : action(r, have.has(a) ? 'noop' : 'create', `${a}/32 on ${dev}`, `owner; announce ${a}/32`),
        ),
        ...r.spec.addresses.filter((a) => dev !== undefined && !share.owned.includes(a) && have.has(a)).map((a) => action(r, 'delete', `${a}/32 on ${dev}`, 'no longer the owner')),
        ...share.standby.map((a) => action(r, 'noop', `standby ${a}/32`, `successor; pre-announce with ${r.spec.standbyPrepend} prepends`)),
      ];
      return {
        resource: resourceId(r),
        actions,
        status: status(Phase.Pending, Reason.Planned, `owns ${share.owned.length}, stands by for ${share.standby.length} of ${r.spec.addresses.length}`, {
          membersUp: share.membersUp,
          owned: share.owned,
          standby: share.standby,
          assignments: share.assignments,
        }),
      };
    });
    return { resources: plans, payload: undefined };
  },
};
