// NAT44SessionSync mode conntrackd: conntrackd (FTFW) runs on every router of
// the pair, supervised like keepalived, and routerd drives its role
// transitions from the VRRP role, one at a time and in order. Entries from the
// peer go straight into the kernel (DisableExternalCache), so the standby's
// kernel holds them before the VIP moves and promotion has no commit to wait
// for. See docs/session-sync.md.
import { isIPv4 } from 'node:net';
import type { AnyResource, ResourceOf } from '../../api/kinds.ts';
import { conntrackdSyncSpec, DEFAULT_CONNTRACKD_REFRESH_INTERVAL, type NAT44SessionSyncSpec } from './schema.ts';
import { parseDuration } from '../../api/primitives.ts';
import { targetName } from '../../api/target.ts';
import { conntrackdPaths, ConntrackdEngine, TRANSITION_COMMANDS, type VrrpRole } from '../../engines/conntrackd/engine.ts';
import { renderConntrackdConf, type ConntrackdTransport } from '../../engines/conntrackd/render.ts';
import type { ConntrackdRuntime, ConntrackdStats } from '../../engines/conntrackd/stats.ts';
import { parseConntrackCount } from '../../kernel/conntrack.ts';
import { readSysctl, SYSCTL, writeSysctl } from '../../kernel/sysctl.ts';
import { eventSocketDrops, parseProcNetNetlink, parseSocketInodes, socketFdsArgv } from '../../kernel/netlink-sockets.ts';
import { parseIpRoute } from '../../kernel/ip.ts';
import { engineDown, onEngineExit } from '../common.ts';
import { Outcome, type ControllerContext, type ReconcileOutcome } from '../controller.ts';
import { Phase, Reason, type ResourceStatus } from '../status.ts';
import type { SyncMode, SyncModeInput, SyncRole } from './mode.ts';

const STATS_EVERY_MS = 2000;
const TRANSITIONS_KEPT = 5;

interface Transition {
  role: VrrpRole | 'resend';
  at: string;
  durationMs: number;
  outcome: 'ok' | 'error';
  commands: string;
  error?: string;
}

export interface ConntrackdModeDeps {
  readonly ctx: ControllerContext;
  /** Build the engine (tests pass a fake). */
  readonly makeEngine?: (id: string, name: string) => ConntrackdEngine;
}

/** One NAT44SessionSync in mode conntrackd on this router. */
export class ConntrackdSyncMode implements SyncMode {
  readonly mode = 'conntrackd' as const;
  private readonly engine: ConntrackdEngine;
  private readonly ctx: ControllerContext;
  private spec: NAT44SessionSyncSpec | undefined;
  private addresses: readonly string[] = [];
  private link: ConntrackdTransport | undefined;
  private conf: string | undefined;
  private specKey: string | undefined;
  private refreshEveryMs: number | undefined;
  private linkError: string | undefined;
  private linkWarning: string | undefined;
  private role: SyncRole = 'unknown';
  /** The role whose commands last completed, since conntrackd (re)started. */
  private applied: VrrpRole | undefined;
  private readonly queue: (VrrpRole | 'resend')[] = [];
  /** The step running now, if any. */
  private running: VrrpRole | 'resend' | undefined;
  private chain: Promise<void> = Promise.resolve();
  private transitions: Transition[] = [];
  private stats: ConntrackdStats | undefined;
  private runtime: ConntrackdRuntime | undefined;
  private statsError: string | undefined;
  private overrunAt: number | undefined;
  private healedAt = 0;
  /** Events the kernel could not deliver to conntrackd's event socket (reliable delivery hides them from conntrackd). */
  private eventDrops: number | undefined;
  /** Resends run because events were missed, and the last one's end. */
  private heals = 0;
  private lastHealAt: string | undefined;
  /** A resend step queued or running because events were missed. */
  private healPending = false;
  private resyncRequestedAt: string | undefined;
  /** First stats poll after the resync request at which no more entries were arriving from the peer. */
  private resyncDoneAt: string | undefined;
  private lastInjected: { total: number; at: number } | undefined;
  private kernelEntries: number | undefined;
  private lastBulkSendAt: string | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Set once net.netfilter.nf_conntrack_events reads 1; the error otherwise. */
  private eventsSysctl: { ok: true } | { ok: false; error: string } | undefined;

  constructor(
    private readonly id: string,
    name: string,
    deps: ConntrackdModeDeps,
  ) {
    this.ctx = deps.ctx;
    this.engine = deps.makeEngine?.(id, name) ?? new ConntrackdEngine(deps.ctx.host, conntrackdPaths(deps.ctx.paths, name), onEngineExit(deps.ctx, 'conntrackd', id));
  }

  async update(input: SyncModeInput): Promise<ReconcileOutcome> {
    this.stopped = false;
    this.spec = input.spec;
    this.addresses = input.addresses;
    this.role = input.role;
    const cfg = input.spec.conntrackd ?? conntrackdSyncSpec.parse({});
    try {
      this.link = await this.resolveLink(input);
      this.linkError = this.linkWarning = undefined;
    } catch (e) {
      const message = (e as Error).message;
      if (!this.link || this.specKey !== JSON.stringify(input.spec)) {
        this.linkError = message;
        this.publish();
        return Outcome.ok;
      }
      // The route to the peer went away (its link is down): keep the link conntrackd runs on, and keep driving the role.
      if (this.linkWarning !== message) this.ctx.log.warn({ resource: this.id, action: 'conntrackd-link', err: message }, 'route to the peer not found; keeping the sync link as it was');
      this.linkWarning = message;
    }
    // Without an observation of the interfaces the ignore list would shrink and restart conntrackd: keep the config.
    const conf =
      input.observed.interfaces === undefined && this.conf !== undefined
        ? this.conf
        : renderConntrackdConf({ transport: this.link, ignore: this.ignored(input, this.link, cfg.ignoreIPv4), files: this.engine.paths, tuning: cfg.tuning });
    this.conf = conf;
    this.specKey = JSON.stringify(input.spec);
    await this.ensureEventsForEveryEntry();
    let outcome: Awaited<ReturnType<ConntrackdEngine['run']>>;
    try {
      outcome = await this.engine.run(conf);
    } catch (e) {
      this.ctx.log.error({ resource: this.id, action: 'conntrackd-apply', outcome: 'error', err: (e as Error).message }, 'conntrackd apply failed');
      this.publish();
      return Outcome.error(`conntrackd: ${(e as Error).message}`);
    }
    if (outcome !== 'running') this.ctx.log.info({ resource: this.id, action: 'conntrackd-apply', outcome, pid: this.engine.pid }, `conntrackd ${outcome}`);
    if (outcome === 'started' || outcome === 'restarted' || outcome === 'adopted') this.applied = undefined;
    if (outcome === 'backoff' || outcome === 'failed') {
      this.applied = undefined;
    }
    if (this.engine.pid !== undefined && this.role !== 'unknown' && this.role !== this.lastRequestedRole()) this.enqueue(this.role);
    this.startTimers();
    this.publish();
    if (outcome === 'backoff' || outcome === 'failed') return Outcome.requeue(this.engine.retryInMs() + 10, `conntrackd ${this.id} restart backoff`);
    return Outcome.ok;
  }

  async stop(opts: { keepEngines: boolean }): Promise<void> {
    this.stopped = true;
    if (this.statsTimer) clearInterval(this.statsTimer);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.statsTimer = this.refreshTimer = undefined;
    this.queue.length = 0;
    await this.chain;
    await this.engine.stop(opts.keepEngines);
  }

  /**
   * Before conntrackd starts: with the kernel's default (2), an entry created
   * while no event listener exists (conntrackd restarting, routerd not yet
   * started) never reports its destroy, so the peer would keep it for good.
   */
  private async ensureEventsForEveryEntry(): Promise<void> {
    if (this.eventsSysctl?.ok) return;
    try {
      const before = await readSysctl(this.ctx.host, SYSCTL.conntrackEvents);
      if (before !== '1') {
        await writeSysctl(this.ctx.host, SYSCTL.conntrackEvents, 1);
        this.ctx.log.info(
          { resource: this.id, action: 'conntrackd-sysctl', key: SYSCTL.conntrackEvents, from: before ?? null, to: '1' },
          `${SYSCTL.conntrackEvents} set to 1 (was ${before ?? 'unreadable'}): every entry reports its events to conntrackd`,
        );
      }
      this.eventsSysctl = { ok: true };
    } catch (e) {
      const error = (e as Error).message;
      if (this.eventsSysctl?.ok !== false || this.eventsSysctl.error !== error) this.ctx.log.warn({ resource: this.id, action: 'conntrackd-sysctl', key: SYSCTL.conntrackEvents, err: error }, 'could not make every entry report its events');
      this.eventsSysctl = { ok: false, error };
    }
  }

  /** UDP to the peer (multicast to the group) from the address and interface of the route to it, unless the spec names them. */
  private async resolveLink(input: SyncModeInput): Promise<ConntrackdTransport> {
    const spec = input.spec;
    const cfg = spec.conntrackd ?? conntrackdSyncSpec.parse({});
    const target = spec.targets[0]!;
    const peer = cfg.peerAddress ?? target.host;
    let iface = cfg.interface ? input.planCtx.ifname(cfg.interface) : undefined;
    let local = cfg.localAddress;
    if (!iface || !local) {
      if (!isIPv4(peer)) throw new Error(`cannot route to ${JSON.stringify(peer)}: set conntrackd.interface and conntrackd.localAddress`);
      const r = await this.ctx.host.run(['ip', '-j', '-4', 'route', 'get', peer], { timeoutMs: 5000 });
      const route = r.code === 0 ? parseIpRoute(r.stdout).items[0] : undefined;
      if (!route?.dev || !route.prefsrc) throw new Error(`no route to the peer ${peer}${r.code === 0 ? '' : `: ${r.stderr.trim()}`}`);
      iface ??= route.dev;
      local ??= route.prefsrc;
    }
    if (cfg.multicast) return { kind: 'multicast', group: cfg.multicast.group, localAddress: local, interface: iface, port: cfg.port };
    return { kind: 'udp', localAddress: local, peerAddress: peer, interface: iface, port: cfg.port };
  }

  /**
   * Flows to or from the routers themselves are not replicated: loopback, this
   * router's addresses, every VirtualAddress (in any role, so the file does not
   * change with the role), the sync link's ends, and what the spec adds.
   */
  private ignored(input: SyncModeInput, link: ConntrackdTransport, extra: readonly string[]): string[] {
    const own = (input.observed.interfaces ?? []).flatMap((i) => i.addresses.filter((a) => a.family === 4).map((a) => a.address));
    const vips = input.planCtx.resources
      .filter((x): x is ResourceOf<'VirtualAddress'> & AnyResource => x.kind === 'VirtualAddress')
      .flatMap((v) => [v.spec.address, ...v.spec.extraAddresses.map((x) => x.address)])
      .map((a) => a.split('/')[0]!)
      .filter((a) => isIPv4(a));
    const ends = link.kind === 'udp' ? [link.localAddress, link.peerAddress] : [link.localAddress];
    return ['127.0.0.0/8', ...own, ...vips, ...ends, ...extra];
  }

  /** The role conntrackd is in, or is being driven to by a queued or running step. */
  private lastRequestedRole(): VrrpRole | undefined {
    const steps = [this.running, ...this.queue].filter((x): x is VrrpRole => x !== undefined && x !== 'resend');
    return steps.at(-1) ?? this.applied;
  }

  private enqueue(step: VrrpRole | 'resend'): void {
    this.queue.push(step);
    this.chain = this.chain.then(() => this.runNext()).catch(() => undefined);
  }

  /** One transition: its commands in order; the next waits for it. */
  private async runNext(): Promise<void> {
    const step = this.queue.shift();
    if (step === undefined || this.stopped) return;
    this.running = step;
    try {
      await this.runStep(step);
    } finally {
      this.running = undefined;
    }
  }

  private async runStep(step: VrrpRole | 'resend'): Promise<void> {
    const commands = step === 'resend' ? [['-R'], ['-B']] : TRANSITION_COMMANDS[step];
    const t0 = performance.now();
    let error: string | undefined;
    for (const args of commands) {
      const r = await this.engine.ctl(args);
      if (r.code !== 0) {
        error = `conntrackd ${args.join(' ')}: ${r.stderr.trim() || r.stdout.trim() || `exit ${r.code ?? r.signal}`}`;
        break;
      }
    }
    const durationMs = Math.round(performance.now() - t0);
    const at = new Date().toISOString();
    const t: Transition = { role: step, at, durationMs, outcome: error ? 'error' : 'ok', commands: commands.map((c) => c.join(' ')).join(', '), ...(error ? { error } : {}) };
    this.transitions = [t, ...this.transitions].slice(0, TRANSITIONS_KEPT);
    this.ctx.metrics.conntrackdTransitions.inc({ resource: this.id, role: step, outcome: t.outcome });
    this.ctx.log[error ? 'warn' : 'info'](
      { resource: this.id, action: 'conntrackd-transition', role: step, commands: t.commands, durationMs, outcome: t.outcome, ...(error ? { err: error } : {}) },
      `${this.id}: conntrackd ${step} (${t.commands}) ${t.outcome}`,
    );
    if (!error) {
      if (step !== 'resend') this.applied = step;
      if (step === 'backup') {
        this.resyncRequestedAt = at;
        this.resyncDoneAt = undefined;
      }
      if (step === 'master' || step === 'resend') {
        this.lastBulkSendAt = at;
        this.healedAt = Date.now();
        if (this.healPending) {
          this.healPending = false;
          this.heals++;
          this.lastHealAt = at;
          this.ctx.metrics.conntrackdCounter.set({ resource: this.id, counter: 'heals' }, this.heals);
          this.ctx.log.info({ resource: this.id, action: 'conntrackd-heal', heals: this.heals, durationMs }, `${this.id}: missed events healed (resync from the kernel, bulk send)`);
        }
      }
    } else if (step !== 'resend') {
      this.applied = undefined;
      this.ctx.requeue(1000, `conntrackd ${this.id} transition retry`);
    }
    this.publish();
  }

  private startTimers(): void {
    if (!this.statsTimer) {
      this.statsTimer = setInterval(() => void this.pollStats(), STATS_EVERY_MS);
      this.statsTimer.unref();
      void this.pollStats();
    }
    const every = parseDuration(this.spec?.interval ?? DEFAULT_CONNTRACKD_REFRESH_INTERVAL) ?? 30_000;
    if (this.refreshTimer && this.refreshEveryMs !== every) {
      clearInterval(this.refreshTimer);
      this.refreshTimer = undefined;
    }
    if (!this.refreshTimer) {
      this.refreshEveryMs = every;
      // The kernel refreshes an entry's timeout with every packet but reports no
      // event for it: idle-looking UDP entries would expire on the standby.
      this.refreshTimer = setInterval(() => {
        if (this.applied === 'master' && !this.queue.includes('resend')) this.enqueue('resend');
      }, every);
      this.refreshTimer.unref();
    }
  }

  /** Read `conntrackd -s` now (a timer does it every few seconds). */
  async pollStats(): Promise<void> {
    if (this.stopped || this.engine.pid === undefined) return;
    const [r, count] = await Promise.all([this.engine.stats(), this.ctx.host.run(['conntrack', '-C'], { timeoutMs: 5000 })]);
    if (this.stopped) return;
    this.statsError = r.error;
    this.kernelEntries = count.code === 0 ? parseConntrackCount(count.stdout) : undefined;
    if (r.stats) {
      this.stats = r.stats;
      const total = r.stats.injected.created + r.stats.injected.updated + r.stats.injected.destroyed;
      const now = Date.now();
      if (this.resyncRequestedAt && !this.resyncDoneAt && this.lastInjected && this.lastInjected.at > Date.parse(this.resyncRequestedAt) && this.lastInjected.total === total)
        this.resyncDoneAt = new Date(now).toISOString();
      this.lastInjected = { total, at: now };
    }
    const overrunsBefore = this.runtime?.netlinkOverruns;
    const dropsBefore = this.eventDrops;
    if (r.runtime) this.runtime = r.runtime;
    this.eventDrops = await this.readEventDrops();
    if (this.stopped) return;
    const overruns = (r.runtime?.netlinkOverruns ?? 0) - (overrunsBefore ?? r.runtime?.netlinkOverruns ?? 0);
    const drops = (this.eventDrops ?? 0) - (dropsBefore ?? this.eventDrops ?? 0);
    if (overruns > 0 || drops > 0) this.missedEvents(overruns, drops);
    this.exportMetrics();
    this.publish();
  }

  /** Kernel-counted drops on conntrackd's event socket (undefined: not readable). */
  private async readEventDrops(): Promise<number | undefined> {
    const pid = this.engine.pid;
    if (pid === undefined) return undefined;
    const [fds, table] = await Promise.all([this.ctx.host.run(socketFdsArgv(pid), { timeoutMs: 5000 }), this.ctx.host.run(['cat', '/proc/net/netlink'], { timeoutMs: 5000 })]);
    if (fds.code !== 0 || table.code !== 0) return undefined;
    return eventSocketDrops(parseProcNetNetlink(table.stdout), parseSocketInodes(fds.stdout));
  }

  /**
   * conntrackd missed kernel events: its own overrun count (unreliable
   * delivery) or the kernel's drop count on its event socket (reliable
   * delivery: destroys are delivered again later, a missed new or update is
   * not). On the master, resync the internal cache from the kernel and bulk
   * send now (`-R`, `-B`), so the peer gets what the missed events carried.
   * A backup has nothing to heal: the events it reads are the peer's entries,
   * which conntrackd wrote itself and ignores; its own cache is rebuilt at
   * promotion (`-R` after the backup transition's `-f internal`).
   */
  private missedEvents(overruns: number, drops: number): void {
    this.overrunAt = Date.now();
    const heal = this.applied === 'master';
    // Counted (and alerted on) where it costs something: a backup's drops stay in event_drops only.
    if (heal) this.ctx.metrics.sessionSyncOverruns.inc({ resource: this.id });
    this.ctx.log[heal ? 'warn' : 'debug'](
      { resource: this.id, action: 'conntrackd-overrun', overruns: this.runtime?.netlinkOverruns, newOverruns: overruns, eventDrops: this.eventDrops, newEventDrops: drops, heal: heal ? 'resend' : 'none (not master)' },
      heal ? 'conntrackd missed kernel events; resync from the kernel and bulk send' : 'conntrackd missed kernel events; nothing to heal as backup',
    );
    if (!heal) {
      this.healedAt = this.overrunAt;
      return;
    }
    this.healPending = true;
    if (!this.queue.includes('resend')) this.enqueue('resend');
  }

  private exportMetrics(): void {
    const m = this.ctx.metrics;
    const resource = this.id;
    const s = this.stats;
    if (s) {
      m.conntrackdEntries.set({ resource, cache: 'internal' }, s.internalEntries);
      if (s.externalEntries !== undefined) m.conntrackdEntries.set({ resource, cache: 'external' }, s.externalEntries);
      if (this.kernelEntries !== undefined) m.conntrackdEntries.set({ resource, cache: 'kernel' }, this.kernelEntries);
      for (const [op, v] of Object.entries(s.injected)) m.conntrackdCounter.set({ resource, counter: `injected_${op}` }, v);
      for (const [k, v] of [
        ['packets_sent', s.packetsSent],
        ['packets_received', s.packetsReceived],
        ['send_errors', s.sendErrors],
        ['receive_errors', s.receiveErrors],
        ['messages_lost', s.messagesLost],
        ['messages_malformed', s.messagesMalformed],
      ] as const)
        m.conntrackdCounter.set({ resource, counter: k }, v);
    }
    if (this.runtime) {
      m.conntrackdCounter.set({ resource, counter: 'netlink_overruns' }, this.runtime.netlinkOverruns);
      m.conntrackdCounter.set({ resource, counter: 'kernel_resyncs' }, this.runtime.kernelResyncs);
    }
    if (this.eventDrops !== undefined) m.conntrackdCounter.set({ resource, counter: 'event_drops' }, this.eventDrops);
  }

  private status(): ResourceStatus {
    const st = this.engine.state();
    const s = this.stats;
    const rt = this.runtime;
    const spec = this.spec;
    const target = spec?.targets[0];
    const last = this.transitions[0];
    const base = {
      observedGeneration: this.ctx.generation(this.id),
      mode: 'conntrackd',
      role: this.role,
      snatAddresses: [...this.addresses],
      process: st.state === 'running' ? `running (pid ${st.pid}${st.adopted ? ', adopted' : ''}${this.engine.restarts ? `; restarted ${this.engine.restarts} time(s)` : ''})` : st.state,
      config: this.engine.paths.conf,
      ...(this.link
        ? { link: this.link.kind === 'udp' ? `udp ${this.link.localAddress} → ${this.link.peerAddress}:${this.link.port} on ${this.link.interface}` : `multicast ${this.link.group} group ${this.link.port} from ${this.link.localAddress} on ${this.link.interface}` }
        : {}),
      appliedRole: this.applied ?? '-',
      ...(this.linkWarning ? { warnings: [`sync link kept as it was: ${this.linkWarning}`] } : {}),
      ...(s
        ? {
            localEntries: s.internalEntries,
            injectedCreated: s.injected.created,
            injectedUpdated: s.injected.updated,
            injectedDestroyed: s.injected.destroyed,
            injectFailed: s.injected.failed,
            packetsSent: s.packetsSent,
            packetsReceived: s.packetsReceived,
            sendErrors: s.sendErrors,
            receiveErrors: s.receiveErrors,
            messagesLost: s.messagesLost,
            ...(s.externalEntries !== undefined ? { externalEntries: s.externalEntries } : {}),
          }
        : {}),
      ...(rt ? { netlinkOverruns: rt.netlinkOverruns, kernelResyncs: rt.kernelResyncs, netlinkBufferBytes: rt.netlinkBufferBytes } : {}),
      ...(this.eventDrops !== undefined ? { eventDrops: this.eventDrops } : {}),
      heals: this.heals,
      ...(this.lastHealAt ? { lastHealAt: this.lastHealAt } : {}),
      ...(this.eventsSysctl ? { everyEntryReportsEvents: this.eventsSysctl.ok } : {}),
      ...(this.kernelEntries !== undefined ? { kernelEntries: this.kernelEntries } : {}),
      ...(this.resyncRequestedAt ? { resyncRequestedAt: this.resyncRequestedAt } : {}),
      ...(this.resyncDoneAt ? { resyncDoneAt: this.resyncDoneAt } : {}),
      ...(this.lastBulkSendAt ? { lastSyncTime: this.lastBulkSendAt, lastFullSyncTime: this.lastBulkSendAt } : {}),
      ...(this.transitions.length ? { transitions: this.transitions.map((t) => ({ ...t })) } : {}),
      ...(target
        ? {
            targets: [
              {
                name: targetName(target),
                host: target.host,
                phase: s && this.applied ? 'Synced' : 'Pending',
                sent: s?.packetsSent ?? 0,
                lost: s?.messagesLost ?? 0,
              },
            ],
          }
        : {}),
    };
    if (this.linkError) return { phase: Phase.Failed, reason: Reason.SyncLinkUnresolved, message: this.linkError, ...base };
    if (st.state !== 'running') return { ...base, ...engineDown('conntrackd', this.engine) };
    if (this.overrunAt !== undefined && this.overrunAt > this.healedAt)
      return { phase: Phase.Degraded, reason: Reason.EventOverrun, message: `conntrackd missed kernel events (${rt?.netlinkOverruns ?? '?'} overruns, ${this.eventDrops ?? '?'} dropped by the kernel); resyncing`, ...base };
    if (this.eventsSysctl && !this.eventsSysctl.ok)
      return { phase: Phase.Degraded, reason: Reason.EventsIncomplete, message: `entries created while no event listener runs would never report their destroy: ${this.eventsSysctl.error}`, ...base };
    if (last && last.outcome === 'error') return { phase: Phase.Degraded, reason: Reason.TransitionFailed, message: last.error ?? 'transition failed', ...base };
    if (this.statsError) return { phase: Phase.Degraded, reason: Reason.StatsUnreadable, message: this.statsError, ...base };
    if (this.role === 'unknown') return { phase: Phase.Pending, reason: Reason.RoleUnknown, message: 'conntrackd runs; waiting for the VRRP role', ...base };
    if (this.applied !== this.role || !s) return { phase: Phase.Pending, reason: Reason.Transitioning, message: `conntrackd → ${this.role}`, ...base };
    const message =
      this.role === 'master'
        ? `master: ${s.internalEntries} sessions replicated to ${target ? targetName(target) : 'the peer'}`
        : this.role === 'backup'
          ? `backup: ${this.kernelEntries ?? '?'} entries in the kernel${this.resyncDoneAt ? '; resync from the peer done' : '; resync from the peer in progress'}`
          : 'fault: kernel timers shortened';
    return { phase: Phase.Synced, reason: Reason.Synced, message, ...base };
  }

  private publish(): void {
    if (!this.stopped) this.ctx.status.set(this.id, this.status());
  }
}
