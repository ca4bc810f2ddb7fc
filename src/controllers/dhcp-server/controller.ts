// DHCPv4Server / DHCPv6Server → one supervised dnsmasq each, running only while
// this router is master of the VirtualAddress that owns the link (role.ts).
// Promotion: the role turns master → the status store triggers a pass → this
// controller starts dnsmasq on the lease file the old master last synced here
// (rsync renames it into place, so it is whole). Demotion: dnsmasq is stopped,
// and the new master's pushes replace the file. A dnsmasq must never run on a
// file that is replaced under it: it reads the file only at start and would
// later overwrite the synced copy with its stale view.
import { resourceId, type ResourceOf } from '../../api/kinds.ts';
import { activeLeaseCount, parseDnsmasqLeases } from '../../engines/dnsmasq/leases.ts';
import { DnsmasqEngine, type DnsmasqFilesOnHost } from '../../engines/dnsmasq/engine.ts';
import type { ControllerContext } from '../controller.ts';
import { RoleFollowingController, type FollowerPlan } from '../role-following.ts';
import { Phase, Reason, type ResourceStatus } from '../status.ts';
import { engineDown, onEngineExit } from '../common.ts';

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

type Plan = FollowerPlan<DnsmasqFilesOnHost>;

export class DhcpServerController<K extends ServerKind> extends RoleFollowingController<K, DnsmasqFilesOnHost, DnsmasqEngine> {
  protected override readonly stopsOrphans = true;

  constructor(
    kind: K,
    controllerName: string,
    private readonly makeEngine?: (ctx: ControllerContext, r: ServerResource, files: DnsmasqFilesOnHost) => DnsmasqEngine,
  ) {
    super(kind, controllerName, 'dnsmasq');
  }

  protected newEngine(ctx: ControllerContext, r: ResourceOf<K>, files: DnsmasqFilesOnHost): DnsmasqEngine {
    const server = r as ServerResource;
    return this.makeEngine ? this.makeEngine(ctx, server, files) : new DnsmasqEngine(ctx.host, files, onEngineExit(ctx, 'dnsmasq', resourceId(server)));
  }

  protected override async whileRoleUnknown(r: ResourceOf<K>, p: Plan, engine: DnsmasqEngine, ctx: ControllerContext): Promise<ResourceStatus | undefined> {
    // The role is not known yet (routerd just restarted, keepalived has not
    // reported): a dnsmasq an earlier routerd left running is adopted and left
    // alone, as keepalived is; it is stopped only once the role says backup.
    if (!(await engine.adopt())) return undefined;
    const server = r as ServerResource;
    const id = resourceId(server);
    const st = engine.state();
    const message = `role of the VIP not known yet; dnsmasq left running (adopted${st.state === 'running' ? `, pid ${st.pid}` : ''}) until it is`;
    ctx.log.info({ resource: id, action: 'dnsmasq-adopt', outcome: 'adopted', why: 'role unknown' }, `${id}: ${message}`);
    return {
      phase: Phase.Pending,
      reason: Reason.WhenFalse,
      message,
      observedGeneration: ctx.generation(id),
      interface: p.ifname,
      leaseFile: p.files.leaseFile,
      process: `running${st.state === 'running' ? ` (pid ${st.pid}, adopted)` : ''}`,
    };
  }

  protected async standby(r: ResourceOf<K>, p: Plan, planned: ResourceStatus | undefined, ctx: ControllerContext): Promise<ResourceStatus> {
    const id = resourceId(r as ServerResource);
    const leases = await summarizeLeaseFile(ctx, p.files.leaseFile);
    ctx.metrics.dhcpLeases.set({ resource: id }, leases.leaseCount ?? 0);
    const held = leases.leaseCount === null ? 'no lease file yet' : `holds ${leases.leaseCount} synced lease(s) for promotion`;
    return {
      ...(planned ?? { phase: Phase.Pending, reason: Reason.WhenFalse, message: 'dnsmasq does not run here' }),
      message: `${planned?.message ?? 'dnsmasq does not run here'}; ${held}`,
      observedGeneration: ctx.generation(id),
      interface: p.ifname,
      leaseFile: p.files.leaseFile,
      leaseCount: leases.leaseCount,
      ...(leases.serverDuid ? { serverDuid: leases.serverDuid } : {}),
      process: 'stopped',
    };
  }

  protected async startingFrom(_r: ResourceOf<K>, p: Plan, ctx: ControllerContext) {
    const before = await summarizeLeaseFile(ctx, p.files.leaseFile);
    const from = before.leaseCount === null ? 'no lease file (fresh start)' : `${before.leaseCount} lease(s) in ${p.files.leaseFile}`;
    return { fields: { leases: before.leaseCount, serverDuid: before.serverDuid }, text: `on ${p.ifname}, starting from ${from}` };
  }

  protected async serving(r: ResourceOf<K>, p: Plan, engine: DnsmasqEngine, ctx: ControllerContext): Promise<ResourceStatus> {
    const server = r as ServerResource;
    const id = resourceId(server);
    const dev = p.ifname;
    const leases = await summarizeLeaseFile(ctx, p.files.leaseFile);
    ctx.metrics.dhcpLeases.set({ resource: id }, leases.leaseCount ?? 0);
    const st = engine.state();
    const common = {
      observedGeneration: ctx.generation(id),
      interface: dev,
      leaseFile: p.files.leaseFile,
      leaseCount: leases.leaseCount,
      ...(leases.serverDuid ? { serverDuid: leases.serverDuid } : {}),
      ...(leases.error ? { warnings: [`lease file: ${leases.error}`] } : {}),
    };
    if (st.state !== 'running') {
      const down = engineDown('dnsmasq', engine);
      return { ...down, ...common, process: down.process };
    }
    const pool = server.spec.addressPool ? `${server.spec.addressPool.start}-${server.spec.addressPool.end}` : 'stateless';
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
}
