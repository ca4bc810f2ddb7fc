// A real DHCP client (dhcpcd) on the lab's client node: addresses only — no
// routes, resolv.conf, hostname or ARP probe — so what it shows is what the
// DHCP servers decided.
import { join } from 'node:path';
import type { ChildHandle } from '../host/host.ts';
import { ipAddrShowArgv, parseIpAddr } from '../kernel/ip.ts';
import type { Lab } from './topology.ts';

export const CLIENT_DHCPCD_CONF = '/etc/routerd/dhcpcd-client.conf';

export function dhcpClientConf(v6Hint?: string): string {
  return [
    '# dhcpcd for a lab client: addresses only, no routes, resolv.conf or ARP probe.',
    'duid',
    'noipv4ll',
    'noarp',
    'nohook resolv.conf',
    'nohook hostname',
    'nogateway',
    'ipv6rs',
    `ia_na 1${v6Hint ? `/${v6Hint}` : ''}`,
    '',
  ].join('\n');
}

/** Start dhcpcd on the client's eth0 (its state is private to the client node). */
export async function startDhcpClient(lab: Lab): Promise<ChildHandle> {
  await lab.nodes.client.host.writeFileAtomic(CLIENT_DHCPCD_CONF, dhcpClientConf());
  return lab.nodes.client.host.spawn(['dhcpcd', '--nobackground', '--config', CLIENT_DHCPCD_CONF, 'eth0'], { logFile: join(lab.base, 'client-dhcpcd.log') });
}

/** The client's addresses from the DHCP pools (the lab's pools: 192.0.2.100-199 and fd00:0:0:1::100-1ff). */
export async function leasedAddresses(lab: Lab): Promise<{ v4?: string; v6?: string }> {
  const r = await lab.exec('client', ipAddrShowArgv());
  const addrs = parseIpAddr(r.stdout).items.find((i) => i.name === 'eth0')?.addresses.map((a) => a.local) ?? [];
  return { v4: addrs.find((a) => /^192\.0\.2\.1\d\d$/.test(a)), v6: addrs.find((a) => /^fd00:0:0:1::1[0-9a-f]{2}$/.test(a)) };
}
