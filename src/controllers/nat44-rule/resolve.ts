// A NAT44Rule resolved against the host: its SNAT addresses (a masquerade or
// fromInterface rule's come from the link), and the one table all rules make.
import type { ResourceOf } from '../../api/kinds.ts';
import { parsePortRange } from '../../api/primitives.ts';
import { NAT_TABLE, renderNatTable, type ResolvedNatRule } from '../../engines/nft/nat.ts';
import { stampTable } from '../../engines/nft/table.ts';
import { findInterface } from '../common.ts';
import type { Observed, PlanContext } from '../types.ts';

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
