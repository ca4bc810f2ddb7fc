// conntrackd.conf for one NAT44SessionSync in mode conntrackd. conntrackd parses
// this file by its own rules, so every value is checked here again (addresses,
// interface names, paths, numbers) and rendering throws on anything else.
//
// Choices (docs/session-sync.md):
// - FTFW over UDP unicast to the one peer (Multicast for more routers).
// - DisableExternalCache on: entries from the peer go straight into the kernel,
//   so a standby's kernel already holds them when the VIP moves to it; there is
//   no commit (`conntrackd -c`) on the critical path (keepalived #2254).
// - Filter: TCP, UDP, ICMP; the routers' own addresses ignored (VRRP, ssh and the
//   sync channel itself are not replicated). conntrackd's address filter tests
//   the original source and the reply source only, so it cannot select flows by
//   their SNAT address (the reply destination): every forwarded flow is synced.
// - Netlink buffer sized and allowed to grow, overrun resync after 1 s, so an
//   overrun heals on its own; routerd also resyncs and re-sends at once.
import { isIPv4 } from 'node:net';
import { isAbsolute } from 'node:path';

export interface ConntrackdFiles {
  readonly lockFile: string;
  readonly socket: string;
  readonly logFile: string;
}

export interface ConntrackdTuning {
  readonly netlinkBufferSize: number;
  readonly netlinkBufferSizeMaxGrowth: number;
  readonly socketBufferSize: number;
  readonly resendQueueSize: number;
  readonly purgeTimeout: number;
}

export type ConntrackdTransport =
  | { readonly kind: 'udp'; readonly localAddress: string; readonly peerAddress: string; readonly interface: string; readonly port: number }
  | { readonly kind: 'multicast'; readonly group: string; readonly localAddress: string; readonly interface: string; readonly port: number };

export interface ConntrackdConfInput {
  readonly transport: ConntrackdTransport;
  /** Addresses or IPv4 prefixes whose flows are not replicated. */
  readonly ignore: readonly string[];
  readonly files: ConntrackdFiles;
  readonly tuning: ConntrackdTuning;
}

export const DEFAULT_TUNING: ConntrackdTuning = {
  netlinkBufferSize: 2_097_152,
  netlinkBufferSizeMaxGrowth: 67_108_864,
  socketBufferSize: 24_985_600,
  resendQueueSize: 262_144,
  purgeTimeout: 60,
};

function ipv4(what: string, s: string): string {
  if (!isIPv4(s)) throw new TypeError(`conntrackd.conf: ${what} ${JSON.stringify(s)} is not an IPv4 address`);
  return s;
}

function ipv4OrPrefix(s: string): string {
  const [addr = '', len, ...rest] = s.split('/');
  const ok = isIPv4(addr) && rest.length === 0 && (len === undefined || (/^\d{1,2}$/.test(len) && Number(len) <= 32));
  if (!ok) throw new TypeError(`conntrackd.conf: ignored address ${JSON.stringify(s)} is not an IPv4 address or prefix`);
  return s;
}

function ifname(s: string): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(s) || s === '.' || s === '..') throw new TypeError(`conntrackd.conf: interface ${JSON.stringify(s)} is not a valid interface name`);
  return s;
}

function path(what: string, s: string): string {
  if (!isAbsolute(s) || !/^[A-Za-z0-9_./+-]+$/.test(s)) throw new TypeError(`conntrackd.conf: ${what} ${JSON.stringify(s)} is not a plain absolute path`);
  return s;
}

function int(what: string, n: number, min: number, max: number): string {
  if (!Number.isInteger(n) || n < min || n > max) throw new TypeError(`conntrackd.conf: ${what} ${n} is not an integer in ${min}..${max}`);
  return String(n);
}

function isMulticast(s: string): boolean {
  const first = Number(s.split('.')[0]);
  return first >= 224 && first <= 239;
}

export function renderConntrackdConf(input: ConntrackdConfInput): string {
  const t = input.tuning;
  const tr = input.transport;
  const buf = int('socket buffer', t.socketBufferSize, 65_536, 1 << 30);
  int('netlink buffer size', t.netlinkBufferSize, 65_536, 1 << 30);
  const nlbuf = int('netlink buffer growth', Math.max(t.netlinkBufferSizeMaxGrowth, t.netlinkBufferSize), 65_536, 1 << 30);
  if (tr.kind === 'multicast' && !isMulticast(ipv4('multicast group', tr.group)))
    throw new TypeError(`conntrackd.conf: multicast group ${JSON.stringify(tr.group)} is not in 224.0.0.0/4`);
  const link =
    tr.kind === 'udp'
      ? [
          '\tUDP {',
          `\t\tIPv4_address ${ipv4('local address', tr.localAddress)}`,
          `\t\tIPv4_Destination_Address ${ipv4('peer address', tr.peerAddress)}`,
          `\t\tPort ${int('port', tr.port, 1, 65_535)}`,
          `\t\tInterface ${ifname(tr.interface)}`,
          `\t\tSndSocketBuffer ${buf}`,
          `\t\tRcvSocketBuffer ${buf}`,
          '\t\tChecksum on',
          '\t}',
        ]
      : [
          '\tMulticast {',
          `\t\tIPv4_address ${tr.group}`,
          `\t\tGroup ${int('group', tr.port, 1, 65_535)}`,
          `\t\tIPv4_interface ${ipv4('local address', tr.localAddress)}`,
          `\t\tInterface ${ifname(tr.interface)}`,
          `\t\tSndSocketBuffer ${buf}`,
          `\t\tRcvSocketBuffer ${buf}`,
          '\t\tChecksum on',
          '\t}',
        ];
  const ignore = [...new Set(input.ignore.map(ipv4OrPrefix))].sort();
  const lines = [
    '# Rendered by routerd; edits are overwritten.',
    'Sync {',
    '\tMode FTFW {',
    `\t\tResendQueueSize ${int('resend queue size', t.resendQueueSize, 1024, 16_777_216)}`,
    `\t\tPurgeTimeout ${int('purge timeout', t.purgeTimeout, 1, 3600)}`,
    '\t\tDisableExternalCache on',
    '\t\tStartupResync on',
    '\t}',
    ...link,
    '}',
    'General {',
    '\tSystemd no',
    '\tHashSize 65536',
    '\tHashLimit 524288',
    `\tLogFile ${path('log file', input.files.logFile)}`,
    '\tSyslog no',
    `\tLockFile ${path('lock file', input.files.lockFile)}`,
    '\tUNIX {',
    `\t\tPath ${path('control socket', input.files.socket)}`,
    '\t}',
    // Reliable events never report ENOBUFS, so conntrackd never grows its buffer: start at the largest size.
    `\tNetlinkBufferSize ${nlbuf}`,
    `\tNetlinkBufferSizeMaxGrowth ${nlbuf}`,
    '\tNetlinkEventsReliable on',
    '\tNetlinkOverrunResync off',
    '\tFilter From Kernelspace {',
    '\t\tProtocol Accept {',
    '\t\t\tTCP',
    '\t\t\tUDP',
    '\t\t\tICMP',
    '\t\t}',
    '\t\tAddress Ignore {',
    ...ignore.map((a) => `\t\t\tIPv4_address ${a}`),
    '\t\t}',
    '\t}',
    '}',
  ];
  return `${lines.join('\n')}\n`;
}
