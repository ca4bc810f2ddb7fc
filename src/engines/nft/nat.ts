// The NAT44Rule table: one nftables table owned by routerd, replaced whole in
// one `nft -f` transaction (create-if-missing, delete, define), so a failure
// leaves the previous ruleset in place and no other table is touched.
import type { OwnedTable } from './table.ts';
import { addressBytes, compareAddresses, parseCidr, type PortRange } from '../../api/primitives.ts';

export const NAT_TABLE: OwnedTable = { family: 'ip', name: 'routerd_nat' };

export type ResolvedSnat = { readonly kind: 'addresses'; readonly addresses: readonly string[] } | { readonly kind: 'masquerade' };

/** A NAT44Rule with its interface and SNAT addresses resolved against the host. */
export interface ResolvedNatRule {
  readonly name: string;
  readonly outIfname: string;
  readonly sources: readonly string[];
  readonly snat: ResolvedSnat;
  readonly portRange?: PortRange | undefined;
  readonly random: boolean;
}

export function renderNatTable(rules: readonly ResolvedNatRule[]): string {
  const t = `${NAT_TABLE.family} ${NAT_TABLE.name}`;
  const lines = [`table ${t}`, `delete table ${t}`, `table ${t} {`, '\tchain snat_out {', '\t\ttype nat hook postrouting priority srcnat; policy accept;'];
  for (const { rule, source } of orderedMatches(rules)) lines.push(...renderRule(rule, source).map((l) => `\t\t${l}`));
  lines.push('\t}', '}');
  return `${lines.join('\n')}\n`;
}

/**
 * One nft rule per (rule, source), most specific prefix first, so a /25 rule
 * wins over a /24 rule regardless of file order; ties go by name.
 */
export function orderedMatches(rules: readonly ResolvedNatRule[]): { rule: ResolvedNatRule; source: string }[] {
  const out = rules.flatMap((rule) => rule.sources.map((source) => ({ rule, source })));
  const len = (s: string) => {
    const p = parseCidr(s);
    return typeof p === 'string' ? 0 : p.prefixLength;
  };
  return out.sort((a, b) => len(b.source) - len(a.source) || a.rule.name.localeCompare(b.rule.name) || a.source.localeCompare(b.source));
}

function renderRule(rule: ResolvedNatRule, source: string): string[] {
  const match = [`oifname "${rule.outIfname}"`, ...(source === '0.0.0.0/0' ? [] : [`ip saddr ${source}`])].join(' ');
  const comment = `comment "NAT44Rule/${rule.name}"`;
  const ports = rule.portRange ? `${rule.portRange.from}-${rule.portRange.to}` : undefined;
  const flags = rule.random ? ' random' : '';
  if (rule.snat.kind === 'masquerade') {
    if (!ports && !rule.random) return [`${match} counter masquerade ${comment}`];
    return [
      `${match} meta l4proto { tcp, udp } counter masquerade${ports ? ` to :${ports}` : ''}${flags} ${comment}`,
      `${match} counter masquerade ${comment}`,
    ];
  }
  const addrs = [...rule.snat.addresses].sort(compareAddresses);
  // Port mapping is only valid after a transport protocol match, so TCP/UDP get
  // the port range and everything else (ICMP) is translated by address alone.
  if (!ports && !rule.random) return [`${match} counter snat ${snatTarget(addrs)} ${comment}`];
  return [
    `${match} meta l4proto { tcp, udp } counter snat ${snatTarget(addrs, ports)}${flags} ${comment}`,
    `${match} counter snat ${snatTarget(addrs)} ${comment}`,
  ];
}

function snatTarget(addrs: readonly string[], ports?: string): string {
  const p = ports ? `:${ports}` : '';
  if (addrs.length === 1) return `to ${addrs[0]}${p}`;
  if (contiguous(addrs)) return `to ${addrs[0]}-${addrs[addrs.length - 1]}${p}`;
  // Not a range: hash the source so one host keeps one public address.
  const elems = addrs.map((a, i) => `${i} : ${a}${ports ? ` . ${ports}` : ''}`).join(', ');
  return `ip to jhash ip saddr mod ${addrs.length} map { ${elems} }`;
}

function contiguous(sorted: readonly string[]): boolean {
  const n = sorted.map((a) => addressBytes(a).reduce((x, b) => x * 256 + b, 0));
  return n.every((v, i) => i === 0 || v === n[i - 1]! + 1);
}
