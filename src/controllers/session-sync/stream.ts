// NAT44SessionSync mode stream: snapshot's full resync every interval (default
// 30 s, it heals whatever events missed) plus the kernel's conntrack events of
// the SNAT addresses: one routerd-ct-events process for all of them (its own
// socket with a 64 MiB receive buffer, filtered in the helper; kernel/ct-events.ts),
// or, where the helper is not built, `conntrack -E` per address, whose event
// socket keeps the kernel's default buffer (docs/kernel-facts.md).
// Events are coalesced per flow and sent as soon as the previous batch is
// applied (a batch forms while the one before it is on the wire), on a restore
// session of their own, so they never wait behind a resync: a flow that ended
// is deleted exactly (routerd-ct-delete, one hash lookup on the target), a new
// one inserted (`-A`), one that reached ESTABLISHED or changed mark replaced
// (exact delete, then `-A`). Events that arrive during a resync are applied
// again after it, the latest of each flow the resync wrote or pruned (its dump
// may have carried a flow that ended meanwhile), after the fresh events: a
// fresh event of the same flow replaces the replayed one. An overrun of the
// event socket (ENOBUFS) or an event stream that exited is counted (metric,
// status) and healed by a full resync, at once or MIN_RESYNC_GAP_MS after the
// previous one (snapshot.ts).
import type { ChildHandle } from '../../host/host.ts';
import { conntrackEventsArgv, snatAddress, type ConntrackEvent } from '../../kernel/conntrack.ts';
import { ConntrackSerializeError, restoreInsertLine } from '../../kernel/conntrack-batch.ts';
import { eventFromLine, LineSplitter, tupleKey } from '../../kernel/conntrack-lines.ts';
import { isEventOverrun } from '../../kernel/conntrack.ts';
import { ctEventsArgv, ctEventsHelperPath, ctEventsHelperPresent, parseCtEventsLine } from '../../kernel/ct-events.ts';
import { SnapshotSyncMode } from './snapshot.ts';
import { replyFailure, sessionFailure, type TargetState } from './targets.ts';

const SYNCED_PROTOCOLS = new Set(['tcp', 'udp', 'icmp']);
/** Coalescing delay after the first event of an idle stream. */
const FLUSH_MS = 10;
const MAX_STREAM_BATCH = 20_000;
/**
 * Replayed events per batch. They go only when no fresh event waits, so a
 * fresh one waits behind at most one such batch.
 */
const MAX_REPLAY_BATCH = 1000;
/** Events held per target while it is unreachable; past this only a full resync can heal it. */
const MAX_PENDING = 200_000;
const UDP_REFRESH_MS = 10_000;

interface Queued {
  readonly ev: ConntrackEvent;
  readonly at: number;
  /** Order of arrival: tells a replayed event from the same one still pending. */
  readonly seq: number;
}

/**
 * An event kept for replay after a running resync: the helper's line rather
 * than the parsed event (a tenth of the memory; a 200k resync at 5k flows/s
 * holds some 200k of them), parsed again only if its flow was touched.
 */
interface Replayed {
  readonly at: number;
  readonly seq: number;
  readonly ev?: ConntrackEvent;
  readonly line?: string;
}

function replayedEvent(r: Replayed): ConntrackEvent | undefined {
  if (r.ev) return r.ev;
  const x = parseCtEventsLine(r.line!);
  return x.kind === 'event' ? x.event : undefined;
}

export interface StreamChanges {
  /** routerd-ct-delete lines: flows that ended, and the old copy of replaced flows. */
  readonly deletes: string[];
  /** `-A` lines: new flows and the new copy of replaced flows. */
  readonly inserts: string[];
  readonly counts: { inserts: number; replaces: number; deletes: number };
  /** Events that cannot be written as a restore line (e.g. an ICMP id remapped by NAT). */
  readonly failed: number;
}

/**
 * What a stream batch does with the latest event of each flow: a flow that
 * ended is deleted; a new one inserted; one that reached ESTABLISHED, changed
 * its mark (any non-TCP update) or reused a tuple that ended in the same batch
 * is replaced. TCP handshake and closing states wait for the next event.
 */
export function planStreamChanges(events: readonly ConntrackEvent[]): StreamChanges {
  const latest = new Map<string, { ev: ConntrackEvent; ended: boolean }>();
  let failed = 0;
  for (const ev of events) {
    let key: string;
    try {
      key = tupleKey(ev.entry);
    } catch {
      failed++;
      continue;
    }
    const prev = latest.get(key);
    latest.set(key, { ev, ended: prev !== undefined && (prev.ended || prev.ev.type === 'DESTROY') });
  }
  const deletes: string[] = [];
  const inserts: string[] = [];
  const counts = { inserts: 0, replaces: 0, deletes: 0 };
  for (const [key, { ev, ended }] of latest) {
    if (ev.type === 'DESTROY') {
      deletes.push(key);
      counts.deletes++;
      continue;
    }
    const replace = ended || (ev.type === 'UPDATE' && (ev.entry.protocol !== 'tcp' || ev.entry.tcpState === 'ESTABLISHED'));
    if (ev.type === 'UPDATE' && !replace) continue;
    let line: string;
    try {
      line = restoreInsertLine(ev.entry, { command: '-A' });
    } catch (e) {
      if (!(e instanceof ConntrackSerializeError)) throw e;
      failed++;
      continue;
    }
    if (replace) {
      deletes.push(key);
      counts.replaces++;
    } else counts.inserts++;
    inserts.push(line);
  }
  return { deletes, inserts, counts, failed };
}

/** Keys a resync reports as touched, per target, at most; past it every event seen meanwhile is applied again. */
const MAX_TOUCHED = 50_000;

/** An event's tuple key, or undefined when it has none (its batch counts it as failed). */
function keyOf(ev: ConntrackEvent): string | undefined {
  try {
    return tupleKey(ev.entry);
  } catch {
    return undefined;
  }
}

export class StreamSyncMode extends SnapshotSyncMode {
  override readonly mode = 'stream' as const;
  protected override trackTouched = MAX_TOUCHED;
  private streams: ChildHandle[] = [];
  private readonly pending = new Map<TargetState, Queued[]>();
  /** Events seen while a target's resync runs, applied again after it. */
  private readonly replay = new Map<TargetState, Replayed[]>();
  /**
   * After a resync, the latest event of each flow it touched, by tuple key, sent
   * after the fresh events: a fresh event of the same flow replaces it (it is newer).
   */
  private readonly replayQueue = new Map<TargetState, Map<string, Queued>>();
  private seq = 0;
  private flushTimer: NodeJS.Timeout | undefined;

  protected override start(): void {
    for (const t of this.book?.targets ?? []) this.pending.set(t, []);
    const helper = ctEventsHelperPresent();
    this.deps.log.info(
      { resource: this.id, action: 'events-reader', reader: helper ? 'routerd-ct-events' : 'conntrack -E', ...(helper ? { helper: ctEventsHelperPath() } : {}), addresses: this.addresses },
      helper ? 'following conntrack events with routerd-ct-events (one socket for all addresses)' : 'routerd-ct-events is not built (scripts/build-helpers); following conntrack events with conntrack -E per address',
    );
    if (this.addresses.length) {
      if (helper) this.followHelper();
      else for (const a of this.addresses) this.follow(a);
    }
    this.every(Math.min(UDP_REFRESH_MS, this.intervalMs), () => void this.cycle('udp-refresh'));
    super.start();
  }

  protected override halt(): void {
    super.halt();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const s of this.streams) s.kill('SIGTERM');
    this.streams = [];
    this.pending.clear();
    this.replay.clear();
    this.replayQueue.clear();
  }

  protected override beforeReplace(targets: readonly TargetState[]): void {
    // Replays still waiting from the last resync go: this one compares every entry again.
    for (const t of targets) {
      this.replay.set(t, []);
      this.replayQueue.delete(t);
    }
  }

  protected override afterReplace(targets: readonly TargetState[], touched: ReadonlyMap<TargetState, ReadonlySet<string> | undefined> | undefined): void {
    for (const t of targets) {
      const again = this.replay.get(t) ?? [];
      this.replay.delete(t);
      const q = this.pending.get(t);
      if (!q || again.length === 0) continue;
      // Only a flow the resync wrote or pruned can have been overtaken by it; the others' events
      // were applied in order already (sending them again delayed the fresh ones behind them).
      const keys = touched?.get(t);
      // A flow with an event still pending needs no replay: that event is newer.
      const fresh = new Set<string>();
      for (const x of q) {
        const k = keyOf(x.ev);
        if (k !== undefined) fresh.add(k);
      }
      let later = this.replayQueue.get(t);
      for (const r of again) {
        const ev = replayedEvent(r);
        if (!ev) continue;
        const k = keyOf(ev);
        if (k === undefined || fresh.has(k) || (keys && !keys.has(k))) continue;
        if (!later) this.replayQueue.set(t, (later = new Map()));
        later.delete(k);
        later.set(k, { ev, at: r.at, seq: r.seq });
      }
    }
    this.scheduleFlush();
  }

  /** An event of a selected flow, queued for every target (and for replay after a running resync); `line`: the helper's line it came from. */
  private enqueue(ev: ConntrackEvent, line?: string): void {
    const q: Queued = { ev, at: Date.now(), seq: this.seq++ };
    let kept: Replayed | undefined;
    let key: string | undefined | null = null;
    for (const [t, list] of this.pending) {
      const later = this.replayQueue.get(t);
      if (later?.size) {
        if (key === null) key = keyOf(ev);
        if (key !== undefined) later.delete(key);
      }
      if (list.length < MAX_PENDING) list.push(q);
      else if (!t.needsFull) {
        t.needsFull = true;
        list.length = 0;
        this.replayQueue.delete(t);
        this.requestFull();
      }
      const r = this.replay.get(t);
      if (r) r.push((kept ??= line === undefined ? q : { at: q.at, seq: q.seq, line }));
    }
  }

  /** An event reader that exited on its own: restarted after a second, then a full resync (events were lost meanwhile). */
  private watchExit(child: ChildHandle, reader: string, addresses: readonly string[], restart: () => void): void {
    void child.exited.then((info) => {
      if (this.stopped || !this.streams.includes(child)) return;
      this.deps.log.warn({ resource: this.id, action: 'events-exit', reader, addresses, code: info.code, signal: info.signal }, `${reader} exited; restarting it and resyncing`);
      this.streams = this.streams.filter((s) => s !== child);
      for (const t of this.book?.targets ?? []) t.needsFull = true;
      setTimeout(() => {
        if (this.stopped) return;
        restart();
        this.requestFull();
      }, 1000).unref();
    });
  }

  /** Follow events for all SNAT addresses on one routerd-ct-events socket. */
  private followHelper(): void {
    const addresses = this.addresses;
    const child = this.deps.local.spawn(ctEventsArgv(addresses));
    this.streams.push(child);
    let badLines = 0;
    const split = new LineSplitter((line) => {
      let x;
      try {
        x = parseCtEventsLine(line);
      } catch (e) {
        if (badLines++ === 0) this.deps.log.warn({ resource: this.id, action: 'events-parse', err: (e as Error).message }, 'routerd-ct-events printed a line routerd cannot read; skipped');
        return;
      }
      if (x.kind === 'event') {
        const ev = x.event;
        if (SYNCED_PROTOCOLS.has(ev.entry.protocol) && addresses.includes(snatAddress(ev.entry) ?? '')) this.enqueue(ev, line);
      } else if (x.kind === 'overrun') this.overrun(addresses);
      else {
        // The kernel reports twice what it granted (its bookkeeping); less than asked means SO_RCVBUFFORCE was refused.
        const granted = x.got >= x.asked;
        this.deps.log[granted ? 'info' : 'warn'](
          { resource: this.id, action: 'events-buffer', asked: x.asked, reported: x.got },
          granted ? 'conntrack event socket has the asked receive buffer' : 'conntrack event socket got less receive buffer than asked (no CAP_NET_ADMIN: net.core.rmem_max caps it)',
        );
      }
    });
    child.stdout?.on('data', (c: Buffer) => {
      split.push(c);
      this.scheduleFlush();
    });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString('utf8');
    });
    void child.exited.then(() => {
      if (stderr.trim()) this.deps.log.warn({ resource: this.id, action: 'events-stderr', stderr: stderr.trim().slice(0, 1000) }, 'routerd-ct-events said');
    });
    this.watchExit(child, 'routerd-ct-events', addresses, () => this.followHelper());
  }

  /** Follow events for one SNAT address with `conntrack -E` (the helper is not built). */
  private follow(addr: string): void {
    const child = this.deps.local.spawn(conntrackEventsArgv(addr));
    this.streams.push(child);
    const split = new LineSplitter((line) => {
      const ev = eventFromLine(line);
      if (!ev || !SYNCED_PROTOCOLS.has(ev.entry.protocol) || snatAddress(ev.entry) !== addr) return;
      this.enqueue(ev);
    });
    child.stdout?.on('data', (c: Buffer) => {
      split.push(c);
      this.scheduleFlush();
    });
    child.stderr?.on('data', (c: Buffer) => {
      for (const line of c.toString().split('\n')) if (isEventOverrun(line)) this.overrun([addr]);
    });
    this.watchExit(child, 'conntrack -E', [addr], () => this.follow(addr));
  }

  private overrun(addresses: readonly string[]): void {
    const book = this.book;
    if (!book) return;
    book.overruns++;
    book.resyncOwed = true;
    book.lastOverrunTime = new Date().toISOString();
    this.deps.metrics.sessionSyncOverruns.inc({ resource: this.id });
    this.deps.log.warn({ resource: this.id, action: 'events-overrun', addresses, overruns: book.overruns }, 'conntrack events were lost; full resync');
    for (const t of book.targets) t.needsFull = true;
    this.requestFull();
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.stopped) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, FLUSH_MS);
  }

  private flush(): void {
    const book = this.book;
    if (!book || this.stopped) return;
    for (const [ts, list] of this.pending) {
      if (ts.streaming || !ts.due()) continue;
      const take = list.length ? list.splice(0, MAX_STREAM_BATCH) : this.takeReplays(ts);
      if (take.length === 0) continue;
      const plan = planStreamChanges(take.map((q) => q.ev));
      if (plan.deletes.length === 0 && plan.inserts.length === 0) {
        // Nothing to write (TCP handshake updates); more replays may wait.
        if (this.replayQueue.get(ts)?.size) this.scheduleFlush();
        continue;
      }
      ts.streaming = true;
      const startedAt = Date.now();
      const readAt = take[0]!.at;
      const restore = plan.inserts.length ? `${plan.inserts.join('\n')}\n` : '';
      const sent = plan.counts.inserts + plan.counts.replaces + plan.counts.deletes;
      const base = { kind: 'stream' as const, sent, startedAt, readAt, ...plan.counts };
      ts.apply(ts.stream, plan.deletes, restore).then(
        (reply) => {
          const bad = replyFailure(reply);
          if (this.book !== book) return;
          book.record(ts, {
            ...base,
            ok: !bad,
            ...(bad ?? {}),
            restored: bad ? 0 : plan.inserts.length,
            pruned: reply.deleted,
            failed: plan.failed + reply.failed,
          });
          this.batchDone(ts, !bad);
        },
        (e: unknown) => {
          if (this.book !== book) return;
          book.record(ts, { ...base, ok: false, ...sessionFailure(e), restored: 0, pruned: 0, failed: plan.failed });
          this.batchDone(ts, false);
        },
      );
    }
  }

  /** Up to MAX_REPLAY_BATCH replayed events, oldest first. */
  private takeReplays(ts: TargetState): Queued[] {
    const later = this.replayQueue.get(ts);
    if (!later?.size) return [];
    const take: Queued[] = [];
    for (const [k, q] of later) {
      later.delete(k);
      take.push(q);
      if (take.length >= MAX_REPLAY_BATCH) break;
    }
    return take.sort((a, b) => a.seq - b.seq);
  }

  private batchDone(ts: TargetState, ok: boolean): void {
    ts.streaming = false;
    if (!ok) {
      // The failed batch is lost; a full resync once the target is due again heals it.
      setTimeout(() => this.requestFull(), Math.max(0, ts.nextAttemptAt - Date.now())).unref();
    }
    // The next batch goes as soon as this one is applied.
    if ((this.pending.get(ts)?.length ?? 0) > 0 || (this.replayQueue.get(ts)?.size ?? 0) > 0) this.flush();
    this.publish();
  }
}
