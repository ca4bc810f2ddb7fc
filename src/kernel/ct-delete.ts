// Exact conntrack deletes by original tuple, through routerd-ct-delete (a small
// C program built by scripts/setup from src/kernel/ct-delete/routerd-ct-delete.c).
// `conntrack -D` with a complete tuple still dumps and filters the whole table
// for every line (conntrack-tools 1.4.7: ~50 ms per delete at 5k entries,
// ~130-330 ms at 40k; inside `-R` too), while one ctnetlink DELETE request is a
// hash lookup: 50 000 scattered deletes among 100 000 entries take ~0.12 s.
// Node has no AF_NETLINK sockets; docs/nat-reconfig.md says why a helper.
// Entries go on stdin, one line each, every line checked before anything is sent.
import { isIPv4, isIPv6 } from 'node:net';
import { nativeHelper } from './native-helper.ts';
import { describeFailure, type Host } from '../host/host.ts';
import type { ConntrackEntry } from './conntrack.ts';
import { applyRestore, restoreDeleteLine } from './conntrack-batch.ts';

/** Where scripts/build-helpers builds the helper; ROUTERD_CT_DELETE overrides it. */
const helper = nativeHelper('routerd-ct-delete', 'ROUTERD_CT_DELETE');
export const ctDeleteHelperPath = helper.path;
export const ctDeleteHelperPresent = helper.present;

export class ExactDeleteError extends Error {
  readonly code = 'RD_E_CT_DELETE';
}

function uint(n: number | undefined, what: string, max: number): number {
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > max) throw new ExactDeleteError(`${what}: ${String(n)} is not in 0..${max}`);
  return n;
}

/** The helper's input line for `entry`'s original tuple and zone (0 when the entry shows none). */
export function exactDeleteLine(entry: ConntrackEntry): string {
  const o = entry.original;
  const v4 = entry.l3 === 'ipv4';
  for (const a of [o.src, o.dst]) if (!(v4 ? isIPv4(a) : isIPv6(a))) throw new ExactDeleteError(`${a} is not an ${entry.l3} address`);
  const zone = uint(entry.zone ?? 0, 'zone', 0xffff);
  if (entry.protocol === 'tcp' || entry.protocol === 'udp')
    return `${entry.protocol} ${o.src} ${o.dst} ${uint(o.sport, 'sport', 0xffff)} ${uint(o.dport, 'dport', 0xffff)} ${zone}`;
  if ((entry.protocol === 'icmp' && v4) || (entry.protocol === 'icmpv6' && !v4))
    return `${entry.protocol} ${o.src} ${o.dst} ${uint(o.type, 'icmp type', 0xff)} ${uint(o.code, 'icmp code', 0xff)} ${uint(o.id, 'icmp id', 0xffff)} ${zone}`;
  throw new ExactDeleteError(`protocol ${entry.protocol} in an ${entry.l3} entry cannot be deleted by tuple`);
}

export interface ExactDeleteSummary {
  readonly deleted: number;
  /** No such entry (it ended, or was never there). */
  readonly missing: number;
  readonly failed: number;
}

export function parseExactDeleteSummary(stdout: string): ExactDeleteSummary | undefined {
  const m = /^deleted (\d+) missing (\d+) failed (\d+)$/m.exec(stdout);
  return m ? { deleted: Number(m[1]), missing: Number(m[2]), failed: Number(m[3]) } : undefined;
}

/** Delete exactly these entries (by original tuple and zone). Throws when the helper is missing or a request failed. */
export async function deleteExact(host: Host, entries: readonly ConntrackEntry[], opts: { timeoutMs?: number } = {}): Promise<ExactDeleteSummary> {
  if (entries.length === 0) return { deleted: 0, missing: 0, failed: 0 };
  // Without the helper (an install that did not run scripts/build-helpers):
  // the same deletes through `conntrack -R`, exact too but one table scan per
  // flow, so slow on big tables. Each line is isolated: one missing flow does
  // not stop the others.
  if (!ctDeleteHelperPresent()) return deleteByRestore(host, entries, opts);
  const stdin = `${entries.map(exactDeleteLine).join('\n')}\n`;
  const r = await host.run([ctDeleteHelperPath()], { stdin, timeoutMs: opts.timeoutMs ?? 120_000, maxOutputBytes: 64 * 1024 });
  const summary = parseExactDeleteSummary(r.stdout);
  if (r.code !== 0 || !summary) throw new ExactDeleteError(`exact conntrack deletes: ${describeFailure(r)}${ctDeleteHelperPresent() ? '' : ' (helper not built: run scripts/setup)'}`);
  return summary;
}

async function deleteByRestore(host: Host, entries: readonly ConntrackEntry[], opts: { timeoutMs?: number }): Promise<ExactDeleteSummary> {
  let deleted = 0;
  let failed = 0;
  for (const e of entries) {
    const r = await applyRestore(host, `${restoreDeleteLine(e)}\n`, { timeoutMs: opts.timeoutMs ?? 120_000 });
    if (r.code === 0) deleted++;
    else failed++;
  }
  // conntrack -R cannot tell a missing flow from a failed delete: both count as failed.
  return { deleted, missing: 0, failed };
}
