// StatelessNAT44 → the routerd_stateless nftables table. The plan compares the
// structure digest in the table comment; map elements are compared with the
// live maps when the controller applies (it reads them anyway, with their
// counters), so a plan that says "noop" can still lead to element updates.
import { resourceId, type AnyResource, type ResourceOf } from '../../api/kinds.ts';
import {
  STATELESS_TABLE,
  elementsDigest,
  statelessDigest,
  statelessLayout,
  type StatelessInterface,
} from '../../engines/nft/stateless.ts';
import { NODE, action, status } from '../common.ts';
import { Phase, Reason } from '../status.ts';
import type { Action, Observed, PlanContext, Planner, ResourcePlan } from '../types.ts';

export function statelessTableKey(): string {
  return `${STATELESS_TABLE.family} ${STATELESS_TABLE.name}`;
}

// Derived data is kept per resource object: the daemon passes the same objects
// every pass until the config changes, so a pass that changes nothing does
// no work in proportion to the number of mappings (10 000 here: ~30 ms a pass).
const layouts = new WeakMap<object, { resources: readonly object[]; ifnames: string; layout: StatelessInterface[] }>();
const digests = new WeakMap<readonly StatelessInterface[], { structure: string; elements: string }>();

export function statelessLayoutFor(resources: readonly ResourceOf<'StatelessNAT44'>[], ctx: PlanContext): StatelessInterface[] {
  const ifnames = resources.map((r) => ctx.ifname(r.spec.interface)).join(' ');
  const key = resources[0];
  const hit = key ? layouts.get(key) : undefined;
  if (hit && hit.ifnames === ifnames && hit.resources.length === resources.length && hit.resources.every((r, i) => r === resources[i])) return hit.layout;
  const layout = statelessLayout(resources.map((r) => ({ ifname: ctx.ifname(r.spec.interface), mappings: r.spec.mappings })));
  if (key) layouts.set(key, { resources: [...resources], ifnames, layout });
  return layout;
}

/** Structure and elements digests of a layout, computed once per layout. */
export function layoutDigests(layout: readonly StatelessInterface[]): { structure: string; elements: string } {
  let d = digests.get(layout);
  if (!d) digests.set(layout, (d = { structure: statelessDigest(layout), elements: elementsDigest(layout) }));
  return d;
}

export type StatelessTableState = 'missing' | 'foreign' | 'stale' | 'current';

/** What the observed table comment says about the live table. */
export function tableState(observed: Observed, digest: string): StatelessTableState {
  const key = statelessTableKey();
  if (!observed.nftTables?.has(key)) return 'missing';
  const have = observed.nftTables.get(key);
  if (have === undefined) return 'foreign';
  return have === digest ? 'current' : 'stale';
}

/**
 * External addresses that no VirtualAddress carries on the mapping's
 * interface: no router answers ARP for them, and they do not move on failover.
 */
const unownedMemo = new WeakMap<object, { among: readonly object[]; unowned: string[] }>();

export function unownedExternals(r: ResourceOf<'StatelessNAT44'>, ctx: PlanContext): string[] {
  const hit = unownedMemo.get(r);
  if (hit && hit.among === ctx.resources) return hit.unowned;
  const unowned = computeUnowned(r, ctx);
  unownedMemo.set(r, { among: ctx.resources, unowned });
  return unowned;
}

function computeUnowned(r: ResourceOf<'StatelessNAT44'>, ctx: PlanContext): string[] {
  const dev = ctx.ifname(r.spec.interface);
  const carried = new Set<string>();
  for (const v of ctx.resources as readonly AnyResource[])
    if (v.kind === 'VirtualAddress') {
      carried.add(`${ctx.ifname(v.spec.interface)}/${v.spec.address.split('/')[0]}`);
      for (const x of v.spec.extraAddresses) carried.add(`${ctx.ifname(x.interface)}/${x.address.split('/')[0]}`);
    }
  return r.spec.mappings.map((m) => m.external).filter((a) => !carried.has(`${dev}/${a}`));
}

export function unownedWarning(dev: string, addrs: readonly string[]): string {
  const list = addrs.length > 3 ? `${addrs.slice(0, 3).join(', ')} and ${addrs.length - 3} more` : addrs.join(', ');
  return `floating address(es) ${list} are not an address or extraAddress of any VirtualAddress on ${dev}: no router answers ARP for them and they do not move on failover`;
}

/** Floating addresses of `r` that are configured on this node right now (it is the master for them). */
export function heldExternals(r: ResourceOf<'StatelessNAT44'>, observed: Observed): number | undefined {
  if (!observed.interfaces) return undefined;
  const local = new Set(observed.interfaces.flatMap((i) => i.addresses.filter((a) => a.family === 4).map((a) => a.address)));
  return r.spec.mappings.filter((m) => local.has(m.external)).length;
}

export function describeMappings(r: ResourceOf<'StatelessNAT44'>, dev: string, held: number | undefined): string {
  const n = r.spec.mappings.length;
  const holding = held === undefined ? '' : `; this router holds ${held} of the ${n} floating address(es)`;
  return `${n} mapping(s) on ${dev} without conntrack${holding}`;
}

function verbFor(state: StatelessTableState): { verb: 'create' | 'update' | 'noop'; why: string } {
  switch (state) {
    case 'missing':
      return { verb: 'create', why: 'create the table' };
    case 'foreign':
      return { verb: 'update', why: 'replace the table (it carries no routerd digest)' };
    case 'stale':
      return { verb: 'update', why: 'replace the table (interfaces or rules changed)' };
    case 'current':
      return { verb: 'noop', why: 'structure current; map elements are compared with the live maps on apply' };
  }
}

const planned = new WeakMap<object, { external: string; internal: string }[]>();

function plannedMappings(r: ResourceOf<'StatelessNAT44'>): { external: string; internal: string }[] {
  let m = planned.get(r);
  if (!m) planned.set(r, (m = r.spec.mappings.map((x) => ({ external: x.external, internal: x.internal }))));
  return m;
}

/**
 * The table to converge to, with what the live table's comment says about it
 * (elements are compared on apply); or remove: no StatelessNAT44 is left and the table goes.
 */
export type StatelessPayload =
  | { readonly op: 'converge'; readonly layout: readonly StatelessInterface[]; readonly state: StatelessTableState }
  | { readonly op: 'remove' }
  | { readonly op: 'none' };

export const statelessNat44Planner: Planner<'StatelessNAT44', StatelessPayload> = {
  kind: 'StatelessNAT44',
  paths: () => ({ contents: [], existence: [] }),
  plan(resources, observed, ctx) {
    const key = statelessTableKey();
    if (resources.length === 0) {
      if (!observed.nftTables?.has(key)) return { resources: [], payload: { op: 'none' } };
      return { resources: [], payload: { op: 'remove' }, removals: [{ resource: NODE, verb: 'delete', object: `nft table ${key}`, detail: 'no StatelessNAT44 left: the one-to-one mappings stop' }] };
    }
    const layout = statelessLayoutFor(resources, ctx);
    const state = tableState(observed, layoutDigests(layout).structure);
    const { verb, why } = verbFor(state);
    const plans = resources.map((r): ResourcePlan => {
      const dev = ctx.ifname(r.spec.interface);
      const n = r.spec.mappings.length;
      const sample = r.spec.mappings
        .slice(0, 3)
        .map((m) => `${m.external}↔${m.internal}`)
        .join(', ');
      const unowned = unownedExternals(r, ctx);
      const warnings = unowned.length ? [unownedWarning(dev, unowned)] : [];
      const actions: Action[] = [
        action(r, verb, `nft table ${key}`, `${n} mapping(s) on ${dev} without conntrack: ${sample}${n > 3 ? ', …' : ''} (${why})`),
        ...warnings.map((w) => action(r, 'noop', 'warning', w)),
      ];
      return {
        resource: resourceId(r),
        actions,
        status: status(Phase.Ready, Reason.Applied, describeMappings(r, dev, heldExternals(r, observed)), {
          externalAddresses: r.spec.mappings.map((m) => m.external),
          mappings: plannedMappings(r),
          ...(warnings.length ? { warnings } : {}),
        }),
      };
    });
    return { resources: plans, payload: { op: 'converge', layout, state } };
  },
};
