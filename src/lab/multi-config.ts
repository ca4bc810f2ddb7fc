// routerd configs for the N-router lab: the same NAT44AddressPool on every
// router, a BGPRouter and BGPPeer of its own. Built from the lab's constants
// only, and serialised with the yaml library (no text templating of values).
import { stringify } from 'yaml';
import { API_VERSION } from '../api/primitives.ts';
import { MULTI_ADDRESSES, type MultiRouter } from './multi.ts';

/**
 * bfd: BFD on the isp session; liveness: BFD between the members (off: every
 * member counts as up); sessions: session sync between members, per-address
 * LAN gateways and one NAT44Rule per address (client source i → address i).
 */
export function multiRouterConfig(router: MultiRouter, members: readonly MultiRouter[], opts: { bfd?: boolean; liveness?: boolean; sessions?: boolean } = {}): string {
  const sessions = opts.sessions ?? false;
  const bfd = opts.bfd ?? true;
  const liveness = opts.liveness ?? true;
  const me = MULTI_ADDRESSES.routers[router];
  const r = (kind: string, name: string, spec: Record<string, unknown>) => ({ apiVersion: API_VERSION, kind, metadata: { name }, spec });
  const docs = [
    r('Interface', 'lan', { ifname: 'lan0' }),
    r('Interface', 'wan', { ifname: 'wan0' }),
    r('BGPRouter', 'edge', { asn: me.asn, routerID: me.wan }),
    r('BFD', 'fast', { detectMultiplier: 3, receiveInterval: '100ms', transmitInterval: '100ms' }),
    r('BGPPeer', 'isp', { routerRef: 'BGPRouter/edge', address: MULTI_ADDRESSES.isp.wan, peerASN: MULTI_ADDRESSES.isp.asn, holdTime: '9s', ...(bfd ? { bfd: 'BFD/fast' } : {}) }),
    r('NAT44AddressPool', 'egress', {
      bgpRouter: 'BGPRouter/edge',
      ...(liveness ? { liveness: 'BFD/fast' } : {}),
      standbyPrepend: 3,
      addresses: [...MULTI_ADDRESSES.pool],
      members: members.map((m) => ({ node: m, address: MULTI_ADDRESSES.routers[m].lan })),
      ...(sessions
        ? {
            sync: { mode: 'stream', interval: '10s', sshOptions: ['-o', 'ConnectTimeout=2'] },
            lan: { interface: 'lan', advertInterval: '100ms', gateways: MULTI_ADDRESSES.gateways.map((g, i) => ({ address: `${g}/24`, virtualRouterId: 116 + i })) },
          }
        : {}),
    }),
    ...(sessions
      ? MULTI_ADDRESSES.pool.map((a, i) =>
          r('NAT44Rule', `pool-${i}`, { outInterface: 'wan', sources: [`${MULTI_ADDRESSES.clientSources[i]}/32`], snat: { address: a }, random: true }),
        )
      : []),
  ];
  return stringify(docs);
}
