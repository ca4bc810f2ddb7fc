// NOTE: NAT44SessionSync no longer uses this class: its modes are snapshot.ts,
// stream.ts and conntrackd.ts behind SyncMode (modes.ts). It stays only for the
// address pool's push workers (address-pool/members.ts, bench/bgp-pool-replication.ts)
// until they move to SnapshotSyncMode/StreamSyncMode (RoutedModeDeps).
// One NAT44SessionSync at work on the active router: read the selected
// sessions from the local conntrack table and restore them, with their NAT
// binding and ct mark, on every target over ssh.
//
// snapshot: every interval, dump per SNAT address and replace the target's
//   entries for that address (`-D --src-nat ADDR` then `-A` per entry): one
//   batch per target, pruning what the master no longer has.
// stream: follow `conntrack -E` per address and send small batches (every
//   FLUSH_MS), plus a full replace every interval and a UDP refresh, so UDP
//   entries do not expire on the standby. A target that failed, or an event
//   stream that overran, gets a full replace before the stream is trusted again.
import { backoffDelay } from '../../support/backoff.ts';
import type { NAT44SessionSyncSpec } from './schema.ts';
import { DEFAULT_SNAPSHOT_INTERVAL, DEFAULT_STREAM_RESYNC_INTERVAL } from './schema.ts';
import { parseDuration } from '../../api/primitives.ts';
import { targetName } from '../../api/target.ts';
import { describeFailure, firstLines, type ChildHandle, type Host } from '../../host/host.ts';
import {
  conntrackDumpArgv,
  conntrackEventsArgv,
  isConntrackEvent,
  isEventOverrun,
  parseConntrackEvent,
  parseConntrackExtended,
  snatAddress,
  type ConntrackEntry,
  type ConntrackEvent,
} from '../../kernel/conntrack.ts';
import {
  applyRestore,
  changeBatch,
  classifyRestoreResult,
  restoreIsolating,
  snatRestoreBatch,
  type ChangeOp,
  type RestoreBatch,
} from '../../kernel/conntrack-batch.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { SSH_CONNECT_FAILURE, TARGET_IS_MASTER } from '../../transport/ssh-host.ts';
import { Phase, Reason, type ResourceStatus } from '../status.ts';
import { aggregateSyncStatus, type TargetStatus } from './targets.ts';

export type SyncTarget = NAT44SessionSyncSpec['targets'][number];

const SYNCED_PROTOCOLS = new Set(['tcp', 'udp', 'icmp']);
const FLUSH_MS = 20;
const MAX_STREAM_BATCH = 500;
/** Events held per target while it is busy or owed a full replace; past this, only the full replace counts. */
const MAX_PENDING = 100_000;
const UDP_REFRESH_MS = 10_000;
/** Largest batch worth bisecting after a kernel error; bigger ones are reported failed and retried whole. */
const MAX_ISOLATED = 256;

export interface WorkerDeps {
  readonly local: Host;
  readonly remote: (t: SyncTarget) => Host;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly report: (status: ResourceStatus) => void;
  readonly generation: () => number;
}

/** What `describe` shows per target (the same shape as the modes'). */
export type { TargetStatus };

interface TargetState {
  readonly target: SyncTarget;
  readonly status: TargetStatus;
  failures: number;
  nextAttemptAt: number;
  needsFull: boolean;
  busy: boolean;
  /** What the target holds as far as we know: tuple → state|mark. Counts prunes, decides stream ops. */
  known: Map<string, string>;
  pending: { ev: ConntrackEvent; at: number }[];
}

function tupleKey(e: ConntrackEntry): string {
  const o = e.original;
  return `${e.protocol} ${o.src}:${o.sport ?? o.id ?? ''} ${o.dst}:${o.dport ?? o.type ?? ''}`;
}

function signature(e: ConntrackEntry): string {
  return `${e.tcpState ?? ''}|${e.mark}`;
}

/**
 * After lost events: what a target lacks, from a dump and what it is known to
 * hold, as the stream would have sent it (every dumped flow seen as new:
 * inserted if the target lacks it, replaced if it became established or got
 * a new mark). Flows that ended meanwhile wait for the next full replace (it
 * prunes), as closing states do.
 */
export function catchUpChanges(dump: ReadonlyMap<string, readonly ConntrackEntry[]>, known: ReadonlyMap<string, string>): { op: ChangeOp; entry: ConntrackEntry }[] {
  return planStreamChanges(
    [...dump.values()].flatMap((list) => list.map((entry): ConntrackEvent => ({ type: 'NEW', entry }))),
    known,
  );
}

/** At most this many table scans (-D lines) in a stream batch; more and a full replace is cheaper. */
const MAX_STREAM_SCANS = 16;

/**
 * What a stream batch does with the latest event of each flow, given what the
 * target holds: new flows are inserted; a flow that reached ESTABLISHED or got
 * a new mark is replaced; a flow that ended is deleted. Closing states and
 * other churn wait for the next full replace (it prunes).
 */
export function planStreamChanges(
  events: readonly ConntrackEvent[],
  known: ReadonlyMap<string, string>,
): { op: ChangeOp; entry: ConntrackEntry }[] {
  const latest = new Map<string, ConntrackEvent>();
  for (const ev of events) latest.set(tupleKey(ev.entry), ev);
  const out: { op: ChangeOp; entry: ConntrackEntry }[] = [];
  for (const [key, ev] of latest) {
    const held = known.get(key);
    if (ev.type === 'DESTROY') {
      if (held !== undefined) out.push({ op: 'delete', entry: ev.entry });
    } else if (held === undefined) out.push({ op: 'insert', entry: ev.entry });
    else if (held !== signature(ev.entry)) {
      const [heldState = '', heldMark = ''] = held.split('|');
      const established = ev.entry.tcpState === 'ESTABLISHED' && heldState !== 'ESTABLISHED';
      if (established || heldMark !== String(ev.entry.mark)) out.push({ op: 'replace', entry: ev.entry });
    }
  }
  return out;
}

export class SessionSyncWorker {
  private readonly targets = new Map<string, TargetState>();
  private timers: NodeJS.Timeout[] = [];
  private streams: ChildHandle[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private cycleRunning = false;
  /** Events were lost: a catch-up from a dump is owed (it runs after the cycle under way). */
  private catchUpOwed = false;
  private stopped = false;
  /** Batches on their way to a target (settled()). */
  private readonly inflight = new Set<Promise<boolean>>();
  private localEntries = 0;
  private skipped = 0;

  constructor(
    private readonly id: string,
    private spec: NAT44SessionSyncSpec,
    private addresses: readonly string[],
    private readonly deps: WorkerDeps,
  ) {
    this.resetTargets();
  }

  get intervalMs(): number {
    const d = this.spec.interval ?? (this.spec.mode === 'stream' ? DEFAULT_STREAM_RESYNC_INTERVAL : DEFAULT_SNAPSHOT_INTERVAL);
    return parseDuration(d) ?? 2000;
  }

  /** Same spec and addresses: nothing to do. */
  matches(spec: NAT44SessionSyncSpec, addresses: readonly string[]): boolean {
    return JSON.stringify(spec) === JSON.stringify(this.spec) && addresses.join(',') === this.addresses.join(',');
  }

  start(): void {
    this.stopped = false;
    this.timers.push(setInterval(() => void this.cycle('full'), this.intervalMs));
    if (this.spec.mode === 'stream') {
      for (const a of this.addresses) this.follow(a);
      this.timers.push(setInterval(() => void this.cycle('udp-refresh'), Math.min(UDP_REFRESH_MS, this.intervalMs)));
    }
    for (const t of this.timers) t.unref();
    void this.cycle('full');
    this.publish();
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const s of this.streams) s.kill('SIGTERM');
    this.streams = [];
  }

  private resetTargets(): void {
    this.targets.clear();
    for (const t of this.spec.targets)
      this.targets.set(targetName(t), {
        target: t,
        status: { name: targetName(t), host: t.host, phase: 'Pending', reason: Reason.NotSyncedYet, sent: 0, restored: 0, pruned: 0, failed: 0 },
        failures: 0,
        nextAttemptAt: 0,
        needsFull: true,
        busy: false,
        known: new Map(),
        pending: [],
      });
  }

  /** Dump the selected sessions of this router. */
  private async dump(protocol?: 'udp'): Promise<Map<string, ConntrackEntry[]>> {
    const out = new Map<string, ConntrackEntry[]>();
    await Promise.all(
      this.addresses.map(async (addr) => {
        const r = await this.deps.local.run(conntrackDumpArgv({ format: 'extended', family: 'ipv4', snatAddress: addr, ...(protocol ? { protocol } : {}) }), {
          timeoutMs: 60_000,
        });
        // conntrack -L exits 0 with no entries; anything else means we cannot read the table.
        if (r.code !== 0) throw new Error(`conntrack dump for ${addr}: ${describeFailure(r)}`);
        const parsed = parseConntrackExtended(r.stdout);
        if (parsed.errors.length) this.deps.log.warn({ resource: this.id, action: 'dump', unparsed: parsed.errors.length, sample: parsed.errors[0]?.message }, 'unparsed conntrack lines');
        out.set(addr, parsed.entries.filter((e) => SYNCED_PROTOCOLS.has(e.protocol) && snatAddress(e) === addr));
      }),
    );
    return out;
  }

  /** A full replace (or a UDP refresh) on every target that is due. */
  private async cycle(kind: 'full' | 'udp-refresh' | 'catch-up'): Promise<void> {
    if (this.cycleRunning || this.stopped) return;
    this.cycleRunning = true;
    if (kind !== 'udp-refresh') this.catchUpOwed = false;
    const dumpedAt = Date.now();
    try {
      let byAddr: Map<string, ConntrackEntry[]>;
      try {
        byAddr = await this.dump(kind === 'udp-refresh' ? 'udp' : undefined);
      } catch (e) {
        this.deps.log.error({ resource: this.id, action: 'dump', outcome: 'error', err: (e as Error).message }, 'cannot read the local conntrack table');
        this.deps.report({ ...this.aggregate(), phase: Phase.Degraded, reason: Reason.DumpFailed, message: (e as Error).message });
        return;
      }
      if (kind !== 'udp-refresh') this.localEntries = [...byAddr.values()].reduce((n, l) => n + l.length, 0);
      const batch = this.replaceBatch(byAddr, kind === 'udp-refresh' ? 'udp' : undefined);
      await Promise.all(
        [...this.targets.values()].map((ts) => {
          if (Date.now() < ts.nextAttemptAt || ts.busy) return undefined;
          if (kind === 'catch-up' && !ts.needsFull) {
            ts.pending = ts.pending.filter((p) => p.at > dumpedAt);
            const changes = catchUpChanges(byAddr, ts.known);
            if (changes.filter((c) => c.op !== 'insert').length <= MAX_STREAM_SCANS) return changes.length ? this.send(ts, 'stream', changeBatch(changes), dumpedAt, changes) : undefined;
          }
          if (kind === 'udp-refresh' && ts.needsFull) return undefined;
          // The dump already reflects every event older than it.
          if (kind === 'full') ts.pending = ts.pending.filter((p) => p.at > dumpedAt);
          return this.send(ts, kind === 'udp-refresh' ? 'udp-refresh' : 'full', batch, dumpedAt);
        }),
      );
    } finally {
      this.cycleRunning = false;
      if (this.catchUpOwed && !this.stopped) setTimeout(() => void this.cycle('catch-up'), 0).unref();
      this.publish();
    }
  }

  private replaceBatch(byAddr: Map<string, ConntrackEntry[]>, protocol?: 'udp'): RestoreBatch {
    const parts = [...byAddr].map(([addr, entries]) => snatRestoreBatch(addr, entries, protocol ? { protocol } : {}));
    const skipped = parts.flatMap((p) => p.skipped);
    if (skipped.length && skipped.length !== this.skipped)
      this.deps.log.warn({ resource: this.id, action: 'serialize', skipped: skipped.length, sample: skipped[0]?.reason }, 'entries that cannot be restored are left out');
    this.skipped = skipped.length;
    return { text: parts.map((p) => p.text).join(''), entries: parts.flatMap((p) => p.entries), skipped };
  }

  /** Update what the target holds after a successful batch; returns how many entries a replace pruned. */
  private remember(ts: TargetState, kind: 'full' | 'udp-refresh' | 'stream', batch: RestoreBatch, changes?: readonly { op: ChangeOp; entry: ConntrackEntry }[]): number {
    if (kind === 'stream') {
      for (const c of changes ?? []) {
        if (c.op === 'delete') ts.known.delete(tupleKey(c.entry));
        else ts.known.set(tupleKey(c.entry), signature(c.entry));
      }
      return 0;
    }
    const fresh = new Map(batch.entries.map((e) => [tupleKey(e), signature(e)]));
    let pruned = 0;
    for (const key of ts.known.keys()) {
      const replaced = kind === 'full' || key.startsWith('udp ');
      if (replaced && !fresh.has(key)) {
        pruned++;
        ts.known.delete(key);
      }
    }
    for (const [k, v] of fresh) ts.known.set(k, v);
    return pruned;
  }

  /**
   * Resolves once no batch of this worker is on its way to a target. After
   * stop(), no new batch starts; one already sent may still land, and a prune
   * of an address that left the selection must come after it, or the batch
   * (dumped before the address's flows were deleted) puts them back for good.
   */
  async settled(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  private send(
    ts: TargetState,
    kind: 'full' | 'udp-refresh' | 'stream',
    batch: RestoreBatch,
    readAt: number,
    changes?: readonly { op: ChangeOp; entry: ConntrackEntry }[],
  ): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    const p = this.sendNow(ts, kind, batch, readAt, changes);
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  private async sendNow(
    ts: TargetState,
    kind: 'full' | 'udp-refresh' | 'stream',
    batch: RestoreBatch,
    readAt: number,
    changes?: readonly { op: ChangeOp; entry: ConntrackEntry }[],
  ): Promise<boolean> {
    ts.busy = true;
    const started = Date.now();
    const target = ts.target;
    const tname = targetName(target);
    const host = this.deps.remote(target);
    const timeoutMs = Math.max(15_000, this.intervalMs * 5);
    let ok = false;
    let failed = batch.skipped.length;
    let error: string | undefined;
    let reason: string | undefined;
    try {
      const r = await applyRestore(host, batch.text, { timeoutMs });
      const failure = classifyRestoreResult(r);
      if (failure === undefined) ok = true;
      else if (r.code === TARGET_IS_MASTER) {
        reason = Reason.TargetIsMaster;
        error = describeFailure(r);
      } else if (r.code === SSH_CONNECT_FAILURE || r.timedOut) {
        reason = Reason.TargetUnreachable;
        error = describeFailure(r);
      } else if (failure === 'kernel' && kind !== 'udp-refresh' && batch.entries.length <= MAX_ISOLATED) {
        // One entry the kernel refused stopped the batch: isolate it so the others land.
        // Only for small batches: isolation re-sends per-entry deletes, a table scan each.
        const iso = await restoreIsolating(host, batch.entries, { timeoutMs });
        failed += iso.failed.length;
        ok = true;
        if (iso.failed.length) error = `restored all but ${iso.failed.length}: ${firstLines(iso.failed[0]!.message, 1)}`;
      } else {
        reason = Reason.SyncFailed;
        error = describeFailure(r);
      }
    } catch (e) {
      reason = Reason.SyncFailed;
      error = (e as Error).message;
    } finally {
      ts.busy = false;
    }
    const now = Date.now();
    const s = ts.status;
    const labels = { resource: this.id, target: tname };
    this.deps.metrics.sessionSyncBatches.inc({ ...labels, kind, outcome: ok ? 'ok' : 'error' });
    if (ok) {
      const pruned = this.remember(ts, kind, batch, changes);
      Object.assign(s, {
        phase: 'Synced',
        reason: Reason.Synced,
        lastSyncTime: new Date(now).toISOString(),
        sent: batch.entries.length,
        restored: batch.entries.length - (failed - batch.skipped.length),
        pruned,
        failed,
        durationMs: now - started,
        lagMs: now - readAt,
        error,
      });
      if (kind === 'full') {
        s.lastFullSyncTime = s.lastSyncTime;
        ts.needsFull = false;
        if (ts.pending.length) this.scheduleFlush();
      }
      if (!error) delete s.error;
      ts.failures = 0;
      ts.nextAttemptAt = 0;
      this.deps.metrics.sessionSyncEntries.inc({ ...labels, result: 'sent' }, batch.entries.length);
      this.deps.metrics.sessionSyncEntries.inc({ ...labels, result: 'restored' }, s.restored);
      if (failed) this.deps.metrics.sessionSyncEntries.inc({ ...labels, result: 'failed' }, failed);
      if (pruned) this.deps.metrics.sessionSyncEntries.inc({ ...labels, result: 'pruned' }, pruned);
      this.deps.metrics.sessionSyncLag.observe(labels, (now - readAt) / 1000);
    } else {
      ts.failures++;
      ts.needsFull = true;
      ts.nextAttemptAt = now + backoffDelay(ts.failures, this.intervalMs);
      Object.assign(s, { phase: 'Degraded', reason, error, durationMs: now - started });
    }
    this.deps.log[ok ? 'info' : 'warn'](
      {
        resource: this.id,
        target: tname,
        action: `sync-${kind}`,
        outcome: ok ? 'ok' : 'error',
        entries: batch.entries.length,
        failed,
        pruned: s.pruned,
        durationMs: now - started,
        lagMs: now - readAt,
        ...(changes ? { inserts: changes.filter((c) => c.op === 'insert').length, replaces: changes.filter((c) => c.op === 'replace').length, deletes: changes.filter((c) => c.op === 'delete').length } : {}),
        ...(error ? { err: error } : {}),
        ...(ok ? {} : { retryInMs: ts.nextAttemptAt - now }),
      },
      ok ? `${kind} sync to ${tname}: ${batch.entries.length} entries` : `${kind} sync to ${tname} failed`,
    );
    return ok;
  }

  /** Stream mode: follow events for one SNAT address. */
  private follow(addr: string): void {
    const child = this.deps.local.spawn(conntrackEventsArgv(addr));
    this.streams.push(child);
    let buf = '';
    child.stdout?.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl: number;
      const at = Date.now();
      while ((nl = buf.indexOf('\n')) >= 0) {
        const parsed = parseConntrackEvent(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (!isConntrackEvent(parsed) || !SYNCED_PROTOCOLS.has(parsed.entry.protocol) || snatAddress(parsed.entry) !== addr) continue;
        for (const ts of this.targets.values()) {
          // Kept while a full replace is owed: events newer than its dump still matter after it.
          if (ts.pending.length < MAX_PENDING) ts.pending.push({ ev: parsed, at });
          else ts.needsFull = true;
        }
      }
      this.scheduleFlush();
    });
    child.stderr?.on('data', (c: Buffer) => {
      for (const line of c.toString().split('\n'))
        if (isEventOverrun(line)) {
          this.deps.metrics.sessionSyncOverruns.inc({ resource: this.id });
          this.deps.log.warn({ resource: this.id, action: 'events-overrun', address: addr }, 'conntrack events were lost; catching up from a dump');
          // Not a full replace: what the target already holds is not sent again. A replace floods the target's own
          // event streams (every delete and insert is an event there, whatever its address), overruns them in turn,
          // and the resyncs cascade between routers that push to each other (bench/bgp-pool-replication.ts).
          this.catchUpOwed = true;
          void this.cycle('catch-up');
        }
    });
    void child.exited.then((info) => {
      if (this.stopped) return;
      this.deps.log.warn({ resource: this.id, action: 'events-exit', address: addr, code: info.code, signal: info.signal }, 'conntrack -E exited; restarting it and resyncing');
      this.streams = this.streams.filter((s) => s !== child);
      for (const ts of this.targets.values()) ts.needsFull = true;
      setTimeout(() => {
        if (this.stopped) return;
        this.follow(addr);
        void this.cycle('full');
      }, 1000).unref();
    });
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.stopped) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, FLUSH_MS);
  }

  private async flush(): Promise<void> {
    await Promise.all(
      [...this.targets.values()].map(async (ts) => {
        if (ts.busy || ts.pending.length === 0 || ts.needsFull || Date.now() < ts.nextAttemptAt) return;
        const take = ts.pending.splice(0, MAX_STREAM_BATCH);
        const changes = planStreamChanges(
          take.map((p) => p.ev),
          ts.known,
        );
        if (changes.filter((c) => c.op !== 'insert').length > MAX_STREAM_SCANS) {
          // Many deletes or replaces cost a table scan each on the target: one full replace is cheaper.
          ts.needsFull = true;
          setTimeout(() => void this.cycle('full'), 0).unref();
          return;
        }
        if (changes.length === 0) return;
        await this.send(ts, 'stream', changeBatch(changes), take[0]!.at, changes);
      }),
    );
    if ([...this.targets.values()].some((t) => t.pending.length > 0 && !t.busy && !t.needsFull)) this.scheduleFlush();
    this.publish();
  }

  private aggregate(): ResourceStatus {
    return aggregateSyncStatus({
      targets: [...this.targets.values()].map((t) => ({ ...t.status })),
      generation: this.deps.generation(),
      mode: this.spec.mode,
      addresses: this.addresses,
      localEntries: this.localEntries,
    });
  }

  private publish(): void {
    if (!this.stopped) this.deps.report(this.aggregate());
  }
}
