// BGP and BFD through FRR (bgpd, bfdd). Names and shapes follow the public
// routerd project: BGPRouter {asn, routerID}, BGPPeer {routerRef, address,
// peerASN}, BFD profiles. Every value here ends up in frr.conf, so each one is
// checked to the character (see engines/frr/render.ts).
import { z } from 'zod';
import { duration, ipv4Address, resourceRef } from './primitives.ts';

/** A 4-byte AS number; 0 and 4294967295 are reserved (RFC 7607, RFC 7300). */
export const asn = z.number().int().min(1).max(4_294_967_294).describe('An AS number, 1-4294967294.');

export const bgpRouterSpec = z.strictObject({
  asn: asn.describe('This router\'s AS number.'),
  routerID: ipv4Address.describe('The BGP router id; set explicitly (FRR would otherwise pick a SNAT /32).'),
});
export type BGPRouterSpec = z.infer<typeof bgpRouterSpec>;

export const bgpPeerSpec = z.strictObject({
  routerRef: resourceRef(['BGPRouter']).describe('The BGPRouter this session belongs to.'),
  address: ipv4Address.describe('The neighbor\'s address (an upstream router).'),
  peerASN: asn.describe('The neighbor\'s AS number.'),
  bfd: resourceRef(['BFD']).optional().describe('Watch the session with this BFD profile (sub-second failure detection).'),
  holdTime: duration({ minMs: 3000, maxMs: 65_535_000 }).default('9s').describe('BGP hold time; keepalives every third of it.'),
});
export type BGPPeerSpec = z.infer<typeof bgpPeerSpec>;

export const bfdSpec = z.strictObject({
  detectMultiplier: z.number().int().min(2).max(255).default(3).describe('Packets missed before the session is down.'),
  receiveInterval: duration({ minMs: 10, maxMs: 60_000 }).default('300ms').describe('Minimum interval between received packets.'),
  transmitInterval: duration({ minMs: 10, maxMs: 60_000 }).default('300ms').describe('Minimum interval between sent packets.'),
});
export type BFDSpec = z.infer<typeof bfdSpec>;
