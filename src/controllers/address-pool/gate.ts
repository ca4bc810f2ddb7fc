// The takeover gate: a member takes an address only once it holds the
// sessions of that address. Pure decisions over this node's view of the other
// members (BFD up or down; ready or not, read from their ready file):
// - eligible: members that may own addresses: up and ready (self: ready).
// - a member that comes up (returns, or joins) is not ready: before it claims
//   anything it pulls, for each address it would own, the sessions from the
//   member that holds them now, then declares itself ready; only then do the
//   others count it and release those addresses to it.
// - while it is pending, the holder also pushes those sessions to it, so what
//   started after the pull is there too when the others release.
import { assign, rank } from './ownership.ts';

export interface MemberView {
  readonly up: boolean;
  /** undefined: not read yet. */
  readonly ready: boolean | undefined;
}

/** Members that may own addresses, in pool order. */
export function eligibleMembers(members: readonly string[], self: string, selfReady: boolean, views: ReadonlyMap<string, MemberView>): string[] {
  return members.filter((m) => (m === self ? selfReady : views.get(m)?.up === true && views.get(m)?.ready === true));
}

/** Whether this node knows enough about every other member to decide what it would own. */
export function viewComplete(members: readonly string[], self: string, views: ReadonlyMap<string, MemberView>): boolean {
  return members.every((m) => m === self || views.get(m)?.up === false || views.get(m)?.ready !== undefined);
}

export interface Pull {
  readonly address: string;
  readonly from: string;
}

/** What a pending member pulls before it is ready: for each address it would own, the sessions from whoever owns it now. */
export function pullsNeeded(addresses: readonly string[], self: string, eligibleOthers: readonly string[]): Pull[] {
  if (eligibleOthers.length === 0) return [];
  const mine = new Set(assign(addresses, [...eligibleOthers, self]).filter((a) => a.owner === self).map((a) => a.address));
  return assign(addresses, eligibleOthers)
    .filter((a) => mine.has(a.address) && a.owner !== undefined)
    .map((a) => ({ address: a.address, from: a.owner! }));
}

/**
 * Where this node pushes the sessions of the addresses it owns: the successor
 * of each (over the eligible members) and every member that is up but not yet
 * eligible and would take the address from us (a claimant).
 */
export function pushTargets(addresses: readonly string[], self: string, eligible: readonly string[], up: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (m: string, a: string) => out.set(m, [...(out.get(m) ?? []), a]);
  for (const a of assign(addresses, eligible)) {
    if (a.owner !== self) continue;
    if (a.successor !== undefined) add(a.successor, a.address);
    const order = rank(a.address, [...new Set([...eligible, ...up])]);
    for (const m of order.slice(0, order.indexOf(self))) if (!eligible.includes(m) && m !== a.successor) add(m, a.address);
  }
  return out;
}

/**
 * What an owner pushes: only the addresses it serves (is the VRRP master of).
 * A claimant does not serve its addresses yet (the holder still forwards
 * their flows): its copy would replace the holder's live entries.
 * `serving` undefined: the pool has no LAN gateways, an owner serves what it owns.
 */
export function servedPushes(targets: ReadonlyMap<string, readonly string[]>, serving: ReadonlySet<string> | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [node, addrs] of targets) {
    const live = serving ? addrs.filter((a) => serving.has(a)) : [...addrs];
    if (live.length) out.set(node, live);
  }
  return out;
}

/** The owner's gateway priority while it already serves the address (is its VRRP master). */
export const OWNER_PRIORITY = 200;
/**
 * The owner's priority while it does not serve the address yet: above every
 * other member's ranking, below a holder that has not released it. A member
 * that returns or joins claims its addresses at this priority, so the LAN
 * side moves only when the holder lowers its own (the holder's release also
 * moves the upstream, so both directions move together); a tie would let
 * VRRP pick the higher IP and split the directions of a flow.
 */
export const CLAIM_PRIORITY = 190;

/** VRRP priority of this node's gateway for an address: the owner highest (a claimant just below), then the ranking; a pending node lowest. */
export function gatewayPriority(address: string, self: string, eligible: readonly string[], serving = true): number {
  const i = eligible.includes(self) ? rank(address, eligible).indexOf(self) : -1;
  if (i === 0) return serving ? OWNER_PRIORITY : CLAIM_PRIORITY;
  return i < 0 ? 10 : Math.max(20, 200 - 40 * i);
}

/** What a successor knows of the last push from an owner: the owner writes it on the successor after each full sync (ok) or failure. */
export interface SyncMark {
  readonly ok: boolean;
  /** ms since the epoch: the full sync's completion (ok) or the failure. */
  readonly at: number;
}

/** Parse a mark file: `ok ISO-TIME` or `failed ISO-TIME`. */
export function parseSyncMark(text: string | undefined): SyncMark | undefined {
  const m = /^(ok|failed) (\S+)\s*$/.exec(text ?? '');
  const at = m ? Date.parse(m[2]!) : NaN;
  return m && Number.isFinite(at) ? { ok: m[1] === 'ok', at } : undefined;
}

/**
 * Whether a successor holds back taking over the addresses of a member that
 * went down at `downAt`: the last push it got from that member failed, or its
 * last good full sync is older than `staleMs` at the death (a resync missed),
 * or it never got one. Bounded: from `maxHoldMs` after the death it takes
 * over anyway (stale sessions serve more flows than an address nobody owns);
 * the hold covers a member that comes back soon (a LAN or BFD blip), which
 * then keeps its addresses instead of losing them to a successor that does
 * not hold their sessions.
 */
export function holdTakeover(mark: SyncMark | undefined, downAt: number, now: number, staleMs: number, maxHoldMs: number): boolean {
  if (now - downAt >= maxHoldMs) return false;
  return mark === undefined || !mark.ok || downAt - mark.at > staleMs;
}
