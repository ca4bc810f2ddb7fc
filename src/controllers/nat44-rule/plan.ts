import { resourceId, type ResourceOf } from '../../api/kinds.ts';
import { parsePortRange } from '../../api/primitives.ts';
import { NAT_TABLE, renderNatTable, type ResolvedNatRule } from '../../engines/nft/nat.ts';
import { stampTable } from '../../engines/nft/table.ts';
import { action, findInterface, status } from '../common.ts';
import { Phase, Reason } from '../status.ts';
import type { Action, Observed, PlanContext, Planner, ResourcePlan } from '../types.ts';
import { managedAddresses, ruleAddresses } from './flows.ts';
import { computeImpact, describeGroups } from './impact.ts';

export const MASQUERADE_WARNING =
  'masquerade: the kernel drops these flows when the address goes away (failover, DHCP renumbering); use snat.address with a VIP-backed address for HA';

export type NatResolution = { readonly ok: true; readonly rule: ResolvedNatRule } | { readonly ok: false; readonly message: string };

export function resolveNatRule(r: ResourceOf<'NAT44Rule'>, observed: Observed, ctx: PlanContext): NatResolution {
  const s = r.spec;
  const pr = s.portRange ? parsePortRange(s.portRange) : undefined;
  const base = {
    name: r.metadata.name,
    outIfname: ctx.ifname(s.outInterface),
    sources: s.sources,
    portRange: typeof pr === 'object' ? pr : undefined,
    random: s.random,
  };
  if (s.snat.masquerade) return { ok: true, rule: { ...base, snat: { kind: 'masquerade' } } };
  if (s.snat.fromInterface) {
    const dev = ctx.ifname(s.snat.fromInterface);
    const link = findInterface(observed, dev);
    const addr = link?.addresses.find((a) => a.family === 4);
    if (!addr)
      return {
        ok: false,
        message: observed.interfaces
          ? `${dev} has no IPv4 address yet${link ? '' : ' (the link does not exist)'}`
          : `${dev}: interfaces were not observed`,
      };
    return { ok: true, rule: { ...base, snat: { kind: 'addresses', addresses: [addr.address] } } };
  }
  const addresses = s.snat.addresses ?? (s.snat.address ? [s.snat.address] : []);
  return { ok: true, rule: { ...base, snat: { kind: 'addresses', addresses } } };
}

export function natTableKey(): string {
  return `${NAT_TABLE.family} ${NAT_TABLE.name}`;
}

/** The whole desired table and its digest (kept in the table's comment to detect drift). */
export function desiredNatTable(resolved: readonly ResolvedNatRule[]): { text: string; digest: string } {
  return stampTable(renderNatTable(resolved), NAT_TABLE);
}

function describeRule(rule: ResolvedNatRule): string {
  const to = rule.snat.kind === 'masquerade' ? 'masquerade' : `snat to ${rule.snat.addresses.join(', ')}`;
  const ports = rule.portRange ? ` ports ${rule.portRange.from}-${rule.portRange.to}` : '';
  return `${rule.sources.join(', ')} out ${rule.outIfname}: ${to}${ports}${rule.random ? ' random' : ''}`;
}

function flowImpact(resolved: readonly ResolvedNatRule[], observed: Observed) {
  const nf = observed.natFlows!;
  const addressesOf = ruleAddresses(observed);
  return computeImpact(nf.entries, resolved, new Set(managedAddresses(resolved, addressesOf, nf.previousAddresses)), addressesOf);
}

export const nat44RulePlanner: Planner<'NAT44Rule'> = {
  kind: 'NAT44Rule',
  paths: () => ({ contents: [], existence: [] }),
  plan(resources, observed, ctx) {
    const resolutions = resources.map((r) => ({ r, res: resolveNatRule(r, observed, ctx) }));
    const resolved = resolutions.flatMap(({ res }) => (res.ok ? [res.rule] : []));
    const { digest: want } = desiredNatTable(resolved);
    const key = natTableKey();
    const present = observed.nftTables?.has(key) ?? false;
    const tableVerb = !present ? 'create' : observed.nftTables?.get(key) === want ? 'noop' : 'update';
    const impact = tableVerb !== 'noop' && observed.natFlows ? flowImpact(resolved, observed) : undefined;
    let unattributedShown = false;
    return resolutions.map(({ r, res }): ResourcePlan => {
      const id = resourceId(r);
      if (!res.ok)
        return {
          resource: id,
          actions: [action(r, 'wait', `nft table ${key}`, `SNAT address pending: ${res.message}`)],
          status: status(Phase.Pending, Reason.SNATAddressPending, res.message),
        };
      const addrs = res.rule.snat.kind === 'addresses' ? res.rule.snat.addresses : [];
      const warning = res.rule.snat.kind === 'masquerade' ? [action(r, 'noop', 'warning', MASQUERADE_WARNING)] : [];
      const flows: Action[] = [];
      if (impact) {
        const mine = impact.groups.filter((g) => g.rule === r.metadata.name);
        flows.push(action(r, mine.some((g) => g.reason) ? 'delete' : 'noop', 'conntrack flows', describeGroups(mine)));
        const orphans = impact.groups.filter((g) => g.rule === undefined);
        if (!unattributedShown && orphans.length) {
          unattributedShown = true;
          flows.push(action(r, 'delete', 'conntrack flows (no rule)', describeGroups(orphans)));
        }
      }
      return {
        resource: id,
        actions: [action(r, tableVerb, `nft table ${key}`, describeRule(res.rule)), ...warning, ...flows],
        status: status(Phase.Ready, Reason.Applied, describeRule(res.rule), {
          ...(addrs.length ? { snatAddress: addrs[0], snatAddresses: addrs } : {}),
        }),
      };
    });
  },
};
