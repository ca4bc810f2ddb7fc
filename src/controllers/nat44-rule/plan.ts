// NAT44Rule's plan: whether the one routerd_nat table is current (its digest
// against the one stamped on the live table), decided here once for the
// controller, and, when routerctl plan reads the flows, which of them a change
// keeps and removes.
import { resourceId } from '../../api/kinds.ts';
import type { ResolvedNatRule } from '../../engines/nft/nat.ts';
import type { OwnedTable } from '../../engines/nft/table.ts';
import { NODE, action, status } from '../common.ts';
import { Phase, Reason } from '../status.ts';
import type { Action, Observed, Planner, ResourcePlan } from '../types.ts';
import { dumpNatFlows, managedAddresses, ruleAddresses } from './flows.ts';
import { computeImpact, describeGroups } from './impact.ts';
import { desiredNatTable, natTableKey, resolveNatRule, type NatResolution } from './resolve.ts';
import { readNatState } from './state.ts';

export const MASQUERADE_WARNING =
  'masquerade: the kernel drops these flows when the address goes away (failover, DHCP renumbering); use snat.address with a VIP-backed address for HA';

function describeRule(rule: ResolvedNatRule): string {
  const to = rule.snat.kind === 'masquerade' ? 'masquerade' : `snat to ${rule.snat.addresses.join(', ')}`;
  const ports = rule.portRange ? ` ports ${rule.portRange.from}-${rule.portRange.to}` : '';
  return `${rule.sources.join(', ')} out ${rule.outIfname}: ${to}${ports}${rule.random ? ' random' : ''}`;
}

function flowImpact(resolved: readonly ResolvedNatRule[], observed: Observed) {
  const nf = observed.natFlows!;
  const addressesOf = ruleAddresses(observed);
  return computeImpact(nf.entries, resolved, new Set(managedAddresses(resolved, addressesOf, nf.previousAddresses)), addressesOf);
}

/**
 * Earlier routerd versions held new flows in this table while they rebound an
 * address (delete all its flows, re-insert the valid ones); exact deletes made
 * that unnecessary. One left behind by a crash would keep dropping new flows.
 */
export const LEGACY_FREEZE_TABLE: OwnedTable = { family: 'ip', name: 'routerd_freeze' };

export interface NatPayload {
  /** Each rule's resolution (its SNAT addresses, or why they are pending), by resource id. */
  readonly resolutions: ReadonlyMap<string, NatResolution>;
  readonly resolved: readonly ResolvedNatRule[];
  /** The table to install; undefined when no rule is left and the table goes. */
  readonly table: { readonly text: string; readonly digest: string } | undefined;
  /** The digest the applied state records ('none' without rules). */
  readonly digest: string;
  /** The live table already is what `table` says (or is absent when it should be). */
  readonly tableCurrent: boolean;
  /** A freeze table an earlier routerd left behind is there and goes. */
  readonly removeLegacyFreeze: boolean;
}

export const nat44RulePlanner: Planner<'NAT44Rule', NatPayload> = {
  kind: 'NAT44Rule',
  paths: () => ({ contents: [], existence: [] }),
  async observeDeep(host, resources, observed, ctx) {
    // The flows a change would judge: on the addresses the desired rules use and those the last apply used.
    const state = await readNatState(host, ctx.paths);
    if (resources.length === 0 && !state) return {};
    const resolved = resources.flatMap((r) => {
      const res = resolveNatRule(r, observed, ctx);
      return res.ok ? [res.rule] : [];
    });
    const addresses = managedAddresses(resolved, ruleAddresses(observed), state?.addresses);
    return { natFlows: { entries: await dumpNatFlows(host, addresses), previousAddresses: state?.addresses ?? [] } };
  },
  plan(resources, observed, ctx) {
    const resolutions = resources.map((r) => ({ r, res: resolveNatRule(r, observed, ctx) }));
    const resolved = resolutions.flatMap(({ res }) => (res.ok ? [res.rule] : []));
    const table = resources.length ? desiredNatTable(resolved) : undefined;
    const key = natTableKey();
    const present = observed.nftTables?.has(key) ?? false;
    const tableCurrent = table ? present && observed.nftTables?.get(key) === table.digest : !present;
    const payload: NatPayload = {
      resolutions: new Map(resolutions.map(({ r, res }) => [resourceId(r), res])),
      resolved,
      table,
      digest: table?.digest ?? 'none',
      tableCurrent,
      removeLegacyFreeze: observed.nftTables?.has(`${LEGACY_FREEZE_TABLE.family} ${LEGACY_FREEZE_TABLE.name}`) ?? false,
    };
    const removals: Action[] = [];
    if (!table && present) {
      const flows = observed.natFlows?.entries.length;
      removals.push({ resource: NODE, verb: 'delete', object: `nft table ${key}`, detail: `no NAT44Rule left: all outbound NAT on this router stops${flows === undefined ? '' : `; ${flows} tracked NAT flow(s) lose their translation`}` });
    }
    const tableVerb = !present ? 'create' : tableCurrent ? 'noop' : 'update';
    const impact = tableVerb !== 'noop' && observed.natFlows ? flowImpact(resolved, observed) : undefined;
    let unattributedShown = false;
    const plans = resolutions.map(({ r, res }): ResourcePlan => {
      const id = resourceId(r);
      if (!res.ok)
        return {
          resource: id,
          actions: [action(r, 'wait', `nft table ${key}`, `SNAT address pending: ${res.message}`)],
          status: status(Phase.Pending, Reason.SNATAddressPending, res.message),
        };
      const addrs = res.rule.snat.kind === 'addresses' ? res.rule.snat.addresses : [];
      const warning = res.rule.snat.kind === 'masquerade' ? [action(r, 'noop', 'warning', MASQUERADE_WARNING)] : [];
      const flows: Action[] = [];
      if (impact) {
        const mine = impact.groups.filter((g) => g.rule === r.metadata.name);
        flows.push(action(r, mine.some((g) => g.reason) ? 'delete' : 'noop', 'conntrack flows', describeGroups(mine)));
        const orphans = impact.groups.filter((g) => g.rule === undefined);
        if (!unattributedShown && orphans.length) {
          unattributedShown = true;
          flows.push(action(r, 'delete', 'conntrack flows (no rule)', describeGroups(orphans)));
        }
      }
      return {
        resource: id,
        actions: [action(r, tableVerb, `nft table ${key}`, describeRule(res.rule)), ...warning, ...flows],
        status: status(Phase.Ready, Reason.Applied, describeRule(res.rule), {
          ...(addrs.length ? { snatAddress: addrs[0], snatAddresses: addrs } : {}),
        }),
      };
    });
    return { resources: plans, payload, removals };
  },
};
