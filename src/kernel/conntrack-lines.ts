// Line-at-a-time conntrack text for streamed session sync: `conntrack -L -o
// extended` lines turned straight into `conntrack -R` lines and tuple keys,
// without building a ConntrackEntry for the common case (IPv4 TCP/UDP, zone 0,
// source NAT only). Anything else goes through the full parser and serializer
// of conntrack.ts / conntrack-batch.ts, so both paths write the same line
// (test/unit/kernel/conntrack-lines.test.ts compares them).
import { isConntrackEvent, parseConntrackEvent, parseConntrackExtended, TCP_STATES, type ConntrackEntry, type ConntrackEvent } from './conntrack.ts';
import { ConntrackSerializeError, restoreInsertLine } from './conntrack-batch.ts';
import { exactDeleteLine } from './ct-delete.ts';

const V4 = '(?:\\d{1,3}\\.){3}\\d{1,3}';
/**
 * ipv4 tcp/udp, optional TCP state, original tuple, optional [UNREPLIED], reply
 * tuple, status flags, mark, use. Zones, secctx, labels, timestamps and ICMP do
 * not match and take the full parser.
 */
const FAST = new RegExp(
  `^ipv4 +2 (tcp|udp) +(?:6|17) (\\d+) (?:([A-Z_2]+) )?src=(${V4}) dst=(${V4}) sport=(\\d+) dport=(\\d+) (\\[UNREPLIED\\] )?` +
    `src=(${V4}) dst=(${V4}) sport=(\\d+) dport=(\\d+)((?: \\[[A-Z_]+\\])*) mark=(\\d+)(?: use=\\d+)?$`,
);
const KEY = new RegExp(`^ipv4 +2 (tcp|udp) +(?:6|17) \\d+ (?:([A-Z_2]+) )?src=(${V4}) dst=(${V4}) sport=(\\d+) dport=(\\d+) `);
const MARK = / mark=(\d+)/;
const SUMMARY = /^conntrack v[\d.]+ \(conntrack-tools\)/;

const SYNCED_PROTOCOLS = new Set(['tcp', 'udp', 'icmp']);

export type RestoreLineResult =
  /**
   * `key` is the entry's original tuple as routerd-ct-delete reads it (ct-delete.ts
   * exactDeleteLine); `sig` its TCP state and mark, to tell an entry a target
   * already holds as it is.
   */
  | { readonly kind: 'entry'; readonly key: string; readonly sig: string; readonly line: string }
  /** A selected entry that a restore line cannot express (e.g. an ICMP id remapped by NAT). */
  | { readonly kind: 'skipped'; readonly reason: string }
  /** Not a selected entry: another address, another protocol, not NATed, a summary line. */
  | { readonly kind: 'other' };

const OTHER: RestoreLineResult = { kind: 'other' };

function port(text: string): number {
  const n = Number(text);
  return n <= 0xffff ? n : NaN;
}

/**
 * One `conntrack -L -o extended` line → the `-A` line that restores it with its
 * SNAT binding and mark, if it is source-NATed to `snat` (and of `protocol`, when given).
 */
export function restoreLineFromExtended(raw: string, snat: string, protocol?: 'tcp' | 'udp' | 'icmp'): RestoreLineResult {
  const line = raw.trim();
  if (line.length === 0 || SUMMARY.test(line)) return OTHER;
  const m = FAST.exec(line);
  if (m) {
    const [, proto, timeout, state, src, dst, sport, dport, unreplied, rsrc, rdst, rsport, rdport, flags, mark] = m as unknown as string[];
    if (protocol && proto !== protocol) return OTHER;
    // Source NAT to this address, and no destination NAT (that takes the full path).
    if (rdst !== snat || rdst === src || rsrc !== dst || rsport !== dport) return slow(line, snat, protocol);
    const sp = port(sport!);
    const dp = port(dport!);
    const np = port(rdport!);
    if (Number.isNaN(sp + dp + np) || Number(mark) > 0xffffffff || Number(timeout) > 0xffffffff) return slow(line, snat, protocol);
    if (proto === 'tcp' && (state === undefined || !TCP_STATES.has(state))) return slow(line, snat, protocol);
    if (proto === 'udp' && state !== undefined) return slow(line, snat, protocol);
    const status: string[] = [];
    if (!unreplied) status.push('SEEN_REPLY');
    if (flags!.includes('[ASSURED]')) status.push('ASSURED');
    if (flags!.includes('[FIXED_TIMEOUT]')) status.push('FIXED_TIMEOUT');
    const out =
      `-A -p ${proto} -s ${src} -d ${dst} --sport ${sp} --dport ${dp} --src-nat ${snat}:${np} -t ${Number(timeout)}` +
      `${status.length ? ` -u ${status.join(',')}` : ''}${proto === 'tcp' ? ` --state ${state}` : ''} -m ${Number(mark)}`;
    return { kind: 'entry', key: `${proto} ${src} ${dst} ${sp} ${dp} 0`, sig: `${state ?? ''}|${Number(mark)}`, line: out };
  }
  return slow(line, snat, protocol);
}

function slow(line: string, snat: string, protocol?: string): RestoreLineResult {
  const parsed = parseConntrackExtended(line);
  const e = parsed.entries[0];
  if (!e) return parsed.errors.length ? { kind: 'skipped', reason: parsed.errors[0]!.message } : OTHER;
  if (!selected(e, snat, protocol)) return OTHER;
  try {
    return { kind: 'entry', key: exactDeleteLine(e), sig: signature(e), line: restoreInsertLine(e, { command: '-A' }) };
  } catch (err) {
    if (err instanceof ConntrackSerializeError || (err as { code?: string }).code === 'RD_E_CT_DELETE') return { kind: 'skipped', reason: (err as Error).message };
    throw err;
  }
}

function selected(e: ConntrackEntry, snat: string, protocol?: string): boolean {
  if (!SYNCED_PROTOCOLS.has(e.protocol) || (protocol && e.protocol !== protocol)) return false;
  return e.reply.dst === snat && (e.reply.dst !== e.original.src || (e.reply.dport ?? e.reply.id) !== (e.original.sport ?? e.original.id));
}

/**
 * A fresh, flat copy. Keys and signatures kept for a whole resync must not be
 * V8 cons or sliced strings of the dump text they were cut from: each would
 * keep that text alive (measured: 277 MB peak RSS for the keys of 200k entries
 * without this, bench/RESULTS.md session-sync).
 */
function detach(s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1');
}

function signature(e: ConntrackEntry): string {
  return `${e.tcpState ?? ''}|${e.mark}`;
}

/**
 * One shared copy of each signature: a resync keeps one per target entry, and
 * nearly all are the same few ("ESTABLISHED|66"), so 200k detached copies were
 * ~6 MB of the same strings.
 */
const SIGS = new Map<string, string>();
function sharedSig(s: string): string {
  const have = SIGS.get(s);
  if (have !== undefined) return have;
  const copy = detach(s);
  if (SIGS.size < 4096) SIGS.set(copy, copy);
  return copy;
}

/** The original-tuple key (routerd-ct-delete's input line) and signature of an extended line, or undefined. */
export function tupleFromExtended(raw: string): { key: string; sig: string } | undefined {
  const line = raw.trim();
  const m = KEY.exec(line);
  if (m && !/ zone=/.test(line)) {
    const mark = MARK.exec(line);
    return { key: detach(`${m[1]} ${m[3]} ${m[4]} ${Number(m[5])} ${Number(m[6])} 0`), sig: sharedSig(`${m[2] ?? ''}|${mark ? Number(mark[1]) : 0}`) };
  }
  if (line.length === 0 || SUMMARY.test(line)) return undefined;
  const e = parseConntrackExtended(line).entries[0];
  if (!e) return undefined;
  try {
    return { key: detach(exactDeleteLine(e)), sig: sharedSig(signature(e)) };
  } catch {
    return undefined;
  }
}

/** The original-tuple key alone. */
export function tupleKeyFromExtended(raw: string): string | undefined {
  return tupleFromExtended(raw)?.key;
}

/** A TCP ESTABLISHED entry the target holds with the same mark needs no rewrite (its timeout is days); anything else is rewritten. */
export function unchanged(held: string | undefined, sig: string): boolean {
  return held === sig && sig.startsWith('ESTABLISHED|');
}

/** The key of an entry (from an event): the same string tupleKeyFromExtended gives for its dump line. */
export function tupleKey(e: ConntrackEntry): string {
  return exactDeleteLine(e);
}

/** One event line of `conntrack -E -o extended,id`, or undefined (not an event, or unparsable). */
export function eventFromLine(line: string): ConntrackEvent | undefined {
  const ev = parseConntrackEvent(line);
  return isConntrackEvent(ev) ? ev : undefined;
}

/**
 * Splits a byte stream into lines (conntrack prints ASCII). The last,
 * unterminated part is kept until the next chunk or `end()`.
 */
export class LineSplitter {
  private rest = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer | string): void {
    const text = this.rest + (typeof chunk === 'string' ? chunk : chunk.toString('latin1'));
    let start = 0;
    let nl: number;
    while ((nl = text.indexOf('\n', start)) >= 0) {
      this.onLine(text.slice(start, nl));
      start = nl + 1;
    }
    this.rest = text.slice(start);
  }

  end(): void {
    if (this.rest.length) this.onLine(this.rest);
    this.rest = '';
  }
}

/** A tuple key (routerd-ct-delete's line) as a `conntrack -R` delete line, for targets without the helper (a table scan each). */
export function restoreDeleteFromKey(key: string): string {
  const f = key.split(' ');
  const zone = f.at(-1) === '0' ? '' : ` -w ${f.at(-1)}`;
  if (f[0] === 'tcp' || f[0] === 'udp') return `-D -p ${f[0]} -s ${f[1]} -d ${f[2]} --sport ${f[3]} --dport ${f[4]}${zone}\n`;
  const p = f[0] === 'icmp' ? '--icmp' : '--icmpv6';
  return `-D -p ${f[0]} -s ${f[1]} -d ${f[2]} ${p}-type ${f[3]} ${p}-code ${f[4]} ${p}-id ${f[5]}${zone}\n`;
}
