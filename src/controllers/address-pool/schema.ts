// A SNAT address pool shared by N routers: each address has one owner and one
// successor at a time, chosen by rendezvous hashing over the members that are
// up (controllers/address-pool/ownership.ts). The owner announces the /32 over
// BGP; the successor pre-announces it with a longer AS path.
//
// BGP and BFD through FRR (bgpd, bfdd). Names and shapes follow the public
// routerd project: BGPRouter {asn, routerID}, BGPPeer {routerRef, address,
// peerASN}, BFD profiles. Every value here ends up in frr.conf, so each one is
// checked to the character (see engines/frr/render.ts).
import { z } from 'zod';
import { ErrorCode } from '../../api/errors.ts';
import { kindApi } from '../../api/kinds.ts';
import { duration, ifname, interfaceCidr, ipv4Address, port, resourceName, resourceRef, userName } from '../../api/primitives.ts';
import { sshOptionsSchema } from '../../api/target.ts';

export const poolMemberSpec = z.strictObject({
  node: resourceName.describe('The member\'s node name (routerd --node), the same on every member\'s config.'),
  address: ipv4Address.describe('Where the other members reach it: BFD liveness sessions and session sync.'),
});

export const nat44AddressPoolSpec = z
  .strictObject({
    addresses: z.array(ipv4Address).min(1).max(1024).describe('The shared SNAT addresses (each announced as a /32).'),
    members: z.array(poolMemberSpec).min(2).max(64).describe('The routers sharing the pool; every member lists them all.'),
    bgpRouter: resourceRef(['BGPRouter']).describe('The BGPRouter that announces the addresses this node owns.'),
    liveness: resourceRef(['BFD'])
      .optional()
      .describe('BFD profile of the member-to-member sessions that decide which members are up; omitted = every member counts as up.'),
    interface: ifname
      .optional()
      .describe(
        'Put owned addresses on this interface as /32s (e.g. lo, to answer pings on them). Omitted (recommended): not local anywhere, so a packet ' +
          'that meets no conntrack entry for a moment (a session restore replacing entries) is dropped and retransmitted, where a local address would answer it with a RST.',
      ),
    standbyPrepend: z
      .number()
      .int()
      .min(0)
      .max(8)
      .default(3)
      .describe('AS-path prepends on the successor\'s pre-announced standby route; 0 = no standby route.'),
    sync: z
      .strictObject({
        mode: z.enum(['snapshot', 'stream']).default('stream').describe('How the owner pushes an address\'s sessions to its successor (as NAT44SessionSync).'),
        interval: duration({ minMs: 100 }).optional().describe('snapshot: push period (default 2s); stream: full resync period (default 30s).'),
        port: port.default(22).describe('SSH port on the members.'),
        user: userName.optional().describe('Login user on the members.'),
        sshOptions: sshOptionsSchema,
      })
      .optional()
      .describe('Session sync between members over ssh (to each member\'s address): the owner pushes, a claimant pulls before it takes an address over.'),
    lan: z
      .strictObject({
        interface: ifname.describe('The LAN interface that carries the gateway addresses.'),
        advertInterval: duration({ minMs: 10, maxMs: 40_950 }).default('100ms').describe('VRRP advert interval of the gateway groups.'),
        gateways: z
          .array(
            z.strictObject({
              address: interfaceCidr.describe('Gateway address for the clients whose flows use this pool address, e.g. 192.0.2.116/24.'),
              virtualRouterId: z.number().int().min(1).max(255).describe('VRRP router id of this gateway group.'),
            }),
          )
          .describe('One VRRP gateway per pool address, in the order of addresses; its master is the address\'s owner.'),
      })
      .optional()
      .describe('The LAN side: per-address VRRP groups (keepalived), priorities from the ownership ranking.'),
  })
  .superRefine((s, ctx) => {
    const dup = <T>(list: readonly T[], key: (x: T) => string, path: string, what: string) => {
      const seen = new Set<string>();
      list.forEach((x, i) => {
        const k = key(x);
        if (seen.has(k))
          ctx.addIssue({ code: 'custom', path: [path, i], message: `${what} "${k}" is listed twice`, params: { rdCode: ErrorCode.DuplicateName } });
        seen.add(k);
      });
    };
    dup(s.addresses, (a) => a, 'addresses', 'address');
    dup(s.members, (m) => m.node, 'members', 'member');
    dup(s.members, (m) => m.address, 'members', 'member address');
    if (s.lan) {
      if (s.lan.gateways.length !== s.addresses.length)
        ctx.addIssue({ code: 'custom', path: ['lan', 'gateways'], message: `lan.gateways needs one gateway per address (${s.addresses.length}), has ${s.lan.gateways.length}`, params: { rdCode: ErrorCode.Conflict } });
      dup(s.lan.gateways, (g) => String(g.virtualRouterId), 'lan', 'virtualRouterId');
    }
  });

/** A 4-byte AS number; 0 and 4294967295 are reserved (RFC 7607, RFC 7300). */
export const asn = z.number().int().min(1).max(4_294_967_294).describe('An AS number, 1-4294967294.');

export const bgpRouterSpec = z.strictObject({
  asn: asn.describe('This router\'s AS number.'),
  routerID: ipv4Address.describe('The BGP router id; set explicitly (FRR would otherwise pick a SNAT /32).'),
});

export const bgpPeerSpec = z.strictObject({
  routerRef: resourceRef(['BGPRouter']).describe('The BGPRouter this session belongs to.'),
  address: ipv4Address.describe('The neighbor\'s address (an upstream router).'),
  peerASN: asn.describe('The neighbor\'s AS number.'),
  bfd: resourceRef(['BFD']).optional().describe('Watch the session with this BFD profile (sub-second failure detection).'),
  holdTime: duration({ minMs: 3000, maxMs: 65_535_000 }).default('9s').describe('BGP hold time; keepalives every third of it.'),
});

export const bfdSpec = z.strictObject({
  detectMultiplier: z.number().int().min(2).max(255).default(3).describe('Packets missed before the session is down.'),
  receiveInterval: duration({ minMs: 10, maxMs: 60_000 }).default('300ms').describe('Minimum interval between received packets.'),
  transmitInterval: duration({ minMs: 10, maxMs: 60_000 }).default('300ms').describe('Minimum interval between sent packets.'),
});

declare module '../../api/kinds.ts' { interface KindSpecs { NAT44AddressPool: typeof nat44AddressPoolSpec; BFD: typeof bfdSpec; BGPPeer: typeof bgpPeerSpec; BGPRouter: typeof bgpRouterSpec } }

export const addressPoolApi = kindApi({
  kind: 'NAT44AddressPool', spec: nat44AddressPoolSpec, controller: 'bgp', statusFields: ['membersUp', 'owned', 'standby', 'assignments', 'since', 'ready', 'readySince', 'sync'],
  description: 'SNAT addresses shared by N routers: one owner and one successor per address, announced over BGP.',
  references: (s) => [{ path: ['spec', 'bgpRouter'], target: s.bgpRouter }, ...(s.liveness ? [{ path: ['spec', 'liveness'], target: s.liveness }] : [])],
});

export const bfdApi = kindApi({
  kind: 'BFD', spec: bfdSpec, controller: 'bgp', statusFields: ['sessions', 'up'],
  description: 'A BFD profile (FRR bfdd): detection timers for BGP sessions and pool members.',
});

export const bgpPeerApi = kindApi({
  kind: 'BGPPeer', spec: bgpPeerSpec, controller: 'bgp', statusFields: ['state', 'bfd', 'prefixesSent'],
  description: 'A BGP session of a BGPRouter with an upstream router, optionally watched by BFD.',
  references: (s) => [{ path: ['spec', 'routerRef'], target: s.routerRef }, ...(s.bfd ? [{ path: ['spec', 'bfd'], target: s.bfd }] : [])],
});

export const bgpRouterApi = kindApi({
  kind: 'BGPRouter', spec: bgpRouterSpec, controller: 'bgp', statusFields: ['process', 'established', 'peers'],
  description: 'This node\'s BGP speaker (FRR bgpd, with zebra and bfdd).',
});
