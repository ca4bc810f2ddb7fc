// NAT44SessionSync mode snapshot: every interval, a full resync of the
// selected sessions into every target that is due (replace.ts: streamed from
// the local dump into each target's restore session, exact deletes for what
// changed or went). Runs while spec.when holds (the controller stops it when
// the gate shuts, so a backup never pushes its stale sessions back).
import type { NAT44SessionSyncSpec } from './schema.ts';
import { DEFAULT_SNAPSHOT_INTERVAL, DEFAULT_STREAM_RESYNC_INTERVAL } from './schema.ts';
import { parseDuration } from '../../api/primitives.ts';
import { Phase, Reason } from '../status.ts';
import type { SyncMode, SyncModeInput } from './mode.ts';
import { streamedReplace, type ReplaceOptions } from './replace.ts';
import { TargetBook, type BatchKind, type RoutedModeDeps, type TargetState } from './targets.ts';

/** Least time between the end of one full resync and a requested one (the periodic timer is not delayed). */
export const MIN_RESYNC_GAP_MS = 5000;

export class SnapshotSyncMode implements SyncMode {
  readonly mode: 'snapshot' | 'stream' = 'snapshot';
  protected spec: NAT44SessionSyncSpec | undefined;
  protected addresses: readonly string[] = [];
  protected book: TargetBook | undefined;
  protected timers: NodeJS.Timeout[] = [];
  protected stopped = true;
  private cycleRunning = false;
  /** The cycle under way (quiesce() waits for it). */
  private current: Promise<void> | undefined;
  private fullOwed = false;
  private lastFullEnd = 0;
  private fullTimer: NodeJS.Timeout | undefined;
  private skipped = 0;
  /** Restore lines per batch of a full resync (tests and benches may change it). */
  chunkLines: number | undefined;

  constructor(
    protected readonly id: string,
    protected readonly deps: RoutedModeDeps,
  ) {}

  get intervalMs(): number {
    const d = this.spec?.interval ?? (this.mode === 'stream' ? DEFAULT_STREAM_RESYNC_INTERVAL : DEFAULT_SNAPSHOT_INTERVAL);
    return parseDuration(d) ?? 2000;
  }

  /** Start, or restart when the spec or the addresses changed; the same input again changes nothing. */
  async update(input: SyncModeInput): Promise<void> {
    if (!this.stopped && JSON.stringify(input.spec) === JSON.stringify(this.spec) && input.addresses.join(',') === this.addresses.join(',')) return;
    this.halt();
    this.spec = input.spec;
    this.addresses = [...input.addresses];
    this.book = new TargetBook(this.id, this.mode, input.spec, this.addresses, this.deps, this.intervalMs);
    this.stopped = false;
    this.deps.log.info(
      { resource: this.id, action: 'sync-start', mode: this.mode, addresses: this.addresses, targets: this.book.targets.map((t) => t.name), intervalMs: this.intervalMs },
      `${this.id}: exporting sessions`,
    );
    this.start();
  }

  async stop(): Promise<void> {
    this.halt();
  }

  async quiesce(): Promise<void> {
    const book = this.book;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.current;
    await book?.drained();
    this.halt();
  }

  protected start(): void {
    this.every(this.intervalMs, () => void this.cycle('full'));
    void this.cycle('full');
    this.publish();
  }

  protected every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  protected halt(): void {
    this.stopped = true;
    if (this.fullTimer) clearTimeout(this.fullTimer);
    this.fullTimer = undefined;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.book?.close();
  }

  /** A full resync (or a UDP refresh) into every target that is due. */
  protected cycle(kind: 'full' | 'udp-refresh'): Promise<void> {
    const wasRunning = this.cycleRunning;
    const run = this.runCycle(kind);
    if (!wasRunning && this.cycleRunning) this.current = run;
    return run;
  }

  private async runCycle(kind: 'full' | 'udp-refresh'): Promise<void> {
    const book = this.book;
    if (this.stopped || !book) return;
    if (this.cycleRunning) {
      // A full resync asked for meanwhile (its timer, an overrun) runs right after this one, never dropped.
      if (kind === 'full') this.fullOwed = true;
      return;
    }
    const due = book.targets.filter((t) => t.due() && !t.replacing && (kind === 'full' || !t.needsFull));
    if (due.length === 0) return;
    this.cycleRunning = true;
    if (kind === 'full' && book.resyncOwed) {
      book.resyncOwed = false;
      book.resyncs++;
    }
    for (const t of due) t.replacing = true;
    this.beforeReplace(due);
    let touched: ReadonlyMap<TargetState, ReadonlySet<string> | undefined> | undefined;
    try {
      const opts: ReplaceOptions = {
        local: this.deps.local,
        remote: (t) => this.deps.remote(t.target),
        addresses: this.addresses,
        targets: due,
        ...(kind === 'udp-refresh' ? { protocol: 'udp' as const } : {}),
        ...(this.chunkLines ? { chunkLines: this.chunkLines } : {}),
        ...(this.trackTouched ? { trackTouched: this.trackTouched } : {}),
        timeoutMs: Math.max(60_000, this.intervalMs * 5),
      };
      const r = await streamedReplace(opts);
      if (!r.dumpError) touched = new Map([...r.targets].map(([ts, o]) => [ts, o.touched]));
      if (this.stopped || this.book !== book) return;
      if (r.dumpError) {
        this.deps.log.error({ resource: this.id, action: 'dump', outcome: 'error', err: r.dumpError }, 'cannot read the local conntrack table');
        this.deps.report({ ...book.aggregate(), phase: Phase.Degraded, reason: Reason.DumpFailed, message: r.dumpError });
      }
      if (kind === 'full' && !r.dumpError) book.localEntries = r.entries;
      if (r.skipped && r.skipped !== this.skipped)
        this.deps.log.warn({ resource: this.id, action: 'serialize', skipped: r.skipped, sample: r.skipSample }, 'entries that cannot be restored are left out');
      this.skipped = r.skipped;
      const batchKind: BatchKind = kind;
      for (const [ts, o] of r.targets)
        book.record(ts, {
          kind: batchKind,
          ok: o.ok,
          ...(o.reason ? { reason: o.reason } : {}),
          ...(o.error ? { error: o.error } : {}),
          sent: r.entries,
          restored: o.restored,
          pruned: o.pruned,
          failed: o.failed + r.skipped,
          startedAt: r.startedAt,
          readAt: r.startedAt,
        });
    } finally {
      for (const t of due) t.replacing = false;
      this.cycleRunning = false;
      if (kind === 'full') this.lastFullEnd = Date.now();
      if (this.fullOwed && !this.stopped) {
        this.fullOwed = false;
        this.requestFull();
      }
      if (this.book === book) this.afterReplace(due, touched);
      this.publish();
    }
  }

  /**
   * A full resync as soon as allowed: at once, after the one running, or
   * MIN_RESYNC_GAP_MS after the last one ended, so a storm of requests (event
   * overruns under load) cannot keep the router resyncing without a pause.
   */
  protected requestFull(): void {
    if (this.stopped) return;
    if (this.cycleRunning) {
      this.fullOwed = true;
      return;
    }
    const wait = this.lastFullEnd + MIN_RESYNC_GAP_MS - Date.now();
    if (wait <= 0) {
      void this.cycle('full');
      return;
    }
    if (this.fullTimer) return;
    this.fullTimer = setTimeout(() => {
      this.fullTimer = undefined;
      this.requestFull();
    }, wait);
    this.fullTimer.unref();
  }

  /** Keys the resync should report as touched per target, at most (stream mode sets it; 0: none). */
  protected trackTouched = 0;

  /**
   * Hooks for stream mode: events that arrive during a resync are applied again after it,
   * those of the flows it touched (`touched`, per target; undefined: all of them).
   */
  protected beforeReplace(_targets: readonly TargetState[]): void {}
  protected afterReplace(_targets: readonly TargetState[], _touched: ReadonlyMap<TargetState, ReadonlySet<string> | undefined> | undefined): void {}

  protected publish(): void {
    if (!this.stopped && this.book) this.deps.report(this.book.aggregate());
  }
}
