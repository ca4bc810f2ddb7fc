// Who owns each pool address, decided by every member alone and identically:
// rendezvous (highest-random-weight) hashing. Each (address, member) pair gets
// a score; the member with the highest score among those that are up owns the
// address, the next one is its successor. When a member leaves, only its own
// addresses move (each to its successor); when one joins, it takes exactly the
// addresses it scores highest on, about 1/N of them, and nothing else moves.
import { createHash } from 'node:crypto';

export interface Assignment {
  readonly address: string;
  /** undefined when no member is up. */
  readonly owner: string | undefined;
  /** The member that holds the owner's sessions for this address; undefined with fewer than two members up. */
  readonly successor: string | undefined;
}

/** A 48-bit score, the same on every machine (sha256, not Math.random or a seeded hash). */
export function score(address: string, member: string): number {
  const h = createHash('sha256').update(address).update('\0').update(member).digest();
  return h.readUIntBE(0, 6);
}

/** Members in preference order for an address: owner first, then successor, ... */
export function rank(address: string, members: readonly string[]): string[] {
  return [...members].sort((a, b) => score(address, b) - score(address, a) || (a < b ? -1 : a > b ? 1 : 0));
}

export function assign(addresses: readonly string[], up: readonly string[]): Assignment[] {
  return addresses.map((address) => {
    const [owner, successor] = rank(address, up);
    return { address, owner, successor };
  });
}

/** Addresses whose owner differs between two assignments of the same pool. */
export function moved(before: readonly Assignment[], after: readonly Assignment[]): string[] {
  const was = new Map(before.map((a) => [a.address, a.owner]));
  return after.filter((a) => was.get(a.address) !== a.owner).map((a) => a.address);
}

/** What one node does with each address: own it, stand by for it (its successor), or nothing. */
export type AddressRole = 'owner' | 'standby' | 'none';

export function roleOf(a: Assignment, node: string): AddressRole {
  if (a.owner === node) return 'owner';
  if (a.successor === node) return 'standby';
  return 'none';
}
