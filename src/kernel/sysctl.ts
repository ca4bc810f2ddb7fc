// Per-network-namespace sysctls, read and written with procps `sysctl` through
// Host.run. Not Host.readFile: /proc/sys/net shows the namespace of the process
// that reads it, and LocalHost reads files from routerd's own process while its
// commands run under `ip netns exec`.
import { runChecked } from '../host/host.ts';
import type { Host } from '../host/host.ts';

export const SYSCTL = {
  ipForward: 'net.ipv4.ip_forward',
  ipv6Forwarding: 'net.ipv6.conf.all.forwarding',
  conntrackTcpLoose: 'net.netfilter.nf_conntrack_tcp_loose',
  /** Read-only inside a non-initial netns (the host's value applies). */
  conntrackMax: 'net.netfilter.nf_conntrack_max',
  conntrackCount: 'net.netfilter.nf_conntrack_count',
  /**
   * 2 (the default): an entry gets the event extension only if an event
   * listener exists when it is created; entries created with no listener never
   * report an update or their destroy (docs/kernel-facts.md). 1: always.
   */
  conntrackEvents: 'net.netfilter.nf_conntrack_events',
} as const;

/** Dotted (net.ipv4.ip_forward) or slashed (net/ipv4/conf/eth0.100/forwarding) keys. */
export function isValidSysctlKey(key: string): boolean {
  return /^[a-z0-9_]+(?:[./][A-Za-z0-9_.:@-]+)+$/.test(key) && !key.includes('..');
}

function checkKey(key: string): string {
  if (!isValidSysctlKey(key)) throw new TypeError(`invalid sysctl key: ${JSON.stringify(key)}`);
  return key;
}

/** `sysctl KEY...` prints "key = value" lines; an unknown key goes to stderr and the exit is 1. */
export function sysctlReadArgv(keys: readonly string[]): string[] {
  if (keys.length === 0) throw new TypeError('no sysctl keys');
  return ['sysctl', ...keys.map(checkKey)];
}

export function sysctlWriteArgv(key: string, value: string | number): string[] {
  const v = String(value);
  if (!/^[A-Za-z0-9_.:-]+$/.test(v)) throw new TypeError(`unsupported sysctl value: ${JSON.stringify(v)}`);
  return ['sysctl', '-w', `${checkKey(key)}=${v}`];
}

/**
 * "key = value" lines into a map, keys as printed (dotted; slashed keys come back
 * with '/' for the dots inside a component: net.ipv4.conf.eth0/100.forwarding).
 */
export function parseSysctlOutput(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf(' = ');
    if (eq > 0) out.set(line.slice(0, eq).trim(), line.slice(eq + 3).trim());
  }
  return out;
}

function printedKey(key: string): string {
  return key.includes('/') ? key.split('/').map((c) => c.replaceAll('.', '/')).join('.') : key;
}

/** Values of `keys` in the Host's namespace; a key the kernel lacks maps to undefined. */
export async function readSysctls(host: Host, keys: readonly string[]): Promise<Map<string, string | undefined>> {
  const r = await host.run(sysctlReadArgv(keys));
  const got = parseSysctlOutput(r.stdout);
  return new Map(keys.map((k) => [k, got.get(printedKey(k))]));
}

export async function readSysctl(host: Host, key: string): Promise<string | undefined> {
  return (await readSysctls(host, [key])).get(key);
}

/** A sysctl write the kernel did not take. */
export class SysctlWriteError extends Error {
  readonly code = 'RD_E_SYSCTL_WRITE';
  constructor(
    readonly key: string,
    readonly wanted: string,
    readonly actual: string | undefined,
    detail: string,
  ) {
    super(`sysctl ${key}=${wanted} did not apply (now ${actual ?? 'unreadable'})${detail ? `: ${detail}` : ''}`);
    this.name = 'SysctlWriteError';
  }
}

/**
 * Write and read back. procps 4.0.2 exits 0 when the kernel refuses a write
 * ("sysctl: setting key ...: Invalid argument" on stderr, e.g. nf_conntrack_max
 * in a netns), so the exit code alone proves nothing.
 */
export async function writeSysctl(host: Host, key: string, value: string | number): Promise<void> {
  const wanted = String(value);
  const w = await runChecked(host, sysctlWriteArgv(key, wanted));
  const actual = await readSysctl(host, key);
  if (actual !== wanted) throw new SysctlWriteError(key, wanted, actual, w.stderr.trim());
}

export interface ConntrackSysctls {
  readonly ipForward?: boolean;
  readonly tcpLoose?: boolean;
  readonly conntrackMax?: number;
  readonly conntrackCount?: number;
}

function asBool(v: string | undefined): boolean | undefined {
  return v === undefined ? undefined : v !== '0';
}

function asInt(v: string | undefined): number | undefined {
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/** The sysctls a NAT router's session sync cares about, in one `sysctl` run. */
export async function readConntrackSysctls(host: Host): Promise<ConntrackSysctls> {
  const v = await readSysctls(host, [
    SYSCTL.ipForward,
    SYSCTL.conntrackTcpLoose,
    SYSCTL.conntrackMax,
    SYSCTL.conntrackCount,
  ]);
  const ipForward = asBool(v.get(SYSCTL.ipForward));
  const tcpLoose = asBool(v.get(SYSCTL.conntrackTcpLoose));
  const conntrackMax = asInt(v.get(SYSCTL.conntrackMax));
  const conntrackCount = asInt(v.get(SYSCTL.conntrackCount));
  return {
    ...(ipForward !== undefined ? { ipForward } : {}),
    ...(tcpLoose !== undefined ? { tcpLoose } : {}),
    ...(conntrackMax !== undefined ? { conntrackMax } : {}),
    ...(conntrackCount !== undefined ? { conntrackCount } : {}),
  };
}
