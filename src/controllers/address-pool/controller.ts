// BGPRouter, BGPPeer, BFD and NAT44AddressPool → one FRR instance per node.
// A watcher polls bfdd for the member-to-member sessions; a member whose
// session went down (or never came up within the grace period) leaves the up
// set, which the status store turns into a pass: every member recomputes the
// same assignment, the successor (optionally puts the /32 on an interface and) turns its
// standby `network` into an owned one.
import { join } from 'node:path';
import { resourceId, type AnyResource, type ResourceOf } from '../../api/kinds.ts';
import { KeepalivedEngine } from '../../engines/keepalived/engine.ts';
import { renderKeepalivedConf } from '../../engines/keepalived/render.ts';
import { keepalivedFifoPath, sshControlDir, type NodePaths } from '../../api/paths.ts';
import { FrrEngine } from '../../engines/frr/engine.ts';
import { networkLines } from '../../engines/frr/render.ts';
import { ipAddrAddArgv, ipAddrDelArgv } from '../../kernel/ip.ts';
import { Outcome, type Controller, type ControllerContext, type ReconcileInput, type ReconcileOutcome } from '../controller.ts';
import { Phase, Reason } from '../status.ts';
import { gatewayPriority } from './gate.ts';
import { PoolMembers, readyFilePath } from './members.ts';
import { poolShare, renderNodeFrr } from './plan.ts';

const WATCH_MS = 200;

/**
 * Per pool with a LAN block, the addresses whose gateway this node serves now
 * (the VRRP address is on the LAN interface: it is master). Pools without one
 * serve what they own.
 */
export function servingAddresses(pools: readonly Pool[], input: ReconcileInput): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const pool of pools) {
    const lan = pool.spec.lan;
    if (!lan) continue;
    const dev = input.planCtx.ifname(lan.interface);
    const have = new Set((input.observed.interfaces?.find((i) => i.name === dev)?.addresses ?? []).map((a) => a.address));
    out.set(resourceId(pool), new Set(pool.spec.addresses.filter((_, i) => have.has(lan.gateways[i]!.address.split('/')[0]!))));
  }
  return out;
}

type Pool = ResourceOf<'NAT44AddressPool'> & AnyResource;

type BgpKind = 'BGPRouter' | 'BGPPeer' | 'BFD' | 'NAT44AddressPool';

/** One controller for the four BGP kinds (one FRR for the node): BGPRouter's module makes it. */
export class BgpController implements Controller<BgpKind, undefined> {
  readonly name = 'bgp';
  readonly kind = 'BGPRouter';
  readonly alsoKinds = ['BGPPeer', 'BFD', 'NAT44AddressPool'] as const;
  private engine: FrrEngine | undefined;
  private applied: string[] | undefined;
  private watcher: NodeJS.Timeout | undefined;
  private pools: Pool[] = [];
  private readonly members = new Map<string, PoolMembers>();
  private keepalived: KeepalivedEngine | undefined;
  private owned = new Map<string, Set<string>>();
  private since = new Map<string, string>();
  private ctx: ControllerContext | undefined;

  async reconcile(input: ReconcileInput<BgpKind, undefined>, ctx: ControllerContext): Promise<ReconcileOutcome> {
    this.ctx = ctx;
    this.pools = input.resources.filter((r): r is Pool => r.kind === 'NAT44AddressPool');
    for (const pool of this.pools) {
      const m = this.members.get(resourceId(pool));
      if (m) m.update(pool);
      else {
        // A (re)started routerd holds nothing yet: it says so before anyone asks.
        await ctx.host.remove(readyFilePath(ctx.paths, pool.metadata.name));
        this.members.set(resourceId(pool), new PoolMembers(pool, ctx.nodeName));
      }
    }
    for (const [id, m] of [...this.members])
      if (!this.pools.some((p) => resourceId(p) === id)) {
        m.stop();
        this.members.delete(id);
      }
    // What this pass plans with: the eligible members as this node sees them now.
    for (const pool of this.pools) {
      const id = resourceId(pool);
      const eligible = this.members.get(id)!.eligible();
      const cur = ctx.status.get(id);
      if (JSON.stringify(cur?.membersUp) !== JSON.stringify(eligible)) ctx.status.set(id, { ...(cur ?? { phase: Phase.Pending, reason: Reason.Planned, message: '' }), membersUp: eligible });
    }
    const routers = input.resources.filter((r) => r.kind === 'BGPRouter');
    if (routers.length === 0) {
      await this.stop({ keepEngines: false });
      return Outcome.ok;
    }
    const frr = renderNodeFrr(input.all, input.planCtx);
    if (frr.text === undefined || frr.input === undefined) {
      for (const r of input.resources) ctx.status.set(resourceId(r), { phase: Phase.Failed, reason: Reason.ConfigInvalid, message: frr.error ?? 'no frr.conf', observedGeneration: ctx.generation(resourceId(r)) });
      return Outcome.ok;
    }
    this.engine ??= new FrrEngine(ctx.host, `${ctx.paths.runDir}/frr`, (d, info) => {
      ctx.metrics.engineRestarts.inc({ engine: d });
      ctx.log.warn({ action: 'frr-exit', daemon: d, code: info.code, signal: info.signal, restarts: info.restarts }, `${d} exited; restarting`);
      this.applied = undefined;
      ctx.trigger(`${d} exited`);
    });
    await ctx.host.mkdirp(`${ctx.paths.runDir}/frr`);
    if (this.pools.some((p) => p.spec.sync)) await ctx.host.mkdirp(sshControlDir(ctx.paths), 0o700);

    // Addresses first: an owned /32 is on the interface before it is announced.
    for (const pool of this.pools) await this.applyAddresses(pool, input, ctx);

    const networks = networkLines(frr.input);
    const serving = servingAddresses(this.pools, input);
    let outcome: string;
    let message: string;
    let next = Outcome.ok;
    // The LAN gateways and the announcements change together: a holder that
    // releases an address moves both directions of its flows at once.
    const gateways = this.applyGateways(input, ctx, serving).then(
      () => undefined,
      (e: unknown) => e,
    );
    try {
      const t0 = performance.now();
      outcome = await this.engine.apply(frr.text, frr.input.asn, networks, this.applied);
      if (outcome === 'starting') next = Outcome.requeue(1000, 'frr starting');
      else this.applied = networks;
      if (outcome !== 'unchanged')
        ctx.log.info({ action: 'frr-apply', outcome, durationMs: Math.round(performance.now() - t0), owned: frr.input.owned, standby: frr.input.standby }, `frr ${outcome}`);
      message = `zebra, bfdd, bgpd ${this.engine.running ? 'running' : 'starting'}`;
    } catch (e) {
      outcome = 'failed';
      message = (e as Error).message;
      this.applied = undefined;
      next = Outcome.error(`frr: ${message}`);
      ctx.log.error({ action: 'frr-apply', outcome, err: message }, 'frr apply failed');
    }
    const gatewayError = await gateways;
    for (const pool of this.pools) this.members.get(resourceId(pool))?.reconcilePushes(ctx, resourceId(pool), ctx.host, serving.get(resourceId(pool)));
    if (gatewayError !== undefined) throw gatewayError;
    this.startWatcher();
    await this.report(input, ctx, outcome, message);
    return next;
  }

  private async applyAddresses(pool: Pool, input: ReconcileInput, ctx: ControllerContext): Promise<void> {
    const id = resourceId(pool);
    const share = poolShare(pool, input.planCtx);
    const before = this.owned.get(id) ?? new Set<string>();
    if (pool.spec.interface !== undefined) {
      const dev = input.planCtx.ifname(pool.spec.interface);
      const iface = input.observed.interfaces?.find((i) => i.name === dev);
      const have = new Set((iface?.addresses ?? []).filter((a) => a.family === 4 && a.prefixLength === 32).map((a) => a.address));
      for (const a of share.owned)
        if (!have.has(a)) {
          const r = await ctx.host.run(ipAddrAddArgv({ dev, address: a, prefixlen: 32, replace: true }), { timeoutMs: 5000 });
          if (r.code !== 0) throw new Error(`adding ${a}/32 on ${dev}: ${r.stderr.trim()}`);
        }
      for (const a of pool.spec.addresses)
        if (!share.owned.includes(a) && have.has(a)) await ctx.host.run(ipAddrDelArgv({ dev, address: a, prefixlen: 32 }), { timeoutMs: 5000 });
    }
    const now = new Set(share.owned);
    for (const a of now)
      if (!before.has(a)) {
        const from = this.owned.has(id) ? share.assignments.find((x) => x.address === a) : undefined;
        ctx.metrics.poolOwnershipChanges.inc({ resource: id, direction: 'in' });
        ctx.log.info({ resource: id, action: 'pool-own', address: a, membersUp: share.membersUp, initial: from === undefined }, `${id}: now owns ${a}`);
      }
    for (const a of before)
      if (!now.has(a)) {
        ctx.metrics.poolOwnershipChanges.inc({ resource: id, direction: 'out' });
        ctx.log.info({ resource: id, action: 'pool-release', address: a, to: share.assignments.find((x) => x.address === a)?.owner, membersUp: share.membersUp }, `${id}: gave up ${a}`);
      }
    if (!this.owned.has(id) || [...now].some((a) => !before.has(a)) || [...before].some((a) => !now.has(a))) this.since.set(id, new Date().toISOString());
    this.owned.set(id, now);
    ctx.metrics.poolAddresses.set({ resource: id, role: 'owner' }, share.owned.length);
    ctx.metrics.poolAddresses.set({ resource: id, role: 'standby' }, share.standby.length);
  }

  private async report(input: ReconcileInput, ctx: ControllerContext, outcome: string, message: string): Promise<void> {
    const bgp = this.engine?.running ? await this.engine.bgpPeers() : undefined;
    const bfd = this.engine?.running ? await this.engine.bfdPeers() : undefined;
    const failed = outcome === 'failed';
    for (const r of input.resources) {
      const id = resourceId(r);
      const gen = ctx.generation(id);
      if (r.kind === 'BGPRouter') {
        const established = (bgp ?? []).filter((p) => p.state === 'Established').length;
        ctx.status.set(id, {
          phase: failed ? Phase.Failed : this.engine?.running ? Phase.Ready : Phase.Pending,
          reason: failed ? Reason.EngineFailed : Reason.Applied,
          message,
          process: this.engine?.running ? 'running' : 'starting',
          established,
          peers: bgp ?? [],
          observedGeneration: gen,
        });
      } else if (r.kind === 'BGPPeer') {
        const p = bgp?.find((x) => x.address === r.spec.address);
        const b = bfd?.find((x) => x.peer === r.spec.address);
        ctx.status.set(id, {
          phase: p?.state === 'Established' ? Phase.Ready : Phase.Pending,
          reason: p?.state === 'Established' ? Reason.Established : Reason.NotEstablished,
          message: `session with ${r.spec.address}: ${p?.state ?? 'unknown'}`,
          state: p?.state ?? 'unknown',
          ...(r.spec.bfd ? { bfd: b?.status ?? 'unknown' } : {}),
          ...(p?.prefixesSent !== undefined ? { prefixesSent: p.prefixesSent } : {}),
          observedGeneration: gen,
        });
      } else if (r.kind === 'BFD') {
        const sessions = (bfd ?? []).length;
        ctx.status.set(id, { phase: Phase.Ready, reason: Reason.Applied, message: `${sessions} BFD session(s) on this node`, sessions, up: (bfd ?? []).filter((x) => x.status === 'up').length, observedGeneration: gen });
      } else if (r.kind === 'NAT44AddressPool') {
        const share = poolShare(r, input.planCtx);
        const st = { membersUp: share.membersUp, owned: share.owned, standby: share.standby, assignments: share.assignments };
        ctx.status.set(id, {
          ...st,
          phase: failed ? Phase.Failed : this.members.get(id)?.selfReady ? Phase.Ready : Phase.Pending,
          reason: failed ? Reason.ApplyFailed : Reason.Applied,
          message: `owns ${(st.owned as string[]).join(', ') || 'nothing'}; stands by for ${(st.standby as string[]).join(', ') || 'nothing'}; members up ${(st.membersUp as string[]).join(', ')}`,
          since: this.since.get(id),
          ready: this.members.get(id)?.selfReady ?? false,
          ...(this.members.get(id)?.readySince ? { readySince: this.members.get(id)!.readySince } : {}),
          sync: Object.fromEntries(this.members.get(id)?.syncStatus ?? []),
          observedGeneration: gen,
        });
      }
    }
  }

  /** The LAN side: one VRRP gateway per pool address, its priority from the ranking over the eligible members. */
  private async applyGateways(input: ReconcileInput, ctx: ControllerContext, serving: ReadonlyMap<string, ReadonlySet<string>>): Promise<void> {
    const vips: ResourceOf<'VirtualAddress'>[] = [];
    for (const pool of this.pools) {
      const lan = pool.spec.lan;
      if (!lan) continue;
      const eligible = this.members.get(resourceId(pool))?.eligible() ?? [];
      pool.spec.addresses.forEach((address, i) => {
        const g = lan.gateways[i]!;
        vips.push({
          apiVersion: 'net.routerd.net/v1alpha1',
          kind: 'VirtualAddress',
          metadata: { name: `pool-${pool.metadata.name}-${i}` },
          spec: { interface: lan.interface, address: g.address, virtualRouterId: g.virtualRouterId, priority: gatewayPriority(address, ctx.nodeName, eligible, serving.get(resourceId(pool))?.has(address) ?? true), advertInterval: lan.advertInterval, preempt: true, extraAddresses: [],
            // The pool's own gate (ready files) decides; the pair's handover gate does not apply.
            handover: { waitForState: false, maxWait: '60s' } },
        });
      });
    }
    if (vips.length === 0) {
      await this.keepalived?.stop(false);
      this.keepalived = undefined;
      return;
    }
    const paths: NodePaths = { ...ctx.paths, runDir: join(ctx.paths.runDir, 'pool') };
    this.keepalived ??= new KeepalivedEngine(ctx.host, paths, {
      onNotify: (e) => {
        ctx.log.info({ action: 'pool-gateway', instance: e.name, state: e.state }, `gateway ${e.name} ${e.state}`);
        // Which gateways this node serves decides the owner's priority and its pushes: a pass reads it from the interface.
        (this.ctx ?? ctx).trigger(`pool gateway ${e.name} ${e.state}`);
      },
      onExit: (info) => {
        ctx.metrics.engineRestarts.inc({ engine: 'keepalived-pool' });
        ctx.trigger(`pool keepalived exited (${info.code ?? info.signal})`);
      },
    });
    const conf = renderKeepalivedConf({ routerId: ctx.nodeName, virtualAddresses: vips, ifname: input.planCtx.ifname, paths: { notifyFifo: keepalivedFifoPath(paths) } });
    const r = await this.keepalived.apply(conf);
    if (r.configChanged) ctx.log.info({ action: 'pool-gateways', outcome: r.outcome, priorities: vips.map((v) => `${v.spec.address}:${v.spec.priority}`) }, 'gateway priorities applied');
    if (r.outcome === 'backoff' || r.outcome === 'failed') ctx.requeue(this.keepalived.retryInMs() + 10, 'pool keepalived restart backoff');
  }

  private startWatcher(): void {
    if (this.watcher) return;
    let busy = false;
    let polling = false;
    let tick = 0;
    let sessions = '';
    this.watcher = setInterval(() => {
      if (busy || !this.engine?.running || !this.ctx) return;
      busy = true;
      const ctx = this.ctx;
      const engine = this.engine;
      void engine
        .bfdPeers()
        .then(async (bfd) => {
          // About once a second: BGP session states, so status follows them between passes; the members' ready files.
          if (++tick % 5 === 0) {
            const now = JSON.stringify((await engine.bgpPeers())?.map((p) => [p.address, p.state]) ?? null);
            if (now !== sessions) {
              if (sessions !== '') ctx.log.info({ action: 'bgp-sessions', sessions: now }, 'BGP session states changed');
              sessions = now;
              ctx.trigger('bgp session state');
            }
            // Not awaited: an ssh to a member that just died hangs until its timeout, and BFD must keep being read meanwhile.
            if (!polling) {
              polling = true;
              void Promise.all([...this.members].map(([id, m]) => m.pollReady(ctx, id))).finally(() => {
                polling = false;
              });
            }
          }
          if (!bfd) return;
          const states = new Map(bfd.map((b) => [b.peer, b.status === 'up']));
          for (const pool of this.pools) {
            const id = resourceId(pool);
            const m = this.members.get(id);
            if (!m) continue;
            m.observeBfd(states);
            m.noteHolds(ctx, id);
            if (!m.selfReady) void m.maybeBecomeReady(ctx, id).then(() => m.selfReady && ctx.trigger('pool ready'));
            const up = m.eligible();
            const prev = ctx.status.get(id)?.membersUp as string[] | undefined;
            if (prev && prev.join(',') === up.join(',')) continue;
            const gone = (prev ?? []).filter((x) => !up.includes(x));
            const back = up.filter((x) => prev && !prev.includes(x));
            ctx.log.info({ resource: id, action: 'pool-members', membersUp: up, down: gone, up: back }, `${id}: members eligible ${up.join(', ')}`);
            // A status change makes the manager run a pass.
            ctx.status.set(id, { ...(ctx.status.get(id) ?? { phase: Phase.Pending, reason: Reason.Planned, message: '' }), membersUp: up });
          }
        })
        .finally(() => {
          busy = false;
        });
    }, WATCH_MS);
    this.watcher.unref();
  }

  async stop(opts: { keepEngines: boolean }): Promise<void> {
    if (this.watcher) clearInterval(this.watcher);
    this.watcher = undefined;
    for (const m of this.members.values()) m.stop();
    this.members.clear();
    await this.keepalived?.stop(opts.keepEngines);
    this.keepalived = undefined;
    await this.engine?.stop(opts.keepEngines);
    this.engine = undefined;
    this.applied = undefined;
  }
}
