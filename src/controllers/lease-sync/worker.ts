// One lease sync resource while its gate is open: watch the source, take a
// validated snapshot on every change (debounced) and every interval, and push
// it to each target with rsync over ssh. Targets are independent: each has its
// own in-flight push, backoff and status, so a target that is down delays no
// other. Each push is bounded by a deadline longer than rsync's own --timeout
// plus ssh's ConnectTimeout, so rsync normally reports first.
import { watch, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { sshControlDir, type LeaseSourceKind, type NodePaths } from '../../api/paths.ts';
import { firstLines, type Host } from '../../host/host.ts';
import { Backoff } from '../../support/backoff.ts';
import { parseRsyncStats } from '../../transport/rsync-stats.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { rsyncArgv, rsyncSshConfig, type RsyncTarget } from '../../transport/rsync.ts';
import { mergeSshOptions, SSH_DEFAULTS } from '../../transport/ssh.ts';
import type { StatusStore } from '../status-store.ts';
import { Phase, Reason, type ResourceStatus } from '../status.ts';
import { readLeaseSource, stageSnapshot, type SourceRead, type SourceSnapshot } from './source.ts';

export const SourceInvalid = Reason.SourceInvalid;

export interface LeaseSyncTargetSpec extends RsyncTarget {
  readonly name: string;
}

export interface LeaseSyncSpec {
  /** "DHCPv4ServerLeaseSync/lan-v4-leases". */
  readonly id: string;
  readonly sourceKind: LeaseSourceKind;
  readonly sourceRef: string;
  /** Derived path, the same on both routers; a directory ends in "/". */
  readonly path: string;
  readonly intervalMs: number;
  readonly targets: readonly LeaseSyncTargetSpec[];
}

export interface RsyncRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly durationMs: number;
}

/** Runs one rsync; `abort` ends it early (the gate shut, routerd stops). */
export type RsyncRunner = (argv: readonly string[], deadlineMs: number, abort: AbortSignal) => Promise<RsyncRun>;

export interface WorkerDeps {
  readonly host: Host;
  readonly paths: NodePaths;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly status: StatusStore;
  readonly generation: () => number;
  /** Default: the host's rsync (spawned, so it can be killed). */
  readonly runner?: RsyncRunner;
  readonly debounceMs?: number;
  /** How long an empty file must stay empty before it replaces a non-empty copy. */
  readonly emptyConfirmMs?: number;
}

export interface TargetStatus {
  readonly name: string;
  readonly host: string;
  readonly phase: string;
  readonly lastSyncTime: string | null;
  readonly bytes: number | null;
  readonly durationMs: number | null;
  readonly error: string | null;
}

const DEFAULT_DEBOUNCE_MS = 25;
const INVALID_RETRY_MS = 250;
const INVALID_RETRIES = 3;

/** rsync's --timeout (target.options, default 60) + ssh's ConnectTimeout (merged options, default 10) + margin. */
export function pushDeadlineMs(t: LeaseSyncTargetSpec): number {
  const opt = [...t.options].reverse().find((o) => o.startsWith('--timeout='));
  const rsyncTimeout = opt ? Number(opt.slice('--timeout='.length)) : 60;
  const ssh = mergeSshOptions(SSH_DEFAULTS, t.sshOptions);
  const connect = Number(ssh.filter((o) => o.key === 'ConnectTimeout').pop()?.value ?? 10);
  const r = Number.isFinite(rsyncTimeout) && rsyncTimeout > 0 ? rsyncTimeout : 240;
  return (r + (Number.isFinite(connect) ? connect : 10) + 20) * 1000;
}

/** The rsync argv for one push: staged snapshot → the same derived path on the target. */
export function leaseSyncArgv(spec: Pick<LeaseSyncSpec, 'sourceKind' | 'path'>, t: LeaseSyncTargetSpec, staged: string, sshConfigPath: string): string[] {
  // --checksum: a renewal rewrites the file with the same size, possibly in the
  // same second; rsync's size+mtime quick check could skip it. --delete: a file
  // dhcpcd removed (a released lease) goes on the target too.
  const extra = ['--checksum', ...(spec.sourceKind === 'DHCPv6PrefixDelegation' ? ['--delete'] : [])];
  return rsyncArgv({ ...t, options: [...extra, ...t.options] }, staged, spec.path, sshConfigPath);
}

export function hostRsyncRunner(host: Host): RsyncRunner {
  return (argv, deadlineMs, abort) =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const child = host.spawn(argv);
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout?.on('data', (b: Buffer) => {
        if (stdout.length < 64 * 1024) stdout += b.toString();
      });
      child.stderr?.on('data', (b: Buffer) => {
        if (stderr.length < 64 * 1024) stderr += b.toString();
      });
      let killTimer: NodeJS.Timeout | undefined;
      const kill = () => {
        child.kill('SIGTERM');
        killTimer ??= setTimeout(() => child.kill('SIGKILL'), 2000);
      };
      const deadline = setTimeout(() => {
        timedOut = true;
        kill();
      }, deadlineMs);
      const onAbort = () => kill();
      abort.addEventListener('abort', onAbort, { once: true });
      void child.exited.then(({ code }) => {
        clearTimeout(deadline);
        if (killTimer) clearTimeout(killTimer);
        abort.removeEventListener('abort', onAbort);
        resolve({ code, stdout, stderr, timedOut, durationMs: Math.round(performance.now() - t0) });
      });
    });
}

class TargetPusher {
  latest: SourceSnapshot | undefined;
  private staged: string | undefined;
  private pushedDigest: string | undefined;
  private force = false;
  private inFlight = false;
  private readonly backoff = new Backoff();
  private notBefore = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  status: TargetStatus;

  constructor(
    readonly spec: LeaseSyncTargetSpec,
    private readonly push: (t: LeaseSyncTargetSpec, staged: string) => Promise<{ ok: boolean; bytes: number; durationMs: number; error?: string }>,
    private readonly changed: () => void,
    private readonly stopped: () => boolean,
  ) {
    this.status = { name: spec.name, host: spec.host, phase: Phase.Pending, lastSyncTime: null, bytes: null, durationMs: null, error: null };
  }

  /** A new snapshot is staged; `force` pushes even if this target already has it (the interval heal). */
  offer(snap: SourceSnapshot, staged: string, force: boolean): void {
    this.latest = snap;
    this.staged = staged;
    if (force) this.force = true;
    void this.pump();
  }

  /** This target holds the snapshot with this digest. */
  holds(digest: string): boolean {
    return this.pushedDigest === digest && this.status.phase === Phase.Synced;
  }

  cancel(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private async pump(): Promise<void> {
    if (this.inFlight || this.stopped() || !this.latest || !this.staged) return;
    if (this.latest.digest === this.pushedDigest && !this.force) return;
    const wait = this.notBefore - Date.now();
    if (wait > 0) {
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = undefined;
        void this.pump();
      }, wait);
      this.retryTimer.unref();
      return;
    }
    this.inFlight = true;
    this.force = false;
    const snap = this.latest;
    try {
      // A push that throws (the ssh config cannot be written, rsync cannot be
      // spawned) is a failed push like any other: SyncFailed, then backoff.
      const r = await this.push(this.spec, this.staged).catch((e: unknown) => ({ ok: false, bytes: 0, durationMs: 0, error: (e as Error).message }));
      const now = new Date().toISOString();
      if (r.ok) {
        this.pushedDigest = snap.digest;
        this.backoff.reset();
        this.notBefore = 0;
        this.status = { ...this.status, phase: Phase.Synced, lastSyncTime: now, bytes: r.bytes, durationMs: r.durationMs, error: null };
      } else {
        const retryIn = this.backoff.fail();
        this.notBefore = Date.now() + retryIn;
        this.status = { ...this.status, phase: Reason.SyncFailed, durationMs: r.durationMs, error: `${r.error ?? 'failed'} (retry in ${Math.round(retryIn / 1000)}s)` };
      }
    } finally {
      this.inFlight = false;
    }
    this.changed();
    void this.pump();
  }
}

export class LeaseSyncWorker {
  private readonly targets: TargetPusher[];
  private watcher: FSWatcher | undefined;
  private intervalTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private roundRunning = false;
  private again = false;
  private againForce = false;
  private stopped = false;
  private readonly abort = new AbortController();
  private source: SourceRead | undefined;
  private lastGood: SourceSnapshot | undefined;
  private invalidStreak = 0;
  private readonly runner: RsyncRunner;
  private readonly stagingDir: string;
  /** Settles when the current round ends (tests, benchmarks). */
  private roundDone: Promise<void> = Promise.resolve();

  constructor(
    readonly spec: LeaseSyncSpec,
    private readonly deps: WorkerDeps,
    previous?: readonly TargetStatus[],
  ) {
    this.runner = deps.runner ?? hostRsyncRunner(deps.host);
    this.stagingDir = join(deps.paths.runDir, 'lease-sync', spec.id.replace('/', '-'));
    this.targets = spec.targets.map((t) => {
      const p = new TargetPusher(t, (tt, staged) => this.pushTo(tt, staged), () => this.report(), () => this.stopped);
      const prev = previous?.find((s) => s.name === t.name && s.host === t.host);
      if (prev) p.status = { ...prev, phase: Phase.Pending };
      return p;
    });
  }

  async start(): Promise<void> {
    const watchDir = this.spec.sourceKind === 'DHCPv6PrefixDelegation' ? this.spec.path.replace(/\/+$/, '') : dirname(this.spec.path);
    await mkdir(watchDir, { recursive: true, mode: 0o755 });
    const file = basename(this.spec.path);
    try {
      this.watcher = watch(watchDir, (_event, name) => {
        if (this.spec.sourceKind !== 'DHCPv6PrefixDelegation' && name !== null && name !== file) return;
        if (name?.startsWith('.')) return;
        this.kick(false);
      });
      this.watcher.on('error', (e) => {
        this.deps.log.warn({ resource: this.spec.id, action: 'lease-sync-watch', err: e.message }, 'watching the lease file failed; syncing on the interval only');
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (e) {
      this.deps.log.warn({ resource: this.spec.id, action: 'lease-sync-watch', err: (e as Error).message }, 'cannot watch the lease file; syncing on the interval only');
    }
    this.intervalTimer = setInterval(() => this.kick(true), this.spec.intervalMs);
    this.intervalTimer.unref();
    this.kick(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    if (this.intervalTimer) clearInterval(this.intervalTimer);
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    for (const t of this.targets) t.cancel();
    this.abort.abort();
    await this.roundDone;
  }

  /** Target statuses as last reported (kept by the controller while the gate is shut). */
  targetStatuses(): TargetStatus[] {
    return this.targets.map((t) => t.status);
  }

  /** Ask for a round soon (a change, the interval, a test). */
  kick(force: boolean): void {
    if (this.stopped) return;
    if (force) this.againForce = true;
    if (this.debounceTimer) return;
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      this.roundDone = this.round();
    }, this.deps.debounceMs ?? DEFAULT_DEBOUNCE_MS);
    this.debounceTimer.unref();
  }

  private async round(): Promise<void> {
    if (this.roundRunning) {
      this.again = true;
      return;
    }
    this.roundRunning = true;
    const force = this.againForce;
    this.againForce = false;
    try {
      await this.readAndOffer(force);
    } catch (e) {
      this.source = { state: 'invalid', error: `reading the source failed: ${(e as Error).message}` };
      this.report();
    } finally {
      this.roundRunning = false;
    }
    if (this.again && !this.stopped) {
      this.again = false;
      this.kick(false);
    }
  }

  private async readAndOffer(force: boolean): Promise<void> {
    let read = await readLeaseSource(this.spec.sourceKind, this.spec.path);
    // dnsmasq truncates before it rewrites: an empty file replacing a non-empty
    // copy must still be empty a moment later.
    if (read.state === 'ok' && read.snapshot.bytes === 0 && (this.lastGood?.bytes ?? 0) > 0) {
      await new Promise((r) => setTimeout(r, this.deps.emptyConfirmMs ?? 500));
      if (this.stopped) return;
      read = await readLeaseSource(this.spec.sourceKind, this.spec.path);
    }
    if (this.stopped) return;
    if (read.state === 'invalid') {
      this.invalidStreak++;
      // Maybe caught mid-write: look again shortly before calling it invalid.
      if (this.invalidStreak <= INVALID_RETRIES) {
        setTimeout(() => this.kick(force), INVALID_RETRY_MS).unref();
        return;
      }
      if (this.source?.state !== 'invalid' || this.source.error !== read.error) {
        this.deps.metrics.leaseSyncTotal.inc({ resource: this.spec.id, target: '-', outcome: 'invalid' });
        this.deps.log.error(
          { resource: this.spec.id, action: 'lease-sync', outcome: 'invalid-source', err: read.error },
          `${this.spec.id}: lease file is invalid; not pushed, targets keep their last good copy`,
        );
      }
      this.source = read;
      this.report();
      return;
    }
    this.invalidStreak = 0;
    this.source = read;
    if (read.state === 'missing') {
      this.report();
      return;
    }
    const snap = read.snapshot;
    const staged = await stageSnapshot(this.spec.sourceKind, snap, this.stagingDir);
    this.lastGood = snap;
    for (const t of this.targets) t.offer(snap, staged, force);
    this.report();
  }

  private async pushTo(t: LeaseSyncTargetSpec, staged: string): Promise<{ ok: boolean; bytes: number; durationMs: number; error?: string }> {
    const { log, metrics, paths } = this.deps;
    const controlDir = sshControlDir(paths);
    await mkdir(controlDir, { recursive: true, mode: 0o700 });
    const sshConfig = rsyncSshConfig(t, { controlDir }, controlDir);
    await this.deps.host.writeFileAtomic(sshConfig.path, sshConfig.text, 0o600);
    const argv = leaseSyncArgv(this.spec, t, staged, sshConfig.path);
    const r = await this.runner(argv, pushDeadlineMs(t), this.abort.signal);
    const stats = parseRsyncStats(r.stdout);
    const bytes = stats?.bytesSent ?? 0;
    const labels = { resource: this.spec.id, target: t.name };
    const ok = r.code === 0 && !r.timedOut;
    const snap = this.lastGood;
    if (this.stopped && !ok) return { ok: false, bytes, durationMs: r.durationMs, error: 'aborted: the gate shut' };
    metrics.leaseSyncTotal.inc({ ...labels, outcome: ok ? 'ok' : 'error' });
    metrics.leaseSyncSeconds.observe(labels, r.durationMs / 1000);
    if (bytes) metrics.leaseSyncBytes.inc(labels, bytes);
    if (ok) {
      metrics.leaseSyncLastSuccess.set(labels, Date.now() / 1000);
      log.info(
        { resource: this.spec.id, action: 'lease-sync', target: t.name, host: t.host, outcome: 'ok', bytes, durationMs: r.durationMs, leases: snap?.leaseCount, digest: snap?.digest },
        `${this.spec.id} → ${t.name}: ${bytes} bytes in ${r.durationMs} ms`,
      );
      return { ok, bytes, durationMs: r.durationMs };
    }
    const why = r.timedOut ? `no answer within the ${Math.round(pushDeadlineMs(t) / 1000)} s deadline` : `rsync exited ${r.code ?? 'on a signal'}`;
    const err = firstLines(r.stderr, 3);
    const error = `${why}${err ? `: ${err}` : ''}`;
    log.warn({ resource: this.spec.id, action: 'lease-sync', target: t.name, host: t.host, outcome: 'error', bytes, durationMs: r.durationMs, err: error }, `${this.spec.id} → ${t.name} failed`);
    return { ok, bytes, durationMs: r.durationMs, error };
  }

  /** Publish the resource status from the source and every target. */
  report(): void {
    if (this.stopped) return;
    this.deps.status.set(this.spec.id, this.statusNow());
  }

  statusNow(): ResourceStatus {
    const targets = this.targets.map((t) => t.status);
    const base = { observedGeneration: this.deps.generation(), leaseFile: this.spec.path, source: this.spec.sourceRef, targets };
    const src = this.source;
    if (!src) return { phase: Phase.Pending, reason: Reason.Planned, message: 'reading the lease file', ...base };
    if (src.state === 'missing') return { phase: Phase.Pending, reason: Reason.SourceMissing, message: src.message, ...base };
    const good = this.lastGood;
    const lastSyncTime = targets.map((t) => t.lastSyncTime).filter((x): x is string => x !== null).sort().pop() ?? null;
    const fields = { ...base, leases: good?.leaseCount ?? null, sourceBytes: good?.bytes ?? null, lastSyncTime };
    if (src.state === 'invalid')
      return { phase: Phase.Failed, reason: SourceInvalid, message: `${src.error}; not pushed, targets keep their last good copy`, ...fields };
    const failed = this.targets.filter((t) => t.status.phase === Reason.SyncFailed);
    if (failed.length > 0) {
      const msg = failed.map((t) => `${t.spec.name}: ${t.status.error}`).join('; ');
      return { phase: failed.length === targets.length ? Phase.Failed : Phase.Degraded, reason: Reason.SyncFailed, message: msg, ...fields };
    }
    if (good && this.targets.every((t) => t.holds(good.digest))) {
      const bytes = targets.reduce((n, t) => n + (t.bytes ?? 0), 0);
      const durationMs = Math.max(...targets.map((t) => t.durationMs ?? 0));
      return { phase: Phase.Synced, reason: Reason.Synced, message: `${src.snapshot.summary} on ${targets.length} target(s)`, ...fields, bytes, durationMs };
    }
    return { phase: Phase.Pending, reason: Reason.Planned, message: `pushing ${src.snapshot.summary} to ${targets.length} target(s)`, ...fields };
  }

  /** Wait for the running round (tests). */
  async idle(): Promise<void> {
    await this.roundDone;
  }
}
