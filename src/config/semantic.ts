// Whole-config checks about meaning rather than shape: a sync that would run
// on the standby, a gate that can never open, a DHCP pool that hands out
// addresses outside its link or the VIP itself. Each error points at the
// field that causes it.
import { ErrorCode, formatPath, type ConfigError } from '../api/errors.ts';
import { resourceId, whenOf, type AnyResource, type ResourceOf } from '../api/kinds.ts';
import { addressBytes, cidrContains, compareAddresses, formatAddress, ipFamily, networkAddress, parseCidr } from '../api/primitives.ts';
import { parseStateKey, type When } from '../api/when.ts';
import type { LoadedResource } from './load.ts';
import { locate } from './source.ts';
import { closest } from './load.ts';

/** Kinds that push this router's state to another: without a gate they would push from the standby too. */
export const SYNC_KINDS = ['NAT44SessionSync', 'DHCPv4ServerLeaseSync', 'DHCPv6ServerLeaseSync', 'DHCPv6PrefixDelegationLeaseSync'] as const;

/** Values a status field can take, where they are a closed set. */
const STATUS_VALUES: Readonly<Record<string, readonly string[]>> = {
  'VirtualAddress.role': ['master', 'backup', 'fault', 'unknown'],
  '*.phase': ['Pending', 'Ready', 'Synced', 'Degraded', 'Failed'],
};

function valuesOf(kind: string, field: string): readonly string[] | undefined {
  return STATUS_VALUES[`${kind}.${field}`] ?? STATUS_VALUES[`*.${field}`];
}

/** An address in one spelling, so fd00::1 and FD00:0:0::1 are seen as the same. */
export function canonicalAddress(addr: string): string {
  return ipFamily(addr) === 6 ? formatAddress(addressBytes(addr.toLowerCase())) : addr;
}

export function semanticErrors(resources: readonly LoadedResource[], ifnameOf: (n: string) => string): ConfigError[] {
  const errors: ConfigError[] = [];
  const err = (l: LoadedResource, code: ErrorCode, path: readonly (string | number)[], message: string) =>
    errors.push({ code, ...locate(l.source, path), resource: resourceId(l.resource), path: formatPath(path), message });
  const vips = resources.filter((l): l is LoadedResource & { resource: ResourceOf<'VirtualAddress'> } => l.resource.kind === 'VirtualAddress');

  for (const l of resources) {
    const r: AnyResource = l.resource;
    // Only a pair has a standby: with a VirtualAddress in the config, a sync
    // must follow its role. (A node without one has no role to follow.)
    if (vips.length > 0 && (SYNC_KINDS as readonly string[]).includes(r.kind) && !whenOf(r)) {
      const example = `VirtualAddress/${vips[0]!.resource.metadata.name}`;
      err(l, ErrorCode.MissingField, ['spec'], `spec.when is required for ${r.kind}: without it the standby would push (and prune) its state onto the master; add when: {state: {${example}.role: {equals: master}}}`);
    }
    const when = whenOf(r);
    if (when) checkWhenValues(when, ['spec', 'when'], (path, message) => err(l, ErrorCode.InvalidWhen, path, message));
    if (r.kind === 'DHCPv4Server' || r.kind === 'DHCPv6Server') {
      const pool = r.spec.addressPool;
      if (!pool) continue;
      const family = r.kind === 'DHCPv4Server' ? 4 : 6;
      const dev = ifnameOf(r.spec.interface);
      for (const v of vips) {
        const addrs = [{ interface: v.resource.spec.interface, address: v.resource.spec.address }, ...v.resource.spec.extraAddresses];
        for (const a of addrs) {
          const p = parseCidr(a.address);
          if (typeof p === 'string' || p.family !== family) continue;
          const vid = resourceId(v.resource);
          if (ifnameOf(a.interface) === dev) {
            for (const end of ['start', 'end'] as const)
              if (!cidrContains(a.address, pool[end]))
                err(l, ErrorCode.Conflict, ['spec', 'addressPool', end], `pool ${end} ${pool[end]} is outside ${networkAddress(p.address, p.prefixLength)}/${p.prefixLength}, the subnet of ${dev} (${vid}); clients could not reach the router`);
          }
          if (compareAddresses(pool.start, p.address) <= 0 && compareAddresses(p.address, pool.end) <= 0)
            err(l, ErrorCode.Conflict, ['spec', 'addressPool'], `pool ${pool.start}-${pool.end} contains ${p.address}, a floating address of ${vid}; a client could be leased the VIP`);
        }
      }
    }
  }
  return errors;
}

function checkWhenValues(when: When, path: (string | number)[], report: (path: (string | number)[], message: string) => void): void {
  for (const [key, cond] of Object.entries(when.state ?? {})) {
    const k = parseStateKey(key);
    if (!k) continue;
    const allowed = valuesOf(k.kind, k.field);
    if (!allowed) continue;
    const check = (v: unknown, p: (string | number)[]) => {
      if (typeof v === 'string' && allowed.includes(v)) return;
      const hint = typeof v === 'string' ? closest(v, allowed) : undefined;
      report(p, `${k.kind}.${k.field} is never ${JSON.stringify(v)}${hint ? ` (did you mean ${hint}?)` : ''}; it is one of ${allowed.join(', ')}, so this gate could never open as intended`);
    };
    const base = [...path, 'state', key];
    if (cond.equals !== undefined) check(cond.equals, [...base, 'equals']);
    if (cond.notEquals !== undefined) check(cond.notEquals, [...base, 'notEquals']);
    cond.in?.forEach((v, i) => check(v, [...base, 'in', i]));
  }
  when.all?.forEach((w, i) => checkWhenValues(w, [...path, 'all', i], report));
  when.any?.forEach((w, i) => checkWhenValues(w, [...path, 'any', i], report));
}

/**
 * Warnings (not errors): a NAT44Rule SNAT address that no VirtualAddress
 * carries, in a config that has VirtualAddresses. It may be a static address
 * of an interface (routerd cannot see that at validation), but in a pair it
 * usually means the address will not move with the role.
 */
export function semanticWarnings(resources: readonly LoadedResource[]): string[] {
  const vips = resources.filter((l) => l.resource.kind === 'VirtualAddress');
  if (vips.length === 0) return [];
  const carried = new Set(
    vips.flatMap((l) => (l.resource.kind === 'VirtualAddress' ? [l.resource.spec.address, ...l.resource.spec.extraAddresses.map((x) => x.address)] : [])).map((a) => canonicalAddress(a.split('/')[0]!)),
  );
  const out: string[] = [];
  for (const l of resources) {
    const r = l.resource;
    if (r.kind !== 'NAT44Rule') continue;
    const addrs: [string, (string | number)[]][] = [];
    if (r.spec.snat.address) addrs.push([r.spec.snat.address, ['spec', 'snat', 'address']]);
    (r.spec.snat.addresses ?? []).forEach((a, i) => addrs.push([a, ['spec', 'snat', 'addresses', i]]));
    for (const [a, path] of addrs)
      if (!carried.has(canonicalAddress(a))) {
        const p = locate(l.source, path);
        out.push(`${p.file}:${p.line}:${p.col}: warning ${resourceId(r)} ${formatPath(path)}: SNAT address ${a} is not carried by any VirtualAddress (address or extraAddresses); unless an interface holds it statically, it will not move with the VRRP role`);
      }
  }
  return out;
}
