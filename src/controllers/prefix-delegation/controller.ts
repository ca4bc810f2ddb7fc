// DHCPv6PrefixDelegation → dhcpcd on the WAN link, only while this router is
// master of the VirtualAddress owning that link. Its state (DUID, lease) lives
// in prefixDelegationStateDir(name) — dhcpcd sees it as /var/lib/dhcpcd through
// a private bind mount (engines/dhcpcd/engine.ts) — so the lease sync copies
// exactly what dhcpcd wrote, and a promoted standby's dhcpcd starts from the
// synced DUID and lease and rebinds the same prefix (explicit IAID: iaidOf()).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { resourceId, type ResourceOf } from '../../api/kinds.ts';
import { DhcpcdEngine, lease6Path, type DhcpcdFiles } from '../../engines/dhcpcd/engine.ts';
import { iaidOf } from '../../engines/dhcpcd/render.ts';
import { parseDuidFile, parseLease6 } from '../../engines/dhcpcd/state.ts';
import type { ControllerContext } from '../controller.ts';
import { RoleFollowingController, type FollowerPlan } from '../role-following.ts';
import { Phase, Reason, type ResourceStatus } from '../status.ts';
import { engineDown, onEngineExit } from '../common.ts';

type PdResource = ResourceOf<'DHCPv6PrefixDelegation'>;

export interface PdLeaseView {
  readonly duid?: string;
  readonly prefix?: string;
  readonly prefixLength?: number;
  readonly preferredLifetime?: number;
  readonly validLifetime?: number;
  readonly t1?: number;
  readonly t2?: number;
  readonly acquiredAt?: string;
  readonly validUntil?: string;
  readonly serverDuid?: string;
  readonly error?: string;
}

/** What the state dir says: the DUID and the delegated prefix with its lifetimes (from dhcpcd's lease6 and its mtime). */
export async function readPdLease(stateDir: string, ifname: string): Promise<PdLeaseView> {
  const duidText = await readFile(join(stateDir, 'duid'), 'latin1').catch(() => undefined);
  const duid = duidText === undefined ? undefined : parseDuidFile(duidText);
  const path = lease6Path({ stateDir, ifname });
  const [data, st] = await Promise.all([readFile(path).catch(() => undefined), stat(path).catch(() => undefined)]);
  const base = duid ? { duid } : {};
  if (!data || !st) return base;
  const l = parseLease6(`${ifname}.lease6`, data);
  if (!l.ok) return { ...base, error: l.error };
  const p = l.lease.prefixes[0];
  if (!p) return { ...base, ...(l.lease.serverDuid ? { serverDuid: l.lease.serverDuid } : {}), error: 'the lease holds no delegated prefix' };
  return {
    ...base,
    prefix: `${p.prefix}/${p.prefixLength}`,
    prefixLength: p.prefixLength,
    preferredLifetime: p.preferredLifetime,
    validLifetime: p.validLifetime,
    t1: p.t1,
    t2: p.t2,
    acquiredAt: new Date(st.mtimeMs).toISOString(),
    validUntil: new Date(st.mtimeMs + p.validLifetime * 1000).toISOString(),
    ...(l.lease.serverDuid ? { serverDuid: l.lease.serverDuid } : {}),
  };
}

type Plan = FollowerPlan<DhcpcdFiles>;

export class PrefixDelegationController extends RoleFollowingController<'DHCPv6PrefixDelegation', DhcpcdFiles, DhcpcdEngine> {
  constructor() {
    super('DHCPv6PrefixDelegation', 'dhcpv6-prefix-delegation', 'dhcpcd');
  }

  protected newEngine(ctx: ControllerContext, r: PdResource, files: DhcpcdFiles): DhcpcdEngine {
    return new DhcpcdEngine(ctx.host, files, onEngineExit(ctx, 'dhcpcd', resourceId(r)));
  }

  private common(r: PdResource, p: Plan, ctx: ControllerContext) {
    return { observedGeneration: ctx.generation(resourceId(r)), interface: p.ifname, iaid: iaidOf(r), stateDir: p.files.stateDir };
  }

  protected async standby(r: PdResource, p: Plan, planned: ResourceStatus | undefined, ctx: ControllerContext): Promise<ResourceStatus> {
    const lease = await readPdLease(p.files.stateDir, p.ifname);
    const held = lease.prefix ? `holds the synced lease for ${lease.prefix} (DUID ${lease.duid ?? '?'}) for promotion` : lease.duid ? `holds the synced DUID ${lease.duid}, no lease` : 'no synced state yet';
    return {
      ...(planned ?? { phase: Phase.Pending, reason: Reason.WhenFalse, message: 'dhcpcd does not run here' }),
      message: `${planned?.message ?? 'dhcpcd does not run here'}; ${held}`,
      ...this.common(r, p, ctx),
      process: 'stopped',
      ...(lease.prefix ? { syncedPrefix: lease.prefix, syncedValidUntil: lease.validUntil } : {}),
      ...(lease.duid ? { duid: lease.duid } : {}),
    };
  }

  protected async startingFrom(r: PdResource, p: Plan) {
    const before = await readPdLease(p.files.stateDir, p.ifname);
    return {
      fields: { duid: before.duid, prefix: before.prefix, iaid: iaidOf(r) },
      text: `on ${p.ifname}${before.prefix ? `, rebinding ${before.prefix} with DUID ${before.duid}` : ''}`,
    };
  }

  protected async serving(r: PdResource, p: Plan, engine: DhcpcdEngine, ctx: ControllerContext): Promise<ResourceStatus> {
    const lease = await readPdLease(p.files.stateDir, p.ifname);
    const st = engine.state();
    const common = this.common(r, p, ctx);
    const leaseFields = {
      ...(lease.duid ? { duid: lease.duid } : {}),
      ...(lease.prefix
        ? {
            prefix: lease.prefix,
            preferredLifetime: lease.preferredLifetime,
            validLifetime: lease.validLifetime,
            t1: lease.t1,
            t2: lease.t2,
            acquiredAt: lease.acquiredAt,
            validUntil: lease.validUntil,
            serverDuid: lease.serverDuid,
          }
        : {}),
      ...(lease.error ? { warnings: [lease.error] } : {}),
    };
    if (st.state !== 'running') {
      const down = engineDown('dhcpcd', engine);
      return { ...down, ...common, ...leaseFields, process: down.process };
    }
    const process = `running (pid ${st.pid}${st.adopted ? ', adopted' : ''}${engine.restarts ? `, restarted ${engine.restarts}x` : ''})`;
    const expired = lease.validUntil !== undefined && Date.parse(lease.validUntil) < Date.now();
    if (!lease.prefix || expired)
      return { phase: Phase.Pending, reason: Reason.PrefixPending, message: `dhcpcd on ${p.ifname} is soliciting a prefix${expired ? ' (the last lease expired)' : ''}`, ...common, ...leaseFields, process };
    return {
      phase: Phase.Ready,
      reason: Reason.Applied,
      message: `delegated ${lease.prefix}, valid until ${lease.validUntil}`,
      ...common,
      ...leaseFields,
      process,
      pid: st.pid,
    };
  }
}
