// The two-router lab: client — LAN bridge — ra/rb — WAN bridge — server, each
// node in its own network namespace plus its own mount namespace, so that two
// routers on one host keep separate /var/lib/routerd, /run/routerd, /run/sshd,
// ... as two machines would (see docs/kernel-facts.md, "Namespaces and links").
//
// Mount-namespace recipe (verified in test/e2e/lab.test.ts):
//   nsenter --net=/run/netns/NS -- unshare --mount --propagation slave -- sleep infinity
//       a holder process per node: its /proc/PID/ns/mnt *is* the node's mount
//       namespace, entered with nsenter --mount=/proc/PID/ns/mnt.
//   then, one argv each, via nsenter --net=... --mount=/proc/PID/ns/mnt --:
//   umount -l /sys; mount -t sysfs sysfs /sys   (sysfs of the node's netns)
//   mount --bind BASE/NODE/fs/DIR /DIR          (for each private dir)
// Why a holder and not a mount-ns file (`unshare --mount=FILE`): binding a
// mount-ns file is refused with EINVAL unless the binding process's own mount
// namespace is older than the bound one, and since Linux 6.x namespace ids come
// from per-CPU batches, so "older" is not "created earlier": inside any mount
// namespace other than the initial one (as CI runs, under an empty /run) the
// bind failed for about half the nodes, depending on the CPU the new namespace
// was created on (pinned in test/e2e/lab.test.ts and docs/kernel-facts.md).
// Propagation "slave" rather than "private": the node still receives the host's
// mount events (e.g. /run/netns entries added and removed by `ip netns`), and
// nothing mounted inside the node leaks out.
// Teardown: the holder lives in the node's netns, so killing the processes of
// the lab's namespaces (by PID) ends the mount namespaces too; then
// `ip netns del` and rm -r BASE.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, readFile, readdir, readlink, rm, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { runChecked } from '../host/host.ts';
import type { RunOptions, RunResult } from '../host/host.ts';
import { LocalHost } from '../host/local.ts';
import { NamespaceHost } from './nshost.ts';

export type LabNodeName = 'client' | 'ra' | 'rb' | 'server';
export const LAB_NODE_NAMES: readonly LabNodeName[] = ['client', 'ra', 'rb', 'server'];
export type LabSegment = 'lan' | 'wan';

/** Every address the lab uses; documentation ranges only. */
export const LAB_ADDRESSES = {
  lan: {
    prefix4: '192.0.2.0/24',
    prefix6: 'fd00:0:0:1::/64',
    len4: 24,
    len6: 64,
    /** Reserved for the routers' VRRP virtual address; the client's default gateway. */
    vip4: '192.0.2.1',
    vip6: 'fd00:0:0:1::1',
  },
  wan: {
    prefix4: '198.51.100.0/24',
    prefix6: 'fd00:0:0:2::/64',
    len4: 24,
    len6: 64,
    /** SNAT / floating addresses reserved for tests: .100 to .199. */
    snatPool4: { first: '198.51.100.100', last: '198.51.100.199' },
  },
  /** Routed nowhere: the server has no route to it (nor to the LAN). */
  unrouted4: '203.0.113.0/24',
  nodes: {
    client: { lan4: '192.0.2.10', lan6: 'fd00:0:0:1::10' },
    ra: { lan4: '192.0.2.2', lan6: 'fd00:0:0:1::2', wan4: '198.51.100.2', wan6: 'fd00:0:0:2::2' },
    rb: { lan4: '192.0.2.3', lan6: 'fd00:0:0:1::3', wan4: '198.51.100.3', wan6: 'fd00:0:0:2::3' },
    server: { wan4: '198.51.100.200', wan6: 'fd00:0:0:2::200' },
  },
} as const;
export type LabAddresses = typeof LAB_ADDRESSES;

export interface LabNodeAddresses {
  readonly lan4?: string;
  readonly lan6?: string;
  readonly wan4?: string;
  readonly wan6?: string;
}

/** Directories each node gets privately (bind mounts of BASE/NODE/fs/DIR). */
export const LAB_PRIVATE_DIRS = [
  '/var/lib/routerd',
  '/run/routerd',
  '/var/lib/dhcpcd',
  '/run/dhcpcd',
  '/var/lib/kea',
  '/run/kea',
  '/etc/routerd',
  // ssh client keys and known_hosts, as each router would have its own.
  '/root/.ssh',
  // sshd's privilege separation directory: the openssh-server package creates
  // it only when its own service starts, and /run is empty after every boot.
  '/run/sshd',
] as const;

export interface LabNode {
  readonly name: LabNodeName;
  /** Network namespace name (/run/netns/NAME). */
  readonly netns: string;
  /** The node's mount namespace: /proc/PID/ns/mnt of its holder process. */
  readonly mountNsFile: string;
  /** PID of the process that holds the node's mount namespace. */
  readonly mountNsHolder: number;
  /** Runs commands and file operations inside the node. */
  readonly host: NamespaceHost;
  /** Interface names inside the node, per segment. */
  readonly ifaces: { readonly lan?: string; readonly wan?: string };
  readonly addresses: LabNodeAddresses;
  /** Host directory backing this node's private dirs: `${root}/var/lib/routerd` etc. */
  readonly root: string;
  /** Directories private to this node (each a bind mount of `${root}${dir}`). */
  readonly privateDirs: readonly string[];
}

export interface LabOptions {
  /** From labPrefix(): namespace names are `${prefix}client`, `${prefix}sw`, ... */
  readonly prefix: string;
  /** Add the IPv6 addresses and routes (default true). */
  readonly ipv6?: boolean;
  readonly log?: (msg: string) => void;
  /** Default `/tmp/${prefix without trailing dashes}`. */
  readonly baseDir?: string;
  /** More per-node private directories on top of LAB_PRIVATE_DIRS (e.g. '/run/sshd'). */
  readonly extraPrivateDirs?: readonly string[];
}

export interface Lab {
  readonly prefix: string;
  readonly base: string;
  readonly ipv6: boolean;
  /** Namespace holding the `lan` and `wan` bridges. */
  readonly switchNetns: string;
  readonly nodes: Readonly<Record<LabNodeName, LabNode>>;
  readonly addresses: LabAddresses;
  /** Run argv inside a node (never throws on a non-zero exit: check `code`). */
  exec(node: LabNodeName, argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Set a link down/up; node 'sw' addresses the bridge ports (`ra-lan`, `cl-lan`, ...). */
  linkDown(node: LabNodeName | 'sw', ifname: string): Promise<void>;
  linkUp(node: LabNodeName | 'sw', ifname: string): Promise<void>;
  /** Idempotent; tolerates a half-built lab; throws if something could not be removed. */
  destroy(): Promise<void>;
}

interface LinkSpec {
  readonly node: LabNodeName;
  readonly ifname: string;
  readonly segment: LabSegment;
  /** Name of the veth end in the switch namespace (IFNAMSIZ: at most 15 chars). */
  readonly port: string;
}

const LINKS: readonly LinkSpec[] = [
  { node: 'client', ifname: 'eth0', segment: 'lan', port: 'cl-lan' },
  { node: 'ra', ifname: 'lan0', segment: 'lan', port: 'ra-lan' },
  { node: 'ra', ifname: 'wan0', segment: 'wan', port: 'ra-wan' },
  { node: 'rb', ifname: 'lan0', segment: 'lan', port: 'rb-lan' },
  { node: 'rb', ifname: 'wan0', segment: 'wan', port: 'rb-wan' },
  { node: 'server', ifname: 'eth0', segment: 'wan', port: 'sv-wan' },
];

const ROUTERS: readonly LabNodeName[] = ['ra', 'rb'];
const CMD_TIMEOUT_MS = 15_000;
const PREFIX_RE = /^[a-z0-9][a-z0-9-]{0,39}$/;

/** `rt-<pid>-<tag>-`: unique per process, short enough for any name limit. */
export function labPrefix(tag: string): string {
  if (!/^[a-z0-9]{1,8}$/.test(tag)) throw new Error(`lab tag must be 1-8 chars [a-z0-9], got ${JSON.stringify(tag)}`);
  return `rt-${process.pid}-${tag}-`;
}

function netnsNames(prefix: string): { nodes: Record<LabNodeName, string>; sw: string; all: string[] } {
  const nodes = { client: `${prefix}client`, ra: `${prefix}ra`, rb: `${prefix}rb`, server: `${prefix}server` };
  const sw = `${prefix}sw`;
  return { nodes, sw, all: [...Object.values(nodes), sw] };
}

function defaultBase(prefix: string): string {
  return `/tmp/${prefix.replace(/-+$/, '')}`;
}

export async function createLab(opts: LabOptions): Promise<Lab> {
  const { prefix } = opts;
  if (!PREFIX_RE.test(prefix)) throw new Error(`invalid lab prefix ${JSON.stringify(prefix)}; use labPrefix(tag)`);
  const log = opts.log ?? (() => undefined);
  const ipv6 = opts.ipv6 ?? true;
  const base = opts.baseDir ?? defaultBase(prefix);
  const names = netnsNames(prefix);
  // Parents before children: they are bind-mounted in this order.
  const privateDirList = [...new Set([...LAB_PRIVATE_DIRS, ...(opts.extraPrivateDirs ?? [])].map((d) => posix.normalize(d).replace(/\/+$/, '')))]
    .sort((a, b) => a.split('/').length - b.split('/').length);
  for (const d of privateDirList) {
    if (!d.startsWith('/') || d === '' || ['/proc', '/sys', '/dev'].some((v) => d === v || d.startsWith(`${v}/`))) {
      throw new Error(`private dir must be an absolute path below / and outside /proc, /sys, /dev, got ${JSON.stringify(d)}`);
    }
  }
  const local = new LocalHost();
  const run = (argv: readonly string[]): Promise<RunResult> => runChecked(local, argv, { timeoutMs: CMD_TIMEOUT_MS });

  // Refuse to adopt leftovers: they may belong to a live lab of this process.
  const existing = new Set(await listNetns());
  const clash = names.all.filter((n) => existing.has(n));
  if (clash.length > 0) throw new Error(`lab namespaces already exist: ${clash.join(', ')}; destroy that lab first`);
  if (await pathExists(base)) throw new Error(`lab base dir ${base} already exists; destroy that lab first`);

  registerForExit(prefix, base);
  const started = performance.now();
  let lab: LabImpl | undefined;
  try {
    await mkdir(base, { recursive: true, mode: 0o755 });
    // The first `ip netns add` on a fresh /run creates /run/netns and binds it
    // onto itself; concurrent first adds could each bind it and hide the
    // namespace files of the others, so one goes first.
    await run(['ip', 'netns', 'add', names.all[0]!]);
    await Promise.all(names.all.slice(1).map((ns) => run(['ip', 'netns', 'add', ns])));
    await Promise.all(
      names.all.map(async (ns) => {
        const sysctls = ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'];
        // The switch only bridges; without IPv6 on its ports it sends no ND/MLD noise.
        if (ns === names.sw) sysctls.push('net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
        if (ROUTERS.some((r) => names.nodes[r] === ns)) {
          sysctls.push('net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
        }
        await run(['nsenter', `--net=/run/netns/${ns}`, '--', 'sysctl', '-q', '-w', ...sysctls]);
        await run(['ip', '-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
      }),
    );

    const nodes = {} as Record<LabNodeName, LabNode>;
    for (const name of LAB_NODE_NAMES) {
      const root = posix.join(base, name, 'fs');
      const privateDirs = Object.fromEntries(privateDirList.map((d) => [d, posix.join(root, d)]));
      const netns = names.nodes[name];
      const mountNsHolder = await startMountNsHolder(netns);
      const mountNsFile = `/proc/${mountNsHolder}/ns/mnt`;
      const ifaces: { lan?: string; wan?: string } = {};
      for (const l of LINKS) if (l.node === name) ifaces[l.segment] = l.ifname;
      const all: LabNodeAddresses = LAB_ADDRESSES.nodes[name];
      const addresses: LabNodeAddresses = ipv6 ? all : { lan4: all.lan4, wan4: all.wan4 };
      nodes[name] = {
        name,
        netns,
        mountNsFile,
        mountNsHolder,
        root,
        privateDirs: privateDirList,
        ifaces,
        addresses,
        host: new NamespaceHost({ netns, mountNsFile, privateDirs, description: `lab ${prefix}${name}` }),
      };
    }
    for (const br of ['lan', 'wan'] as const) {
      // STP off, no forward delay, no IGMP/MLD snooping: VRRP multicast floods to every port.
      await run(['ip', '-n', names.sw, 'link', 'add', br, 'type', 'bridge',
        'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0']);
      await run(['ip', '-n', names.sw, 'link', 'set', 'dev', br, 'up']);
    }

    await Promise.all(
      LINKS.map(async (l) => {
        const ns = names.nodes[l.node];
        await run(['ip', '-n', ns, 'link', 'add', l.ifname, 'type', 'veth', 'peer', 'name', l.port, 'netns', names.sw]);
        await run(['ip', '-n', names.sw, 'link', 'set', 'dev', l.port, 'master', l.segment, 'up']);
        await run(['ip', '-n', ns, 'link', 'set', 'dev', l.ifname, 'up']);
        const a = nodes[l.node].addresses;
        const v4 = l.segment === 'lan' ? a.lan4 : a.wan4;
        const v6 = l.segment === 'lan' ? a.lan6 : a.wan6;
        const seg = LAB_ADDRESSES[l.segment];
        if (v4 !== undefined) await run(['ip', '-n', ns, 'addr', 'add', `${v4}/${seg.len4}`, 'dev', l.ifname]);
        if (v6 !== undefined) await run(['ip', '-n', ns, 'addr', 'add', `${v6}/${seg.len6}`, 'dev', l.ifname, 'nodad']);
      }),
    );

    lab = new LabImpl(prefix, base, ipv6, names.sw, nodes, log);

    // Only the client gets a default route (via the VIP). The server knows only
    // its WAN prefix: traffic from the LAN can come back only once SNAT'd.
    const client = names.nodes.client;
    await run(['ip', '-n', client, 'route', 'add', 'default', 'via', LAB_ADDRESSES.lan.vip4, 'dev', 'eth0']);
    if (ipv6) await run(['ip', '-n', client, '-6', 'route', 'add', 'default', 'via', LAB_ADDRESSES.lan.vip6, 'dev', 'eth0']);

    await Promise.all(LAB_NODE_NAMES.map((n) => setupMountNamespace(nodes[n], run)));
    log(`lab ${prefix} up in ${Math.round(performance.now() - started)} ms (base ${base})`);
    return lab;
  } catch (e) {
    log(`lab ${prefix} setup failed, tearing down: ${(e as Error).message}`);
    try {
      await (lab ?? { destroy: () => destroyLab(prefix, base, log) }).destroy();
    } catch (d) {
      log(`lab ${prefix} teardown after failed setup: ${(d as Error).message}`);
    }
    throw e;
  }
}

/**
 * Start the process that holds a node's mount namespace (see the header) and
 * wait until it has left ours; returns its PID.
 */
export async function startMountNsHolder(netns: string): Promise<number> {
  const child = spawn('nsenter', [`--net=/run/netns/${netns}`, '--', 'unshare', '--mount', '--propagation', 'slave', '--', 'sleep', 'infinity'], {
    stdio: 'ignore',
  });
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start the mount-namespace holder of ${netns}`);
  const ours = await readlink('/proc/self/ns/mnt');
  const deadline = Date.now() + CMD_TIMEOUT_MS;
  for (;;) {
    let theirs: string | undefined;
    try {
      theirs = await readlink(`/proc/${pid}/ns/mnt`);
    } catch {
      throw new Error(`the mount-namespace holder of ${netns} (pid ${pid}) exited at once`);
    }
    // nsenter execs unshare, which execs sleep: same PID, new namespace once unshare ran.
    const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
    if (theirs !== ours && comm === 'sleep') return pid;
    if (Date.now() > deadline) throw new Error(`the mount-namespace holder of ${netns} (pid ${pid}) did not unshare in time`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function setupMountNamespace(node: LabNode, run: (argv: readonly string[]) => Promise<RunResult>): Promise<void> {
  const enter = ['nsenter', `--net=/run/netns/${node.netns}`, `--mount=${node.mountNsFile}`, '--'];
  // A sysfs mounted from inside the netns shows that netns's links in /sys/class/net.
  await run([...enter, 'umount', '-l', '/sys']);
  await run([...enter, 'mount', '-t', 'sysfs', '-o', 'nosuid,nodev,noexec', 'sysfs', '/sys']);
  for (const dir of node.privateDirs) {
    const backing = posix.join(node.root, dir);
    await mkdir(backing, { recursive: true, mode: 0o755 });
    // The mount point must exist in the shared file system: an empty dir is
    // created on the host if missing and left there (another lab may use it).
    // A dir nested in another private dir already exists in that one's backing.
    if (!node.privateDirs.some((p) => dir.startsWith(`${p}/`))) await mkdir(dir, { recursive: true, mode: 0o755 });
    await run([...enter, 'mount', '--bind', backing, dir]);
  }
}

class LabImpl implements Lab {
  readonly addresses = LAB_ADDRESSES;
  private readonly local = new LocalHost();
  private destroying: Promise<void> | undefined;

  constructor(
    readonly prefix: string,
    readonly base: string,
    readonly ipv6: boolean,
    readonly switchNetns: string,
    readonly nodes: Readonly<Record<LabNodeName, LabNode>>,
    private readonly log: (msg: string) => void,
  ) {}

  exec(node: LabNodeName, argv: readonly string[], opts?: RunOptions): Promise<RunResult> {
    return this.nodes[node].host.run(argv, opts);
  }

  async linkDown(node: LabNodeName | 'sw', ifname: string): Promise<void> {
    await this.setLink(node, ifname, 'down');
  }

  async linkUp(node: LabNodeName | 'sw', ifname: string): Promise<void> {
    await this.setLink(node, ifname, 'up');
  }

  private async setLink(node: LabNodeName | 'sw', ifname: string, state: 'up' | 'down'): Promise<void> {
    const ns = node === 'sw' ? this.switchNetns : this.nodes[node].netns;
    await runChecked(this.local, ['ip', '-n', ns, 'link', 'set', 'dev', ifname, state], { timeoutMs: CMD_TIMEOUT_MS });
  }

  destroy(): Promise<void> {
    // Concurrent calls share one teardown; a later call runs it again (a no-op when clean).
    this.destroying ??= destroyLab(this.prefix, this.base, this.log).finally(() => {
      this.destroying = undefined;
    });
    return this.destroying;
  }
}

/**
 * Remove everything a lab with this prefix and base dir may have created:
 * processes inside its namespaces (by PID), the persisted mount namespaces,
 * the network namespaces, and the base dir. Safe on a partial or absent lab.
 */
export async function destroyLab(prefix: string, base = defaultBase(prefix), log: (msg: string) => void = () => undefined): Promise<void> {
  if (!PREFIX_RE.test(prefix)) throw new Error(`invalid lab prefix ${JSON.stringify(prefix)}`);
  const started = performance.now();
  const local = new LocalHost();
  const problems: string[] = [];
  const names = netnsNames(prefix);
  const present = new Set(await listNetns());
  const ours = names.all.filter((n) => present.has(n));

  // 1. Processes started inside the lab (daemons, echo servers): by PID.
  const pids = new Set<number>();
  for (const ns of ours) {
    const r = await local.run(['ip', 'netns', 'pids', ns], { timeoutMs: CMD_TIMEOUT_MS });
    for (const tok of r.stdout.split(/\s+/)) if (/^\d+$/.test(tok)) pids.add(Number(tok));
  }
  pids.delete(process.pid);
  if (pids.size > 0) {
    log(`lab ${prefix}: stopping ${pids.size} process(es) left in its namespaces: ${[...pids].join(' ')}`);
    await terminate([...pids]);
  }

  // 2. Anything still mounted under the base dir (nothing in a normal run: mount
  //    namespaces end with their holder), deepest first.
  for (const mp of mountsUnder(await readMountinfo(), base).sort((a, b) => b.length - a.length)) {
    const r = await local.run(['umount', mp], { timeoutMs: CMD_TIMEOUT_MS });
    if (r.code !== 0) {
      const lazy = await local.run(['umount', '-l', mp], { timeoutMs: CMD_TIMEOUT_MS });
      if (lazy.code !== 0) problems.push(`umount ${mp}: ${lazy.stderr.trim()}`);
    }
  }

  // 3. Network namespaces (links and bridges go with them).
  for (const ns of ours) {
    const r = await local.run(['ip', 'netns', 'del', ns], { timeoutMs: CMD_TIMEOUT_MS });
    if (r.code !== 0 && (await listNetns()).includes(ns)) problems.push(`ip netns del ${ns}: ${r.stderr.trim()}`);
  }

  // 4. The base dir, only once nothing is mounted below it (rm would descend into a mount).
  const left = mountsUnder(await readMountinfo(), base);
  if (left.length > 0) problems.push(`mounts left under ${base}: ${left.join(' ')}`);
  else await rm(base, { recursive: true, force: true });

  if (problems.length > 0) throw new Error(`lab ${prefix} teardown incomplete: ${problems.join('; ')}`);
  liveLabs.delete(prefix);
  log(`lab ${prefix} down in ${Math.round(performance.now() - started)} ms`);
}

// Safety net for a process that exits with a lab still up (a test that threw
// past its finally, process.exit, an uncaught exception): 'exit' handlers must be
// synchronous, so this is a blunt spawnSync copy of destroyLab. It cannot run on
// an unhandled SIGINT/SIGTERM/SIGKILL; the names carry the PID for manual cleanup.
const liveLabs = new Map<string, string>();
let exitHookInstalled = false;

function registerForExit(prefix: string, base: string): void {
  liveLabs.set(prefix, base);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [p, b] of liveLabs) destroyLabSync(p, b);
  });
}

function destroyLabSync(prefix: string, base: string): void {
  const sync = (argv: readonly string[]): string =>
    spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: CMD_TIMEOUT_MS }).stdout ?? '';
  let present: string[] = [];
  try {
    present = readdirSync('/run/netns');
  } catch {
    // no /run/netns: no namespaces to delete
  }
  const ours = netnsNames(prefix).all.filter((n) => present.includes(n));
  for (const ns of ours) {
    for (const tok of sync(['ip', 'netns', 'pids', ns]).split(/\s+/)) {
      const pid = Number(tok);
      if (tok !== '' && Number.isInteger(pid) && pid !== process.pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }
  const mounts = (): string[] =>
    mountsUnder(parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')), base);
  for (const mp of mounts().sort((a, b) => b.length - a.length)) sync(['umount', '-l', mp]);
  for (const ns of ours) sync(['ip', 'netns', 'del', ns]);
  if (mounts().length === 0) rmSync(base, { recursive: true, force: true });
  liveLabs.delete(prefix);
}

async function terminate(pids: readonly number[]): Promise<void> {
  const signalAll = (sig: NodeJS.Signals): void => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  const alive = (): number[] =>
    pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
  const waitGone = async (ms: number): Promise<boolean> => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (alive().length === 0) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return alive().length === 0;
  };
  signalAll('SIGTERM');
  if (await waitGone(2_000)) return;
  signalAll('SIGKILL');
  await waitGone(1_000);
}

/** Names of network namespaces known to `ip netns` (the entries of /run/netns). */
export async function listNetns(): Promise<string[]> {
  try {
    return await readdir('/run/netns');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

async function readMountinfo(): Promise<string[]> {
  return parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** Mount points (field 5) of /proc/PID/mountinfo text. */
function parseMountinfo(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => unescapeMountField(l.split(' ')[4] ?? ''));
}

/** Mount points of this process's mount namespace at or below `dir`. */
export function mountsUnder(mountPoints: readonly string[], dir: string): string[] {
  const d = dir.replace(/\/+$/, '');
  return mountPoints.filter((mp) => mp === d || mp.startsWith(`${d}/`));
}

/** Mount points in this mount namespace at or below `dir` (from /proc/self/mountinfo). */
export async function labMounts(dir: string): Promise<string[]> {
  return mountsUnder(await readMountinfo(), dir);
}

function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

async function pathExists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
