// dhcpcd as a prefix-delegation-only DHCPv6 client on the WAN link.
import { createHash } from 'node:crypto';
import type { ResourceOf } from '../../api/kinds.ts';

/** Both routers derive the same IAID from the resource name, so a standby rebinds the same IA_PD. */
export function iaidOf(r: ResourceOf<'DHCPv6PrefixDelegation'>): number {
  return r.spec.iaid ?? createHash('sha256').update(`routerd/${r.metadata.name}`).digest().readUInt32BE(0);
}

export function renderDhcpcdConf(r: ResourceOf<'DHCPv6PrefixDelegation'>, ifname: string): string {
  const iaid = iaidOf(r);
  const hint = r.spec.prefixLength ? `/::/${r.spec.prefixLength}` : '';
  return [
    `# Rendered by routerd for DHCPv6PrefixDelegation/${r.metadata.name}; edits are overwritten.`,
    'duid',
    'ipv6only',
    'noipv4ll',
    'nohook resolv.conf',
    'option rapid_commit',
    `allowinterfaces ${ifname}`,
    `interface ${ifname}`,
    'ipv6rs',
    // Request only a delegated prefix; routerd hands it to other resources.
    `ia_pd ${iaid}${hint} -`,
    '',
  ].join('\n');
}
