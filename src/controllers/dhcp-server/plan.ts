import { resourceId, type ResourceOf } from '../../api/kinds.ts';
import { dnsmasqPaths } from '../../config/paths.ts';
import { renderDhcpv4Conf, renderDhcpv6Conf } from '../../engines/dnsmasq/render.ts';
import { action, fileVerb, status } from '../common.ts';
import { followRole } from '../role.ts';
import { Phase, Reason } from '../status.ts';
import type { Observed, PlanContext, Planner, ResourcePlan } from '../types.ts';

type ServerResource = ResourceOf<'DHCPv4Server'> | ResourceOf<'DHCPv6Server'>;

export function dnsmasqConfFor(r: ServerResource, ctx: PlanContext): { conf: string; paths: ReturnType<typeof dnsmasqPaths> } {
  const paths = dnsmasqPaths(ctx.paths, r.kind, r.metadata.name);
  const dev = ctx.ifname(r.spec.interface);
  const conf = r.kind === 'DHCPv4Server' ? renderDhcpv4Conf(r, dev, paths) : renderDhcpv6Conf(r, dev, paths);
  return { conf, paths };
}

function planServer(r: ServerResource, observed: Observed, ctx: PlanContext): ResourcePlan {
  const id = resourceId(r);
  const dev = ctx.ifname(r.spec.interface);
  const { conf, paths } = dnsmasqConfFor(r, ctx);
  const verb = fileVerb(observed, paths.conf, conf);
  const pool = r.spec.addressPool ? `${r.spec.addressPool.start}-${r.spec.addressPool.end}` : 'stateless';
  const render = action(r, verb, `dnsmasq config ${paths.conf}`, `serve ${pool} on ${dev}, leases in ${paths.leaseFile}`);
  const role = followRole(ctx.resources, dev, ctx.ifname, ctx.status);
  const fields = { leaseFile: paths.leaseFile, leaseCount: undefined, process: 'stopped' };
  if (!role.run) {
    const message = `dnsmasq runs only while ${role.owner} is master (role ${role.role}); it starts from the last synced lease file on promotion`;
    return { resource: id, actions: [render, action(r, 'wait', 'dnsmasq', message)], status: status(Phase.Pending, Reason.WhenFalse, message, fields) };
  }
  return {
    resource: id,
    actions: [render, action(r, 'run', 'dnsmasq', `${role.owner ? `as master of ${role.owner}: ` : ''}dnsmasq --conf-file=${paths.conf}`)],
    status: status(Phase.Pending, Reason.Planned, `dnsmasq to start on ${dev}`, fields),
  };
}

export const dhcpv4ServerPlanner: Planner<'DHCPv4Server'> = {
  kind: 'DHCPv4Server',
  paths: (rs, ctx) => ({ contents: rs.map((r) => dnsmasqPaths(ctx.paths, r.kind, r.metadata.name).conf), existence: [] }),
  plan: (rs, observed, ctx) => rs.map((r) => planServer(r, observed, ctx)),
};

export const dhcpv6ServerPlanner: Planner<'DHCPv6Server'> = {
  kind: 'DHCPv6Server',
  paths: (rs, ctx) => ({ contents: rs.map((r) => dnsmasqPaths(ctx.paths, r.kind, r.metadata.name).conf), existence: [] }),
  plan: (rs, observed, ctx) => rs.map((r) => planServer(r, observed, ctx)),
};
