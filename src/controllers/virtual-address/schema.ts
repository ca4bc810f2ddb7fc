import { z } from 'zod';
import { kindApi } from '../../api/kinds.ts';
import { duration, ifname, interfaceCidr, ipAddress } from '../../api/primitives.ts';

export const virtualAddressSpec = z.strictObject({
  interface: ifname.describe('Interface (resource name or kernel name) that carries the address and the VRRP adverts.'),
  address: interfaceCidr.describe('The floating address with its prefix length, e.g. 192.0.2.1/24.'),
  virtualRouterId: z.number().int().min(1).max(255).describe('VRRP router id (1-255); the same on every router of the group.'),
  priority: z.number().int().min(1).max(254).describe('VRRP priority (1-254); the highest live router is master.'),
  advertInterval: duration({ minMs: 10, maxMs: 40_950 })
    .default('1s')
    .describe(
      'VRRP advertisement interval (VRRPv3, in steps of 10ms). A dead master is replaced after 3 intervals plus a skew (about 3.6 × interval for priority 100), then GARP: ' +
        '1s → about 3.2 s gap, 200ms → about 0.7 s, 100ms → about 0.3 s, 50ms → about 0.2 s (bench/RESULTS.md, docs/failover.md). ' +
        'For a failover gap under 0.5 s use 100ms (UDP) or the fast-failover preset, 50ms with NAT44SessionSync in stream mode (TCP: retransmissions back off from 200 ms; ' +
        'measured with 1000 TCP + 200 UDP flows, docs/failover.md); the master sends 1000/interval adverts per second per VirtualAddress.',
    ),
  peers: z
    .array(ipAddress)
    .optional()
    .describe('Unicast VRRP peers (the other routers\' addresses on this interface); omitted = multicast.'),
  preempt: z.boolean().default(true).describe('Whether a higher-priority router takes the role back when it returns.'),
  preemptDelay: duration({ minMs: 0, maxMs: 1_000_000 })
    .optional()
    .describe(
      'keepalived preempt_delay: how long a returning higher-priority router waits (as backup) before taking the role back. ' +
        'Omitted = no delay. The state gate (handover) already waits for the state; this adds a fixed delay on top.',
    ),
  handover: z
    .strictObject({
      waitForState: z
        .boolean()
        .default(true)
        .describe(
          'A router that joins or returns advertises a demoted VRRP priority until the current master\'s sessions (NAT44SessionSync) ' +
            'and lease files (lease syncs) in which it is a target are in its kernel and on its disk. false = take the role at once.',
        ),
      maxWait: duration({ minMs: 1000, maxMs: 3_600_000 })
        .default('60s')
        .describe('Past this, a gate that could not be met opens anyway, with status reason HandoverTimedOut, a warning log line and a metric.'),
    })
    .default({ waitForState: true, maxWait: '60s' })
    .describe('When a returning router may take the master role back (docs/handover.md).'),
  extraAddresses: z
    .array(
      z.strictObject({
        interface: ifname.describe('Interface that carries this address.'),
        address: interfaceCidr.describe('Address with prefix length, e.g. 198.51.100.100/24.'),
      }),
    )
    .default([])
    .describe('Addresses that move with the VIP, e.g. the SNAT address on the WAN side.'),
});

declare module '../../api/kinds.ts' { interface KindSpecs { VirtualAddress: typeof virtualAddressSpec } }

export const virtualAddressApi = kindApi({
  kind: 'VirtualAddress', spec: virtualAddressSpec, controller: 'virtual-address', statusFields: ['role', 'since', 'roleReason', 'keepalived'],
  description: 'A floating address shared by the routers through VRRP (keepalived).',
});
