// Flows source-NATed to given addresses, through routerd-ct-dump (a small C
// program built by scripts/setup from src/kernel/ct-dump/routerd-ct-dump.c):
// one ctnetlink dump per address that the kernel filters by the reply
// tuple's destination, printed as one compact line per entry. `conntrack -L
// -o extended --src-nat A` formats every entry as ~200 bytes of text and Node
// then parses it back: at 100k flows that was 1.6 s of a 2.3 s reconfig
// (bench/RESULTS.md, reconfig); docs/nat-reconfig.md says why a helper.
import { isIP } from 'node:net';
import { nativeHelper } from './native-helper.ts';
import { describeFailure, type Host } from '../host/host.ts';
import { conntrackDumpArgv, parseConntrackExtended, snatAddress, type ConntrackEntry, type ConntrackTuple } from './conntrack.ts';

/** Where scripts/build-helpers builds the helper; ROUTERD_CT_DUMP overrides it. */
const helper = nativeHelper('routerd-ct-dump', 'ROUTERD_CT_DUMP');
export const ctDumpHelperPath = helper.path;
export const ctDumpHelperPresent = helper.present;

export class CtDumpError extends Error {
  readonly code = 'RD_E_CT_DUMP';
}

const PROTO_NAMES: Readonly<Record<number, string>> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 47: 'gre', 58: 'icmpv6', 132: 'sctp', 136: 'udplite' };

// Kernel enum tcp_conntrack (include/uapi/linux/netfilter/nf_conntrack_tcp.h), named as conntrack prints them.
const TCP_STATE_NAMES = ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE', 'SYN_SENT2'];

// Kernel enum ip_conntrack_status bits that conntrack's own listing names; the
// others (CONFIRMED, SRC_NAT, ...) are bookkeeping conntrack does not show.
const STATUS_BITS: readonly (readonly [number, string])[] = [
  [0, 'EXPECTED'],
  [1, 'SEEN_REPLY'],
  [2, 'ASSURED'],
  [10, 'FIXED_TIMEOUT'],
  [14, 'OFFLOAD'],
  [15, 'HW_OFFLOAD'],
];
const STATUS_ORDER = ['SEEN_REPLY', 'UNREPLIED', 'ASSURED', 'FIXED_TIMEOUT', 'EXPECTED', 'OFFLOAD', 'HW_OFFLOAD'];
const statusCache = new Map<number, readonly string[]>();

/** Status names as parseConntrackExtended gives them: UNREPLIED exactly when SEEN_REPLY is absent. */
export function statusNames(bits: number): readonly string[] {
  let names = statusCache.get(bits);
  if (!names) {
    const set = new Set(STATUS_BITS.filter(([b]) => (bits >>> b) & 1).map(([, n]) => n));
    if (!set.has('SEEN_REPLY')) set.add('UNREPLIED');
    names = STATUS_ORDER.filter((n) => set.has(n));
    if (statusCache.size < 256) statusCache.set(bits, names);
  }
  return names;
}

/** True for a dotted quad as inet_ntop prints it (no leading zeros beyond a lone 0). */
function isDottedQuad(t: string): boolean {
  let parts = 0;
  let v = -1;
  let digits = 0;
  for (let i = 0; i <= t.length; i++) {
    const c = i < t.length ? t.charCodeAt(i) : 46;
    if (c === 46) {
      if (v < 0 || v > 255 || (digits > 1 && t.charCodeAt(i - digits) === 48)) return false;
      parts++;
      v = -1;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      v = (v < 0 ? 0 : v * 10) + c - 48;
      digits++;
    } else return false;
  }
  return parts === 4;
}

/**
 * A scanner over the helper's output: numbers are read from the characters,
 * only addresses become strings (at 100k entries, splitting every line into
 * 16 strings cost more in garbage collection than the parse itself).
 */
export class CtLineScanner {
  pos = 0;
  lineNo = 1;
  constructor(
    readonly text: string,
    private readonly fault: (message: string) => Error = (m) => new CtDumpError(`routerd-ct-dump ${m}`),
  ) {}

  fail(what: string): never {
    const eol = this.text.indexOf('\n', this.pos);
    throw this.fault(`line ${this.lineNo}: ${what}: ${JSON.stringify(this.text.slice(this.pos, eol < 0 ? undefined : eol).slice(0, 80))}`);
  }

  /** Skips the one space before a field (none before the first). */
  sep(first: boolean): void {
    if (first) return;
    if (this.text.charCodeAt(this.pos) !== 32) this.fail('want a space');
    this.pos++;
  }

  /** A decimal field up to `max`, or undefined for "-". */
  num(max: number, what: string, first = false): number | undefined {
    this.sep(first);
    const t = this.text;
    if (t.charCodeAt(this.pos) === 45) {
      this.pos++;
      return undefined;
    }
    let v = 0;
    const from = this.pos;
    for (let c = t.charCodeAt(this.pos); c >= 48 && c <= 57; c = t.charCodeAt(++this.pos)) v = v * 10 + c - 48;
    if (this.pos === from || this.pos - from > 16 || v > max) {
      this.pos = from;
      this.fail(what);
    }
    return v;
  }

  must(max: number, what: string, first = false): number {
    const v = this.num(max, what, first);
    if (v === undefined) this.fail(what);
    return v;
  }

  addr(): string {
    this.sep(false);
    const t = this.text;
    const from = this.pos;
    for (let c = t.charCodeAt(this.pos); c !== 32 && c !== 10 && this.pos < t.length; c = t.charCodeAt(++this.pos));
    const a = t.slice(from, this.pos);
    if (!(isDottedQuad(a) || (a.includes(':') && isIP(a) === 6))) {
      this.pos = from;
      this.fail('not an IP address');
    }
    return a;
  }

  tuple(icmp: boolean): ConntrackTuple {
    const src = this.addr();
    const dst = this.addr();
    const a = this.num(65535, 'port or type');
    const b = this.num(65535, 'port or code');
    const id = this.num(65535, 'icmp id');
    if (a === undefined || b === undefined) return { src, dst };
    if (icmp) {
      if (id === undefined) this.fail('icmp id');
      return { src, dst, type: a, code: b, id };
    }
    return { src, dst, sport: a, dport: b };
  }

  endOfLine(): void {
    if (this.pos < this.text.length && this.text.charCodeAt(this.pos) !== 10) this.fail('want the end of the line');
    this.pos++;
    this.lineNo++;
  }
}

/**
 * The 16 fields routerd-ct-dump and routerd-ct-events print for an entry, up to
 * and including the line's end: PROTONUM ZONE MARK STATUS TIMEOUT TCPSTATE OSRC
 * ODST OA OB OID RSRC RDST RA RB RID. `first`: no space before PROTONUM.
 */
export function readCtEntry(s: CtLineScanner, first: boolean): ConntrackEntry {
  const protoNum = s.must(255, 'protocol', first);
  const zone = s.must(65535, 'zone');
  const mark = s.must(0xffffffff, 'mark');
  const status = s.must(0xffffffff, 'status');
  const timeout = s.must(0xffffffff, 'timeout');
  const state = s.num(TCP_STATE_NAMES.length - 1, 'tcp state');
  const icmp = protoNum === 1 || protoNum === 58;
  const original = s.tuple(icmp);
  const reply = s.tuple(icmp);
  s.endOfLine();
  const entry: { -readonly [K in keyof ConntrackEntry]: ConntrackEntry[K] } = {
    l3: original.src.includes(':') ? 'ipv6' : 'ipv4',
    protocol: PROTO_NAMES[protoNum] ?? String(protoNum),
    protoNum,
    timeout,
    original,
    reply,
    status: statusNames(status),
    mark,
  };
  if (state !== undefined) entry.tcpState = TCP_STATE_NAMES[state]!;
  if (zone !== 0) entry.zone = zone;
  return entry;
}

/**
 * The helper's output as entries. Throws on a malformed line and when the
 * closing "end N" line is missing or disagrees (a truncated listing must not
 * pass for a short table: judging it would keep flows it never saw).
 */
export function parseCtDump(text: string): ConntrackEntry[] {
  const out: ConntrackEntry[] = [];
  const s = new CtLineScanner(text);
  while (s.pos < text.length) {
    if (text.startsWith('end ', s.pos)) {
      s.pos += 4;
      const end = s.must(Number.MAX_SAFE_INTEGER, 'end count', true);
      s.endOfLine();
      if (s.pos < text.length) s.fail('data after the end line');
      if (end !== out.length) throw new CtDumpError(`routerd-ct-dump: end line says ${end} entries, got ${out.length}`);
      return out;
    }
    out.push(readCtEntry(s, true));
  }
  throw new CtDumpError('routerd-ct-dump: listing ended without its end line (truncated)');
}

/** Every flow source-NATed to one of `addresses` (IPv4 or IPv6), each address listed once. */
export async function dumpSnatFlows(host: Host, addresses: readonly string[], opts: { timeoutMs?: number } = {}): Promise<ConntrackEntry[]> {
  const wanted = [...new Set(addresses)];
  if (wanted.length === 0) return [];
  for (const a of wanted) if (isIP(a) === 0) throw new CtDumpError(`not an IP address: ${a}`);
  const keep = (e: ConntrackEntry) => wanted.includes(snatAddress(e) ?? '');
  const timeoutMs = opts.timeoutMs ?? 120_000;
  // Without the helper (an install that did not run scripts/build-helpers): conntrack's text listing, slower on big tables.
  if (!ctDumpHelperPresent()) {
    const lists = await Promise.all(
      wanted.map(async (a) => {
        const r = await host.run(conntrackDumpArgv({ format: 'extended', snatAddress: a }), { timeoutMs });
        if (r.code !== 0) throw new CtDumpError(`conntrack dump for ${a}: ${describeFailure(r)}`);
        return parseConntrackExtended(r.stdout).entries.filter((e) => snatAddress(e) === a);
      }),
    );
    return lists.flat();
  }
  const r = await host.run([ctDumpHelperPath(), ...wanted], { timeoutMs });
  if (r.code !== 0) throw new CtDumpError(`routerd-ct-dump ${wanted.join(' ')}: ${describeFailure(r)}`);
  return parseCtDump(r.stdout).filter(keep);
}
