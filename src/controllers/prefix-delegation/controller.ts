// DHCPv6PrefixDelegation → dhcpcd on the WAN link, only while this router is
// master of the VirtualAddress owning that link. Its state (DUID, lease) lives
// in prefixDelegationStateDir(name) — dhcpcd sees it as /var/lib/dhcpcd through
// a private bind mount (engines/dhcpcd/engine.ts) — so the lease sync copies
// exactly what dhcpcd wrote, and a promoted standby's dhcpcd starts from the
// synced DUID and lease and rebinds the same prefix (explicit IAID: iaidOf()).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { resourceId, type AnyResource, type ResourceOf } from '../../api/kinds.ts';
import { prefixDelegationStateDir } from '../../config/paths.ts';
import { DhcpcdEngine, lease6Path, type DhcpcdFiles } from '../../engines/dhcpcd/engine.ts';
import { iaidOf, renderDhcpcdConf } from '../../engines/dhcpcd/render.ts';
import { parseDuidFile, parseLease6 } from '../../engines/dhcpcd/state.ts';
import type { Controller, ControllerContext, ReconcileInput } from '../controller.ts';
import { Phase, Reason, type ResourceStatus } from '../status.ts';
import { engineDown, onEngineExit } from '../common.ts';
import { dhcpcdConfPath } from './plan.ts';

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

export class PrefixDelegationController implements Controller {
  readonly name = 'dhcpv6-prefix-delegation';
  readonly kinds = ['DHCPv6PrefixDelegation'] as const;
  private readonly engines = new Map<string, DhcpcdEngine>();

  async reconcile(input: ReconcileInput, ctx: ControllerContext): Promise<void> {
    const pds = input.resources.filter((r): r is PdResource & AnyResource => r.kind === 'DHCPv6PrefixDelegation');
    const names = new Set(pds.map((r) => r.metadata.name));
    for (const [name, engine] of [...this.engines]) {
      if (names.has(name)) continue;
      ctx.log.info({ resource: `DHCPv6PrefixDelegation/${name}`, action: 'dhcpcd-stop', why: 'resource removed' }, 'stopping dhcpcd');
      await engine.stop(false);
      this.engines.delete(name);
    }
    const plans = new Map(input.plans.map((p) => [p.resource, p]));
    for (const r of pds) {
      const id = resourceId(r);
      const plan = plans.get(id);
      try {
        ctx.status.set(id, await this.reconcileOne(r, plan?.status, plan?.actions.some((a) => a.verb === 'run') ?? false, input, ctx));
      } catch (e) {
        const message = (e as Error).message;
        ctx.log.error({ resource: id, action: 'dhcpcd-apply', outcome: 'error', err: message }, `${id}: ${message}`);
        ctx.status.set(id, { phase: Phase.Failed, reason: Reason.ApplyFailed, message, observedGeneration: ctx.generation(id) });
      }
    }
  }

  private engineFor(r: PdResource, ctx: ControllerContext, files: DhcpcdFiles): DhcpcdEngine {
    const existing = this.engines.get(r.metadata.name);
    if (existing && JSON.stringify(existing.files) === JSON.stringify(files)) return existing;
    const id = resourceId(r);
    const e = new DhcpcdEngine(ctx.host, files, onEngineExit(ctx, 'dhcpcd', id));
    this.engines.set(r.metadata.name, e);
    return e;
  }

  private async reconcileOne(r: PdResource, planned: ResourceStatus | undefined, shouldRun: boolean, input: ReconcileInput, ctx: ControllerContext): Promise<ResourceStatus> {
    const id = resourceId(r);
    const gen = ctx.generation(id);
    const ifname = input.planCtx.ifname(r.spec.interface);
    const runDir = join(ctx.paths.runDir, 'dhcpcd', r.metadata.name);
    const files: DhcpcdFiles = {
      conf: dhcpcdConfPath(ctx.paths.runDir, r.metadata.name),
      stateDir: prefixDelegationStateDir(ctx.paths, r.metadata.name),
      runDir,
      logFile: join(ctx.paths.runDir, 'dhcpcd', `${r.metadata.name}.log`),
      ifname,
    };
    const engine = this.engineFor(r, ctx, files);
    const configChanged = await engine.writeConfig(renderDhcpcdConf(r, ifname));
    const common = { observedGeneration: gen, interface: ifname, iaid: iaidOf(r), stateDir: files.stateDir };
    if (!shouldRun) {
      if (engine.state().state === 'running') ctx.log.info({ resource: id, action: 'dhcpcd-stop', why: planned?.message }, `${id}: stopping dhcpcd (not master); no Release is sent`);
      await engine.stop(false);
      const lease = await readPdLease(files.stateDir, ifname);
      const held = lease.prefix ? `holds the synced lease for ${lease.prefix} (DUID ${lease.duid ?? '?'}) for promotion` : lease.duid ? `holds the synced DUID ${lease.duid}, no lease` : 'no synced state yet';
      return {
        ...(planned ?? { phase: Phase.Pending, reason: Reason.WhenFalse, message: 'dhcpcd does not run here' }),
        message: `${planned?.message ?? 'dhcpcd does not run here'}; ${held}`,
        ...common,
        process: 'stopped',
        ...(lease.prefix ? { syncedPrefix: lease.prefix, syncedValidUntil: lease.validUntil } : {}),
        ...(lease.duid ? { duid: lease.duid } : {}),
      };
    }
    const before = engine.state().state === 'running' ? undefined : await readPdLease(files.stateDir, ifname);
    const outcome = await engine.run(configChanged);
    if (outcome === 'started' || outcome === 'restarted' || outcome === 'adopted')
      ctx.log.info(
        { resource: id, action: `dhcpcd-${outcome === 'adopted' ? 'adopt' : 'start'}`, outcome, duid: before?.duid, prefix: before?.prefix, iaid: iaidOf(r) },
        `${id}: dhcpcd ${outcome} on ${ifname}${before?.prefix ? `, rebinding ${before.prefix} with DUID ${before.duid}` : ''}`,
      );
    if (outcome === 'backoff' || outcome === 'failed') setTimeout(() => ctx.trigger(`dhcpcd ${id} retry`), engine.retryInMs() + 10).unref();
    const lease = await readPdLease(files.stateDir, ifname);
    const st = engine.state();
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
      return { phase: Phase.Pending, reason: 'PrefixPending', message: `dhcpcd on ${ifname} is soliciting a prefix${expired ? ' (the last lease expired)' : ''}`, ...common, ...leaseFields, process };
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

  async stop(opts: { keepEngines: boolean }): Promise<void> {
    for (const e of this.engines.values()) await e.stop(opts.keepEngines);
    this.engines.clear();
  }
}
