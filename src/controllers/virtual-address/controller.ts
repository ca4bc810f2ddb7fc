// VirtualAddress → keepalived. The role comes from keepalived's notify_fifo;
// routerd restarts leave keepalived running and adopt it again, so a restart
// on the master moves nothing.
import { resourceId, type ResourceOf } from '../../api/kinds.ts';
import { dirname } from 'node:path';
import { KeepalivedEngine } from '../../engines/keepalived/engine.ts';
import { roleOf, type NotifyEvent, type Role } from '../../engines/keepalived/notify.ts';
import { demotedOffset, hasGate, instanceName, vipNameFromInstance } from '../../engines/keepalived/render.ts';
import { keepalivedGatePath, sshControlDir } from '../../api/paths.ts';
import { parseDuration } from '../../api/primitives.ts';
import { ipAddrShowArgv, parseIpAddr } from '../../kernel/ip.ts';
import { Outcome, type Controller, type ControllerContext, type ReconcileInput, type ReconcileOutcome } from '../controller.ts';
import { HandoverGate } from './handover.ts';
import { gatedSyncs, pullState } from './pull.ts';
import { Phase, Reason, type ResourceStatus } from '../status.ts';
import type { VirtualAddressPayload } from './plan.ts';

interface RoleState {
  role: Role;
  since: string;
  why: string;
}

export class VirtualAddressController implements Controller<'VirtualAddress', VirtualAddressPayload> {
  readonly name = 'virtual-address';
  readonly kind = 'VirtualAddress';
  private engine: KeepalivedEngine | undefined;
  private readonly roles = new Map<string, RoleState>();
  private ctx: ControllerContext | undefined;
  private vips: ResourceOf<'VirtualAddress'>[] = [];
  private readonly gates = new Map<string, HandoverGate>();
  private lastInput: ReconcileInput<'VirtualAddress', VirtualAddressPayload> | undefined;
  private engineStatus = new Map<string, { message: string; reason: Reason | undefined }>();

  constructor(private readonly makeEngine?: (ctx: ControllerContext, c: VirtualAddressController) => KeepalivedEngine) {}

  async reconcile(input: ReconcileInput<'VirtualAddress', VirtualAddressPayload>, ctx: ControllerContext): Promise<ReconcileOutcome> {
    this.ctx = ctx;
    this.vips = [...input.resources];
    for (const name of [...this.roles.keys()]) if (!this.vips.some((v) => v.metadata.name === name)) this.roles.delete(name);
    const conf = input.payload.keepalivedConf;
    if (conf === undefined) {
      if (this.engine) {
        ctx.log.info({ action: 'keepalived-stop', reason: 'no VirtualAddress left' }, 'stopping keepalived');
        await this.engine.stop(false);
      }
      return Outcome.ok;
    }
    this.engine ??= this.makeEngine ? this.makeEngine(ctx, this) : this.defaultEngine(ctx);
    this.lastInput = input;
    await this.reconcileGates(ctx);
    const t0 = performance.now();
    let engineMessage: string;
    let engineReason: Reason | undefined;
    let outcome = Outcome.ok;
    try {
      const applied = await this.engine.apply(conf);
      const durationMs = Math.round(performance.now() - t0);
      if (applied.configChanged || applied.outcome !== 'running')
        ctx.log.info({ action: 'keepalived-apply', outcome: applied.outcome, configChanged: applied.configChanged, durationMs, instances: this.vips.length }, `keepalived ${applied.outcome}`);
      if (applied.outcome === 'adopted') void this.learnRoleOfAdopted(ctx);
      if (applied.outcome === 'backoff' || applied.outcome === 'failed') outcome = Outcome.requeue(this.engine.retryInMs() + 10, 'keepalived restart backoff');
      const st = this.engine.state();
      engineMessage = st.state === 'running' ? `running (pid ${st.pid}${st.adopted ? ', adopted' : ''})` : st.state === 'failed' ? st.message : 'stopped';
      if (st.state === 'failed') engineReason = this.engine.restarts > 0 ? Reason.EngineRestarted : Reason.EngineFailed;
      else if (this.engine.restarts > 0) engineMessage += `; restarted ${this.engine.restarts} time(s)`;
    } catch (e) {
      engineMessage = (e as Error).message;
      engineReason = Reason.EngineFailed;
      outcome = Outcome.error(`keepalived: ${engineMessage}`);
      ctx.log.error({ action: 'keepalived-apply', outcome: 'error', err: engineMessage }, 'keepalived apply failed');
    }
    for (const vip of this.vips) {
      this.engineStatus.set(vip.metadata.name, { message: engineMessage, reason: engineReason });
      ctx.status.set(resourceId(vip), this.statusOf(vip, ctx));
    }
    return outcome;
  }

  /**
   * One handover gate per VirtualAddress that waits for state. A new gate (routerd
   * just started) is closed, and its file says demoted before keepalived starts,
   * unless keepalived runs already and holds the VIP: then this is a routerd
   * restart on the master, and demoting it would hand the role away.
   */
  private async reconcileGates(ctx: ControllerContext): Promise<void> {
    for (const [name, g] of this.gates)
      if (!this.vips.some((v) => v.metadata.name === name && hasGate(v))) {
        g.stop();
        this.gates.delete(name);
      }
    for (const vip of this.vips.filter((v) => !hasGate(v)))
      for (const state of ['open', 'waiting', 'timed-out', 'disabled'] as const)
        ctx.metrics.handoverGate.set({ resource: resourceId(vip), state }, state === 'disabled' ? 1 : 0);
    for (const vip of this.vips.filter(hasGate)) {
      const name = vip.metadata.name;
      const maxWaitMs = parseDuration(vip.spec.handover.maxWait) ?? 60_000;
      const existing = this.gates.get(name);
      if (existing) {
        existing.configure(demotedOffset(vip.spec.priority), maxWaitMs);
        await existing.sync();
        continue;
      }
      const id = resourceId(vip);
      const gate = new HandoverGate(
        {
          id,
          log: ctx.log,
          metrics: ctx.metrics,
          writeOffset: async (offset) => {
            const path = keepalivedGatePath(ctx.paths, name);
            await ctx.host.mkdirp(dirname(path));
            await ctx.host.writeFileAtomic(path, `${offset}\n`, 0o644);
          },
          pull: (progress, signal) => this.pull(name, ctx, progress, signal),
          changed: () => this.refresh(name),
        },
        demotedOffset(vip.spec.priority),
        maxWaitMs,
      );
      this.gates.set(name, gate);
      const role = this.roles.get(name)?.role ?? 'unknown';
      if (role === 'master') gate.adoptedAsMaster();
      else if (role === 'unknown' && (await this.engine?.runningOrAdoptable()) && (await this.holdsVip(ctx, vip))) gate.adoptedAsMaster();
      else gate.close(role === 'unknown' ? 'routerd started' : `role ${role}`);
      await gate.sync();
      if (role === 'backup') gate.onRole('backup', 'unknown');
    }
  }

  private async holdsVip(ctx: ControllerContext, vip: ResourceOf<'VirtualAddress'>): Promise<boolean> {
    const r = await ctx.host.run(ipAddrShowArgv(), { timeoutMs: 5000 });
    if (r.code !== 0) return false;
    const addr = vip.spec.address.split('/')[0];
    return parseIpAddr(r.stdout).items.some((l) => l.addresses.some((a) => a.local === addr));
  }

  private pull(name: string, ctx: ControllerContext, progress: (what: string) => void, signal: AbortSignal) {
    const vip = this.vips.find((v) => v.metadata.name === name);
    const input = this.lastInput;
    if (!vip || !input) return Promise.resolve({ ok: false, sessions: 0, leaseFiles: 0, durationMs: 0, error: 'no config yet' });
    const runs = (id: string) => ctx.status.get(id)?.reason !== Reason.ControllerDisabled;
    const syncs = gatedSyncs(name, this.vips.length, input.all, runs);
    return pullState(vip, syncs, { local: ctx.host, controlDir: sshControlDir(ctx.paths), planCtx: input.planCtx, log: ctx.log, progress, signal });
  }

  private refresh(name: string): void {
    const ctx = this.ctx;
    const vip = this.vips.find((v) => v.metadata.name === name);
    if (ctx && vip) ctx.status.set(resourceId(vip), this.statusOf(vip, ctx));
  }

  async stop(opts: { keepEngines: boolean }): Promise<void> {
    for (const g of this.gates.values()) g.stop();
    await this.engine?.stop(opts.keepEngines);
    this.engine = undefined;
  }

  private defaultEngine(ctx: ControllerContext): KeepalivedEngine {
    return new KeepalivedEngine(ctx.host, ctx.paths, {
      onNotify: (e) => this.onNotify(e),
      onExit: (info) => {
        ctx.metrics.engineRestarts.inc({ engine: 'keepalived' });
        ctx.log.warn({ action: 'keepalived-exit', code: info.code, signal: info.signal, restarts: info.restarts }, 'keepalived exited; restarting');
        for (const [name, r] of this.roles) this.setRole(name, { role: 'unknown', since: new Date().toISOString(), why: `keepalived exited (${info.signal ?? `code ${info.code}`})` }, r.role);
        ctx.trigger('keepalived exited');
      },
    });
  }

  /** A role change from keepalived. */
  onNotify(e: NotifyEvent): void {
    if (e.type !== 'INSTANCE') return;
    const name = vipNameFromInstance(e.name);
    if (!name) return;
    const prev = this.roles.get(name)?.role ?? 'unknown';
    const role = roleOf(e.state);
    const why = `keepalived: ${e.state}${e.priority !== undefined ? ` (priority ${e.priority})` : ''}`;
    this.setRole(name, { role, since: new Date().toISOString(), why }, prev);
  }

  private setRole(name: string, next: RoleState, prev: Role): void {
    const ctx = this.ctx;
    this.roles.set(name, next);
    if (!ctx) return;
    const id = `VirtualAddress/${name}`;
    if (prev !== next.role) {
      ctx.metrics.vrrpTransitions.inc({ resource: id, role: next.role });
      ctx.log.info({ resource: id, action: 'role-change', from: prev, to: next.role, why: next.why }, `${id}: ${prev} → ${next.role}`);
    }
    for (const r of ['master', 'backup', 'fault', 'unknown'] as const) ctx.metrics.vrrpRole.set({ resource: id, role: r }, r === next.role ? 1 : 0);
    if (prev !== next.role) this.gates.get(name)?.onRole(next.role, prev);
    this.refresh(name);
    ctx.trigger(`role ${name} ${next.role}`);
  }

  private statusOf(vip: ResourceOf<'VirtualAddress'>, ctx: ControllerContext): ResourceStatus {
    const { message: engine, reason: engineReason } = this.engineStatus.get(vip.metadata.name) ?? { message: '', reason: undefined };
    const r = this.roles.get(vip.metadata.name) ?? { role: 'unknown' as Role, since: undefined, why: 'no report from keepalived yet' };
    const gate = this.gates.get(vip.metadata.name)?.status();
    const handover = gate
      ? { handover: gate.text, handoverSince: gate.since, priority: vip.spec.priority + gate.offset, ...(gate.lastPull ? { lastPull: `${gate.lastPull.ok ? 'ok' : 'failed'} at ${gate.lastPull.at}: ${gate.lastPull.sessions} sessions, ${gate.lastPull.leaseFiles} lease files from ${gate.lastPull.from ?? '?'} in ${gate.lastPull.durationMs} ms${gate.lastPull.error ? ` (${gate.lastPull.error})` : ''}` } : {}) }
      : { handover: 'Disabled: takes the role without waiting for state (handover.waitForState: false)', priority: vip.spec.priority };
    const base = { role: r.role, since: r.since, roleReason: r.why, keepalived: engine, ...handover, observedGeneration: ctx.generation(resourceId(vip)) };
    if (engineReason) return { phase: Phase.Failed, reason: engineReason, message: engine, ...base };
    if (r.role === 'unknown') return { phase: Phase.Pending, reason: Reason.RoleUnknown, message: r.why, ...base };
    const addrs = [vip.spec.address, ...vip.spec.extraAddresses.map((x) => x.address)].join(', ');
    const message =
      r.role === 'master' ? `master: holds ${addrs}` : r.role === 'backup' ? `backup: ${gate?.state === 'waiting' ? gate.text : 'standing by'}` : `fault: ${r.why}`;
    if (gate?.state === 'timed-out') return { phase: Phase.Degraded, reason: Reason.HandoverTimedOut, message: `${message}; ${gate.text}`, ...base };
    if (r.role === 'backup' && gate?.state === 'waiting') return { phase: Phase.Pending, reason: Reason.Demoted, message, ...base };
    return { phase: r.role === 'fault' ? Phase.Degraded : Phase.Ready, reason: r.role === 'fault' ? Reason.VRRPFault : Reason.Applied, message, ...base };
  }

  /**
   * keepalived adopted after a routerd restart reports nothing until the next
   * transition: take the role from whether the VIP sits on its link, once.
   */
  private async learnRoleOfAdopted(ctx: ControllerContext): Promise<void> {
    await new Promise((r) => setTimeout(r, 300));
    const r = await ctx.host.run(ipAddrShowArgv(), { timeoutMs: 5000 });
    if (r.code !== 0) return;
    const links = parseIpAddr(r.stdout).items;
    for (const vip of this.vips) {
      if (this.roles.get(vip.metadata.name)?.role !== undefined && this.roles.get(vip.metadata.name)?.role !== 'unknown') continue;
      const addr = vip.spec.address.split('/')[0];
      const held = links.some((l) => l.addresses.some((a) => a.local === addr));
      this.setRole(
        vip.metadata.name,
        { role: held ? 'master' : 'backup', since: new Date().toISOString(), why: `adopted running keepalived (${instanceName(vip.metadata.name)}); VIP ${held ? 'present' : 'absent'} on the link` },
        'unknown',
      );
    }
  }
}
