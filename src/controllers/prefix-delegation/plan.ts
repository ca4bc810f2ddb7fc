import { join } from 'node:path';
import { resourceId } from '../../api/kinds.ts';
import { prefixDelegationStateDir } from '../../api/paths.ts';
import { iaidOf, renderDhcpcdConf } from '../../engines/dhcpcd/render.ts';
import { action, fileVerb, status } from '../common.ts';
import { followRole } from '../role.ts';
import type { FollowerPayload, FollowerPlan } from '../role-following.ts';
import type { DhcpcdFiles } from '../../engines/dhcpcd/engine.ts';
import { Phase, Reason } from '../status.ts';
import type { Planner, ResourcePlan } from '../types.ts';

export function dhcpcdConfPath(runDir: string, name: string): string {
  return join(runDir, 'dhcpcd', `${name}.conf`);
}

export type DhcpcdPayload = FollowerPayload<DhcpcdFiles>;

export const prefixDelegationPlanner: Planner<'DHCPv6PrefixDelegation', DhcpcdPayload> = {
  kind: 'DHCPv6PrefixDelegation',
  paths: (rs, ctx) => ({ contents: rs.map((r) => dhcpcdConfPath(ctx.paths.runDir, r.metadata.name)), existence: [] }),
  plan(resources, observed, ctx) {
    const payload = new Map<string, FollowerPlan<DhcpcdFiles>>();
    const plans = resources.map((r): ResourcePlan => {
      const dev = ctx.ifname(r.spec.interface);
      const confPath = dhcpcdConfPath(ctx.paths.runDir, r.metadata.name);
      const stateDir = prefixDelegationStateDir(ctx.paths, r.metadata.name);
      const conf = renderDhcpcdConf(r, dev);
      const files: DhcpcdFiles = {
        conf: confPath,
        stateDir,
        runDir: join(ctx.paths.runDir, 'dhcpcd', r.metadata.name),
        logFile: join(ctx.paths.runDir, 'dhcpcd', `${r.metadata.name}.log`),
        ifname: dev,
      };
      const render = action(
        r,
        fileVerb(observed, confPath, conf),
        `dhcpcd config ${confPath}`,
        `request a delegated prefix${r.spec.prefixLength ? ` (/${r.spec.prefixLength} hint)` : ''} on ${dev}, IAID ${iaidOf(r)}, state in ${stateDir}`,
      );
      const role = followRole(ctx.resources, dev, ctx.ifname, ctx.status);
      payload.set(resourceId(r), { ifname: dev, conf, files, role });
      const fields = { leaseFile: stateDir, process: 'stopped' };
      if (!role.run) {
        const message = `dhcpcd runs only while ${role.owner} is master (role ${role.role}); it rebinds with the synced DUID and lease on promotion`;
        return { resource: resourceId(r), actions: [render, action(r, 'wait', 'dhcpcd', message)], status: status(Phase.Pending, Reason.WhenFalse, message, fields) };
      }
      return {
        resource: resourceId(r),
        actions: [render, action(r, 'run', 'dhcpcd', `dhcpcd on ${dev}`)],
        status: status(Phase.Pending, Reason.Planned, `dhcpcd to start on ${dev}`, fields),
      };
    });
    return { resources: plans, payload };
  },
};
