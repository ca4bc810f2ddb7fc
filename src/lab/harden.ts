// A lab router hardened like a production one: forwarding only what the LAN
// starts and what belongs to a known flow, invalid packets dropped, and no
// loose TCP pickup (nf_conntrack_tcp_loose=0), so a mid-stream packet without
// a conntrack entry dies instead of quietly starting a new one. Broken session
// restores show up here; with loose pickup they would be hidden.
import { runChecked } from '../host/host.ts';
import type { LabNode } from './topology.ts';

export interface HardenOptions {
  /** Set this ct mark on new UDP flows (to check that marks survive a sync). */
  readonly markNewUdp?: number;
}

export function labFirewall(opts: HardenOptions = {}): string {
  return [
    'table inet labfw',
    'delete table inet labfw',
    'table inet labfw {',
    '  chain forward_filter {',
    '    type filter hook forward priority filter; policy drop;',
    '    ct state invalid drop',
    '    ct state established,related accept',
    '    iifname "lan0" oifname "wan0" ct state new accept',
    '  }',
    ...(opts.markNewUdp !== undefined
      ? ['  chain mark_new {', '    type filter hook prerouting priority mangle; policy accept;', `    ct state new meta l4proto udp ct mark set ${opts.markNewUdp}`, '  }']
      : []),
    '}',
    '',
  ].join('\n');
}

export async function hardenRouter(node: LabNode, opts: HardenOptions = {}): Promise<void> {
  await runChecked(node.host, ['nft', '-f', '-'], { stdin: labFirewall(opts) });
  await runChecked(node.host, ['sysctl', '-q', '-w', 'net.netfilter.nf_conntrack_tcp_loose=0']);
}

/**
 * The routers' own traffic (ssh, conntrackd's UDP) stays out of conntrack, so
 * the tables hold only the entries a bench or test put there and
 * `conntrack -C` counts exactly those.
 */
export const ROUTER_NOTRACK = `table ip lab_notrack {
  chain pre {
    type filter hook prerouting priority raw; policy accept;
    notrack
  }
  chain out {
    type filter hook output priority raw; policy accept;
    notrack
  }
}
`;

export async function untrackRouterTraffic(nodes: readonly LabNode[]): Promise<void> {
  for (const n of nodes) await runChecked(n.host, ['nft', '-f', '-'], { stdin: ROUTER_NOTRACK });
}
