// conntrack (conntrack-tools 1.4.7): the only place its output is parsed and its
// batch lines are written. Behaviour below was measured in network namespaces on
// Debian 12 (kernel 6.x); test/e2e/kernel-conntrack.test.ts pins what we rely on.
//
// `conntrack -R FILE` (also `--load-file`), verified:
// - FILE is fopen()ed by path; `-` means /dev/stdin. /dev/stdin cannot be opened
//   when it is a socket (Node's child stdio is a socketpair): "Failed to open file
//   /dev/stdin for reading", exit 2. LocalHost.run therefore passes bulk stdin as
//   an unlinked file, and `-R /dev/stdin` reads it.
// - Accepted line commands: -I (create; fails if the entry exists), -A (add:
//   creates, but an existing entry or a reply-tuple clash is skipped silently,
//   exit 0, nothing updated), -D (delete by filter; no match is not an error inside
//   -R), -U (update by filter), -F. Blank lines, leading blanks and `#` comments
//   are skipped. -L/-G/-E/-C/-S are refused: "Cannot use command `-L' with
//   --load-file", exit 2.
// - The whole file is parsed before any line runs. One malformed line (unknown
//   option, bad address, missing --timeout or TCP --state, --state on udp, -f on
//   -I) aborts everything: nothing is applied, exit 2, stderr names the problem
//   but not the line ("conntrack v1.4.7 (conntrack-tools): unknown TCP state
//   `BOGUS'" + "Try `conntrack -h' ...").
// - Lines then run in order and the FIRST kernel error stops the batch: lines
//   before it are applied, it and every later line are not, exit 1, stderr
//   "Operation failed: Such conntrack exists, try -U to update" for -I of an
//   existing entry or of a reply tuple already in use. No per-line report.
//   Workaround used here: insert with -A after -D (a clash is skipped instead of
//   aborting; a later dump shows what is missing), never emit a line conntrack
//   could refuse to parse (the serializer validates), and restoreIsolating()
//   bisects a failed batch so one bad entry costs only itself.
// - Success prints nothing and exits 0, except that -D and -U lines print every
//   entry they touched on stdout (default format).
// - `--src-nat=IP:PORT` (with `=`) is accepted but the NAT is silently not applied;
//   write `--src-nat IP:PORT`. IPv6 needs brackets: `--src-nat [ADDR]:PORT`
//   (without them the port becomes part of the address). A port range is refused.
//   For ICMP the port/id part of --src-nat is ignored: the reply id always equals
//   the original id, so a NAT-remapped ICMP id cannot be restored.
// - -D and -U filter in userspace over a full dump: each such line costs a scan
//   of the whole table (about 25 ms per line with 5 000 entries), so per-entry
//   delete-then-insert is quadratic. `-D --src-nat ADDR` + inserts replaced
//   5 000 entries in 0.13 s.
// - `-o save` never prints the ct mark (its generic options are -t -u -c -w
//   --orig-zone --reply-zone); `-o extended` does (`mark=`). `-o save` cannot be
//   combined with `id`.
import { isIP, isIPv4, isIPv6 } from 'node:net';

export type L3Family = 'ipv4' | 'ipv6';
export type ConntrackProtocol = 'tcp' | 'udp' | 'icmp' | 'icmpv6' | (string & {});

/** One direction of a connection. Ports for tcp/udp(-like), type/code/id for icmp(v6). */
export interface ConntrackTuple {
  readonly src: string;
  readonly dst: string;
  readonly sport?: number;
  readonly dport?: number;
  readonly type?: number;
  readonly code?: number;
  readonly id?: number;
}

export interface ConntrackEntry {
  readonly l3: L3Family;
  readonly protocol: ConntrackProtocol;
  readonly protoNum: number;
  /** Seconds left. */
  readonly timeout: number;
  /** TCP state as conntrack names it: ESTABLISHED, SYN_SENT, TIME_WAIT, ... */
  readonly tcpState?: string;
  readonly original: ConntrackTuple;
  readonly reply: ConntrackTuple;
  /**
   * Status in kernel bit names (SEEN_REPLY, ASSURED, FIXED_TIMEOUT, OFFLOAD, ...)
   * plus UNREPLIED exactly when SEEN_REPLY is absent, whichever format it came from.
   */
  readonly status: readonly string[];
  /** 0 when unknown: `-o save` does not carry the mark. */
  readonly mark: number;
  readonly zone?: number;
  readonly use?: number;
  /** The kernel's conntrack id (`-o extended,id`). */
  readonly id?: number;
}

export interface LineError {
  readonly line: string;
  readonly lineNo: number;
  readonly message: string;
}

export interface ConntrackParseResult {
  readonly entries: ConntrackEntry[];
  readonly errors: LineError[];
}

const PROTO_NUMBERS: Readonly<Record<string, number>> = {
  icmp: 1,
  tcp: 6,
  udp: 17,
  dccp: 33,
  gre: 47,
  icmpv6: 58,
  sctp: 132,
  udplite: 136,
};

const STATUS_ORDER = ['SEEN_REPLY', 'UNREPLIED', 'ASSURED', 'FIXED_TIMEOUT', 'EXPECTED', 'OFFLOAD', 'HW_OFFLOAD'];

/** Names `conntrack -I --state` accepts (LISTEN and SYN_SENT2 are the same state). */
export const TCP_STATES = new Set([
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'LISTEN',
  'SYN_SENT2',
]);

/** Status bits a restore may set; the others are the kernel's to set. */
export const RESTORABLE_STATUS = new Set(['SEEN_REPLY', 'ASSURED', 'FIXED_TIMEOUT']);

/** The summary conntrack prints on stderr: "conntrack v1.4.7 (conntrack-tools): 10 flow entries have been shown." */
const SUMMARY = /^conntrack v[\d.]+ \(conntrack-tools\): (\d+) flow entries have been (\w+)\.$/;

class LineParseError extends Error {}

function fail(message: string): never {
  throw new LineParseError(message);
}

function uint(text: string | undefined, what: string, max = 0xffffffff): number {
  if (text === undefined || !/^(?:\d+|0x[0-9a-f]+)$/i.test(text)) fail(`${what}: not a number: ${text ?? '(missing)'}`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n > max) fail(`${what}: out of range: ${text}`);
  return n;
}

function address(text: string | undefined, what: string): string {
  if (text === undefined || isIP(text) === 0) fail(`${what}: not an IP address: ${text ?? '(missing)'}`);
  return text;
}

/** The family of an address already checked with address(): only IPv6 has colons. */
function familyOf(addr: string): L3Family {
  return addr.includes(':') ? 'ipv6' : 'ipv4';
}

// A dump repeats a handful of flag combinations: normalise each once.
const normalizedStatus = new Map<string, readonly string[]>();

function normalizeStatus(flags: readonly string[]): string[] {
  const key = flags.join(',');
  let done = normalizedStatus.get(key);
  if (!done) {
    done = computeStatus(flags);
    if (normalizedStatus.size < 256) normalizedStatus.set(key, done);
  }
  return [...done];
}

function computeStatus(flags: Iterable<string>): string[] {
  const set = new Set(flags);
  if (set.has('SEEN_REPLY')) set.delete('UNREPLIED');
  else set.add('UNREPLIED');
  const rank = (f: string): number => {
    const i = STATUS_ORDER.indexOf(f);
    return i < 0 ? STATUS_ORDER.length : i;
  };
  return [...set].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export function isIcmpLike(protocol: string): boolean {
  return protocol === 'icmp' || protocol === 'icmpv6';
}

function checkTuple(t: Partial<ConntrackTuple>, protocol: string, which: string): ConntrackTuple {
  // src and dst were checked with address() when they were set.
  const src = t.src ?? fail(`${which} src: not an IP address: (missing)`);
  const dst = t.dst ?? fail(`${which} dst: not an IP address: (missing)`);
  if (familyOf(src) !== familyOf(dst)) fail(`${which}: mixed address families`);
  if ((protocol === 'tcp' || protocol === 'udp') && (t.sport === undefined || t.dport === undefined)) {
    fail(`${which}: ${protocol} without ports`);
  }
  if (isIcmpLike(protocol) && (t.type === undefined || t.code === undefined)) fail(`${which}: ${protocol} without type/code`);
  return { ...t, src, dst };
}

function splitLines(text: string): { line: string; lineNo: number }[] {
  return text
    .split('\n')
    .map((raw, i) => ({ line: raw.replace(/\r$/, '').trim(), lineNo: i + 1 }))
    .filter(({ line }) => line.length > 0 && !SUMMARY.test(line));
}

function parseLines(text: string, parseLine: (line: string) => ConntrackEntry): ConntrackParseResult {
  const entries: ConntrackEntry[] = [];
  const errors: LineError[] = [];
  for (const { line, lineNo } of splitLines(text)) {
    try {
      entries.push(parseLine(line));
    } catch (e) {
      errors.push({ line, lineNo, message: e instanceof LineParseError ? e.message : String(e) });
    }
  }
  return { entries, errors };
}

// ---------------------------------------------------------------------------
// -o extended (and the default format, which lacks the leading "ipv4 2")

const TUPLE_KEYS = new Set(['src', 'dst', 'sport', 'dport', 'type', 'code', 'id']);
/** Keys that follow the reply tuple; other unknown keys (gre srckey=, ...) are skipped. */
const META_KEYS = new Set(['mark', 'zone', 'use', 'secctx', 'labels', 'delta-time']);

type MutableTuple = { -readonly [K in keyof ConntrackTuple]?: ConntrackTuple[K] };

function setTupleKey(t: MutableTuple, key: string, value: string): void {
  if (key === 'src' || key === 'dst') t[key] = address(value, key);
  else if (key === 'sport' || key === 'dport' || key === 'id') t[key] = uint(value, key, 0xffff);
  else if (key === 'type' || key === 'code') t[key] = uint(value, key, 0xff);
}

function parseExtendedLine(line: string, opts: { stateOptional?: boolean } = {}): ConntrackEntry {
  const tokens = line.split(/\s+/);
  let i = 0;
  let l3: L3Family | undefined;
  if (tokens[0] === 'ipv4' || tokens[0] === 'ipv6') {
    l3 = tokens[0];
    i = 2;
  } else if (tokens.length > 1 && /^\d+$/.test(tokens[1] ?? '') && /^[a-z]/.test(tokens[0] ?? '')) {
    i = 0;
  } else {
    fail('not a conntrack entry');
  }
  const protocol = tokens[i] ?? fail('missing protocol');
  const protoNum = uint(tokens[i + 1], 'protocol number', 255);
  const timeout = uint(tokens[i + 2], 'timeout');
  i += 3;
  let state: string | undefined;
  const next = tokens[i];
  if (next !== undefined && !next.includes('=') && !next.startsWith('[')) {
    state = next;
    i++;
  }
  const original: MutableTuple = {};
  const reply: MutableTuple = {};
  let phase: 'original' | 'reply' | 'meta' = 'original';
  const flags: string[] = [];
  let mark = 0;
  let zone: number | undefined;
  let use: number | undefined;
  let id: number | undefined;
  for (; i < tokens.length; i++) {
    const tok = tokens[i] ?? '';
    if (tok.startsWith('[')) {
      const m = /^\[([A-Z_]+)\]$/.exec(tok);
      if (m?.[1]) flags.push(m[1]);
      // Multi-word brackets (ktimestamp "[start=...]") carry nothing we keep.
      continue;
    }
    const eq = tok.indexOf('=');
    if (eq <= 0) fail(`unexpected token: ${tok}`);
    const key = tok.slice(0, eq);
    const value = tok.slice(eq + 1);
    // `id=` is the ICMP id inside an ICMP tuple, else (and the second time) the
    // conntrack entry id, which events print right after the reply tuple.
    const entryId = key === 'id' && (!isIcmpLike(protocol) || (phase === 'reply' && reply.id !== undefined));
    if (phase !== 'meta' && TUPLE_KEYS.has(key) && !entryId) {
      if (phase === 'original' && key === 'src' && original.src !== undefined) phase = 'reply';
      const t = phase === 'original' ? original : reply;
      if (t[key as keyof MutableTuple] !== undefined) fail(`repeated ${key}`);
      setTupleKey(t, key, value);
      continue;
    }
    if (phase !== 'meta' && !META_KEYS.has(key) && !entryId) continue;
    if (phase === 'original') fail(`${key}= before the reply tuple`);
    phase = 'meta';
    if (key === 'mark') mark = uint(value, 'mark');
    else if (key === 'zone') zone = uint(value, 'zone', 0xffff);
    else if (key === 'use') use = uint(value, 'use');
    else if (key === 'id') id = uint(value, 'id');
    // secctx=, labels=, delta-time=, ...: not needed here.
  }
  if (phase === 'original') fail('missing reply tuple');
  const orig = checkTuple(original, protocol, 'original');
  const rep = checkTuple(reply, protocol, 'reply');
  const family = familyOf(orig.src);
  if (l3 !== undefined && l3 !== family) fail(`${l3} entry with ${family} addresses`);
  if (familyOf(rep.src) !== family) fail('reply tuple in another address family');
  if (protocol === 'tcp' && state === undefined && !opts.stateOptional) fail('tcp entry without state');
  return {
    l3: family,
    protocol,
    protoNum,
    timeout,
    ...(protocol === 'tcp' && state !== undefined ? { tcpState: state } : {}),
    original: orig,
    reply: rep,
    status: normalizeStatus(flags.includes('UNREPLIED') ? flags : ['SEEN_REPLY', ...flags]),
    mark,
    ...(zone !== undefined ? { zone } : {}),
    ...(use !== undefined ? { use } : {}),
    ...(id !== undefined ? { id } : {}),
  };
}

/**
 * Parse `conntrack -L -o extended[,id]` stdout (the default format without the
 * "ipv4 2" prefix is accepted too). Never throws: bad lines land in `errors`.
 */
export function parseConntrackExtended(text: string): ConntrackParseResult {
  return parseLines(text, (l) => parseExtendedLine(l));
}

export type ConntrackEventType = 'NEW' | 'UPDATE' | 'DESTROY';

export interface ConntrackEvent {
  readonly type: ConntrackEventType;
  readonly entry: ConntrackEntry;
}

/**
 * One line of `conntrack -E -o extended[,id]`: `[NEW] ipv4 2 tcp 6 120 SYN_SENT
 * src=...`. Events carry `mark=` only when it is set (the kernel omits a zero
 * mark), so no mark means 0. DESTROY lines may lack the TCP state and end with
 * `[USERSPACE] portid=... progname=...` when a tool deleted the entry.
 */
export function parseConntrackEvent(line: string): ConntrackEvent | LineError {
  const m = /^\s*\[(NEW|UPDATE|DESTROY)\]\s+(.*)$/.exec(line);
  if (!m) return { line, lineNo: 0, message: 'not a conntrack event line' };
  const type = m[1] as ConntrackEventType;
  try {
    return { type, entry: parseExtendedLine(m[2]!.trim(), { stateOptional: type === 'DESTROY' }) };
  } catch (e) {
    return { line, lineNo: 0, message: e instanceof LineParseError ? e.message : String(e) };
  }
}

export function isConntrackEvent(x: ConntrackEvent | LineError): x is ConntrackEvent {
  return 'entry' in x;
}

/** conntrack -E's warning when the netlink socket overran and events were lost. */
export function isEventOverrun(stderrLine: string): boolean {
  return /ENOBUFS|losing events|No buffer space available/i.test(stderrLine);
}

/** argv following events for flows source-NATed to one address. */
export function conntrackEventsArgv(snatAddress: string, bufferBytes = 32 * 1024 * 1024): string[] {
  if (isIP(snatAddress) === 0) throw new TypeError(`not an IP address: ${snatAddress}`);
  return ['conntrack', '-E', '-o', 'extended,id', '-e', 'NEW,UPDATE,DESTROY', '--src-nat', snatAddress, '--buffer-size', String(bufferBytes)];
}

// ---------------------------------------------------------------------------
// -o save

type SaveKey =
  | 'timeout'
  | 'status'
  | 'zone'
  | 'src'
  | 'dst'
  | 'replySrc'
  | 'replyDst'
  | 'dnat'
  | 'snat'
  | 'proto'
  | 'sport'
  | 'dport'
  | 'replySport'
  | 'replyDport'
  | 'state'
  | 'icmpType'
  | 'icmpCode'
  | 'icmpId'
  | 'mark'
  | 'ignored';

const SAVE_OPTIONS: Readonly<Record<string, SaveKey>> = {
  '-t': 'timeout',
  '--timeout': 'timeout',
  '-u': 'status',
  '--status': 'status',
  '-w': 'zone',
  '--zone': 'zone',
  '-s': 'src',
  '--src': 'src',
  '--orig-src': 'src',
  '-d': 'dst',
  '--dst': 'dst',
  '--orig-dst': 'dst',
  '-r': 'replySrc',
  '--reply-src': 'replySrc',
  '-q': 'replyDst',
  '--reply-dst': 'replyDst',
  '-g': 'dnat',
  '--dst-nat': 'dnat',
  '-n': 'snat',
  '--src-nat': 'snat',
  '-p': 'proto',
  '--proto': 'proto',
  '--protonum': 'proto',
  '--sport': 'sport',
  '--orig-port-src': 'sport',
  '--dport': 'dport',
  '--orig-port-dst': 'dport',
  '--reply-port-src': 'replySport',
  '--reply-port-dst': 'replyDport',
  '--state': 'state',
  '--icmp-type': 'icmpType',
  '--icmpv6-type': 'icmpType',
  '--icmp-code': 'icmpCode',
  '--icmpv6-code': 'icmpCode',
  '--icmp-id': 'icmpId',
  '--icmpv6-id': 'icmpId',
  '-m': 'mark',
  '--mark': 'mark',
  '-c': 'ignored',
  '--secmark': 'ignored',
  '--orig-zone': 'ignored',
  '--reply-zone': 'ignored',
  '-l': 'ignored',
  '--label': 'ignored',
};

/** The reply type the kernel pairs with an ICMP(v6) query type. */
const ICMP_REPLY_TYPE: Readonly<Record<string, Readonly<Record<number, number>>>> = {
  icmp: { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17 },
  icmpv6: { 128: 129, 129: 128 },
};

function protocolFromSave(value: string): { protocol: string; protoNum: number } {
  if (/^\d+$/.test(value)) {
    const protoNum = uint(value, 'protocol', 255);
    const name = Object.entries(PROTO_NUMBERS).find(([, n]) => n === protoNum)?.[0];
    return { protocol: name ?? value, protoNum };
  }
  const protocol = value.toLowerCase();
  const protoNum = PROTO_NUMBERS[protocol];
  if (protoNum === undefined) fail(`unknown protocol: ${value}`);
  return { protocol, protoNum };
}

/** `ADDR`, `IPv4:PORT` or `[IPv6]:PORT`, as -n/-g take them in batch lines (save output has the address only). */
function natTargetFromSave(value: string, what: string): { addr: string; port?: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed?.[1] !== undefined) {
    const addr = address(bracketed[1], what);
    return bracketed[2] === undefined ? { addr } : { addr, port: uint(bracketed[2], `${what} port`, 0xffff) };
  }
  if (isIP(value) !== 0) return { addr: value };
  const colon = value.lastIndexOf(':');
  const addr = value.slice(0, colon);
  if (colon < 0 || !isIPv4(addr)) fail(`${what}: not ADDR or ADDR:PORT: ${value}`);
  return { addr, port: uint(value.slice(colon + 1), `${what} port`, 0xffff) };
}

function parseSaveLine(line: string): ConntrackEntry {
  const tokens = line.split(/\s+/);
  let i = 0;
  if (/^-[AIUD]$/.test(tokens[0] ?? '')) i = 1;
  const v: Partial<Record<SaveKey, string>> = {};
  for (; i < tokens.length; i += 2) {
    const opt = tokens[i] ?? '';
    const key = SAVE_OPTIONS[opt];
    if (key === undefined) fail(`unknown option: ${opt}`);
    const value = tokens[i + 1];
    if (value === undefined) fail(`${opt} without a value`);
    if (key !== 'ignored') v[key] = value;
  }
  const { protocol, protoNum } = protocolFromSave(v.proto ?? fail('missing -p'));
  const timeout = uint(v.timeout ?? fail('missing -t'), 'timeout');
  const src = address(v.src, '-s');
  const dst = address(v.dst, '-d');
  const icmp = isIcmpLike(protocol);
  const ports = v.sport !== undefined || v.dport !== undefined;
  const snat = v.snat === undefined ? undefined : natTargetFromSave(v.snat, '--src-nat');
  const dnat = v.dnat === undefined ? undefined : natTargetFromSave(v.dnat, '--dst-nat');
  const original: MutableTuple = { src, dst };
  const reply: MutableTuple = {
    src: address(dnat?.addr ?? v.replySrc ?? dst, 'reply src'),
    dst: address(snat?.addr ?? v.replyDst ?? src, 'reply dst'),
  };
  if (ports) {
    original.sport = uint(v.sport, '--sport', 0xffff);
    original.dport = uint(v.dport, '--dport', 0xffff);
    reply.sport =
      v.replySport === undefined ? (dnat?.port ?? original.dport) : uint(v.replySport, '--reply-port-src', 0xffff);
    reply.dport =
      v.replyDport === undefined ? (snat?.port ?? original.sport) : uint(v.replyDport, '--reply-port-dst', 0xffff);
  }
  if (icmp) {
    const type = uint(v.icmpType, 'icmp type', 0xff);
    const code = uint(v.icmpCode, 'icmp code', 0xff);
    original.type = type;
    original.code = code;
    const replyType = ICMP_REPLY_TYPE[protocol]?.[type];
    if (replyType !== undefined) reply.type = replyType;
    reply.code = code;
    if (v.icmpId !== undefined) {
      original.id = uint(v.icmpId, 'icmp id', 0xffff);
      reply.id = original.id;
    }
  }
  const orig = checkTuple(original, protocol, 'original');
  const rep = checkTuple(reply, protocol, 'reply');
  if (familyOf(rep.src) !== familyOf(orig.src)) fail('reply tuple in another address family');
  if (protocol === 'tcp' && v.state === undefined) fail('tcp entry without --state');
  const flags = (v.status ?? 'UNSET').split(',').filter((f) => f !== 'UNSET' && f.length > 0);
  return {
    l3: familyOf(src),
    protocol,
    protoNum,
    timeout,
    ...(protocol === 'tcp' && v.state !== undefined ? { tcpState: v.state } : {}),
    original: orig,
    reply: rep,
    status: normalizeStatus(flags),
    mark: v.mark === undefined ? 0 : uint(v.mark, 'mark'),
    ...(v.zone !== undefined ? { zone: uint(v.zone, 'zone', 0xffff) } : {}),
  };
}

/**
 * Parse `conntrack -L -o save` stdout (or a batch file of -A/-I/-U/-D lines).
 * conntrack 1.4.7 leaves the mark out of `-o save`, so `mark` is 0 unless a line
 * carries `-m`: sync from `-o extended` when marks matter. Never throws.
 */
export function parseConntrackSave(text: string): ConntrackParseResult {
  return parseLines(text, parseSaveLine);
}

// ---------------------------------------------------------------------------
// NAT view of an entry

function portsOf(e: ConntrackEntry): boolean {
  return e.original.sport !== undefined && e.reply.dport !== undefined;
}

/** True when the kernel rewrote the source: the reply goes back to another address or port. */
export function isSourceNatted(e: ConntrackEntry): boolean {
  if (e.reply.dst !== e.original.src) return true;
  if (portsOf(e)) return e.reply.dport !== e.original.sport;
  return e.reply.id !== undefined && e.original.id !== undefined && e.reply.id !== e.original.id;
}

/** The address a source-NATed flow leaves with (reply.dst), else undefined. */
export function snatAddress(e: ConntrackEntry): string | undefined {
  return isSourceNatted(e) ? e.reply.dst : undefined;
}

/** The port a source-NATed tcp/udp flow leaves with (reply.dport), else undefined. */
export function snatPort(e: ConntrackEntry): number | undefined {
  return isSourceNatted(e) && portsOf(e) ? e.reply.dport : undefined;
}

/** True when the kernel rewrote the destination: the reply comes from another address or port. */
export function isDestinationNatted(e: ConntrackEntry): boolean {
  if (e.reply.src !== e.original.dst) return true;
  return e.original.dport !== undefined && e.reply.sport !== undefined && e.reply.sport !== e.original.dport;
}

export function dnatAddress(e: ConntrackEntry): string | undefined {
  return isDestinationNatted(e) ? e.reply.src : undefined;
}

// ---------------------------------------------------------------------------
// argv

export interface ConntrackDumpOptions {
  readonly format: 'extended' | 'save';
  readonly family?: L3Family;
  readonly protocol?: 'tcp' | 'udp' | 'icmp' | 'icmpv6';
  /** Only flows source-NATed to this address (`--src-nat ADDR`, filtered by conntrack). */
  readonly snatAddress?: string;
  /** Add the kernel id (extended only: save cannot be combined with id). */
  readonly withId?: boolean;
}

export function conntrackDumpArgv(opts: ConntrackDumpOptions): string[] {
  if (opts.format === 'save' && opts.withId) throw new TypeError('conntrack cannot combine -o save with id');
  const argv = ['conntrack', '-L', '-o', opts.format === 'extended' && opts.withId ? 'extended,id' : opts.format];
  if (opts.family) argv.push('-f', opts.family);
  if (opts.protocol) argv.push('-p', opts.protocol);
  if (opts.snatAddress !== undefined) {
    const fam = isIPv4(opts.snatAddress) ? 'ipv4' : isIPv6(opts.snatAddress) ? 'ipv6' : undefined;
    if (fam === undefined) throw new TypeError(`not an IP address: ${opts.snatAddress}`);
    // conntrack refuses the combination: "mismatched address family", exit 2.
    if (opts.family && opts.family !== fam) throw new TypeError(`--src-nat ${opts.snatAddress} with -f ${opts.family}`);
    argv.push('--src-nat', opts.snatAddress);
  }
  return argv;
}

export function conntrackCountArgv(): string[] {
  return ['conntrack', '-C'];
}

/** Exits 1 with "0 flow entries have been deleted." when nothing matched. */
export function conntrackDeleteBySnatArgv(snat: string): string[] {
  if (isIP(snat) === 0) throw new TypeError(`not an IP address: ${snat}`);
  return ['conntrack', '-D', '--src-nat', snat];
}

/** `/dev/stdin` only works when stdin is a pipe or a file, not a socket (see the header). */
export function conntrackRestoreArgv(file = '/dev/stdin'): string[] {
  if (file.length === 0 || file.startsWith('-')) throw new TypeError(`not a batch file path: ${file}`);
  return ['conntrack', '-R', file];
}

/** `conntrack -C` prints the entry count alone on a line. */
export function parseConntrackCount(text: string): number | undefined {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : undefined;
}

/** The "N flow entries have been shown|deleted|created|updated|added." line from stderr. */
export function parseConntrackSummary(stderr: string): { count: number; verb: string } | undefined {
  for (const line of stderr.split('\n')) {
    const m = SUMMARY.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) return { count: Number(m[1]), verb: m[2] };
  }
  return undefined;
}
