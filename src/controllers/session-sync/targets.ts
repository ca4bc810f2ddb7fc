// What snapshot and stream modes share about their targets: one restore
// session each (two in stream mode: bulk and stream, so small batches never
// wait behind a full resync), per-target status with backoff, and the log
// line, metrics and status every batch leaves.
import type { NAT44SessionSyncSpec } from './schema.ts';
import { targetName } from '../../api/target.ts';
import type { Host } from '../../host/host.ts';
import { restoreDeleteFromKey } from '../../kernel/conntrack-lines.ts';
import { ctDeleteHelperPath } from '../../kernel/ct-delete.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { RestoreSession, SessionClosedError, type SessionReply } from '../../transport/restore-session.ts';
import { SSH_CONNECT_FAILURE, TARGET_IS_MASTER } from '../../transport/ssh-host.ts';
import { Phase, Reason, type ResourceStatus } from '../status.ts';

export type SyncTarget = NAT44SessionSyncSpec['targets'][number];
export type BatchKind = 'full' | 'udp-refresh' | 'stream';

const MAX_BACKOFF_MS = 30_000;
/**
 * Restore sessions per target for a full resync. Two `conntrack -R` on the
 * target overlap one's parsing (userspace) with the other's inserts (the
 * kernel serialises ctnetlink writes); more would only compete for CPU.
 */
export const BULK_SESSIONS = 2;

/** What snapshot and stream modes need from the controller (benches build it without one). */
export interface RoutedModeDeps {
  readonly local: Host;
  /** Commands on a target (its dumps) over ssh. */
  readonly remote: (t: SyncTarget) => Host;
  /** A restore session on a target; the controller's opens one over the shared ssh connection. */
  readonly session: (t: SyncTarget, addresses: readonly string[]) => RestoreSession;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly report: (status: ResourceStatus) => void;
  readonly generation: () => number;
}

/** What `describe` shows per target. */
export interface TargetStatus {
  name: string;
  host: string;
  phase: 'Pending' | 'Synced' | 'Degraded';
  reason?: string;
  lastSyncTime?: string;
  lastFullSyncTime?: string;
  /** Entries the last batch carried (a full resync: every selected entry). */
  sent: number;
  restored: number;
  /** Entries the last batch deleted on the target because the master no longer has them. */
  pruned: number;
  failed: number;
  durationMs?: number;
  lagMs?: number;
  error?: string;
}

export class TargetState {
  readonly name: string;
  readonly status: TargetStatus;
  failures = 0;
  nextAttemptAt = 0;
  needsFull = true;
  /** A full resync (or UDP refresh) is running for this target. */
  replacing = false;
  /** A stream batch is in flight. */
  streaming = false;
  /** The target has no routerd-ct-delete at the expected path: deletes go as `conntrack -R` -D lines (a table scan each). */
  exactDeletes = true;
  /** Sessions for full resyncs: batches alternate between them so the target runs two `conntrack -R` at a time. */
  private readonly bulkSessions: RestoreSession[] = [];
  private streamSession: RestoreSession | undefined;

  constructor(
    readonly target: SyncTarget,
    private readonly open: () => RestoreSession,
  ) {
    this.name = targetName(target);
    this.status = { name: this.name, host: target.host, phase: 'Pending', reason: Reason.NotSyncedYet, sent: 0, restored: 0, pruned: 0, failed: 0 };
  }

  /** The i-th full-resync session (i modulo BULK_SESSIONS), opened on first use. */
  bulk(i = 0): RestoreSession {
    const k = i % BULK_SESSIONS;
    return (this.bulkSessions[k] ??= this.open());
  }

  get stream(): RestoreSession {
    return (this.streamSession ??= this.open());
  }

  /**
   * Exact deletes (by tuple), then the restore lines, in one batch. A target
   * without the helper (exit 127) gets the deletes as `conntrack -R` -D lines
   * from then on.
   */
  async apply(session: RestoreSession, deleteKeys: readonly string[], restore: string): Promise<SessionReply> {
    const asLines = (): string => deleteKeys.map(restoreDeleteFromKey).join('');
    if (!this.exactDeletes) return session.send({ restore: asLines() + restore });
    const r = await session.send({ deletes: deleteKeys.length ? `${deleteKeys.join('\n')}\n` : '', restore });
    if (r.deleteCode !== 127) return r;
    this.exactDeletes = false;
    return session.send({ restore: asLines() + restore });
  }

  due(now = Date.now()): boolean {
    return now >= this.nextAttemptAt;
  }

  close(): void {
    for (const b of this.bulkSessions) b.close();
    this.streamSession?.close();
  }

  /** Every batch sent to this target so far has been answered. */
  async drained(): Promise<void> {
    await Promise.all([...this.bulkSessions, ...(this.streamSession ? [this.streamSession] : [])].map((s) => s.drained()));
  }
}

/** The outcome of one batch on one target, as the modes report it. */
export interface BatchOutcome {
  readonly kind: BatchKind;
  readonly ok: boolean;
  readonly reason?: string;
  readonly error?: string;
  readonly sent: number;
  readonly restored: number;
  readonly pruned: number;
  readonly failed: number;
  readonly startedAt: number;
  /** When the oldest entry of the batch was read on the master (dump start or event). */
  readonly readAt: number;
  readonly inserts?: number;
  readonly replaces?: number;
  readonly deletes?: number;
}

/** Why a reply or a session error failed a batch, as a status reason and message; undefined when it did not. */
export function replyFailure(r: SessionReply): { reason: string; error: string } | undefined {
  if (r.deleteCode === TARGET_IS_MASTER || r.restoreCode === TARGET_IS_MASTER) return { reason: Reason.TargetIsMaster, error: 'the target holds the SNAT addresses (it is master): restore refused' };
  if (r.restoreCode !== 0) return { reason: Reason.SyncFailed, error: `conntrack -R exited ${r.restoreCode}${r.stderr ? `: ${r.stderr}` : ''}` };
  if (r.deleteCode !== 0 && r.deleteCode !== 127) return { reason: Reason.SyncFailed, error: `routerd-ct-delete exited ${r.deleteCode}${r.stderr ? `: ${r.stderr}` : ''}` };
  return undefined;
}

export function sessionFailure(e: unknown): { reason: string; error: string } {
  if (e instanceof SessionClosedError)
    return { reason: e.timedOut || e.exitCode === SSH_CONNECT_FAILURE ? Reason.TargetUnreachable : Reason.SyncFailed, error: e.message };
  return { reason: Reason.SyncFailed, error: (e as Error).message };
}

/** The default session factory: ssh over the shared ControlMaster connection, the target's restoreCommand, the delete helper at routerd's own path. */
export function openSession(local: Host, t: SyncTarget, controlDir: string, addresses: readonly string[]): RestoreSession {
  return new RestoreSession(local, t, { controlDir }, { refuseIfHolding: addresses, restoreCommand: t.restoreCommand, deleteHelper: t.deleteHelper ?? ctDeleteHelperPath(), timeoutMs: 60_000 });
}

/** Per-target bookkeeping shared by the snapshot and stream modes. */
export class TargetBook {
  readonly targets: TargetState[];
  localEntries = 0;
  overruns = 0;
  /** Full resyncs that healed lost events (one can heal several overruns). */
  resyncs = 0;
  /** Events were lost since the last full resync began. */
  resyncOwed = false;
  lastOverrunTime: string | undefined;

  constructor(
    private readonly id: string,
    private readonly mode: 'snapshot' | 'stream',
    private readonly spec: NAT44SessionSyncSpec,
    private readonly addresses: readonly string[],
    private readonly deps: RoutedModeDeps,
    private readonly intervalMs: number,
  ) {
    this.targets = spec.targets.map((t) => new TargetState(t, () => deps.session(t, addresses)));
  }

  /** Status, metrics and the log line of one batch. */
  record(ts: TargetState, o: BatchOutcome): void {
    const now = Date.now();
    const s = ts.status;
    const labels = { resource: this.id, target: ts.name };
    const m = this.deps.metrics;
    m.sessionSyncBatches.inc({ ...labels, kind: o.kind, outcome: o.ok ? 'ok' : 'error' });
    if (o.ok) {
      Object.assign(s, {
        phase: 'Synced',
        reason: Reason.Synced,
        lastSyncTime: new Date(now).toISOString(),
        sent: o.sent,
        restored: o.restored,
        pruned: o.pruned,
        failed: o.failed,
        durationMs: now - o.startedAt,
        lagMs: now - o.readAt,
      });
      if (o.error) s.error = o.error;
      else delete s.error;
      if (o.kind === 'full') {
        s.lastFullSyncTime = s.lastSyncTime;
        ts.needsFull = false;
      }
      ts.failures = 0;
      ts.nextAttemptAt = 0;
      m.sessionSyncEntries.inc({ ...labels, result: 'sent' }, o.sent);
      m.sessionSyncEntries.inc({ ...labels, result: 'restored' }, o.restored);
      if (o.failed) m.sessionSyncEntries.inc({ ...labels, result: 'failed' }, o.failed);
      if (o.pruned) m.sessionSyncEntries.inc({ ...labels, result: 'pruned' }, o.pruned);
      m.sessionSyncLag.observe(labels, (now - o.readAt) / 1000);
    } else {
      ts.failures++;
      ts.needsFull = true;
      ts.nextAttemptAt = now + Math.min(MAX_BACKOFF_MS, this.intervalMs * 2 ** (ts.failures - 1));
      Object.assign(s, { phase: 'Degraded', reason: o.reason ?? Reason.SyncFailed, error: o.error, durationMs: now - o.startedAt });
    }
    this.deps.log[o.ok ? 'info' : 'warn'](
      {
        resource: this.id,
        target: ts.name,
        action: `sync-${o.kind}`,
        outcome: o.ok ? 'ok' : 'error',
        entries: o.sent,
        failed: o.failed,
        pruned: o.pruned,
        durationMs: now - o.startedAt,
        lagMs: now - o.readAt,
        ...(o.inserts !== undefined ? { inserts: o.inserts, replaces: o.replaces, deletes: o.deletes } : {}),
        ...(o.error ? { err: o.error } : {}),
        ...(o.ok ? {} : { retryInMs: ts.nextAttemptAt - now }),
      },
      o.ok ? `${o.kind} sync to ${ts.name}: ${o.sent} entries` : `${o.kind} sync to ${ts.name} failed`,
    );
  }

  aggregate(): ResourceStatus {
    return aggregateSyncStatus({
      targets: this.targets.map((t) => ({ ...t.status })),
      generation: this.deps.generation(),
      mode: this.mode,
      addresses: this.addresses,
      localEntries: this.localEntries,
      ...(this.mode === 'stream' ? { extra: { eventOverruns: this.overruns, resyncs: this.resyncs, ...(this.lastOverrunTime ? { lastOverrunTime: this.lastOverrunTime } : {}) } } : {}),
    });
  }

  async drained(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.drained()));
  }

  close(): void {
    for (const t of this.targets) t.close();
  }
}

/**
 * A sync resource's status from its targets' (the modes' TargetBook and the
 * pool's push worker): Degraded if any target is, Synced once all are,
 * Pending before. `extra` fields (a mode's own counters) come before the times.
 */
export function aggregateSyncStatus(s: {
  readonly targets: TargetStatus[];
  readonly generation: number;
  readonly mode: string;
  readonly addresses: readonly string[];
  readonly localEntries: number;
  readonly extra?: Record<string, unknown>;
}): ResourceStatus {
  const { targets } = s;
  const degraded = targets.filter((t) => t.phase === 'Degraded');
  const synced = targets.filter((t) => t.phase === 'Synced');
  const lastSync = synced.map((t) => t.lastSyncTime!).sort().pop();
  const base = {
    observedGeneration: s.generation,
    mode: s.mode,
    snatAddresses: [...s.addresses],
    localEntries: s.localEntries,
    ...(s.extra ?? {}),
    ...(lastSync ? { lastSyncTime: lastSync } : {}),
    targets,
  };
  if (degraded.length > 0) {
    const reason = degraded.some((t) => t.reason === Reason.TargetUnreachable) ? Reason.TargetUnreachable : Reason.SyncFailed;
    return { phase: Phase.Degraded, reason, message: degraded.map((t) => `${t.name}: ${t.error ?? t.reason}`).join('; '), ...base };
  }
  if (synced.length === targets.length)
    return { phase: Phase.Synced, reason: Reason.Synced, message: `${s.localEntries} sessions on ${s.addresses.join(', ')} kept on ${targets.length} target(s)`, ...base };
  return { phase: Phase.Pending, reason: Reason.Syncing, message: 'first sync in progress', ...base };
}
