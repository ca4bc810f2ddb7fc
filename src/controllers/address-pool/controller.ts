// BGPRouter, BGPPeer, BFD and NAT44AddressPool → one FRR instance per node.
// A watcher polls bfdd for the member-to-member sessions; a member whose
// session went down (or never came up within the grace period) leaves the up
// set, which the status store turns into a pass: every member recomputes the
// same assignment, the successor puts the /32 on its interface and turns its
// standby `network` into an owned one.
import { resourceId, type AnyResource, type ResourceOf } from '../../api/kinds.ts';
import { FrrEngine, type BfdPeerState } from '../../engines/frr/engine.ts';
import { networkLines } from '../../engines/frr/render.ts';
import { ipAddrAddArgv, ipAddrDelArgv } from '../../kernel/ip.ts';
import type { Controller, ControllerContext, ReconcileInput } from '../controller.ts';
import { Phase, Reason } from '../status.ts';
import { poolShare, renderNodeFrr } from './plan.ts';

const WATCH_MS = 200;
/** A member never seen up counts as up this long after start, so a booting node claims nobody's addresses. */
const STARTUP_GRACE_MS = 8000;

type Pool = ResourceOf<'NAT44AddressPool'> & AnyResource;

export class BgpController implements Controller {
  readonly name = 'bgp';
  readonly kinds = ['BGPRouter', 'BGPPeer', 'BFD', 'NAT44AddressPool'] as const;
  private engine: FrrEngine | undefined;
  private applied: string[] | undefined;
  private watcher: NodeJS.Timeout | undefined;
  private startedAt = Date.now();
  private readonly everUp = new Set<string>();
  private pools: Pool[] = [];
  private owned = new Map<string, Set<string>>();
  private since = new Map<string, string>();
  private ctx: ControllerContext | undefined;

  async reconcile(input: ReconcileInput, ctx: ControllerContext): Promise<void> {
    this.ctx = ctx;
    this.pools = input.resources.filter((r): r is Pool => r.kind === 'NAT44AddressPool');
    const routers = input.resources.filter((r) => r.kind === 'BGPRouter');
    if (routers.length === 0) {
      await this.stop({ keepEngines: false });
      return;
    }
    const frr = renderNodeFrr(input.all, input.planCtx);
    if (frr.text === undefined || frr.input === undefined) {
      for (const r of input.resources) ctx.status.set(resourceId(r), { phase: Phase.Failed, reason: 'ConfigInvalid', message: frr.error ?? 'no frr.conf', observedGeneration: ctx.generation(resourceId(r)) });
      return;
    }
    this.engine ??= new FrrEngine(ctx.host, `${ctx.paths.runDir}/frr`, (d, info) => {
      ctx.metrics.engineRestarts.inc({ engine: d });
      ctx.log.warn({ action: 'frr-exit', daemon: d, code: info.code, signal: info.signal, restarts: info.restarts }, `${d} exited; restarting`);
      this.applied = undefined;
      ctx.trigger(`${d} exited`);
    });
    await ctx.host.mkdirp(`${ctx.paths.runDir}/frr`);

    // Addresses first: an owned /32 is on the interface before it is announced.
    for (const pool of this.pools) await this.applyAddresses(pool, input, ctx);

    const networks = networkLines(frr.input);
    let outcome: string;
    let message: string;
    try {
      const t0 = performance.now();
      outcome = await this.engine.apply(frr.text, frr.input.asn, networks, this.applied);
      if (outcome === 'starting') setTimeout(() => ctx.trigger('frr retry'), 1000).unref();
      else this.applied = networks;
      if (outcome !== 'unchanged')
        ctx.log.info({ action: 'frr-apply', outcome, durationMs: Math.round(performance.now() - t0), owned: frr.input.owned, standby: frr.input.standby }, `frr ${outcome}`);
      message = `zebra, bfdd, bgpd ${this.engine.running ? 'running' : 'starting'}`;
    } catch (e) {
      outcome = 'failed';
      message = (e as Error).message;
      this.applied = undefined;
      setTimeout(() => ctx.trigger('frr retry'), 2000).unref();
      ctx.log.error({ action: 'frr-apply', outcome, err: message }, 'frr apply failed');
    }
    this.startWatcher();
    await this.report(input, ctx, outcome, message);
  }

  private async applyAddresses(pool: Pool, input: ReconcileInput, ctx: ControllerContext): Promise<void> {
    const id = resourceId(pool);
    const share = poolShare(pool, input.planCtx);
    const dev = input.planCtx.ifname(pool.spec.interface);
    const iface = input.observed.interfaces?.find((i) => i.name === dev);
    const have = new Set((iface?.addresses ?? []).filter((a) => a.family === 4 && a.prefixLength === 32).map((a) => a.address));
    const before = this.owned.get(id) ?? new Set<string>();
    for (const a of share.owned)
      if (!have.has(a)) {
        const r = await ctx.host.run(ipAddrAddArgv({ dev, address: a, prefixlen: 32, replace: true }), { timeoutMs: 5000 });
        if (r.code !== 0) throw new Error(`adding ${a}/32 on ${dev}: ${r.stderr.trim()}`);
      }
    for (const a of pool.spec.addresses)
      if (!share.owned.includes(a) && have.has(a)) await ctx.host.run(ipAddrDelArgv({ dev, address: a, prefixlen: 32 }), { timeoutMs: 5000 });
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
      const plan = input.plans.find((p) => p.resource === id);
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
          reason: p?.state === 'Established' ? 'Established' : 'NotEstablished',
          message: `session with ${r.spec.address}: ${p?.state ?? 'unknown'}`,
          state: p?.state ?? 'unknown',
          ...(r.spec.bfd ? { bfd: b?.status ?? 'unknown' } : {}),
          ...(p?.prefixesSent !== undefined ? { prefixesSent: p.prefixesSent } : {}),
          observedGeneration: gen,
        });
      } else if (r.kind === 'BFD') {
        const sessions = (bfd ?? []).length;
        ctx.status.set(id, { phase: Phase.Ready, reason: Reason.Applied, message: `${sessions} BFD session(s) on this node`, sessions, up: (bfd ?? []).filter((x) => x.status === 'up').length, observedGeneration: gen });
      } else if (r.kind === 'NAT44AddressPool' && plan) {
        const st = plan.status;
        ctx.status.set(id, {
          ...st,
          phase: failed ? Phase.Failed : Phase.Ready,
          reason: failed ? Reason.ApplyFailed : Reason.Applied,
          message: `owns ${(st.owned as string[]).join(', ') || 'nothing'}; stands by for ${(st.standby as string[]).join(', ') || 'nothing'}; members up ${(st.membersUp as string[]).join(', ')}`,
          since: this.since.get(id),
          observedGeneration: gen,
        });
      }
    }
  }

  /** Members up per pool, from bfdd: a member is down once its session went down, or never came up past the grace period. */
  membersUp(pool: Pool, bfd: readonly BfdPeerState[], nodeName: string, now = Date.now()): string[] {
    return pool.spec.members
      .filter((m) => {
        if (m.node === nodeName || pool.spec.liveness === undefined) return true;
        const s = bfd.find((b) => b.peer === m.address);
        if (s?.status === 'up') {
          this.everUp.add(m.address);
          return true;
        }
        return !this.everUp.has(m.address) && now - this.startedAt < STARTUP_GRACE_MS;
      })
      .map((m) => m.node);
  }

  private startWatcher(): void {
    if (this.watcher) return;
    this.startedAt = Date.now();
    let busy = false;
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
          // About once a second: BGP session states, so status follows them between passes.
          if (++tick % 5 === 0) {
            const now = JSON.stringify((await engine.bgpPeers())?.map((p) => [p.address, p.state]) ?? null);
            if (now !== sessions) {
              if (sessions !== '') ctx.log.info({ action: 'bgp-sessions', sessions: now }, 'BGP session states changed');
              sessions = now;
              ctx.trigger('bgp session state');
            }
          }
          if (!bfd) return;
          for (const pool of this.pools) {
            const id = resourceId(pool);
            const up = this.membersUp(pool, bfd, ctx.nodeName);
            const prev = ctx.status.get(id)?.membersUp as string[] | undefined;
            if (prev && prev.join(',') === up.join(',')) continue;
            const gone = (prev ?? []).filter((m) => !up.includes(m));
            const back = up.filter((m) => prev && !prev.includes(m));
            ctx.log.info({ resource: id, action: 'pool-members', membersUp: up, down: gone, up: back }, `${id}: members up ${up.join(', ')}`);
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
    await this.engine?.stop(opts.keepEngines);
    this.engine = undefined;
    this.applied = undefined;
  }
}
