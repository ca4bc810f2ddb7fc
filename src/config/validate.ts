// Checks that need the whole config: references, spec.when targets, and
// conflicts between resources. Every error points at the field that causes it.
import { ErrorCode, formatPath, type ConfigError } from '../api/errors.ts';
import { resourceId, whenOf, type AnyResource } from '../api/kinds.ts';
import { isKind, referencesOf, statusFieldsOf } from '../controllers/kinds.ts';
import { networkAddress, parseCidr } from '../api/primitives.ts';
import { stateKeys } from '../api/when.ts';
import { interfaceResolver } from '../controllers/interface/resolve.ts';
import type { LoadedResource } from './load.ts';
import { canonicalAddress, semanticErrors } from './semantic.ts';
import { locate, positionOf } from './source.ts';

export function validateConfigSet(resources: readonly LoadedResource[], invalidIds: ReadonlySet<string> = new Set()): ConfigError[] {
  const byId = new Map(resources.map((l) => [resourceId(l.resource), l]));
  const defined = (id: string) => byId.has(id) || invalidIds.has(id);
  const errors: ConfigError[] = [];
  const err = (l: LoadedResource, code: ErrorCode, path: readonly (string | number)[], message: string) =>
    errors.push({ code, ...locate(l.source, path), resource: resourceId(l.resource), path: formatPath(path), message });

  for (const l of resources) {
    for (const ref of referencesOf(l.resource))
      if (!defined(ref.target)) err(l, ErrorCode.DanglingReference, ref.path, `${ref.target} is not defined in this config`);
    const when = whenOf(l.resource);
    if (when)
      for (const { key, path } of stateKeys(when, ['spec', 'when'])) {
        const id = `${key.kind}/${key.name}`;
        if (!isKind(key.kind)) err(l, ErrorCode.UnknownKind, path, `unknown kind "${key.kind}" in ${id}.${key.field}`);
        else if (!defined(id)) err(l, ErrorCode.DanglingReference, path, `${id} is not defined in this config`);
        else {
          if (!byId.has(id)) continue;
          const top = key.field.split('.')[0]!;
          const fields = statusFieldsOf(key.kind);
          if (!fields.includes(top))
            err(l, ErrorCode.UnknownStatusField, path, `${key.kind} has no status field "${top}" (it has ${fields.join(', ')})`);
        }
      }
  }
  errors.push(...whenCycles(resources, byId));
  errors.push(...conflicts(resources));
  errors.push(...semanticErrors(resources, interfaceResolver(resources.map((l) => l.resource))));
  return errors;
}

function whenCycles(resources: readonly LoadedResource[], byId: Map<string, LoadedResource>): ConfigError[] {
  const deps = new Map<string, string[]>();
  for (const l of resources) {
    const when = whenOf(l.resource);
    deps.set(resourceId(l.resource), when ? stateKeys(when).map(({ key }) => `${key.kind}/${key.name}`) : []);
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const errors: ConfigError[] = [];
  const visit = (id: string, stack: string[]): void => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(id)), id];
      const l = byId.get(id)!;
      errors.push({
        code: ErrorCode.Conflict,
        ...locate(l.source, ['spec', 'when']),
        resource: id,
        path: 'spec.when',
        message: `spec.when gates form a cycle: ${cycle.join(' → ')}; no resource in it could ever start`,
      });
      return;
    }
    state.set(id, 'visiting');
    for (const d of deps.get(id) ?? []) if (deps.has(d)) visit(d, [...stack, id]);
    state.set(id, 'done');
  };
  for (const id of deps.keys()) visit(id, []);
  return errors;
}

interface Claim {
  readonly l: LoadedResource;
  readonly path: (string | number)[];
}

function conflictAt(c: Claim, message: string): ConfigError {
  return { code: ErrorCode.Conflict, ...locate(c.l.source, c.path), resource: resourceId(c.l.resource), path: formatPath(c.path), message };
}

/** Report every claim of a key after the first, e.g. a VRRP id used twice on one link. */
function exclusive(claims: Map<string, Claim[]>, describe: (key: string, first: Claim) => string): ConfigError[] {
  const out: ConfigError[] = [];
  for (const [key, list] of claims) {
    const first = list[0]!;
    const p = positionOf(first.l.source, first.l.source.node?.range?.[0]);
    for (const c of list.slice(1)) out.push(conflictAt(c, `${describe(key, first)} (${resourceId(first.l.resource)} at ${p.file}:${p.line}:${p.col})`));
  }
  return out;
}

function claim(map: Map<string, Claim[]>, key: string, c: Claim): void {
  const list = map.get(key);
  if (list) list.push(c);
  else map.set(key, [c]);
}

function conflicts(resources: readonly LoadedResource[]): ConfigError[] {
  const ifnames = new Map<string, Claim[]>();
  const vrids = new Map<string, Claim[]>();
  const vips = new Map<string, Claim[]>();
  const dhcp = new Map<string, Claim[]>();
  const externals = new Map<string, Claim[]>();
  const internals = new Map<string, Claim[]>();
  const snatAddresses = new Set<string>();
  const lanPrefixes: string[] = [];
  const errors: ConfigError[] = [];
  const ifnameOf = interfaceResolver(resources.map((l) => l.resource));

  for (const l of resources) {
    const r: AnyResource = l.resource;
    switch (r.kind) {
      case 'Interface':
        claim(ifnames, r.spec.ifname, { l, path: ['spec', 'ifname'] });
        break;
      case 'VirtualAddress': {
        claim(vrids, `${ifnameOf(r.spec.interface)}/${r.spec.virtualRouterId}`, { l, path: ['spec', 'virtualRouterId'] });
        claim(vips, canonicalAddress(r.spec.address.split('/')[0]!), { l, path: ['spec', 'address'] });
        r.spec.extraAddresses.forEach((x, i) => claim(vips, canonicalAddress(x.address.split('/')[0]!), { l, path: ['spec', 'extraAddresses', i, 'address'] }));
        const p = parseCidr(r.spec.address);
        if (typeof p !== 'string' && p.family === 4) lanPrefixes.push(`${networkAddress(p.address, p.prefixLength)}/${p.prefixLength}`);
        break;
      }
      case 'DHCPv4Server':
      case 'DHCPv6Server':
        claim(dhcp, `${r.kind === 'DHCPv4Server' ? 'v4' : 'v6'}/${ifnameOf(r.spec.interface)}`, { l, path: ['spec', 'interface'] });
        break;
      case 'NAT44Rule':
        for (const a of [r.spec.snat.address, ...(r.spec.snat.addresses ?? [])]) if (a) snatAddresses.add(a);
        break;
      case 'NAT44SessionSync': {
        const included = new Set(r.spec.natRules);
        r.spec.excludeNatRules.forEach((x, i) => {
          if (included.has(x))
            errors.push({
              code: ErrorCode.Conflict,
              ...locate(l.source, ['spec', 'excludeNatRules', i]),
              resource: resourceId(r),
              path: `spec.excludeNatRules[${i}]`,
              message: `${x} is both in natRules and excludeNatRules`,
            });
        });
        break;
      }
      case 'StatelessNAT44':
        r.spec.mappings.forEach((m, i) => {
          claim(externals, m.external, { l, path: ['spec', 'mappings', i, 'external'] });
          claim(internals, m.internal, { l, path: ['spec', 'mappings', i, 'internal'] });
        });
        break;
      default:
        break;
    }
  }

  errors.push(...exclusive(ifnames, (k) => `interface ${k} is already named by another Interface`));
  errors.push(...exclusive(vrids, (k) => `VRRP router id ${k.split('/')[1]} is already used on ${k.split('/')[0]}`));
  errors.push(...exclusive(vips, (k) => `address ${k} is already a floating address`));
  errors.push(...exclusive(dhcp, (k) => `a ${k.startsWith('v4') ? 'DHCPv4' : 'DHCPv6'} server already serves ${k.slice(3)}`));
  errors.push(...exclusive(externals, (k) => `floating address ${k} is already mapped`));
  errors.push(...exclusive(internals, (k) => `internal address ${k} already has a floating address`));
  for (const [addr, list] of externals)
    if (snatAddresses.has(addr))
      for (const c of list)
        errors.push(conflictAt(c, `floating address ${addr} is also a NAT44Rule SNAT address; stateless and stateful NAT cannot share it`));
  if (lanPrefixes.length > 0)
    for (const [addr, list] of internals)
      if (!lanPrefixes.some((p) => networkAddress(addr, Number(p.split('/')[1])) === p.split('/')[0]))
        for (const c of list)
          errors.push(conflictAt(c, `internal address ${addr} is outside every LAN prefix (${lanPrefixes.join(', ')})`));
  return errors;
}
