// Writing and running `conntrack -R` batches; the measured behaviour of -R is
// described at the top of conntrack.ts and pinned by test/e2e/kernel-conntrack.test.ts.
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { describeFailure } from '../host/host.ts';
import type { Host, RunResult } from '../host/host.ts';
import {
  RESTORABLE_STATUS,
  TCP_STATES,
  conntrackRestoreArgv,
  isDestinationNatted,
  isIcmpLike,
  isSourceNatted,
  type ConntrackEntry,
  type L3Family,
} from './conntrack.ts';

// ---------------------------------------------------------------------------
// Batch lines for `conntrack -R`

/** An entry the batch format cannot express; the message says why. */
export class ConntrackSerializeError extends Error {
  readonly code = 'RD_E_CONNTRACK_UNSERIALIZABLE';
  constructor(message: string) {
    super(message);
    this.name = 'ConntrackSerializeError';
  }
}

function reject(message: string): never {
  throw new ConntrackSerializeError(message);
}

function checkUint(n: number | undefined, what: string, max: number): number {
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > max) reject(`${what}: ${String(n)} is not in 0..${max}`);
  return n;
}

function checkAddress(a: string, l3: L3Family, what: string): string {
  if (!(l3 === 'ipv4' ? isIPv4(a) : isIPv6(a))) reject(`${what}: ${a} is not an ${l3} address`);
  return a;
}

function natTarget(addr: string, port: number | undefined): string {
  if (port === undefined) return addr;
  return isIPv6(addr) ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** `-p PROTO -s A -d B` and the protocol's original-tuple options. */
function originalTupleArgs(e: ConntrackEntry): string[] {
  const o = e.original;
  const args = ['-p', e.protocol, '-s', checkAddress(o.src, e.l3, 'src'), '-d', checkAddress(o.dst, e.l3, 'dst')];
  if (e.protocol === 'tcp' || e.protocol === 'udp') {
    args.push('--sport', String(checkUint(o.sport, 'sport', 0xffff)), '--dport', String(checkUint(o.dport, 'dport', 0xffff)));
  } else if (isIcmpLike(e.protocol)) {
    if ((e.protocol === 'icmp') !== (e.l3 === 'ipv4')) reject(`${e.protocol} in an ${e.l3} entry`);
    const p = e.protocol === 'icmp' ? '--icmp' : '--icmpv6';
    args.push(`${p}-type`, String(checkUint(o.type, 'icmp type', 0xff)), `${p}-code`, String(checkUint(o.code, 'icmp code', 0xff)));
    if (o.id !== undefined) args.push(`${p}-id`, String(checkUint(o.id, 'icmp id', 0xffff)));
  } else {
    reject(`protocol ${e.protocol} is not restored (tcp, udp, icmp, icmpv6 only)`);
  }
  return args;
}

function zoneArgs(e: ConntrackEntry): string[] {
  return e.zone === undefined ? [] : ['-w', String(checkUint(e.zone, 'zone', 0xffff))];
}

export interface RestoreLineOptions {
  /** -I fails (and stops a batch) when the entry exists; -A skips it silently. Default -I. */
  readonly command?: '-I' | '-A';
}

/**
 * One `conntrack -R` line creating `entry`: the original tuple plus
 * `--src-nat IP:PORT` / `--dst-nat IP:PORT` when NATed (conntrack derives the
 * reply tuple), with timeout, TCP state, status and mark.
 * Throws ConntrackSerializeError for what the batch format cannot express.
 */
export function restoreInsertLine(entry: ConntrackEntry, opts: RestoreLineOptions = {}): string {
  const e = entry;
  const args: string[] = [opts.command ?? '-I', ...originalTupleArgs(e)];
  const ports = e.protocol === 'tcp' || e.protocol === 'udp';
  if (isSourceNatted(e)) {
    const addr = checkAddress(e.reply.dst, e.l3, 'SNAT address');
    if (isIcmpLike(e.protocol) && e.reply.id !== e.original.id) {
      reject('ICMP id remapped by NAT: conntrack --src-nat cannot restore the reply id');
    }
    args.push('--src-nat', natTarget(addr, ports ? checkUint(e.reply.dport, 'SNAT port', 0xffff) : undefined));
  }
  if (isDestinationNatted(e)) {
    const addr = checkAddress(e.reply.src, e.l3, 'DNAT address');
    args.push('--dst-nat', natTarget(addr, ports ? checkUint(e.reply.sport, 'DNAT port', 0xffff) : undefined));
  }
  args.push(...zoneArgs(e), '-t', String(checkUint(e.timeout, 'timeout', 0xffffffff)));
  const status = e.status.filter((s) => RESTORABLE_STATUS.has(s));
  if (status.length > 0) args.push('-u', status.join(','));
  if (e.protocol === 'tcp') {
    const state = e.tcpState ?? reject('tcp entry without a state');
    if (!TCP_STATES.has(state)) reject(`unknown TCP state ${state}`);
    args.push('--state', state);
  }
  args.push('-m', String(checkUint(e.mark, 'mark', 0xffffffff)));
  return args.join(' ');
}

/** One `conntrack -R` line deleting by `entry`'s original tuple; with no zone it matches that tuple in every zone. */
export function restoreDeleteLine(entry: ConntrackEntry): string {
  return ['-D', ...originalTupleArgs(entry), ...zoneArgs(entry)].join(' ');
}

/**
 * One `conntrack -R` line deleting every flow source-NATed to `snatAddress`
 * (one table scan), or only those from `sourceCidr`. Checked: the line is
 * parsed by conntrack's own rules, so no value may carry a space or option.
 */
export function restoreDeleteBySnatLine(snatAddress: string, sourceCidr?: string): string {
  if (isIP(snatAddress) === 0) throw new TypeError(`not an IP address: ${snatAddress}`);
  if (sourceCidr !== undefined && !/^[0-9a-fA-F.:]+\/\d{1,3}$/.test(sourceCidr)) throw new TypeError(`not a CIDR: ${sourceCidr}`);
  return sourceCidr === undefined ? `-D --src-nat ${snatAddress}` : `-D --src-nat ${snatAddress} -s ${sourceCidr}`;
}

export interface SkippedEntry {
  readonly entry: ConntrackEntry;
  readonly reason: string;
}

/** Text for `conntrack -R`, newline-terminated, and the entries it had to leave out. */
export interface RestoreBatch {
  readonly text: string;
  /** Entries the text carries. */
  readonly entries: readonly ConntrackEntry[];
  readonly skipped: readonly SkippedEntry[];
}

export interface RestoreBatchOptions {
  /**
   * Insert command. Default -A: after the delete the entry is absent, so -A
   * creates it; if something recreated it meanwhile (or its reply tuple is taken)
   * -A skips that one line where -I would abort the rest of the batch.
   */
  readonly insert?: '-I' | '-A';
}

function buildBatch(
  head: readonly string[],
  entries: readonly ConntrackEntry[],
  linesFor: (e: ConntrackEntry) => string[],
): RestoreBatch {
  const lines = [...head];
  const kept: ConntrackEntry[] = [];
  const skipped: SkippedEntry[] = [];
  for (const entry of entries) {
    try {
      lines.push(...linesFor(entry));
      kept.push(entry);
    } catch (e) {
      if (!(e instanceof ConntrackSerializeError)) throw e;
      skipped.push({ entry, reason: e.message });
    }
  }
  return { text: lines.length > 0 ? `${lines.join('\n')}\n` : '', entries: kept, skipped };
}

/**
 * Delete-then-insert per entry: applying it twice leaves the same table.
 * Each -D line scans the whole table (see the header); for thousands of entries
 * prefer snatRestoreBatch or delete only what a diff says changed.
 */
export function restoreBatch(entries: readonly ConntrackEntry[], opts: RestoreBatchOptions = {}): RestoreBatch {
  const command = opts.insert ?? '-A';
  return buildBatch([], entries, (e) => [restoreDeleteLine(e), restoreInsertLine(e, { command })]);
}

/**
 * Replace every entry bound to `snat` with `entries`: one `-D --src-nat ADDR`
 * (a single table scan) then the inserts. Entries gone from `entries` go too.
 */
export function snatRestoreBatch(
  snat: string,
  entries: readonly ConntrackEntry[],
  opts: RestoreBatchOptions & { readonly protocol?: 'tcp' | 'udp' | 'icmp' } = {},
): RestoreBatch {
  if (isIP(snat) === 0) throw new ConntrackSerializeError(`SNAT address ${snat} is not an IP address`);
  const command = opts.insert ?? '-A';
  // With a protocol, only that protocol's entries are replaced (the UDP refresh of stream mode).
  const head = `-D${opts.protocol ? ` -p ${opts.protocol}` : ''} --src-nat ${snat}`;
  return buildBatch([head], entries, (e) => [restoreInsertLine(e, { command })]);
}

export type ChangeOp = 'insert' | 'replace' | 'delete';

/**
 * Stream-mode lines: insert (-A: cheap, skipped if present), replace (-D then
 * -A) or delete (-D). Every -D scans the target's whole table, so callers keep
 * replaces and deletes few and fall back to a full replace when they are many.
 */
export function changeBatch(changes: readonly { readonly op: ChangeOp; readonly entry: ConntrackEntry }[]): RestoreBatch {
  const ops = new Map(changes.map((c) => [c.entry, c.op]));
  return buildBatch([], [...ops.keys()], (entry) => {
    const op = ops.get(entry);
    if (op === 'delete') return [restoreDeleteLine(entry)];
    const insert = restoreInsertLine(entry, { command: '-A' });
    return op === 'replace' ? [restoreDeleteLine(entry), insert] : [insert];
  });
}

/** Delete lines only. */
export function deleteBatch(entries: readonly ConntrackEntry[]): RestoreBatch {
  return buildBatch([], entries, (e) => [restoreDeleteLine(e)]);
}


// ---------------------------------------------------------------------------
// Running a batch so that one bad entry does not sink the others

export type RestoreFailureKind = 'parse' | 'kernel' | 'other';

/** Exit 2 = conntrack refused the file before applying anything; 1 = a kernel error stopped it midway. */
export function classifyRestoreResult(r: RunResult): RestoreFailureKind | undefined {
  if (r.code === 0 && !r.timedOut) return undefined;
  if (r.code === 2) return 'parse';
  if (r.code === 1) return 'kernel';
  return 'other';
}

export interface FailedEntry {
  readonly entry: ConntrackEntry;
  readonly kind: RestoreFailureKind | 'unserializable';
  readonly message: string;
}

export interface RestoreOutcome {
  /** Entries whose lines ran in a batch that exited 0. */
  readonly applied: number;
  readonly failed: readonly FailedEntry[];
  /** conntrack processes started. */
  readonly runs: number;
}

export interface ApplyRestoreOptions {
  readonly timeoutMs?: number;
}

/** Run one `conntrack -R /dev/stdin` batch on `host`. The result is conntrack's; see classifyRestoreResult. */
export async function applyRestore(host: Host, text: string, opts: ApplyRestoreOptions = {}): Promise<RunResult> {
  // -D and -U lines echo what they touch; nobody reads it.
  return host.run(conntrackRestoreArgv(), { timeoutMs: opts.timeoutMs, maxOutputBytes: 64 * 1024, stdin: text });
}

export type RestoreIsolatingOptions = RestoreBatchOptions & ApplyRestoreOptions;

/**
 * Apply delete-then-insert for `entries` in one `conntrack -R`; if it fails,
 * split the entries in halves and retry each (delete-then-insert is idempotent,
 * so re-running the part that did apply is harmless) down to the single entries
 * that fail on their own. Costs 1 run when all is well, about 2·log2(n) more per
 * bad entry.
 */
export async function restoreIsolating(
  host: Host,
  entries: readonly ConntrackEntry[],
  opts: RestoreIsolatingOptions = {},
): Promise<RestoreOutcome> {
  const batch = restoreBatch(entries, opts);
  const failed: FailedEntry[] = batch.skipped.map((s) => ({ entry: s.entry, kind: 'unserializable', message: s.reason }));
  let applied = 0;
  let runs = 0;
  const attempt = async (part: readonly ConntrackEntry[]): Promise<void> => {
    if (part.length === 0) return;
    const r = await applyRestore(host, restoreBatch(part, opts).text, opts);
    runs++;
    const kind = classifyRestoreResult(r);
    if (kind === undefined) {
      applied += part.length;
      return;
    }
    const message = describeFailure(r);
    // Only a refused line or a kernel error is worth bisecting; a missing binary or a timeout is not.
    if (part.length === 1 || kind === 'other') {
      for (const entry of part) failed.push({ entry, kind, message });
      return;
    }
    const mid = Math.ceil(part.length / 2);
    await attempt(part.slice(0, mid));
    await attempt(part.slice(mid));
  };
  await attempt(batch.entries);
  return { applied, failed, runs };
}
