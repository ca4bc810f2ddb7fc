// `routerctl validate --pair a.yaml b.yaml`: two routers of a pair checked
// against each other. What must match (VRRP groups, floating addresses, NAT
// rules, DHCP pools) is compared spec by spec; what must differ (VRRP
// priority, where each pushes its state) is checked to differ. Each error
// names the field in the second file (or the first, for what only it has).
import { ErrorCode, formatPath, type ConfigError } from '../api/errors.ts';
import { resourceId, type AnyResource, type Kind } from '../api/kinds.ts';
import { canonicalAddress, SYNC_KINDS } from './semantic.ts';
import type { LoadedResource } from './load.ts';
import { locate } from './source.ts';

/** Kinds both routers must hold identically (per-router fields excepted). */
const SAME_ON_BOTH: readonly Kind[] = ['VirtualAddress', 'NAT44Rule', 'StatelessNAT44', 'DHCPv4Server', 'DHCPv6Server'];
/** Fields of those kinds that are each router's own. */
const PER_ROUTER: Readonly<Partial<Record<Kind, readonly string[]>>> = { VirtualAddress: ['priority', 'peers'] };

function normalise(v: unknown): unknown {
  if (typeof v === 'string' && /^[0-9A-Fa-f:.]+(\/\d+)?$/.test(v) && v.includes(':')) {
    const [a, len] = v.split('/');
    return len === undefined ? canonicalAddress(a!) : `${canonicalAddress(a!)}/${len}`;
  }
  if (Array.isArray(v)) return v.map(normalise);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalise(x)]));
  return v;
}

function fieldDiffs(a: unknown, b: unknown, path: string[]): string[][] {
  if (JSON.stringify(normalise(a)) === JSON.stringify(normalise(b))) return [];
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => fieldDiffs((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], [...path, k]));
  }
  return [path];
}

const show = (v: unknown) => (v === undefined ? '(unset)' : JSON.stringify(v));

export function checkPair(a: readonly LoadedResource[], b: readonly LoadedResource[]): ConfigError[] {
  const errors: ConfigError[] = [];
  const at = (l: LoadedResource, path: readonly (string | number)[], message: string) =>
    errors.push({ code: ErrorCode.PairMismatch, ...locate(l.source, path), resource: resourceId(l.resource), path: formatPath(path), message });
  const byId = (list: readonly LoadedResource[]) => new Map(list.map((l) => [resourceId(l.resource), l]));
  const A = byId(a);
  const B = byId(b);
  const fileA = a[0]?.source.file ?? 'the first file';
  const fileB = b[0]?.source.file ?? 'the second file';
  const paired = (k: Kind) => SAME_ON_BOTH.includes(k) || (SYNC_KINDS as readonly string[]).includes(k);

  for (const [id, la] of A) {
    if (!paired(la.resource.kind)) continue;
    const lb = B.get(id);
    if (!lb) {
      at(la, ['metadata', 'name'], `${id} is only in ${fileA}; the other router (${fileB}) needs it too`);
      continue;
    }
    const ra: AnyResource = la.resource;
    const rb: AnyResource = lb.resource;
    if (SAME_ON_BOTH.includes(ra.kind)) {
      const own = PER_ROUTER[ra.kind] ?? [];
      for (const p of fieldDiffs(ra.spec, rb.spec, [])) {
        if (own.includes(p[0]!)) continue;
        const get = (r: AnyResource) => p.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), r.spec);
        at(lb, ['spec', ...p], `differs from ${fileA}: ${show(get(rb))} here, ${show(get(ra))} there; both routers must agree`);
      }
    }
    if (ra.kind === 'VirtualAddress' && rb.kind === 'VirtualAddress' && ra.spec.priority === rb.spec.priority)
      at(lb, ['spec', 'priority'], `the same priority ${rb.spec.priority} on both routers: the master is decided by address, not by you; give them different priorities`);
    if ('targets' in ra.spec && 'targets' in rb.spec) {
      const ta = new Set((ra.spec.targets as { host: string }[]).map((t) => canonicalAddress(t.host)));
      (rb.spec.targets as { host: string }[]).forEach((t, i) => {
        if (ta.has(canonicalAddress(t.host)))
          at(lb, ['spec', 'targets', i, 'host'], `both routers push to ${t.host}: one of them pushes to itself; each router's target is the other router`);
      });
    }
  }
  for (const [id, lb] of B) if (paired(lb.resource.kind) && !A.has(id)) at(lb, ['metadata', 'name'], `${id} is only in ${fileB}; the other router (${fileA}) needs it too`);
  return errors;
}
