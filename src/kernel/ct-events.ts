// Conntrack events of SNAT addresses through routerd-ct-events (a small C
// program built by scripts/build-helpers from src/kernel/ct-events/): one
// ctnetlink socket subscribed to the NEW, UPDATE and DESTROY groups, with the
// receive buffer asked for (SO_RCVBUFFORCE), filtered to the given addresses
// in the helper and printed as one compact line per event, the 16 fields of
// routerd-ct-dump after the event type. `conntrack -E --buffer-size` sizes a
// socket without event groups and reads its events through the kernel default
// (docs/kernel-facts.md), so it overran under bursts (bench/RESULTS.md,
// session-sync-burst). Used by stream session sync (docs/session-sync.md).
import { isIP } from 'node:net';
import { nativeHelper } from './native-helper.ts';
import type { ConntrackEvent, ConntrackEventType } from './conntrack.ts';
import { CtLineScanner, readCtEntry } from './ct-dump.ts';

/** Where scripts/build-helpers builds the helper; ROUTERD_CT_EVENTS overrides it. */
const helper = nativeHelper('routerd-ct-events', 'ROUTERD_CT_EVENTS');
export const ctEventsHelperPath = helper.path;
export const ctEventsHelperPresent = helper.present;

export class CtEventsError extends Error {
  readonly code = 'RD_E_CT_EVENTS';
}

/** The receive buffer asked for by default: 64 MiB, about 200k events of an IPv4 SNAT flow queued in the kernel. */
export const DEFAULT_CT_EVENTS_BUFFER = 64 * 1024 * 1024;
const MIN_BUFFER = 4096;
const MAX_BUFFER = 1024 * 1024 * 1024;

export type CtEventGroup = 'new' | 'update' | 'destroy';
const GROUPS: readonly CtEventGroup[] = ['new', 'update', 'destroy'];

export interface CtEventsOptions {
  /** Receive buffer to ask for, bytes (default DEFAULT_CT_EVENTS_BUFFER). */
  readonly bufferBytes?: number;
  /** Event groups to join (default all three). */
  readonly events?: readonly CtEventGroup[];
  /** Each event line carries its read time (`-t`). */
  readonly timestamps?: boolean;
}

/** argv following the events of flows source-NATed to any of `addresses` (IPv4 or IPv6), on one socket. */
export function ctEventsArgv(addresses: readonly string[], opts: CtEventsOptions = {}): string[] {
  const wanted = [...new Set(addresses)];
  if (wanted.length === 0) throw new CtEventsError('routerd-ct-events needs at least one address');
  for (const a of wanted) if (isIP(a) === 0) throw new CtEventsError(`not an IP address: ${a}`);
  const size = opts.bufferBytes ?? DEFAULT_CT_EVENTS_BUFFER;
  if (!Number.isInteger(size) || size < MIN_BUFFER || size > MAX_BUFFER) throw new CtEventsError(`buffer size ${size}: want an integer from ${MIN_BUFFER} to ${MAX_BUFFER}`);
  const argv = [ctEventsHelperPath(), '-b', String(size)];
  if (opts.events) {
    const groups = [...new Set(opts.events)];
    if (groups.length === 0 || groups.some((g) => !GROUPS.includes(g))) throw new CtEventsError(`event groups: want some of ${GROUPS.join(', ')}: ${groups.join(',')}`);
    argv.push('-e', groups.join(','));
  }
  if (opts.timestamps) argv.push('-t');
  argv.push('--', ...wanted);
  return argv;
}

export type CtEventsLine =
  /** An event; `timeMs` (epoch ms, microsecond fraction) when the helper ran with `-t`. */
  | { readonly kind: 'event'; readonly event: ConntrackEvent; readonly timeMs?: number }
  /** The kernel dropped events (ENOBUFS); `count` overruns since the helper started. */
  | { readonly kind: 'overrun'; readonly count: number }
  /** The first line: the buffer asked for and what getsockopt(SO_RCVBUF) reports (the kernel doubles a grant). */
  | { readonly kind: 'rcvbuf'; readonly asked: number; readonly got: number };

const fault = (m: string): Error => new CtEventsError(`routerd-ct-events ${m}`);
const TYPES: Readonly<Record<string, ConntrackEventType>> = { NEW: 'NEW', UPDATE: 'UPDATE', DESTROY: 'DESTROY' };

/** One line of the helper's output (without its newline). Throws CtEventsError on a malformed line. */
export function parseCtEventsLine(line: string): CtEventsLine {
  const sp = line.indexOf(' ');
  const head = sp < 0 ? line : line.slice(0, sp);
  const type = TYPES[head];
  const s = new CtLineScanner(line, fault);
  s.pos = head.length;
  if (type) {
    let timeMs: number | undefined;
    // With -t the second field is SEC.USEC; PROTONUM never holds a dot.
    const dot = line.indexOf('.', sp + 1);
    const next = line.indexOf(' ', sp + 1);
    if (dot > 0 && next > dot) {
      const sec = s.must(Number.MAX_SAFE_INTEGER, 'time');
      if (line.charCodeAt(s.pos) !== 46) s.fail('time');
      const from = ++s.pos;
      const usec = s.must(999_999, 'time', true);
      if (s.pos - from !== 6) s.fail('time: want six digits of microseconds');
      timeMs = sec * 1000 + usec / 1000;
    }
    const entry = readCtEntry(s, false);
    return timeMs === undefined ? { kind: 'event', event: { type, entry } } : { kind: 'event', event: { type, entry }, timeMs };
  }
  if (head === 'overrun') {
    const count = s.must(Number.MAX_SAFE_INTEGER, 'overrun count');
    s.endOfLine();
    return { kind: 'overrun', count };
  }
  if (head === 'rcvbuf') {
    const asked = s.must(Number.MAX_SAFE_INTEGER, 'asked size');
    const got = s.must(Number.MAX_SAFE_INTEGER, 'granted size');
    s.endOfLine();
    return { kind: 'rcvbuf', asked, got };
  }
  return s.fail('not an event, overrun or rcvbuf line');
}
