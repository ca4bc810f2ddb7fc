import type { AnyResource } from '../../api/kinds.ts';

/** `interface:` fields name an Interface resource when one exists, else a kernel interface. */
export function interfaceResolver(resources: readonly AnyResource[]): (name: string) => string {
  const map = new Map<string, string>();
  for (const r of resources) if (r.kind === 'Interface') map.set(r.metadata.name, r.spec.ifname);
  return (name) => map.get(name) ?? name;
}
