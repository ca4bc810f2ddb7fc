// 1:1 floating addresses without conntrack: notrack at raw priority, then
// address rewrites through maps, so one rule serves every mapping and the
// lookup cost does not grow with their number (a hash lookup per packet).
//
// Per external interface i (sorted by name) the table holds
//   map in_i   external → internal  (per-element counter: packets in)
//   map out_i  internal → external  (per-element counter: packets out)
//   set int_i  internal addresses   (no counter: only decides notrack)
// and three rules: in prerouting at raw priority, packets arriving on the
// interface get `ip daddr set ip daddr map @in_i notrack` (a lookup miss ends
// the rule, so unmapped traffic stays tracked and keeps its stateful NAT);
// packets from a mapped internal host arriving elsewhere get notrack; in
// postrouting the source is rewritten on the way out. The source rewrite must
// come after routing: a floating address is local to the master, and a packet
// whose source is a local address is dropped as a martian on input.
//
// The table comment carries the digest of the structure only (declarations and
// chains, no elements): when it matches, a changed mapping becomes a few
// `delete element`/`add element` lines in one transaction and every other
// element keeps its counter. See docs/stateless-nat.md.
//
// A small set, routerd_state, carries both digests as element comments:
// element 0 the structure's, element 1 the elements'. nft 1.0.6 fetches every
// element of the ruleset for `list tables` or `list table` (~0.13 s and ~0.5 s
// at 10 000 mappings) but only that set's for `list set`, so a pass that
// changes nothing reads this set (a few ms) instead of the maps. The element
// digest is rewritten in the same transaction as the elements it describes.
import { createHash } from 'node:crypto';
import { shortDigest } from '../../support/digest.ts';
import { ELEMENTS_DIGEST_PREFIX, STATE_ELEMENTS, STATE_SET, STATE_STRUCTURE } from '../../kernel/nft-owned.ts';
import { DIGEST_PREFIX, type OwnedTable } from './table.ts';

export const STATELESS_TABLE: OwnedTable = { family: 'ip', name: 'routerd_stateless' };

export interface StatelessMapping {
  readonly external: string;
  readonly internal: string;
}

export interface StatelessInput {
  /** The external interface. */
  readonly ifname: string;
  readonly mappings: readonly StatelessMapping[];
}

/** One external interface and the containers that serve it. */
export interface StatelessInterface {
  readonly ifname: string;
  /** external → internal, counted per element (packets in). */
  readonly inMap: string;
  /** internal → external, counted per element (packets out). */
  readonly outMap: string;
  /** Internal addresses whose packets skip conntrack. */
  readonly internalSet: string;
  readonly mappings: readonly StatelessMapping[];
}

/** Elements of one set or map: key → value (undefined for a set). */
export type ElementsOf = ReadonlyMap<string, string | undefined>;

function tableRef(): string {
  return `${STATELESS_TABLE.family} ${STATELESS_TABLE.name}`;
}

/**
 * Interfaces sorted by name, each with its container names and its mappings
 * (first claim wins for an address mapped twice; validation rejects that).
 */
export function statelessLayout(inputs: readonly StatelessInput[]): StatelessInterface[] {
  const byIf = new Map<string, StatelessMapping[]>();
  for (const i of inputs) byIf.set(i.ifname, [...(byIf.get(i.ifname) ?? []), ...i.mappings]);
  const seenExt = new Set<string>();
  const seenInt = new Set<string>();
  return [...byIf.keys()].sort().map((ifname, i) => {
    const mappings = byIf.get(ifname)!.filter((m) => {
      if (seenExt.has(m.external) || seenInt.has(m.internal)) return false;
      seenExt.add(m.external);
      seenInt.add(m.internal);
      return true;
    });
    return { ifname, inMap: `in_${i}`, outMap: `out_${i}`, internalSet: `int_${i}`, mappings };
  });
}

/** The elements every container should hold, by container name. */
export function desiredElements(layout: readonly StatelessInterface[]): Map<string, ElementsOf> {
  const out = new Map<string, ElementsOf>();
  for (const i of layout) {
    out.set(i.inMap, new Map(i.mappings.map((m) => [m.external, m.internal])));
    out.set(i.outMap, new Map(i.mappings.map((m) => [m.internal, m.external])));
    out.set(i.internalSet, new Map(i.mappings.map((m) => [m.internal, undefined])));
  }
  return out;
}

function formatElements(elements: ElementsOf): string {
  return [...elements].map(([k, v]) => (v === undefined ? k : `${k} : ${v}`)).join(', ');
}

/**
 * Digest of the elements the layout asks for, independent of the order of the
 * mappings: equal digests mean equal containers (every container is derived
 * from the interface's mappings). Hashed line by line: it runs every pass.
 */
export function elementsDigest(layout: readonly StatelessInterface[]): string {
  const hash = createHash('sha256');
  for (const i of layout) {
    hash.update(`${i.ifname} ${i.inMap} ${i.outMap} ${i.internalSet}\n`);
    const lines = i.mappings.map((m) => `${m.external} ${m.internal}`).sort();
    for (const l of lines) hash.update(`${l}\n`);
  }
  return hash.digest('hex').slice(0, 16);
}

function stateElement(index: number, comment: string): string {
  return `${index} comment "${comment}"`;
}

/** The table definition; with `elements` false, the structure the digest covers. */
function renderDefinition(
  layout: readonly StatelessInterface[],
  opts: { elements: boolean; comment?: string; state?: { structure: string; elements: string } },
): string[] {
  const want = opts.elements ? desiredElements(layout) : undefined;
  const container = (kind: 'map' | 'set', name: string, type: string, counter: boolean, comment: string): string[] => {
    const elems = want?.get(name);
    return [
      `\t${kind} ${name} {`,
      `\t\ttype ${type}`,
      ...(counter ? ['\t\tcounter'] : []),
      `\t\tcomment "${comment}"`,
      ...(elems?.size ? [`\t\telements = { ${formatElements(elems)} }`] : []),
      '\t}',
    ];
  };
  const lines = [`table ${tableRef()} {`, ...(opts.comment !== undefined ? [`\tcomment "${opts.comment}"`] : [])];
  lines.push(`\tset ${STATE_SET} {`, '\t\ttype inet_service', '\t\tcomment "routerd: structure and element digests"');
  if (opts.state)
    lines.push(
      `\t\telements = { ${stateElement(STATE_STRUCTURE, `${DIGEST_PREFIX}${opts.state.structure}`)}, ${stateElement(STATE_ELEMENTS, `${ELEMENTS_DIGEST_PREFIX}${opts.state.elements}`)} }`,
    );
  lines.push('\t}');
  for (const i of layout)
    lines.push(
      ...container('map', i.inMap, 'ipv4_addr : ipv4_addr', true, `${i.ifname}: external to internal`),
      ...container('map', i.outMap, 'ipv4_addr : ipv4_addr', true, `${i.ifname}: internal to external`),
      ...container('set', i.internalSet, 'ipv4_addr', false, `${i.ifname}: internal addresses, untracked`),
    );
  lines.push('\tchain pre_raw {', '\t\ttype filter hook prerouting priority raw; policy accept;');
  for (const i of layout) lines.push(`\t\tiifname "${i.ifname}" ip daddr set ip daddr map @${i.inMap} notrack`);
  for (const i of layout) lines.push(`\t\tiifname != "${i.ifname}" ip saddr @${i.internalSet} notrack`);
  lines.push('\t}', '\tchain post_rewrite {', '\t\ttype filter hook postrouting priority srcnat; policy accept;');
  for (const i of layout) lines.push(`\t\toifname "${i.ifname}" ip saddr set ip saddr map @${i.outMap}`);
  lines.push('\t}', '}');
  return lines;
}

/** Digest of the structure (declarations and rules, not elements): a full replace is needed only when it changes. */
export function statelessDigest(layout: readonly StatelessInterface[]): string {
  return shortDigest(renderDefinition(layout, { elements: false }).join('\n'));
}

/** The full replace script, unstamped (create-if-missing, delete, define with every element). */
export function renderStatelessTable(inputs: readonly StatelessInput[]): string {
  return renderReplace(statelessLayout(inputs));
}

function renderReplace(layout: readonly StatelessInterface[], stamp?: { structure: string; elements: string }): string {
  const t = tableRef();
  const opts = stamp ? { elements: true, comment: `${DIGEST_PREFIX}${stamp.structure}`, state: stamp } : { elements: true };
  return `${[`table ${t}`, `delete table ${t}`, ...renderDefinition(layout, opts)].join('\n')}\n`;
}

/**
 * The full replace script stamped with the structure digest (table comment and
 * routerd_state element 0) and the elements digest (element 1), and both digests.
 */
export function desiredStatelessTable(layout: readonly StatelessInterface[]): { text: string; digest: string; elementsDigest: string } {
  const digest = statelessDigest(layout);
  const elements = elementsDigest(layout);
  return { text: renderReplace(layout, { structure: digest, elements }), digest, elementsDigest: elements };
}

export interface ElementChanges {
  /** Container name → keys to delete. */
  readonly deletes: ReadonlyMap<string, readonly string[]>;
  /** Container name → elements to add. */
  readonly adds: ReadonlyMap<string, ElementsOf>;
}

export function changeCount(c: ElementChanges): { added: number; deleted: number } {
  let added = 0;
  let deleted = 0;
  for (const keys of c.deletes.values()) deleted += keys.length;
  for (const e of c.adds.values()) added += e.size;
  return { added, deleted };
}

/**
 * What turns the live elements into the desired ones: an element whose value
 * differs is deleted and added again; an element that is already right is
 * left alone, with its counter. `live` must hold every desired container.
 */
export function diffElements(want: ReadonlyMap<string, ElementsOf>, live: ReadonlyMap<string, ElementsOf>): ElementChanges {
  const deletes = new Map<string, string[]>();
  const adds = new Map<string, Map<string, string | undefined>>();
  for (const [name, elems] of want) {
    const have = live.get(name) ?? new Map<string, string | undefined>();
    const del = [...have].filter(([k, v]) => !elems.has(k) || elems.get(k) !== v).map(([k]) => k);
    const add = new Map([...elems].filter(([k, v]) => !have.has(k) || have.get(k) !== v));
    if (del.length) deletes.set(name, del);
    if (add.size) adds.set(name, add);
  }
  return { deletes, adds };
}

/**
 * One `nft -f` transaction: deletes first, then adds (a replaced key is both),
 * then, with `digest`, element 1 of routerd_state rewritten to it (an element's
 * comment cannot be changed in place; the first `add` makes the delete valid
 * whether or not the element is there). Empty when there is nothing to write.
 */
export function renderElementChanges(c: ElementChanges, digest?: string): string {
  const t = tableRef();
  const lines: string[] = [];
  for (const [name, keys] of c.deletes) lines.push(`delete element ${t} ${name} { ${keys.join(', ')} }`);
  for (const [name, elems] of c.adds) lines.push(`add element ${t} ${name} { ${formatElements(elems)} }`);
  if (digest !== undefined)
    lines.push(
      `add element ${t} ${STATE_SET} { ${STATE_ELEMENTS} }`,
      `delete element ${t} ${STATE_SET} { ${STATE_ELEMENTS} }`,
      `add element ${t} ${STATE_SET} { ${stateElement(STATE_ELEMENTS, `${ELEMENTS_DIGEST_PREFIX}${digest}`)} }`,
    );
  return lines.length ? `${lines.join('\n')}\n` : '';
}
