// Which existing NAT flows a NAT44Rule change invalidates (seed 004). The
// kernel keeps a flow's binding when the ruleset changes, so routerd judges
// every flow bound to an address it manages against the new rules and removes
// exactly the invalid ones. Pure: unit- and property-tested without root.
import { restoreDeleteBySnatLine } from '../../kernel/conntrack-batch.ts';
import { cidrContains, cidrCovers, parseCidr } from '../../api/primitives.ts';
import { snatAddress, snatPort, type ConntrackEntry } from '../../kernel/conntrack.ts';
import type { ResolvedNatRule } from '../../engines/nft/nat.ts';

export type InvalidReason = 'address-removed' | 'source-untranslated' | 'address-not-for-source' | 'port-outside-range';

export const REASON_TEXT: Record<InvalidReason, string> = {
  'address-removed': 'address removed',
  'source-untranslated': 'source no longer translated',
  'address-not-for-source': 'address no longer used for this source',
  'port-outside-range': 'port outside the new range',
};

export type Verdict =
  | { readonly keep: true; readonly rule: string }
  | { readonly keep: false; readonly reason: InvalidReason; readonly rule?: string };

/** Addresses a rule translates to: its snat addresses, or the interface's live addresses for masquerade. */
export type RuleAddresses = (rule: ResolvedNatRule) => readonly string[];

/** A source prefix test; `v4` is the source as a number when it is IPv4 (computed once per flow). */
type SourceMatch = (src: string, v4: number | undefined) => boolean;

interface CompiledRule {
  readonly name: string;
  readonly matches: readonly SourceMatch[];
  readonly addresses: ReadonlySet<string>;
  readonly portRange?: { readonly from: number; readonly to: number } | undefined;
}

function compileSource(cidr: string): SourceMatch {
  const p = parseCidr(cidr);
  if (typeof p === 'string') return () => false;
  if (p.family === 6) return (a) => cidrContains(cidr, a);
  const div = 2 ** (32 - p.prefixLength);
  const net = Math.floor(dottedToInt(p.address)! / div);
  return (_a, v4) => v4 !== undefined && Math.floor(v4 / div) === net;
}

/** An IPv4 address as a number; undefined for anything else (IPv6). The flows' addresses come checked from the parser. */
function dottedToInt(a: string): number | undefined {
  let n = 0;
  let part = -1;
  let parts = 0;
  for (let i = 0; i <= a.length; i++) {
    const c = i < a.length ? a.charCodeAt(i) : 46;
    if (c === 46) {
      if (part < 0 || part > 255) return undefined;
      n = n * 256 + part;
      parts++;
      part = -1;
    } else if (c >= 48 && c <= 57) part = (part < 0 ? 0 : part * 10) + c - 48;
    else return undefined;
  }
  return parts === 4 ? n : undefined;
}

function compile(rules: readonly ResolvedNatRule[], addressesOf: RuleAddresses): CompiledRule[] {
  return rules.map((r) => ({ name: r.name, matches: r.sources.map(compileSource), addresses: new Set(addressesOf(r)), portRange: r.portRange }));
}

// Verdicts repeat for every flow: one object per (keep, reason, rule), so judging allocates nothing.
const verdicts = new Map<string, Verdict>();
function verdict(keep: boolean, reason: InvalidReason | undefined, rule: string | undefined): Verdict {
  const key = `${keep ? '' : reason}|${rule ?? ''}`;
  let v = verdicts.get(key);
  if (!v) {
    v = keep ? { keep: true, rule: rule! } : { keep: false, reason: reason!, ...(rule !== undefined ? { rule } : {}) };
    if (verdicts.size < 4096) verdicts.set(key, v);
  }
  return v;
}

function judge(e: ConntrackEntry, addr: string, rules: readonly CompiledRule[], allAddresses: ReadonlySet<string>, v4: number | undefined): Verdict {
  if (!allAddresses.has(addr)) return verdict(false, 'address-removed', undefined);
  const src = e.original.src;
  let firstMatching: CompiledRule | undefined;
  let firstWithAddr: CompiledRule | undefined;
  const ported = e.protocol === 'tcp' || e.protocol === 'udp';
  const port = snatPort(e);
  for (const r of rules) {
    if (!r.matches.some((m) => m(src, v4))) continue;
    firstMatching ??= r;
    if (!r.addresses.has(addr)) continue;
    firstWithAddr ??= r;
    if (!ported || !r.portRange || (port !== undefined && port >= r.portRange.from && port <= r.portRange.to)) return verdict(true, undefined, r.name);
  }
  if (!firstMatching) return verdict(false, 'source-untranslated', undefined);
  if (!firstWithAddr) return verdict(false, 'address-not-for-source', firstMatching.name);
  return verdict(false, 'port-outside-range', firstWithAddr.name);
}

/**
 * A flow is valid under `rules` when some rule that matches its source
 * translates to its SNAT address, with its port inside that rule's range
 * (TCP and UDP; ICMP has no port range).
 */
export function judgeFlow(e: ConntrackEntry, rules: readonly ResolvedNatRule[], addressesOf: RuleAddresses): Verdict {
  return judge(e, snatAddress(e)!, compile(rules, addressesOf), new Set(rules.flatMap(addressesOf)), dottedToInt(e.original.src));
}

/**
 * Addresses on which some flow valid under `before` may be invalid under
 * `after`: those whose allowed (source prefix, port range) pairs shrank. Flows
 * on the others need not be read at all, so an unrelated change costs nothing.
 */
export function shrunkAddresses(before: readonly ResolvedNatRule[], after: readonly ResolvedNatRule[], addressesOf: RuleAddresses): string[] {
  const allowed = (rules: readonly ResolvedNatRule[], addr: string) =>
    rules.filter((r) => addressesOf(r).includes(addr)).flatMap((r) => r.sources.map((s) => ({ s, from: r.portRange?.from ?? 1, to: r.portRange?.to ?? 65535 })));
  const out: string[] = [];
  for (const addr of new Set(before.flatMap(addressesOf))) {
    const now = allowed(after, addr);
    const covered = allowed(before, addr).every((o) => now.some((n) => cidrCovers(n.s, o.s) && n.from <= o.from && n.to >= o.to));
    if (!covered) out.push(addr);
  }
  return out.sort();
}

export interface ImpactGroup {
  /** The rule that keeps the flows, or that the removed flows fall under now (if any). */
  readonly rule?: string;
  readonly address: string;
  readonly reason?: InvalidReason;
  readonly count: number;
}

export interface Impact {
  readonly kept: readonly ConntrackEntry[];
  readonly removed: readonly { readonly entry: ConntrackEntry; readonly reason: InvalidReason; readonly rule?: string }[];
  /** Counts per (rule, address, reason), for plan output, logs and metrics. */
  readonly groups: readonly ImpactGroup[];
}

/** Judge every source-NATed flow on a managed address; flows on other addresses are not routerd's. */
export function computeImpact(
  entries: readonly ConntrackEntry[],
  rules: readonly ResolvedNatRule[],
  managed: ReadonlySet<string>,
  addressesOf: RuleAddresses,
): Impact {
  const kept: ConntrackEntry[] = [];
  const removed: { entry: ConntrackEntry; reason: InvalidReason; rule?: string }[] = [];
  // Counted per verdict (a shared object), then per address: no key built per flow.
  const counts = new Map<Verdict, Map<string, { -readonly [K in keyof ImpactGroup]: ImpactGroup[K] }>>();
  const compiled = compile(rules, addressesOf);
  const all = new Set(rules.flatMap(addressesOf));
  for (const e of entries) {
    const addr = snatAddress(e);
    if (addr === undefined || !managed.has(addr)) continue;
    const v = judge(e, addr, compiled, all, dottedToInt(e.original.src));
    let byAddr = counts.get(v);
    if (!byAddr) counts.set(v, (byAddr = new Map()));
    const g = byAddr.get(addr);
    if (g) g.count++;
    else byAddr.set(addr, { ...(v.rule ? { rule: v.rule } : {}), address: addr, ...(v.keep ? {} : { reason: v.reason }), count: 1 });
    if (v.keep) kept.push(e);
    else removed.push(v.rule === undefined ? { entry: e, reason: v.reason } : { entry: e, reason: v.reason, rule: v.rule });
  }
  const groups = [...counts.values()].flatMap((m) => [...m.values()]).sort((a, b) => (a.rule ?? '~').localeCompare(b.rule ?? '~') || a.address.localeCompare(b.address) || (a.reason ?? '').localeCompare(b.reason ?? ''));
  return { kept, removed, groups };
}

export function describeGroups(groups: readonly ImpactGroup[]): string {
  const kept = groups.filter((g) => !g.reason).reduce((n, g) => n + g.count, 0);
  const parts = groups.filter((g) => g.reason).map((g) => `${g.count} flow${g.count === 1 ? '' : 's'} on ${g.address} (${REASON_TEXT[g.reason!]})`);
  return `keeps ${kept} flow${kept === 1 ? '' : 's'}${parts.length ? `; removes ${parts.join(', ')}` : '; removes none'}`;
}

export interface DeletionPlan {
  /** `conntrack -R` lines: whole addresses, and source prefixes whose flows on an address all go (one table scan each). */
  readonly lines: readonly string[];
  /** Table scans the lines cost on the kernel side (one per line). */
  readonly scans: number;
  /** Flows deleted one by one by their exact tuple (a hash lookup each, no scan: src/kernel/ct-delete.ts). */
  readonly exact: readonly ConntrackEntry[];
}

/**
 * What removes exactly `impact.removed`, cheapest first: one
 * `-D --src-nat A` when every flow on A goes; `-D --src-nat A -s CIDR` for
 * sources whose flows on A all go; every other invalid flow by its exact
 * tuple. Valid flows are never touched.
 */
export function deletionPlan(impact: Impact, candidateCidrs: readonly string[]): DeletionPlan {
  const lines: string[] = [];
  const exact: ConntrackEntry[] = [];
  const byAddr = new Map<string, { kept: ConntrackEntry[]; removed: ConntrackEntry[] }>();
  const slot = (a: string) => {
    let s = byAddr.get(a);
    if (!s) byAddr.set(a, (s = { kept: [], removed: [] }));
    return s;
  };
  for (const e of impact.kept) slot(snatAddress(e)!).kept.push(e);
  for (const r of impact.removed) slot(snatAddress(r.entry)!).removed.push(r.entry);
  // Broadest prefixes first, so one line covers as much as it safely can.
  const cidrs = [...new Set(candidateCidrs)].sort((a, b) => Number(a.split('/')[1]) - Number(b.split('/')[1]) || a.localeCompare(b));
  for (const [addr, { kept, removed }] of [...byAddr].sort(([a], [b]) => a.localeCompare(b))) {
    if (removed.length === 0) continue;
    if (kept.length === 0) {
      lines.push(restoreDeleteBySnatLine(addr));
      continue;
    }
    let rest = removed;
    for (const c of cidrs) {
      if (rest.length === 0) break;
      const match = compileSource(c);
      const within = (e: ConntrackEntry) => match(e.original.src, dottedToInt(e.original.src));
      const inside = new Set(rest.filter(within));
      if (inside.size === 0 || kept.some(within)) continue;
      lines.push(restoreDeleteBySnatLine(addr, c));
      rest = rest.filter((e) => !inside.has(e));
    }
    exact.push(...rest);
  }
  return { lines, scans: lines.length, exact };
}
