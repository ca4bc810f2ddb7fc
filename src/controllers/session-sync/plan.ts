import { resourceId } from '../../api/kinds.ts';
import { DEFAULT_SNAPSHOT_INTERVAL, DEFAULT_STREAM_RESYNC_INTERVAL } from '../../api/nat.ts';
import { targetName } from '../../api/target.ts';
import { action, gate, status } from '../common.ts';
import { Phase, Reason } from '../status.ts';
import type { Planner, ResourcePlan } from '../types.ts';
import { planConntrackd } from './conntrackd-role.ts';
import { selectSnatAddresses } from './select.ts';

export const sessionSyncPlanner: Planner<'NAT44SessionSync'> = {
  kind: 'NAT44SessionSync',
  paths: () => ({ contents: [], existence: [] }),
  plan(resources, observed, ctx) {
    return resources.map((r): ResourcePlan => {
      if (r.spec.mode === 'conntrackd') return planConntrackd(r, ctx);
      const shut = gate(r, ctx, 'export sessions');
      if (shut) return shut;
      const id = resourceId(r);
      const sel = selectSnatAddresses(r, ctx.status);
      if (!sel.ok) {
        const message = `waiting for the SNAT address of ${sel.pending.join(', ')}`;
        return { resource: id, actions: [action(r, 'wait', 'snat addresses', message)], status: status(Phase.Pending, Reason.SNATAddressPending, message) };
      }
      const interval = r.spec.interval ?? (r.spec.mode === 'stream' ? DEFAULT_STREAM_RESYNC_INTERVAL : DEFAULT_SNAPSHOT_INTERVAL);
      const how =
        r.spec.mode === 'snapshot'
          ? `dump every ${interval}`
          : r.spec.mode === 'stream'
            ? `stream conntrack events, full resync every ${interval}`
            : 'run conntrackd';
      const count = observed.conntrackCount === undefined ? '' : ` (${observed.conntrackCount} conntrack entries on the node now)`;
      const actions = r.spec.targets.map((t) =>
        action(
          r,
          'run',
          `sync → ${targetName(t)}`,
          `${how}: sessions on ${sel.addresses.join(', ') || '(no addresses)'} to ${t.user ? `${t.user}@` : ''}${t.host}:${t.port}, restore with ${t.restoreCommand.join(' ')}${count}`,
        ),
      );
      return { resource: id, actions, status: status(Phase.Pending, Reason.Planned, `${how} to ${r.spec.targets.length} target(s)`, { snatAddresses: sel.addresses }) };
    });
  },
};
