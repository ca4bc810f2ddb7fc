// DHCPv4Server / DHCPv6Server → one supervised dnsmasq each, running only while
// this router is master of the VirtualAddress that owns the link (role.ts).
// Promotion: the role turns master → the status store triggers a pass → this
// controller starts dnsmasq on the lease file the old master last synced here
// (rsync renames it into place, so it is whole). Demotion: dnsmasq is stopped,
// and the new master's pushes replace the file. A dnsmasq must never run on a
// file that is replaced under it: it reads the file only at start and would
// later overwrite the synced copy with its stale view.
import { resourceId, type AnyResource, type ResourceOf } from '../../api/kinds.ts';
import { activeLeaseCount, parseDnsmasqLeases } from '../../engines/dnsmasq/leases.ts';
import { DnsmasqEngine } from '../../engines/dnsmasq/engine.ts';
import type { Controller, ControllerContext, ReconcileInput } from '../controller.ts';
import { followRole } from '../role.ts';
import { Phase, Reason, type ResourceStatus } from '../status.ts';
import { engineDown, onEngineExit } from '../common.ts';
import { dnsmasqConfFor } from './plan.ts';

type ServerKind = 'DHCPv4Server' | 'DHCPv6Server';
type ServerResource = ResourceOf<'DHCPv4Server'> | ResourceOf<'DHCPv6Server'>;

export interface LeaseFileSummary {
  readonly leaseCount: number | null;
  readonly serverDuid?: string;
  readonly error?: string;
}

// The last parse of each lease file: a pass that finds the same text (the
// common case: every reconcile pass reads it for status and metrics) only
// recounts the active leases instead of parsing 10k lines again.
const lastParse = new Map<string, { text: string; parsed: ReturnType<typeof parseDnsmasqLeases> }>();

export async function summarizeLeaseFile(ctx: Pick<ControllerContext, 'host'>, path: string): Promise<LeaseFileSummary> {
  const text = await ctx.host.readFile(path).catch(() => undefined);
  if (text === undefined) {
    lastParse.delete(path);
    return { leaseCount: null };
  }
  let cached = lastParse.get(path);
  if (cached?.text !== text) lastParse.set(path, (cached = { text, parsed: parseDnsmasqLeases(text) }));
  const p = cached.parsed;
  if (!p.ok) return { leaseCount: null, error: p.error };
  return { leaseCount: activeLeaseCount(p.leases), ...(p.leases.serverDuid ? { serverDuid: p.leases.serverDuid } : {}) };
}

export class DhcpServerController implements Controller {
  readonly name: string;
  readonly kinds: readonly ServerKind[];
  private readonly engines = new Map<string, DnsmasqEngine>();

  constructor(
    readonly kind: ServerKind,
    controllerName: string,
    private readonly makeEngine?: (ctx: ControllerContext, r: ServerResource, files: DnsmasqEngine['files']) => DnsmasqEngine,
  ) {
    this.name = controllerName;
    this.kinds = [kind];
  }

  async reconcile(input: ReconcileInput, ctx: ControllerContext): Promise<void> {
    const servers = input.resources.filter((r): r is ServerResource & AnyResource => r.kind === this.kind);
    const names = new Set(servers.map((r) => r.metadata.name));
    for (const [name, engine] of [...this.engines]) {
      if (names.has(name)) continue;
      ctx.log.info({ resource: `${this.kind}/${name}`, action: 'dnsmasq-stop', why: 'resource removed' }, 'stopping dnsmasq');
      await engine.stop(false);
      this.engines.delete(name);
    }
    const plans = new Map(input.plans.map((p) => [p.resource, p]));
    for (const r of servers) {
      const id = resourceId(r);
      try {
        ctx.status.set(id, await this.reconcileOne(r, plans.get(id)?.status, plans.get(id)?.actions.some((a) => a.verb === 'run') ?? false, input, ctx));
      } catch (e) {
        const message = (e as Error).message;
        ctx.log.error({ resource: id, action: 'dnsmasq-apply', outcome: 'error', err: message }, `${id}: ${message}`);
        ctx.status.set(id, { phase: Phase.Failed, reason: Reason.ApplyFailed, message, observedGeneration: ctx.generation(id) });
      }
    }
  }

  private engineFor(r: ServerResource, ctx: ControllerContext, files: DnsmasqEngine['files']): DnsmasqEngine {
    let e = this.engines.get(r.metadata.name);
    if (e && e.files.conf === files.conf && e.files.leaseFile === files.leaseFile) return e;
    const id = resourceId(r);
    e = this.makeEngine
      ? this.makeEngine(ctx, r, files)
      : new DnsmasqEngine(ctx.host, files, onEngineExit(ctx, 'dnsmasq', id));
    this.engines.set(r.metadata.name, e);
    return e;
  }

  private async reconcileOne(r: ServerResource, planned: ResourceStatus | undefined, shouldRun: boolean, input: ReconcileInput, ctx: ControllerContext): Promise<ResourceStatus> {
    const id = resourceId(r);
    const gen = ctx.generation(id);
    const { conf, paths } = dnsmasqConfFor(r, input.planCtx);
    const files = { ...paths, logFile: paths.conf.replace(/\.conf$/, '.log') };
    const engine = this.engineFor(r, ctx, files);
    const configChanged = await engine.writeConfig(conf);
    const dev = input.planCtx.ifname(r.spec.interface);
    const decision = shouldRun ? undefined : followRole(input.planCtx.resources, dev, input.planCtx.ifname, input.planCtx.status);
    if (decision && !decision.run && decision.role === 'unknown' && (await engine.adopt())) {
      // The role is not known yet (routerd just restarted, keepalived has not
      // reported): a dnsmasq an earlier routerd left running is adopted and left
      // alone, as keepalived is; it is stopped only once the role says backup.
      const st = engine.state();
      const message = `role of the VIP not known yet; dnsmasq left running (adopted${st.state === 'running' ? `, pid ${st.pid}` : ''}) until it is`;
      ctx.log.info({ resource: id, action: 'dnsmasq-adopt', outcome: 'adopted', why: 'role unknown' }, `${id}: ${message}`);
      return { phase: Phase.Pending, reason: Reason.WhenFalse, message, observedGeneration: gen, interface: dev, leaseFile: files.leaseFile, process: `running${st.state === 'running' ? ` (pid ${st.pid}, adopted)` : ''}` };
    }
    if (!shouldRun) {
      // Also stops a dnsmasq an earlier routerd left running (found by its pid file).
      if (engine.state().state === 'running' || (await engine.adopt())) ctx.log.info({ resource: id, action: 'dnsmasq-stop', why: planned?.message }, `${id}: stopping dnsmasq (not master)`);
      await engine.stop(false);
      const leases = await summarizeLeaseFile(ctx, files.leaseFile);
      ctx.metrics.dhcpLeases.set({ resource: id }, leases.leaseCount ?? 0);
      const held = leases.leaseCount === null ? 'no lease file yet' : `holds ${leases.leaseCount} synced lease(s) for promotion`;
      return {
        ...(planned ?? { phase: Phase.Pending, reason: Reason.WhenFalse, message: 'dnsmasq does not run here' }),
        message: `${planned?.message ?? 'dnsmasq does not run here'}; ${held}`,
        observedGeneration: gen,
        interface: dev,
        leaseFile: files.leaseFile,
        leaseCount: leases.leaseCount,
        ...(leases.serverDuid ? { serverDuid: leases.serverDuid } : {}),
        process: 'stopped',
      };
    }
    const before = engine.state().state === 'running' ? undefined : await summarizeLeaseFile(ctx, files.leaseFile);
    const outcome = await engine.run(configChanged);
    if (outcome === 'started' || outcome === 'restarted' || outcome === 'adopted') {
      const from = before ? (before.leaseCount === null ? 'no lease file (fresh start)' : `${before.leaseCount} lease(s) in ${files.leaseFile}`) : 'its own lease file';
      ctx.log.info(
        { resource: id, action: `dnsmasq-${outcome === 'adopted' ? 'adopt' : 'start'}`, outcome, leases: before?.leaseCount, serverDuid: before?.serverDuid, configChanged },
        `${id}: dnsmasq ${outcome} on ${dev}, starting from ${from}`,
      );
    }
    if (outcome === 'backoff' || outcome === 'failed') setTimeout(() => ctx.trigger(`dnsmasq ${id} retry`), engine.retryInMs() + 10).unref();
    const leases = await summarizeLeaseFile(ctx, files.leaseFile);
    ctx.metrics.dhcpLeases.set({ resource: id }, leases.leaseCount ?? 0);
    const st = engine.state();
    const common = {
      observedGeneration: gen,
      interface: dev,
      leaseFile: files.leaseFile,
      leaseCount: leases.leaseCount,
      ...(leases.serverDuid ? { serverDuid: leases.serverDuid } : {}),
      ...(leases.error ? { warnings: [`lease file: ${leases.error}`] } : {}),
    };
    if (st.state !== 'running') {
      const down = engineDown('dnsmasq', engine);
      return { ...down, ...common, process: down.process };
    }
    const pool = r.spec.addressPool ? `${r.spec.addressPool.start}-${r.spec.addressPool.end}` : 'stateless';
    return {
      phase: Phase.Ready,
      reason: Reason.Applied,
      message: `dnsmasq serving ${pool} on ${dev}; ${leases.leaseCount ?? 0} active lease(s)`,
      ...common,
      process: `running (pid ${st.pid}${st.adopted ? ', adopted' : ''}${engine.restarts ? `, restarted ${engine.restarts}x` : ''})`,
      pid: st.pid,
      since: st.since,
    };
  }

  async stop(opts: { keepEngines: boolean }): Promise<void> {
    for (const e of this.engines.values()) await e.stop(opts.keepEngines);
    this.engines.clear();
  }
}
