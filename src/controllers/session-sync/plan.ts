import { resourceId } from '../../api/kinds.ts';
import { DEFAULT_SNAPSHOT_INTERVAL, DEFAULT_STREAM_RESYNC_INTERVAL } from './schema.ts';
import { targetName } from '../../api/target.ts';
import { action, gate, status } from '../common.ts';
import { Phase, Reason } from '../status.ts';
import type { Planner, ResourcePlan } from '../types.ts';
import { conntrackdRole, planConntrackd } from './conntrackd-role.ts';
import type { SyncRole } from './mode.ts';
import { selectSnatAddresses } from './select.ts';

/**
 * Per resource: conntrackd driven to a role (it runs in every role), or a
 * snapshot/stream export that runs only while the gate is open and the SNAT
 * addresses are known.
 */
export type SessionSyncDecision =
  | { readonly mode: 'conntrackd'; readonly role: SyncRole; readonly addresses: readonly string[] }
  | { readonly mode: 'export'; readonly run: boolean; readonly addresses: readonly string[] };

export type SessionSyncPayload = ReadonlyMap<string, SessionSyncDecision>;

export const sessionSyncPlanner: Planner<'NAT44SessionSync', SessionSyncPayload> = {
  kind: 'NAT44SessionSync',
  paths: () => ({ contents: [], existence: [] }),
  plan(resources, observed, ctx) {
    const payload = new Map<string, SessionSyncDecision>();
    const plans = resources.map((r): ResourcePlan => {
      const id = resourceId(r);
      if (r.spec.mode === 'conntrackd') {
        const p = planConntrackd(r, ctx);
        payload.set(id, { mode: 'conntrackd', role: conntrackdRole(r, ctx.resources, ctx.status), addresses: (p.status.snatAddresses as string[] | undefined) ?? [] });
        return p;
      }
      payload.set(id, { mode: 'export', run: false, addresses: [] });
      const shut = gate(r, ctx, 'export sessions');
      if (shut) return shut;
      const sel = selectSnatAddresses(r, ctx.status);
      if (!sel.ok) {
        const message = `waiting for the SNAT address of ${sel.pending.join(', ')}`;
        return { resource: id, actions: [action(r, 'wait', 'snat addresses', message)], status: status(Phase.Pending, Reason.SNATAddressPending, message) };
      }
      payload.set(id, { mode: 'export', run: r.spec.targets.length > 0, addresses: sel.addresses });
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
    return { resources: plans, payload };
  },
};
