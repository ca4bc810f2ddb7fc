// A truncated or half-written config must never tear a router down: a reload
// that would leave no resource at all, or remove every VirtualAddress, every
// NAT44Rule or every DHCP server the running config has, is refused unless the
// operator asks for it explicitly (`routerctl reload --allow-removal`,
// `routerctl apply --allow-removal`). docs/operations.md.
import type { AnyResource, Kind } from '../api/kinds.ts';

export const RELOAD_REFUSED = 'RD_E_RELOAD_REFUSED';

const GUARDED: readonly { readonly what: string; readonly kinds: readonly Kind[] }[] = [
  { what: 'VirtualAddress', kinds: ['VirtualAddress'] },
  { what: 'NAT44Rule', kinds: ['NAT44Rule'] },
  { what: 'DHCP server', kinds: ['DHCPv4Server', 'DHCPv6Server'] },
];

/** Why replacing `current` by `next` is refused without --allow-removal, or undefined. */
export function destructiveChange(current: readonly AnyResource[], next: readonly AnyResource[]): string | undefined {
  if (current.length === 0) return undefined;
  if (next.length === 0) return `the new config has no resources at all (running: ${current.length}); an empty or truncated file is not applied`;
  const gone = GUARDED.filter((g) => current.some((r) => g.kinds.includes(r.kind)) && !next.some((r) => g.kinds.includes(r.kind)));
  if (gone.length === 0) return undefined;
  const list = gone.map((g) => `every ${g.what}`).join(', ');
  return `the new config removes ${list}`;
}

export const ALLOW_REMOVAL_HINT = 'if that is intended, run `routerctl reload --allow-removal` (or `routerctl apply --allow-removal -f FILE`)';
