import type { AnyResource, Kind, ResourceOf } from '../api/kinds.ts';
import type { NodePaths } from '../api/paths.ts';
import type { Host } from '../host/host.ts';
import type { ConntrackEntry } from '../kernel/conntrack.ts';
import type { StatusLookup } from '../when/evaluate.ts';
import type { ResourceStatus } from './status.ts';

export type Verb = 'create' | 'update' | 'delete' | 'noop' | 'wait' | 'run';

/** One thing the node would do for a resource, in words an operator reads. */
export interface Action {
  readonly resource: string;
  readonly verb: Verb;
  /** What is acted on: "nft table ip routerd_nat", "keepalived instance routerd_lan_vip". */
  readonly object: string;
  readonly detail: string;
}

export interface ObservedAddress {
  readonly family: 4 | 6;
  readonly address: string;
  readonly prefixLength: number;
}

export interface ObservedInterface {
  readonly name: string;
  readonly up: boolean;
  readonly operState?: string;
  readonly mac?: string;
  readonly addresses: readonly ObservedAddress[];
}

/** What the host shows, read-only; gathered once per pass. */
export interface Observed {
  /** undefined: not observed (e.g. `ip` unavailable), as opposed to "no interfaces". */
  readonly interfaces?: readonly ObservedInterface[];
  /** nftables tables present: "ip routerd_nat" → the digest routerd left in its comment, if any. */
  readonly nftTables?: ReadonlyMap<string, string | undefined>;
  /**
   * Tables that carry a digest of their set elements (routerd_state element 1):
   * "ip routerd_stateless" → that digest. Written in the same transaction as
   * the elements, so equal to the desired digest means routerd's last write is
   * in place (not that nobody edited the maps by hand since).
   */
  readonly nftElementDigests?: ReadonlyMap<string, string>;
  readonly conntrackCount?: number;
  /** Contents of files routerd owns (rendered configs), keyed by path; undefined = absent. */
  readonly files: ReadonlyMap<string, string | undefined>;
  /** Paths that exist (lease files, state dirs). */
  readonly existing: ReadonlySet<string>;
  /**
   * Flows on the SNAT addresses NAT44Rules manage (now or at the last apply),
   * read only when a plan should show a NAT change's impact (routerctl plan).
   */
  readonly natFlows?: { readonly entries: readonly ConntrackEntry[]; readonly previousAddresses: readonly string[] };
}

export interface PlanContext {
  readonly resources: readonly AnyResource[];
  readonly ifname: (name: string) => string;
  readonly paths: NodePaths;
  /** Status as reported by the daemon, or projected by earlier plans in this pass. */
  readonly status: StatusLookup;
  readonly nodeName: string;
}

/** The outcome of planning one resource: what to do, and the status it leads to. */
export interface ResourcePlan {
  readonly resource: string;
  readonly actions: readonly Action[];
  readonly status: ResourceStatus;
}

/**
 * The plan of one kind: each resource's actions and status for operators, and
 * the payload its controller applies (rendered files and digests, run or stop,
 * a table to replace or remove). What is to be done is decided here, once;
 * the controller does it and reports what happened.
 */
export interface KindPlan<P> {
  readonly resources: readonly ResourcePlan[];
  readonly payload: P;
  /** Node-wide actions: what the host still holds that no resource of this kind owns any more (a table, a daemon). */
  readonly removals?: readonly Action[];
}

export interface Planner<K extends Kind, P = unknown> {
  readonly kind: K;
  /** Paths whose content or existence this planner compares against. */
  paths(resources: readonly ResourceOf<K>[], ctx: PlanContext): { contents: string[]; existence: string[] };
  plan(resources: readonly ResourceOf<K>[], observed: Observed, ctx: PlanContext): KindPlan<P>;
  /**
   * More of the host, read only when a plan should show everything a change
   * would do (routerctl plan: the NAT flows a rule change judges).
   */
  observeDeep?(host: Host, resources: readonly ResourceOf<K>[], observed: Observed, ctx: PlanContext): Promise<Partial<Observed>>;
}
