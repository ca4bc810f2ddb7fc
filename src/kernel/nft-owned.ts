// Tables routerd owns carry a digest in their comment. `nft -j` (1.0.6) leaves
// table comments out of its JSON, so the digest is read from the text listing.
//
// Cost of reading (nft 1.0.6): `list tables` and `list table` fetch every set
// element of the ruleset (or of the table), whatever they print: ~0.13 s and
// ~0.5 s with 30 000 elements. `list chains`, `list sets` with -t, and
// `list set T S` fetch only what they print (~5 ms). So the tables are found
// through their chains and sets, and a table with many elements carries its
// digests in a small set (routerd_state, element comments) read with
// `list set`. bench/stateless.ts.
import { z } from 'zod';
import type { JsonIssue } from './ip.ts';
import type { NftFamily } from './nft.ts';

/** The small set holding a table's digests as element comments. */
export const STATE_SET = 'routerd_state';
/** routerd_state element whose comment is `routerd:<structure digest>`. */
export const STATE_STRUCTURE = 0;
/** routerd_state element whose comment is `elements:<elements digest>`. */
export const STATE_ELEMENTS = 1;
export const ELEMENTS_DIGEST_PREFIX = 'elements:';

export function nftListTableTextArgv(fam: NftFamily, name: string): string[] {
  return ['nft', 'list', 'table', fam, name];
}

/** Every chain of the ruleset, without rules' set elements: cheap, and every routerd table has chains. */
export function nftListChainsArgv(): string[] {
  return ['nft', '-j', 'list', 'chains'];
}

/** Every set's declaration, without elements (-t: terse). */
export function nftListSetNamesArgv(): string[] {
  return ['nft', '-j', '-t', 'list', 'sets'];
}

export function nftListStateSetArgv(fam: NftFamily, name: string): string[] {
  return ['nft', '-j', 'list', 'set', fam, name, STATE_SET];
}

/** The table's own comment (the first `comment` line directly inside `table ... {`). */
export function parseTableComment(listing: string): string | undefined {
  const lines = listing.split('\n');
  const open = lines.findIndex((l) => /^table \S+ \S+ \{$/.test(l.trim()));
  if (open < 0) return undefined;
  const next = lines[open + 1]?.trim();
  const m = next ? /^comment "(.*)"$/.exec(next) : null;
  return m ? m[1] : undefined;
}

const family = z.enum(['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev']);
const objectSchema = z.object({ family, table: z.string(), name: z.string() });
const docSchema = z.object({ nftables: z.array(z.record(z.string(), z.unknown())) });
const stateElemSchema = z.object({ elem: z.object({ val: z.number(), comment: z.string().optional() }) });

export interface NftObjectRef {
  readonly family: NftFamily;
  readonly table: string;
  readonly name: string;
  readonly kind: 'chain' | 'set' | 'map';
}

function parseDoc(text: string): { items: Record<string, unknown>[]; errors: JsonIssue[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { items: [], errors: [{ path: '$', message: `invalid JSON: ${(e as Error).message}` }] };
  }
  const doc = docSchema.safeParse(raw);
  return doc.success ? { items: doc.data.nftables, errors: [] } : { items: [], errors: [{ path: '$', message: 'expected {"nftables": [...]}' }] };
}

/** Chains, sets and maps named in a `list chains` or `list sets` listing. Never throws. */
export function parseNftObjects(text: string): { objects: NftObjectRef[]; errors: JsonIssue[] } {
  const { items, errors } = parseDoc(text);
  const objects: NftObjectRef[] = [];
  items.forEach((item, i) => {
    const [kind, body] = Object.entries(item)[0] ?? [];
    if (kind !== 'chain' && kind !== 'set' && kind !== 'map') return;
    const o = objectSchema.safeParse(body);
    if (!o.success) return void errors.push({ path: `$.nftables[${i}].${kind}`, message: o.error.issues[0]?.message ?? 'invalid' });
    objects.push({ ...o.data, kind });
  });
  return { objects, errors };
}

/** routerd_state's elements: element number → comment. Never throws. */
export function parseStateSet(text: string): { comments: Map<number, string>; errors: JsonIssue[] } {
  const { items, errors } = parseDoc(text);
  const comments = new Map<number, string>();
  for (const item of items) {
    const set = item['set'];
    if (typeof set !== 'object' || set === null || !Array.isArray((set as { elem?: unknown }).elem)) continue;
    for (const e of (set as { elem: unknown[] }).elem) {
      const p = stateElemSchema.safeParse(e);
      if (p.success && p.data.elem.comment !== undefined) comments.set(p.data.elem.val, p.data.elem.comment);
    }
  }
  return { comments, errors };
}
