// 1:1 floating addresses without conntrack: notrack at raw priority, then
// address rewrites through maps, so one rule serves every mapping and the
// lookup cost does not grow with their number.
import type { OwnedTable } from './table.ts';

export const STATELESS_TABLE: OwnedTable = { family: 'ip', name: 'routerd_stateless' };

export interface StatelessMapping {
  readonly external: string;
  readonly internal: string;
}

export interface StatelessInput {
  /** The external interface. */
  readonly ifname: string;
  readonly mappings: readonly StatelessMapping[];
}

export function renderStatelessTable(inputs: readonly StatelessInput[]): string {
  const t = `${STATELESS_TABLE.family} ${STATELESS_TABLE.name}`;
  const all = inputs.flatMap((i) => i.mappings);
  const elems = (f: (m: StatelessMapping) => string) => (all.length ? [`\t\telements = { ${all.map(f).join(', ')} }`] : []);
  const lines = [
    `table ${t}`,
    `delete table ${t}`,
    `table ${t} {`,
    '\tset ext {',
    '\t\ttype ipv4_addr',
    ...elems((m) => m.external),
    '\t}',
    '\tset int {',
    '\t\ttype ipv4_addr',
    ...elems((m) => m.internal),
    '\t}',
    '\tmap ext2int {',
    '\t\ttype ipv4_addr : ipv4_addr',
    '\t\tcounter',
    ...elems((m) => `${m.external} : ${m.internal}`),
    '\t}',
    '\tmap int2ext {',
    '\t\ttype ipv4_addr : ipv4_addr',
    '\t\tcounter',
    ...elems((m) => `${m.internal} : ${m.external}`),
    '\t}',
    '\tchain pre_raw {',
    '\t\ttype filter hook prerouting priority raw; policy accept;',
  ];
  const ifnames = [...new Set(inputs.map((i) => i.ifname))].sort();
  for (const dev of ifnames) lines.push(`\t\tiifname "${dev}" ip daddr @ext notrack ip daddr set ip daddr map @ext2int`);
  lines.push(
    `\t\tiifname != { ${ifnames.map((d) => `"${d}"`).join(', ')} } ip saddr @int notrack`,
    '\t}',
    '\tchain out_raw {',
    '\t\ttype filter hook output priority raw; policy accept;',
    '\t\tip daddr @ext notrack',
    '\t}',
    '\tchain post_rewrite {',
    '\t\ttype filter hook postrouting priority srcnat; policy accept;',
  );
  for (const dev of ifnames) lines.push(`\t\toifname "${dev}" ip saddr @int ip saddr set ip saddr map @int2ext`);
  lines.push('\t}', '}');
  return `${lines.join('\n')}\n`;
}
