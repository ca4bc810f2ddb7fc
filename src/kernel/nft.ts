// nftables (nft 1.0.6): a summary parser for `nft -j list ruleset|table` and argv
// builders. Rulesets go in whole through `nft -f -` (stdin), one transaction:
// a failure leaves the old ruleset in place. `nft -f -` reads LocalHost's
// socket stdin fine (unlike conntrack -R). nft 1.0.6 JSON carries set comments
// but not table or chain comments.
import { z } from 'zod';
import type { JsonIssue } from './ip.ts';

export type NftFamily = 'ip' | 'ip6' | 'inet' | 'arp' | 'bridge' | 'netdev';

export interface NftChain {
  readonly family: NftFamily;
  readonly table: string;
  readonly name: string;
  readonly handle: number;
  /** Base chains only (filter, nat, route). */
  readonly type?: string;
  readonly hook?: string;
  /** Numeric: nft -j prints `prio` as a number (srcnat = 100, raw = -300). */
  readonly priority?: number;
  readonly policy?: string;
  readonly device?: string;
  readonly rules: number;
}

export interface NftSet {
  readonly family: NftFamily;
  readonly table: string;
  readonly name: string;
  readonly handle: number;
  readonly kind: 'set' | 'map';
  /** "ipv4_addr", or a concatenation "ipv4_addr . inet_service". */
  readonly keyType: string;
  /** Maps only: "ipv4_addr", "verdict", "ipv4_addr . inet_service". */
  readonly dataType?: string;
  readonly flags: readonly string[];
  readonly elements: number;
  /** Default element timeout in seconds. */
  readonly timeout?: number;
  readonly comment?: string;
}

export interface NftTable {
  readonly family: NftFamily;
  readonly name: string;
  readonly handle: number;
  readonly flags: readonly string[];
  readonly chains: readonly NftChain[];
  readonly sets: readonly NftSet[];
}

export interface NftRuleset {
  /** nft's version from metainfo, "1.0.6". */
  readonly version?: string;
  readonly tables: readonly NftTable[];
}

export interface NftParseResult {
  readonly ruleset: NftRuleset;
  readonly errors: JsonIssue[];
}

const family = z.enum(['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev']);
const typeName = z.union([z.string(), z.array(z.string())]).transform((t) => (Array.isArray(t) ? t.join(' . ') : t));
const stringList = z.union([z.string(), z.array(z.string())]).transform((f) => (Array.isArray(f) ? f : [f]));

const tableSchema = z.object({ family, name: z.string(), handle: z.number(), flags: stringList.optional() });
const chainSchema = z.object({
  family,
  table: z.string(),
  name: z.string(),
  handle: z.number(),
  type: z.string().optional(),
  hook: z.string().optional(),
  prio: z.number().optional(),
  policy: z.string().optional(),
  dev: z.string().optional(),
});
const setSchema = z.object({
  family,
  table: z.string(),
  name: z.string(),
  handle: z.number(),
  type: typeName,
  map: typeName.optional(),
  flags: stringList.optional(),
  timeout: z.number().optional(),
  comment: z.string().optional(),
  elem: z.array(z.unknown()).optional(),
});
const ruleSchema = z.object({ family, table: z.string(), chain: z.string() });
const metaSchema = z.object({ version: z.string().optional() });
const docSchema = z.object({ nftables: z.array(z.record(z.string(), z.unknown())) });

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function tableKey(f: string, name: string): string {
  return `${f}\u0000${name}`;
}

/**
 * Parse `nft -j list ruleset` or `nft -j list table FAMILY NAME` into tables
 * with their chains (rule counts) and sets/maps (element counts). Objects it
 * does not summarise (counters, flowtables, ...) are skipped. Never throws.
 */
export function parseNftJson(text: string): NftParseResult {
  const errors: JsonIssue[] = [];
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ruleset: { tables: [] }, errors: [{ path: '$', message: `invalid JSON: ${(e as Error).message}` }] };
  }
  const doc = docSchema.safeParse(raw);
  if (!doc.success) return { ruleset: { tables: [] }, errors: [{ path: '$', message: 'expected {"nftables": [...]}' }] };

  let version: string | undefined;
  const tables = new Map<string, Mutable<NftTable> & { chains: Mutable<NftChain>[]; sets: NftSet[] }>();
  const chains: Mutable<NftChain>[] = [];
  const sets: NftSet[] = [];
  const ruleCounts = new Map<string, number>();

  doc.data.nftables.forEach((item, i) => {
    const [kind, body] = Object.entries(item)[0] ?? [];
    const path = `$.nftables[${i}].${kind ?? '?'}`;
    const bad = (err: z.ZodError): void => {
      for (const issue of err.issues) errors.push({ path: `${path}.${issue.path.join('.')}`, message: issue.message });
    };
    if (kind === 'metainfo') {
      const m = metaSchema.safeParse(body);
      if (m.success) version = m.data.version;
    } else if (kind === 'table') {
      const t = tableSchema.safeParse(body);
      if (!t.success) return bad(t.error);
      const d = t.data;
      tables.set(tableKey(d.family, d.name), {
        family: d.family,
        name: d.name,
        handle: d.handle,
        flags: d.flags ?? [],
        chains: [],
        sets: [],
      });
    } else if (kind === 'chain') {
      const c = chainSchema.safeParse(body);
      if (!c.success) return bad(c.error);
      const d = c.data;
      chains.push({
        family: d.family,
        table: d.table,
        name: d.name,
        handle: d.handle,
        ...(d.type !== undefined ? { type: d.type } : {}),
        ...(d.hook !== undefined ? { hook: d.hook } : {}),
        ...(d.prio !== undefined ? { priority: d.prio } : {}),
        ...(d.policy !== undefined ? { policy: d.policy } : {}),
        ...(d.dev !== undefined ? { device: d.dev } : {}),
        rules: 0,
      });
    } else if (kind === 'set' || kind === 'map') {
      const s = setSchema.safeParse(body);
      if (!s.success) return bad(s.error);
      const d = s.data;
      sets.push({
        family: d.family,
        table: d.table,
        name: d.name,
        handle: d.handle,
        kind,
        keyType: d.type,
        ...(d.map !== undefined ? { dataType: d.map } : {}),
        flags: d.flags ?? [],
        elements: d.elem?.length ?? 0,
        ...(d.timeout !== undefined ? { timeout: d.timeout } : {}),
        ...(d.comment !== undefined ? { comment: d.comment } : {}),
      });
    } else if (kind === 'rule') {
      const r = ruleSchema.safeParse(body);
      if (!r.success) return bad(r.error);
      const k = `${tableKey(r.data.family, r.data.table)}\u0000${r.data.chain}`;
      ruleCounts.set(k, (ruleCounts.get(k) ?? 0) + 1);
    }
  });

  for (const c of chains) {
    c.rules = ruleCounts.get(`${tableKey(c.family, c.table)}\u0000${c.name}`) ?? 0;
    const t = tables.get(tableKey(c.family, c.table));
    if (t) t.chains.push(c);
    else errors.push({ path: '$', message: `chain ${c.name} of unknown table ${c.family} ${c.table}` });
  }
  for (const s of sets) {
    const t = tables.get(tableKey(s.family, s.table));
    if (t) t.sets.push(s);
    else errors.push({ path: '$', message: `${s.kind} ${s.name} of unknown table ${s.family} ${s.table}` });
  }
  return { ruleset: { ...(version !== undefined ? { version } : {}), tables: [...tables.values()] }, errors };
}

export function findTable(ruleset: NftRuleset, fam: NftFamily, name: string): NftTable | undefined {
  return ruleset.tables.find((t) => t.family === fam && t.name === name);
}

/** One `file:line:col-col: Error: message` diagnostic from nft's stderr. */
export interface NftDiagnostic {
  /** "/dev/stdin" when the ruleset came through `nft -f -`. */
  readonly file: string;
  readonly line: number;
  readonly columnStart: number;
  readonly columnEnd: number;
  readonly message: string;
}

/** The located errors in nft's stderr; lines without a location (echoes, carets) are skipped. */
export function parseNftDiagnostics(stderr: string): NftDiagnostic[] {
  const out: NftDiagnostic[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^(.+?):(\d+):(\d+)-(\d+): Error: (.*)$/.exec(line.trim());
    if (m?.[1] && m[2] && m[3] && m[4] && m[5] !== undefined) {
      out.push({ file: m[1], line: Number(m[2]), columnStart: Number(m[3]), columnEnd: Number(m[4]), message: m[5] });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// argv

const FAMILIES = new Set<string>(['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev']);

/** Names nft takes unquoted: a letter or '_' first (a leading digit is a syntax error). */
export function isValidNftName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_.-]{0,254}$/.test(name);
}

function checkTable(fam: string, name: string): void {
  if (!FAMILIES.has(fam)) throw new TypeError(`unknown nftables family: ${fam}`);
  if (!isValidNftName(name)) throw new TypeError(`invalid nftables name: ${JSON.stringify(name)}`);
}

/** Apply a ruleset atomically; the ruleset text goes on stdin. */
export function nftApplyArgv(): string[] {
  return ['nft', '-f', '-'];
}

/** Check a ruleset without applying it (`-c`). */
export function nftCheckArgv(): string[] {
  return ['nft', '-c', '-f', '-'];
}

/** Table names only: cheap even when a table holds many set elements. */
export function nftListTablesArgv(): string[] {
  return ['nft', '-j', 'list', 'tables'];
}

export function nftListRulesetArgv(): string[] {
  return ['nft', '-j', 'list', 'ruleset'];
}

/** A missing table: exit 1, "Error: No such file or directory". */
export function nftListTableArgv(fam: NftFamily, name: string): string[] {
  checkTable(fam, name);
  return ['nft', '-j', 'list', 'table', fam, name];
}

/** Fails (exit 1) when the table is missing; see nftDeleteTableIfExistsScript. */
export function nftDeleteTableArgv(fam: NftFamily, name: string): string[] {
  checkTable(fam, name);
  return ['nft', 'delete', 'table', fam, name];
}

/**
 * stdin for nftApplyArgv that deletes the table whether or not it exists:
 * declaring it first makes the delete valid in the same transaction
 * (nft 1.0.6 has no `destroy`).
 */
export function nftDeleteTableIfExistsScript(fam: NftFamily, name: string): string {
  checkTable(fam, name);
  return `table ${fam} ${name}\ndelete table ${fam} ${name}\n`;
}
