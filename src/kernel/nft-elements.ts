// Set and map elements, with their per-element counters, from
// `nft -j list table FAMILY NAME` (nft 1.0.6). The summary parser in nft.ts
// only counts elements; this one keeps them, for element-level updates.
//
// Element shapes in the JSON: a plain value ("192.0.2.50", 80), an object
// {"elem": {"val": V, "counter": {"packets": P, "bytes": B}, ...}} when the
// element carries expressions, and for maps a pair [KEY, VALUE] where KEY may
// be such an object. Values may also be {"concat": [...]}, {"prefix": {...}},
// {"range": [a, b]} or a verdict ({"accept": null}, {"jump": {"target": T}}).
import { z } from 'zod';
import type { JsonIssue } from './ip.ts';
import type { NftFamily } from './nft.ts';

export interface NftElement {
  /** The key as nft prints it: "192.0.2.50", "192.0.2.0/24", "a . 80". */
  readonly key: string;
  /** Maps only: the data ("198.51.100.150", "accept", "jump x"). */
  readonly value?: string;
  /** Present when the element has a counter. */
  readonly packets?: number;
  readonly bytes?: number;
}

export interface NftElementContainer {
  readonly family: NftFamily;
  readonly table: string;
  readonly name: string;
  readonly kind: 'set' | 'map';
  readonly elements: readonly NftElement[];
}

export interface NftElementsResult {
  readonly containers: readonly NftElementContainer[];
  readonly errors: JsonIssue[];
}

export function nftListTableJsonArgv(fam: NftFamily, name: string): string[] {
  return ['nft', '-j', 'list', 'table', fam, name];
}

const family = z.enum(['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev']);
const containerSchema = z.object({ family, table: z.string(), name: z.string(), elem: z.array(z.unknown()).optional() });
const docSchema = z.object({ nftables: z.array(z.record(z.string(), z.unknown())) });
const counterSchema = z.object({ packets: z.number(), bytes: z.number() });
const VERDICTS = ['accept', 'drop', 'continue', 'return'];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value as text, or undefined when its shape is unknown. */
function valueText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (!isRecord(v)) return undefined;
  const [k, body] = Object.entries(v)[0] ?? [];
  if (k === undefined) return undefined;
  if (k === 'concat' && Array.isArray(body)) {
    const parts = body.map(valueText);
    return parts.every((p): p is string => p !== undefined) ? parts.join(' . ') : undefined;
  }
  if (k === 'prefix' && isRecord(body)) {
    const addr = valueText(body['addr']);
    return addr !== undefined && typeof body['len'] === 'number' ? `${addr}/${body['len']}` : undefined;
  }
  if (k === 'range' && Array.isArray(body) && body.length === 2) {
    const [a, b] = body.map(valueText);
    return a !== undefined && b !== undefined ? `${a}-${b}` : undefined;
  }
  if (VERDICTS.includes(k) && body === null) return k;
  if ((k === 'jump' || k === 'goto') && isRecord(body) && typeof body['target'] === 'string') return `${k} ${body['target']}`;
  return undefined;
}

/** A key, plain or wrapped in {"elem": {...}} with its counter. */
function keyOf(v: unknown): { key: string; packets?: number; bytes?: number } | undefined {
  if (isRecord(v) && isRecord(v['elem'])) {
    const e = v['elem'];
    const key = valueText(e['val']);
    if (key === undefined) return undefined;
    const c = counterSchema.safeParse(e['counter']);
    return c.success ? { key, packets: c.data.packets, bytes: c.data.bytes } : { key };
  }
  const key = valueText(v);
  return key === undefined ? undefined : { key };
}

/**
 * Every set and map of the listing with its elements. An element of an
 * unknown shape is reported in `errors` and left out. Never throws.
 */
export function parseNftElements(text: string): NftElementsResult {
  const errors: JsonIssue[] = [];
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { containers: [], errors: [{ path: '$', message: `invalid JSON: ${(e as Error).message}` }] };
  }
  const doc = docSchema.safeParse(raw);
  if (!doc.success) return { containers: [], errors: [{ path: '$', message: 'expected {"nftables": [...]}' }] };
  const containers: NftElementContainer[] = [];
  doc.data.nftables.forEach((item, i) => {
    const [kind, body] = Object.entries(item)[0] ?? [];
    if (kind !== 'set' && kind !== 'map') return;
    const path = `$.nftables[${i}].${kind}`;
    const c = containerSchema.safeParse(body);
    if (!c.success) {
      for (const issue of c.error.issues) errors.push({ path: `${path}.${issue.path.join('.')}`, message: issue.message });
      return;
    }
    const elements: NftElement[] = [];
    (c.data.elem ?? []).forEach((e, j) => {
      const at = `${path}.elem[${j}]`;
      if (kind === 'map') {
        if (!Array.isArray(e) || e.length !== 2) return void errors.push({ path: at, message: 'expected a [key, value] pair' });
        const k = keyOf(e[0]);
        const value = valueText(e[1]);
        if (!k || value === undefined) return void errors.push({ path: at, message: 'unknown element shape' });
        elements.push({ ...k, value });
      } else {
        const k = keyOf(e);
        if (!k) return void errors.push({ path: at, message: 'unknown element shape' });
        elements.push(k);
      }
    });
    containers.push({ family: c.data.family, table: c.data.table, name: c.data.name, kind, elements });
  });
  return { containers, errors };
}
