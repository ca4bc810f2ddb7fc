// Where routerd keeps things on a node. Paths are derived from kind and name,
// never configured, so both routers of a pair agree on them (seed 002).
import { join } from 'node:path';

export const DEFAULT_STATE_DIR = '/var/lib/routerd';
export const DEFAULT_RUN_DIR = '/run/routerd';

export interface NodePaths {
  /** Persistent state: lease files, prefix-delegation state. */
  readonly stateDir: string;
  /** Runtime: rendered configs, pid files, FIFOs, the API socket, SSH control sockets. */
  readonly runDir: string;
}

export const defaultPaths: NodePaths = { stateDir: DEFAULT_STATE_DIR, runDir: DEFAULT_RUN_DIR };

export function socketPath(p: NodePaths): string {
  return join(p.runDir, 'routerd.sock');
}

export function keepalivedDir(p: NodePaths): string {
  return join(p.runDir, 'keepalived');
}

export function keepalivedConfPath(p: NodePaths): string {
  return join(keepalivedDir(p), 'keepalived.conf');
}

export function keepalivedFifoPath(p: NodePaths): string {
  return join(keepalivedDir(p), 'notify.fifo');
}

/**
 * The keepalived track_file of a VirtualAddress's handover gate: routerd writes
 * the priority offset (0 = full priority, negative = demoted), keepalived reads
 * it on every change (inotify). In the run dir: after a reboot routerd writes
 * it (demoted) before keepalived starts.
 */
export function keepalivedGatePath(p: NodePaths, vipName: string): string {
  return join(keepalivedDir(p), `gate-${vipName}`);
}

/**
 * The file base name of each DHCP server kind: its controller's name, written
 * out here because paths sit below the registry (test/unit/paths.test.ts holds
 * it to the controller names). Changing one moves lease files on disk.
 */
export const DNSMASQ_FILE_BASES = { DHCPv4Server: 'dhcpv4-server', DHCPv6Server: 'dhcpv6-server' } as const;

/** dnsmasq server config, pid file and lease file for a DHCP server resource. */
export function dnsmasqPaths(p: NodePaths, kind: keyof typeof DNSMASQ_FILE_BASES, name: string) {
  const base = `${DNSMASQ_FILE_BASES[kind]}-${name}`;
  return {
    conf: join(p.runDir, 'dnsmasq', `${base}.conf`),
    pidFile: join(p.runDir, 'dnsmasq', `${base}.pid`),
    leaseFile: join(p.stateDir, 'dnsmasq', `${base}.leases`),
  };
}

/** The prefix-delegation client's state directory (its DUID and lease). */
export function prefixDelegationStateDir(p: NodePaths, name: string): string {
  return join(p.stateDir, 'dhcpcd', name);
}

export type LeaseSourceKind = 'DHCPv4Server' | 'DHCPv6Server' | 'DHCPv6PrefixDelegation';

/**
 * What a lease sync copies for its source: a file for dnsmasq servers, a
 * directory (trailing slash: its contents) for the prefix-delegation client.
 */
export function leaseSyncPath(p: NodePaths, kind: LeaseSourceKind, name: string): string {
  if (kind === 'DHCPv6PrefixDelegation') return `${prefixDelegationStateDir(p, name)}/`;
  return dnsmasqPaths(p, kind, name).leaseFile;
}

export function sshControlDir(p: NodePaths): string {
  return join(p.runDir, 'ssh');
}

export function isLeaseSourceKind(k: string): k is LeaseSourceKind {
  return k === 'DHCPv4Server' || k === 'DHCPv6Server' || k === 'DHCPv6PrefixDelegation';
}

/** Longest path a unix socket can be bound at (sun_path, with its NUL). */
const SUN_PATH_MAX = 107;

/**
 * --node, --run-dir and --state-dir end up in keepalived.conf, dnsmasq and
 * ssh configs and rsync's argv: a plain name and plain absolute paths only.
 * Returns the problems, each naming its flag.
 */
export function checkNodeSettings(nodeName: string, p: NodePaths): string[] {
  const problems: string[] = [];
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(nodeName))
    problems.push(`--node ${JSON.stringify(nodeName)} must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  for (const [flag, dir] of [
    ['--run-dir', p.runDir],
    ['--state-dir', p.stateDir],
  ] as const) {
    if (!/^\/[A-Za-z0-9_./-]*$/.test(dir) || dir.split('/').some((s) => s === '..' || s === '.'))
      problems.push(`${flag} ${JSON.stringify(dir)} must be an absolute path of letters, digits, "_", ".", "-" and "/" (no spaces, quotes, "." or ".." segments)`);
    else if (dir.length > 200) problems.push(`${flag} is ${dir.length} characters long; at most 200`);
  }
  if (socketPath(p).length > SUN_PATH_MAX) problems.push(`--run-dir is too long for the API socket path (${socketPath(p).length} > ${SUN_PATH_MAX} bytes)`);
  return problems;
}
