// The handover gate of one VirtualAddress: a router that joins or returns
// advertises a demoted VRRP priority until it holds the current master's state
// (docs/handover.md). keepalived reads the priority offset from a track_file
// that only this class writes: 0 = full priority, 1 - priority = demoted to 1.
//
//   closed (demoted) ── role backup ──▶ pulling ── state in place ──▶ open
//        ▲                                 └── maxWait passed ──────▶ open (timed-out, loud)
//        └── routerd start, fault, keepalived gone, master lost
//   any ── role master ──▶ open (there is no master to wait for: it is us)
//
// The maxWait clock runs only while a master exists to pull from (role backup):
// a router whose links are dark stays demoted, and says so, until they return.
import type { Role } from '../../engines/keepalived/notify.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { PullOutcome } from './pull.ts';

export type GateState = 'open' | 'waiting' | 'timed-out' | 'disabled';
export type GateOpenedBy = 'master' | 'state-received' | 'timed-out' | 'adopted';

export interface GateDeps {
  readonly id: string;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Write the priority offset keepalived adds (0 or demotedOffset). */
  readonly writeOffset: (offset: number) => Promise<void>;
  /** Take the master's state; called again after a failure until it succeeds or maxWait passes. */
  readonly pull: (progress: (what: string) => void, signal: AbortSignal) => Promise<PullOutcome>;
  /** Something describe shows changed. */
  readonly changed: () => void;
  readonly retryMs?: number;
}

export interface GateStatus {
  readonly state: GateState;
  /** One line for describe: "Demoted: waiting for sessions from 192.0.2.3 (412 received)". */
  readonly text: string;
  readonly since: string;
  readonly offset: number;
  readonly lastPull?: PullOutcome & { readonly at: string };
}

export class HandoverGate {
  private state: GateState = 'waiting';
  private why = 'routerd started';
  private waitingFor = '';
  private since = new Date().toISOString();
  private offset: number;
  private pulling: AbortController | undefined;
  private waitStartedAt: number | undefined;
  private lastPull: (PullOutcome & { at: string }) | undefined;
  private written: number | undefined;
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: GateDeps,
    private demoted: number,
    private maxWaitMs: number,
  ) {
    this.offset = demoted;
    this.publishMetric();
  }

  /** The spec changed: a new demoted offset (priority) or maxWait. */
  configure(demoted: number, maxWaitMs: number): void {
    this.maxWaitMs = maxWaitMs;
    if (demoted === this.demoted) return;
    this.demoted = demoted;
    if (this.state === 'waiting') void this.setOffset(demoted);
  }

  /** Make the file say what the gate says (before keepalived starts, and after each change). */
  async sync(): Promise<void> {
    await this.setOffset(this.state === 'waiting' ? this.demoted : 0);
  }

  status(): GateStatus {
    return { state: this.state, text: this.text(), since: this.since, offset: this.offset, ...(this.lastPull ? { lastPull: this.lastPull } : {}) };
  }

  get isWaiting(): boolean {
    return this.state === 'waiting';
  }

  /** keepalived was found running as master after a routerd restart: nothing to wait for. */
  adoptedAsMaster(): void {
    this.open('adopted', 'keepalived adopted as master');
  }

  close(why: string): void {
    this.pulling?.abort();
    this.pulling = undefined;
    this.waitStartedAt = undefined;
    this.waitingFor = '';
    if (this.state !== 'waiting') {
      this.state = 'waiting';
      this.since = new Date().toISOString();
      this.deps.log.info({ resource: this.deps.id, action: 'handover-gate', gate: 'closed', why }, `${this.deps.id}: demoted until it holds the master's state (${why})`);
    }
    this.why = why;
    void this.setOffset(this.demoted);
    this.publishMetric();
    this.deps.changed();
  }

  /** A role keepalived reported. */
  onRole(role: Role, prev: Role): void {
    if (role === 'master') {
      // Already open (it took the state, or was adopted): keep saying why.
      if (this.state !== 'open') this.open('master', 'became master: no other master to take state from');
      return;
    }
    if (role === 'backup') {
      if (prev === 'master') this.close('lost the master role');
      if (this.state === 'waiting' && !this.pulling) void this.pullLoop();
      return;
    }
    this.close(role === 'fault' ? 'VRRP fault (link down?)' : 'keepalived not reporting');
  }

  stop(): void {
    this.pulling?.abort();
    this.pulling = undefined;
  }

  private text(): string {
    switch (this.state) {
      case 'open':
        return `Open: ${this.why}`;
      case 'disabled':
        return 'Disabled: takes the role without waiting for state (handover.waitForState: false)';
      case 'timed-out':
        return `Open without the master's state: ${this.why}`;
      default:
        return this.pulling ? `Demoted: ${this.waitingFor || 'waiting for the master\'s state'}` : `Demoted: ${this.why}`;
    }
  }

  private open(by: GateOpenedBy, why: string): void {
    this.pulling?.abort();
    this.pulling = undefined;
    this.waitStartedAt = undefined;
    const next: GateState = by === 'timed-out' ? 'timed-out' : 'open';
    if (this.state === next && this.why === why) return;
    const was = this.state;
    this.state = next;
    this.why = why;
    this.since = new Date().toISOString();
    if (was === 'waiting') {
      this.deps.metrics.handoverGateOpens.inc({ resource: this.deps.id, outcome: by });
      this.deps.log[by === 'timed-out' ? 'warn' : 'info'](
        { resource: this.deps.id, action: 'handover-gate', gate: next, openedBy: by, why },
        by === 'timed-out' ? `${this.deps.id}: gate opened WITHOUT the master's state: ${why}` : `${this.deps.id}: full priority (${why})`,
      );
    }
    void this.setOffset(0);
    this.publishMetric();
    this.deps.changed();
  }

  private async pullLoop(): Promise<void> {
    const ctl = new AbortController();
    this.pulling = ctl;
    this.waitStartedAt ??= Date.now();
    const retryMs = this.deps.retryMs ?? 250;
    let attempts = 0;
    let lastError = 'no answer yet';
    const timer = setTimeout(
      () => {
        if (this.pulling === ctl) this.open('timed-out', `gave up after ${Math.round(this.maxWaitMs / 1000)} s (handover.maxWait): ${lastError}`);
      },
      Math.max(0, this.maxWaitMs - (Date.now() - this.waitStartedAt)),
    );
    timer.unref();
    ctl.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
    while (!ctl.signal.aborted) {
      attempts++;
      const outcome = await this.deps
        .pull((what) => {
          if (ctl.signal.aborted) return;
          this.waitingFor = what;
          this.deps.changed();
        }, ctl.signal)
        .catch((e: unknown): PullOutcome => ({ ok: false, sessions: 0, leaseFiles: 0, durationMs: 0, error: (e as Error).message }));
      if (ctl.signal.aborted) return;
      this.lastPull = { ...outcome, at: new Date().toISOString() };
      this.deps.metrics.handoverPullSeconds.observe({ resource: this.deps.id }, outcome.durationMs / 1000);
      if (outcome.ok) {
        const waitedMs = Date.now() - (this.waitStartedAt ?? Date.now());
        this.deps.log.info(
          { resource: this.deps.id, action: 'handover-pull', outcome: 'ok', from: outcome.from, sessions: outcome.sessions, leaseFiles: outcome.leaseFiles, durationMs: outcome.durationMs, waitedMs, attempts },
          `${this.deps.id}: holds the master's state (${outcome.sessions} sessions, ${outcome.leaseFiles} lease files from ${outcome.from ?? 'nobody'})`,
        );
        this.open('state-received', `holds the state of ${outcome.from ?? 'the master'} (${outcome.sessions} sessions, ${outcome.leaseFiles} lease files)`);
        return;
      }
      lastError = outcome.error ?? 'pull failed';
      this.waitingFor = `waiting for the master's state: ${lastError} (attempt ${attempts})`;
      this.deps.log.warn({ resource: this.deps.id, action: 'handover-pull', outcome: 'error', err: outcome.error, attempts, durationMs: outcome.durationMs }, `${this.deps.id}: cannot take the master's state yet`);
      this.deps.changed();
      await new Promise((r) => setTimeout(r, retryMs));
    }
  }

  /** Writes are serialised, so the file always ends with the latest offset. */
  private setOffset(offset: number): Promise<void> {
    this.offset = offset;
    this.writes = this.writes.then(async () => {
      const want = this.offset;
      if (this.written === want) return;
      try {
        await this.deps.writeOffset(want);
        this.written = want;
      } catch (e) {
        this.written = undefined;
        this.deps.log.error({ resource: this.deps.id, action: 'handover-gate', outcome: 'error', err: (e as Error).message }, 'cannot write the gate file');
      }
    });
    return this.writes;
  }

  private publishMetric(): void {
    for (const s of ['open', 'waiting', 'timed-out', 'disabled'] as const) this.deps.metrics.handoverGate.set({ resource: this.deps.id, state: s }, s === this.state ? 1 : 0);
  }
}
