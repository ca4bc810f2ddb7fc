// Engines that must run on one router only (dnsmasq, the prefix-delegation
// client) follow the VRRP role of the VirtualAddress that owns their link.
import type { AnyResource, ResourceOf } from '../api/kinds.ts';
import type { StatusLookup } from '../when/evaluate.ts';

/**
 * The VirtualAddress whose role decides for `ifname`: the one with its address
 * on that link, else one carrying an extra address there, else the only one.
 */
export function roleOwner(resources: readonly AnyResource[], ifname: string, resolve: (n: string) => string): ResourceOf<'VirtualAddress'> | undefined {
  const vips = resources.filter((r): r is ResourceOf<'VirtualAddress'> & AnyResource => r.kind === 'VirtualAddress');
  return (
    vips.find((v) => resolve(v.spec.interface) === ifname) ??
    vips.find((v) => v.spec.extraAddresses.some((x) => resolve(x.interface) === ifname)) ??
    (vips.length === 1 ? vips[0] : undefined)
  );
}

export type RoleDecision = { readonly run: true; readonly owner?: string } | { readonly run: false; readonly owner: string; readonly role: string };

export function followRole(resources: readonly AnyResource[], ifname: string, resolve: (n: string) => string, status: StatusLookup): RoleDecision {
  const owner = roleOwner(resources, ifname, resolve);
  if (!owner) return { run: true };
  const id = `VirtualAddress/${owner.metadata.name}`;
  const role = status('VirtualAddress', owner.metadata.name, 'role');
  return role === 'master' ? { run: true, owner: id } : { run: false, owner: id, role: typeof role === 'string' ? role : 'unknown' };
}
