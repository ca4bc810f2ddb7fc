import { z } from 'zod';
import { ErrorCode } from '../../api/errors.ts';
import { kindApi } from '../../api/kinds.ts';
import { duration, ifname, ipFamily, ipv4Address, parseCidr, port, resourceRef, uniqueList } from '../../api/primitives.ts';
import { targetFields, uniqueTargets } from '../../api/target.ts';
import { whenSchema } from '../../api/when.ts';

export const SESSION_SYNC_MODES = ['snapshot', 'stream', 'conntrackd'] as const;
/** Other spellings accepted for a mode: routerd (Go) calls the stream mode `event-stream`. */
const SESSION_SYNC_MODE_ALIASES = { 'event-stream': 'stream' } as const;

export function isIPv4OrPrefix(s: string): boolean {
  if (!s.includes('/')) return ipFamily(s) === 4;
  const p = parseCidr(s);
  return typeof p !== 'string' && p.family === 4;
}

const ipv4OrCidr = z.string().superRefine((s, ctx) => {
  if (!isIPv4OrPrefix(s)) ctx.addIssue({ code: 'custom', message: `"${s}" is not an IPv4 address or prefix`, params: { rdCode: ErrorCode.InvalidAddress }, input: s });
});

/** mode conntrackd: how the routers talk to each other. Field names follow routerd (Go) where it has them. */
export const conntrackdSyncSpec = z.strictObject({
  interface: ifname.optional().describe('Dedicated sync link (kernel name or Interface resource); default: the interface of the route to the peer.'),
  localAddress: ipv4Address.optional().describe('This router\'s address on the sync link; default: the source address of the route to the peer.'),
  peerAddress: ipv4Address.optional().describe('The peer\'s sync address (UDP); default: the target\'s host, which must then be an IPv4 address.'),
  port: port.default(3780).describe('UDP port of the sync channel (multicast: the Group number).'),
  ignoreIPv4: uniqueList(ipv4OrCidr, 'address').default([]).describe('More addresses or prefixes whose flows are not replicated (the routers\' own addresses and VIPs are always ignored).'),
  multicast: z
    .strictObject({
      group: ipv4Address.describe('Multicast group address the routers send to, e.g. 225.0.0.50 (for more than two routers).'),
    })
    .optional()
    .describe('Multicast transport instead of UDP unicast; needed for more than one target.'),
  tuning: z
    .strictObject({
      netlinkBufferSize: z.number().int().min(65_536).max(1 << 30).default(2_097_152).describe('Netlink event socket buffer (bytes); conntrackd runs with the larger of this and netlinkBufferSizeMaxGrowth (reliable event delivery never grows it).'),
      netlinkBufferSizeMaxGrowth: z.number().int().min(65_536).max(1 << 30).default(67_108_864).describe('Largest netlink event buffer (bytes); with reliable events (routerd\'s choice) conntrackd starts at it.'),
      socketBufferSize: z.number().int().min(65_536).max(1 << 30).default(24_985_600).describe('Send and receive buffer of the sync socket (bytes).'),
      resendQueueSize: z.number().int().min(1024).max(16_777_216).default(262_144).describe('FTFW resend queue (messages kept for retransmission).'),
      purgeTimeout: z.number().int().min(1).max(3600).default(60).describe('Seconds to the flush that `conntrackd -t` (fault) schedules.'),
    })
    .prefault({})
    .describe('conntrackd buffer and queue sizes.'),
});

export const nat44SessionSyncSpec = z
  .strictObject({
    mode: z
      .enum([...SESSION_SYNC_MODES, ...(Object.keys(SESSION_SYNC_MODE_ALIASES) as (keyof typeof SESSION_SYNC_MODE_ALIASES)[])])
      .default('snapshot')
      .transform((m): (typeof SESSION_SYNC_MODES)[number] => (m in SESSION_SYNC_MODE_ALIASES ? SESSION_SYNC_MODE_ALIASES[m as keyof typeof SESSION_SYNC_MODE_ALIASES] : (m as (typeof SESSION_SYNC_MODES)[number])))
      .describe(
        'snapshot: periodic dump and restore; stream (also spelled event-stream): follow conntrack events plus periodic resync; conntrackd: run conntrackd (FTFW) on both routers, driven by the VRRP role.',
      ),
    interval: duration({ minMs: 100 })
      .optional()
      .describe('snapshot: how often to dump and restore (default 2s). stream: full resync and prune period (default 30s). conntrackd: how often the master re-sends its whole cache (default 30s), so idle UDP entries do not expire on the standby.'),
    natRules: z
      .array(resourceRef(['NAT44Rule']))
      .default([])
      .describe('NAT44Rules whose SNAT addresses (from their status) are mirrored.'),
    excludeNatRules: z
      .array(resourceRef(['NAT44Rule']))
      .default([])
      .describe('NAT44Rules whose SNAT addresses are left out even if another rule shares them.'),
    snatAddresses: uniqueList(ipv4Address, 'address').default([]).describe('Static SNAT addresses to mirror, in addition to natRules.'),
    targets: z
      .array(
        z.strictObject({
          ...targetFields,
          restoreCommand: z
            .array(z.string().min(1))
            .min(1)
            .default(['conntrack'])
            .describe('Command run on the target to restore entries; [sudo, conntrack] when the user needs elevation.'),
          deleteHelper: z
            .string()
            .regex(/^\/[A-Za-z0-9._/+-]+$/, 'an absolute path of plain characters')
            .optional()
            .describe(
              'Path of routerd-ct-delete on the target (exact deletes by tuple, run with the words of restoreCommand before conntrack, e.g. sudo); default: the same path as on this router. Without it deletes fall back to conntrack -D lines (a table scan each).',
            ),
        }),
      )
      .min(1)
      .describe('Standby routers that receive the sessions.'),
    conntrackd: conntrackdSyncSpec.optional().describe('mode conntrackd: sync link, multicast and tuning; every field has a default.'),
    when: whenSchema
      .optional()
      .describe('Gate: sync only while this holds, usually the VIP role being master. mode conntrackd runs on every router and takes the role from it: true = master, false = backup (fault when the VirtualAddress is in fault).'),
  })
  .superRefine((s, ctx) => {
    if (s.conntrackd && s.mode !== 'conntrackd')
      ctx.addIssue({ code: 'custom', path: ['conntrackd'], message: `conntrackd settings apply to mode conntrackd only (mode is ${s.mode})`, params: { rdCode: ErrorCode.Conflict } });
    if (s.mode === 'conntrackd') {
      if (s.targets.length > 1 && !s.conntrackd?.multicast)
        ctx.addIssue({
          code: 'custom',
          path: ['targets'],
          message: `mode conntrackd over UDP has one peer; ${s.targets.length} targets need conntrackd.multicast`,
          params: { rdCode: ErrorCode.Conflict },
        });
      if (!s.conntrackd?.multicast && !s.conntrackd?.peerAddress && s.targets[0] && ipFamily(s.targets[0].host) !== 4)
        ctx.addIssue({
          code: 'custom',
          path: ['targets', 0, 'host'],
          message: `mode conntrackd sends to the target's IPv4 address; "${s.targets[0].host}" is not one (set conntrackd.peerAddress)`,
          params: { rdCode: ErrorCode.InvalidAddress },
        });
    }
    if (s.natRules.length === 0 && s.snatAddresses.length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['natRules'],
        message: 'select sessions with natRules or snatAddresses (both are empty)',
        params: { rdCode: ErrorCode.MissingField },
      });
    uniqueTargets(s.targets, ctx);
  });
export type NAT44SessionSyncSpec = z.infer<typeof nat44SessionSyncSpec>;

export const DEFAULT_SNAPSHOT_INTERVAL = '2s';
export const DEFAULT_STREAM_RESYNC_INTERVAL = '30s';
export const DEFAULT_CONNTRACKD_REFRESH_INTERVAL = '30s';

declare module '../../api/kinds.ts' { interface KindSpecs { NAT44SessionSync: typeof nat44SessionSyncSpec } }

export const sessionSyncApi = kindApi({
  kind: 'NAT44SessionSync', spec: nat44SessionSyncSpec, controller: 'nat44-session-sync', statusFields: ['targets', 'lastSyncTime', 'snatAddresses'],
  description: 'Keeps selected NAT44 conntrack sessions warm on standby routers.',
  references: (s) => [
    ...s.natRules.map((t, i) => ({ path: ['spec', 'natRules', i], target: t })),
    ...s.excludeNatRules.map((t, i) => ({ path: ['spec', 'excludeNatRules', i], target: t })),
  ],
});
