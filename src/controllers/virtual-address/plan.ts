import { resourceId, type ResourceOf } from '../../api/kinds.ts';
import { keepalivedConfPath, keepalivedFifoPath, keepalivedGatePath } from '../../api/paths.ts';
import { instanceName, renderKeepalivedConf } from '../../engines/keepalived/render.ts';
import { NODE, action, findInterface, status } from '../common.ts';
import { Phase, Reason } from '../status.ts';
import type { Observed, PlanContext, Planner, ResourcePlan } from '../types.ts';

export function keepalivedConfFor(resources: readonly ResourceOf<'VirtualAddress'>[], ctx: PlanContext): string {
  return renderKeepalivedConf({
    routerId: ctx.nodeName,
    virtualAddresses: resources,
    ifname: ctx.ifname,
    paths: { notifyFifo: keepalivedFifoPath(ctx.paths), gateFile: (name) => keepalivedGatePath(ctx.paths, name) },
  });
}

/** The lines of one instance block inside a rendered keepalived.conf. */
function instanceBlock(conf: string, instance: string): string | undefined {
  const lines = conf.split('\n');
  const start = lines.indexOf(`vrrp_instance ${instance} {`);
  if (start < 0) return undefined;
  let depth = 0;
  for (let i = start; i < lines.length; i++) {
    if (lines[i]!.endsWith('{')) depth++;
    if (lines[i] === '}') depth--;
    if (depth === 0) return lines.slice(start, i + 1).join('\n');
  }
  return undefined;
}

/** The keepalived.conf to run, or undefined: no VirtualAddress, keepalived stops. */
export interface VirtualAddressPayload {
  readonly keepalivedConf: string | undefined;
}

export const virtualAddressPlanner: Planner<'VirtualAddress', VirtualAddressPayload> = {
  kind: 'VirtualAddress',
  paths: (_r, ctx) => ({ contents: [keepalivedConfPath(ctx.paths)], existence: [] }),
  plan(resources, observed: Observed, ctx) {
    const confPath = keepalivedConfPath(ctx.paths);
    const current = observed.files.get(confPath);
    if (resources.length === 0)
      return {
        resources: [],
        payload: { keepalivedConf: undefined },
        removals:
          current === undefined
            ? []
            : [{ resource: NODE, verb: 'delete', object: 'keepalived', detail: 'no VirtualAddress left: keepalived stops and every VIP this router holds is released' }],
      };
    const desired = keepalivedConfFor(resources, ctx);
    const plans = resources.map((r): ResourcePlan => {
      const id = resourceId(r);
      const dev = ctx.ifname(r.spec.interface);
      const role = (ctx.status(r.kind, r.metadata.name, 'role') as string | undefined) ?? 'unknown';
      const inst = instanceName(r.metadata.name);
      const carried = [r.spec.address, ...r.spec.extraAddresses.map((x) => `${x.address} on ${ctx.ifname(x.interface)}`)].join(', ');
      if (observed.interfaces && !findInterface(observed, dev))
        return {
          resource: id,
          actions: [action(r, 'wait', `link ${dev}`, `${dev} does not exist; keepalived would hold the instance in FAULT`)],
          status: status(Phase.Pending, Reason.InterfaceMissing, `${dev} does not exist`, { role }),
        };
      const want = instanceBlock(desired, inst);
      const have = current === undefined ? undefined : instanceBlock(current, inst);
      const verb = have === undefined ? 'create' : have === want ? 'noop' : 'update';
      const detail =
        `VRRP id ${r.spec.virtualRouterId} priority ${r.spec.priority} every ${r.spec.advertInterval} on ${dev}` +
        `${r.spec.peers?.length ? ` unicast to ${r.spec.peers.join(', ')}` : ' multicast'}, preempt ${r.spec.preempt ? `on${r.spec.preemptDelay ? ` after ${r.spec.preemptDelay}` : ''}` : 'off'}` +
        `${r.spec.handover.waitForState ? `, demoted until it holds the master's state (at most ${r.spec.handover.maxWait})` : ''}; carries ${carried}`;
      return {
        resource: id,
        actions: [action(r, verb, `keepalived instance ${inst}`, detail)],
        status: status(Phase.Pending, Reason.Planned, `keepalived instance ${inst} ${verb === 'noop' ? 'configured' : `to ${verb}`}`, { role }),
      };
    });
    return { resources: plans, payload: { keepalivedConf: desired } };
  },
};
