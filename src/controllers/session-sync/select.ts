// Which SNAT addresses a NAT44SessionSync mirrors: the addresses its natRules
// report in status, minus those of excludeNatRules, plus snatAddresses (seed 000).
import { parseRef } from '../../api/primitives.ts';
import type { ResourceOf } from '../../api/kinds.ts';
import type { StatusLookup } from '../../when/evaluate.ts';

export type Selection = { readonly ok: true; readonly addresses: string[] } | { readonly ok: false; readonly pending: string[] };

function ruleAddresses(ref: string, status: StatusLookup): string[] | undefined {
  const r = parseRef(ref);
  if (!r) return undefined;
  const list = status(r.kind, r.name, 'snatAddresses');
  if (Array.isArray(list) && list.length > 0) return list.map(String);
  const one = status(r.kind, r.name, 'snatAddress');
  return typeof one === 'string' && one ? [one] : undefined;
}

export function selectSnatAddresses(r: ResourceOf<'NAT44SessionSync'>, status: StatusLookup): Selection {
  const pending: string[] = [];
  const included = new Set<string>();
  for (const ref of r.spec.natRules) {
    const a = ruleAddresses(ref, status);
    if (a) a.forEach((x) => included.add(x));
    else pending.push(ref);
  }
  if (pending.length > 0) return { ok: false, pending };
  for (const ref of r.spec.excludeNatRules) ruleAddresses(ref, status)?.forEach((x) => included.delete(x));
  r.spec.snatAddresses.forEach((x) => included.add(x));
  return { ok: true, addresses: [...included].sort() };
}
