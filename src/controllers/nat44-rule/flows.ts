// Reading the flows bound to managed SNAT addresses, and running a cleanup.
import { describeFailure, type Host } from '../../host/host.ts';
import { applyRestore } from '../../kernel/conntrack-batch.ts';
import { conntrackDeleteBySnatArgv, parseConntrackSummary, type ConntrackEntry } from '../../kernel/conntrack.ts';
import { dumpSnatFlows } from '../../kernel/ct-dump.ts';
import type { ResolvedNatRule } from '../../engines/nft/nat.ts';
import type { Observed } from '../types.ts';
import type { RuleAddresses } from './impact.ts';

/** The flows source-NATed to `addresses`: one kernel-filtered dump per address through routerd-ct-dump (src/kernel/ct-dump.ts). */
export async function dumpNatFlows(host: Host, addresses: readonly string[]): Promise<ConntrackEntry[]> {
  return dumpSnatFlows(host, addresses);
}

/** Delete every flow bound to `addr` (one table scan); returns how many went. */
export async function deleteAddressFlows(host: Host, addr: string): Promise<number> {
  const r = await host.run(conntrackDeleteBySnatArgv(addr), { timeoutMs: 120_000, maxOutputBytes: 1024 });
  const summary = parseConntrackSummary(r.stderr);
  // conntrack -D exits 1 when nothing matched ("0 flow entries have been deleted").
  if (summary) return summary.count;
  if (r.code !== 0) throw new Error(`conntrack -D --src-nat ${addr}: ${describeFailure(r)}`);
  return 0;
}

export async function runCleanup(host: Host, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  const r = await applyRestore(host, `${lines.join('\n')}\n`, { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`conntrack cleanup: ${describeFailure(r)}`);
}

/** Addresses a resolved rule translates to; masquerade's are the out interface's live IPv4 addresses. */
export function ruleAddresses(observed: Observed): RuleAddresses {
  return (rule: ResolvedNatRule) =>
    rule.snat.kind === 'addresses'
      ? rule.snat.addresses
      : (observed.interfaces?.find((i) => i.name === rule.outIfname)?.addresses.filter((a) => a.family === 4).map((a) => a.address) ?? []);
}

export function managedAddresses(rules: readonly ResolvedNatRule[], addressesOf: RuleAddresses, previous: readonly string[] = []): string[] {
  return [...new Set([...previous, ...rules.flatMap(addressesOf)])].sort();
}
