// routerd configs for the N-router lab: the same NAT44AddressPool on every
// router, a BGPRouter and BGPPeer of its own. Built from the lab's constants
// only, and serialised with the yaml library (no text templating of values).
import { stringify } from 'yaml';
import { API_VERSION } from '../api/primitives.ts';
import { MULTI_ADDRESSES, type MultiRouter } from './multi.ts';

export function multiRouterConfig(router: MultiRouter, members: readonly MultiRouter[], opts: { bfd?: boolean } = {}): string {
  const bfd = opts.bfd ?? true;
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
      liveness: 'BFD/fast',
      standbyPrepend: 3,
      addresses: [...MULTI_ADDRESSES.pool],
      members: members.map((m) => ({ node: m, address: MULTI_ADDRESSES.routers[m].lan })),
    }),
  ];
  return stringify(docs);
}
