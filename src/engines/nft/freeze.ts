// A short-lived table that holds back packets without a conntrack entry on the
// addresses a NAT cleanup rebinds (delete every flow on the address, re-insert
// the valid ones in the same batch). Without it, a packet of a valid flow in
// that gap does harm: a reply to the SNAT address finds no entry, is delivered
// to the router itself and answered with a RST (seen in the lab: a few flows
// per run died); a mid-stream packet picked up loosely gets a new binding and
// the re-insert then clashes. Entries are created unconfirmed at conntrack's
// hook (-200) and only inserted when the packet survives, and de-NAT happens
// later (-100): dropping here (-150) keeps the table and the flows as they
// were; TCP retransmits. See test/e2e/nat-reconfig.test.ts.
import type { OwnedTable } from './table.ts';

export const FREEZE_TABLE: OwnedTable = { family: 'ip', name: 'routerd_freeze' };

export function renderFreezeTable(addresses: readonly string[], sources: readonly string[]): string {
  const t = `${FREEZE_TABLE.family} ${FREEZE_TABLE.name}`;
  const lines = [`table ${t}`, `delete table ${t}`, `table ${t} {`];
  lines.push('\tchain hold_new {', '\t\ttype filter hook prerouting priority -150; policy accept;');
  if (addresses.length) lines.push(`\t\tip daddr { ${addresses.join(', ')} } ct state { new, invalid } drop`);
  if (sources.length) {
    lines.push(`\t\tip saddr { ${sources.join(', ')} } ct state invalid drop`);
    lines.push(`\t\tip saddr { ${sources.join(', ')} } ct state new tcp flags & (fin | syn | rst | ack) != syn drop`);
    lines.push(`\t\tip saddr { ${sources.join(', ')} } ct state new meta l4proto udp drop`);
  }
  lines.push('\t}', '}');
  return `${lines.join('\n')}\n`;
}
