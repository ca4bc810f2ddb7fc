import { resourceId, type ResourceOf } from '../../api/kinds.ts';
import { dnsmasqPaths } from '../../api/paths.ts';
import { renderDhcpv4Conf, renderDhcpv6Conf } from '../../engines/dnsmasq/render.ts';
import { action, fileVerb, status } from '../common.ts';
import { followRole } from '../role.ts';
import type { FollowerPayload, FollowerPlan } from '../role-following.ts';
import type { DnsmasqFilesOnHost } from '../../engines/dnsmasq/engine.ts';
import { Phase, Reason } from '../status.ts';
import type { Observed, PlanContext, Planner, ResourcePlan } from '../types.ts';

type ServerResource = ResourceOf<'DHCPv4Server'> | ResourceOf<'DHCPv6Server'>;

export function dnsmasqConfFor(r: ServerResource, ctx: PlanContext): { conf: string; paths: ReturnType<typeof dnsmasqPaths> } {
  const paths = dnsmasqPaths(ctx.paths, r.kind, r.metadata.name);
  const dev = ctx.ifname(r.spec.interface);
  const conf = r.kind === 'DHCPv4Server' ? renderDhcpv4Conf(r, dev, paths) : renderDhcpv6Conf(r, dev, paths);
  return { conf, paths };
}

export type DnsmasqPayload = FollowerPayload<DnsmasqFilesOnHost>;

function planServer(r: ServerResource, observed: Observed, ctx: PlanContext): { plan: ResourcePlan; daemon: FollowerPlan<DnsmasqFilesOnHost> } {
  const id = resourceId(r);
  const dev = ctx.ifname(r.spec.interface);
  const { conf, paths } = dnsmasqConfFor(r, ctx);
  const files = { ...paths, logFile: paths.conf.replace(/\.conf$/, '.log') };
  const verb = fileVerb(observed, paths.conf, conf);
  const pool = r.spec.addressPool ? `${r.spec.addressPool.start}-${r.spec.addressPool.end}` : 'stateless';
  const render = action(r, verb, `dnsmasq config ${paths.conf}`, `serve ${pool} on ${dev}, leases in ${paths.leaseFile}`);
  const role = followRole(ctx.resources, dev, ctx.ifname, ctx.status);
  const fields = { leaseFile: paths.leaseFile, leaseCount: undefined, process: 'stopped' };
  const daemon = { ifname: dev, conf, files, role };
  if (!role.run) {
    const message = `dnsmasq runs only while ${role.owner} is master (role ${role.role}); it starts from the last synced lease file on promotion`;
    return { plan: { resource: id, actions: [render, action(r, 'wait', 'dnsmasq', message)], status: status(Phase.Pending, Reason.WhenFalse, message, fields) }, daemon };
  }
  return {
    plan: {
      resource: id,
      actions: [render, action(r, 'run', 'dnsmasq', `${role.owner ? `as master of ${role.owner}: ` : ''}dnsmasq --conf-file=${paths.conf}`)],
      status: status(Phase.Pending, Reason.Planned, `dnsmasq to start on ${dev}`, fields),
    },
    daemon,
  };
}

function serverPlanner<K extends ServerResource['kind']>(kind: K): Planner<K, DnsmasqPayload> {
  return {
    kind,
    paths: (rs, ctx) => ({ contents: rs.map((r) => dnsmasqPaths(ctx.paths, r.kind, r.metadata.name).conf), existence: [] }),
    plan(rs, observed, ctx) {
      const planned = rs.map((r) => planServer(r as ServerResource, observed, ctx));
      return { resources: planned.map((x) => x.plan), payload: new Map(planned.map((x) => [x.plan.resource, x.daemon])) };
    },
  };
}

export const dhcpv4ServerPlanner = serverPlanner('DHCPv4Server');
export const dhcpv6ServerPlanner = serverPlanner('DHCPv6Server');
