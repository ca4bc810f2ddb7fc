// One dnsmasq config per DHCP server resource: DHCP only (port=0) unless DNS
// is asked for, bound to its interface so several instances share a host.
import type { ResourceOf } from '../../api/kinds.ts';
import { parseDuration } from '../../api/primitives.ts';

export interface DnsmasqFiles {
  readonly leaseFile: string;
  readonly pidFile: string;
}

function seconds(d: string): number {
  return Math.round((parseDuration(d) ?? 3_600_000) / 1000);
}

function header(kind: string, name: string, ifname: string, files: DnsmasqFiles, serveDNS: boolean): string[] {
  return [
    `# Rendered by routerd for ${kind}/${name}; edits are overwritten.`,
    `interface=${ifname}`,
    'except-interface=lo',
    'bind-interfaces',
    ...(serveDNS ? [] : ['port=0']),
    'no-resolv',
    'no-hosts',
    `dhcp-leasefile=${files.leaseFile}`,
    `pid-file=${files.pidFile}`,
    'log-dhcp',
  ];
}

export function renderDhcpv4Conf(r: ResourceOf<'DHCPv4Server'>, ifname: string, files: DnsmasqFiles): string {
  const s = r.spec;
  const tag = `v4-${r.metadata.name}`;
  const lines = [
    ...header(r.kind, r.metadata.name, ifname, files, s.serveDNS),
    `dhcp-range=set:${tag},${s.addressPool.start},${s.addressPool.end},${seconds(s.leaseTime)}`,
  ];
  if (s.router) lines.push(`dhcp-option=tag:${tag},option:router,${s.router}`);
  if (s.dnsServers?.length) lines.push(`dhcp-option=tag:${tag},option:dns-server,${s.dnsServers.join(',')}`);
  if (s.domain) lines.push(`dhcp-option=tag:${tag},option:domain-name,${s.domain}`);
  if (s.authoritative) lines.push('dhcp-authoritative');
  return `${lines.join('\n')}\n`;
}

export function renderDhcpv6Conf(r: ResourceOf<'DHCPv6Server'>, ifname: string, files: DnsmasqFiles): string {
  const s = r.spec;
  const tag = `v6-${r.metadata.name}`;
  const lines = header(r.kind, r.metadata.name, ifname, files, s.serveDNS);
  if (s.routerAdvertisements) lines.push('enable-ra');
  if (s.mode === 'stateful' && s.addressPool)
    lines.push(`dhcp-range=set:${tag},${s.addressPool.start},${s.addressPool.end},${s.prefixLength},${seconds(s.leaseTime)}`);
  else lines.push(`dhcp-range=set:${tag},::,constructor:${ifname},ra-stateless,${s.prefixLength},${seconds(s.leaseTime)}`);
  if (s.dnsServers?.length) lines.push(`dhcp-option=tag:${tag},option6:dns-server,${s.dnsServers.map((a) => `[${a}]`).join(',')}`);
  if (s.domain) lines.push(`dhcp-option=tag:${tag},option6:domain-search,${s.domain}`);
  return `${lines.join('\n')}\n`;
}
