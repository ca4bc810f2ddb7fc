// The N-router lab (issue 18): clients on a LAN bridge, routers ra..rd between
// the LAN and a WAN bridge, an FRR "isp" on the WAN that learns the pool /32s
// over BGP, and a server behind the isp on a link of its own. Same building
// blocks as the two-router lab (topology.ts): a network namespace plus a
// mount namespace held by a process per node, private dirs bound in, all of
// it removed by destroy() (processes by PID, then namespaces, then the base dir).
//
//   client 192.0.2.10 ─ lan ─ rX 192.0.2.(1+i) │ rX 198.51.100.(1+i) ─ wan ─ isp 198.51.100.1
//   isp 203.0.113.1 ─ server 203.0.113.10 (default via the isp)
// Routers reach 203.0.113.0/24 through a static route to the isp; the isp
// reaches the pool only through BGP.
import { mkdir, rm } from 'node:fs/promises';
import { posix } from 'node:path';
import { runChecked, type RunResult } from '../host/host.ts';
import { LocalHost } from '../host/local.ts';
import { NamespaceHost } from './nshost.ts';
import { LAB_PRIVATE_DIRS, listNetns, setupMountNamespace, startMountNsHolder, type LabNode } from './topology.ts';

export const MULTI_ROUTERS = ['ra', 'rb', 'rc', 'rd'] as const;
export type MultiRouter = (typeof MULTI_ROUTERS)[number];
export type MultiNodeName = 'client' | 'isp' | 'server' | MultiRouter;

export const MULTI_ADDRESSES = {
  lan: { prefix4: '192.0.2.0/24', len4: 24 },
  wan: { prefix4: '198.51.100.0/24', len4: 24 },
  serverNet: { prefix4: '203.0.113.0/24', len4: 24 },
  client: '192.0.2.10',
  isp: { wan: '198.51.100.1', server: '203.0.113.1', asn: 64500 },
  server: '203.0.113.10',
  routers: {
    ra: { lan: '192.0.2.2', wan: '198.51.100.2', asn: 64501 },
    rb: { lan: '192.0.2.3', wan: '198.51.100.3', asn: 64502 },
    rc: { lan: '192.0.2.4', wan: '198.51.100.4', asn: 64503 },
    rd: { lan: '192.0.2.5', wan: '198.51.100.5', asn: 64504 },
  },
  /** The shared SNAT pool (see test/unit/address-pool.test.ts for why this window). */
  pool: ['198.51.100.116', '198.51.100.117', '198.51.100.118', '198.51.100.119', '198.51.100.120', '198.51.100.121', '198.51.100.122', '198.51.100.123'],
  /** Per pool address i: the LAN gateway (a VRRP group whose master is the owner) and the client source whose flows use it. */
  gateways: ['192.0.2.116', '192.0.2.117', '192.0.2.118', '192.0.2.119', '192.0.2.120', '192.0.2.121', '192.0.2.122', '192.0.2.123'],
  clientSources: ['192.0.2.64', '192.0.2.65', '192.0.2.66', '192.0.2.67', '192.0.2.68', '192.0.2.69', '192.0.2.70', '192.0.2.71'],
} as const;

/**
 * The client's side of per-address gateways: one source address per pool
 * address, each routed (policy routing by source) through that address's
 * gateway. A real site would hand gateways out per client group by DHCP.
 */
export async function setupClientSources(lab: MultiLab): Promise<void> {
  const host = lab.node('client').host;
  for (let i = 0; i < MULTI_ADDRESSES.clientSources.length; i++) {
    const src = MULTI_ADDRESSES.clientSources[i]!;
    const table = String(100 + i);
    await runChecked(host, ['ip', 'addr', 'add', `${src}/24`, 'dev', 'eth0'], { timeoutMs: CMD_TIMEOUT_MS });
    await runChecked(host, ['ip', 'rule', 'add', 'from', src, 'table', table], { timeoutMs: CMD_TIMEOUT_MS });
    await runChecked(host, ['ip', 'route', 'add', 'default', 'via', MULTI_ADDRESSES.gateways[i]!, 'dev', 'eth0', 'table', table], { timeoutMs: CMD_TIMEOUT_MS });
  }
}

/** A node of this lab; shaped like the two-router lab's LabNode so its helpers (startRouterd, ...) take it. */
export interface MultiNode extends Omit<LabNode, 'name'> {
  readonly name: MultiNodeName;
}

export interface MultiLab {
  readonly prefix: string;
  readonly base: string;
  readonly routers: readonly MultiRouter[];
  readonly nodes: Readonly<Partial<Record<MultiNodeName, MultiNode>>>;
  node(name: MultiNodeName): MultiNode;
  /** The node as the two-router lab's helpers type it. */
  asLabNode(name: MultiNodeName): LabNode;
  /** Bridge port of a node's link, for linkDown/linkUp on the switch: `${node}-lan`, `${node}-wan`. */
  setPort(port: string, state: 'up' | 'down'): Promise<void>;
  destroy(): Promise<void>;
}

export interface MultiLabOptions {
  readonly prefix: string;
  /** Which routers exist (default ra, rb, rc, rd: the fourth may be started later). */
  readonly routers?: readonly MultiRouter[];
  readonly log?: (msg: string) => void;
}

const CMD_TIMEOUT_MS = 15_000;
const PREFIX_RE = /^[a-z0-9][a-z0-9-]{0,39}$/;
/** FRR's config and run dirs are per node too (frr-facts §1: -N only changes paths). */
const PRIVATE_DIRS = [...LAB_PRIVATE_DIRS, '/etc/frr', '/run/frr'];

function nsName(prefix: string, node: string): string {
  return `${prefix}${node}`;
}

export async function createMultiLab(opts: MultiLabOptions): Promise<MultiLab> {
  const { prefix } = opts;
  if (!PREFIX_RE.test(prefix)) throw new Error(`invalid lab prefix ${JSON.stringify(prefix)}; use labPrefix(tag)`);
  const routers = opts.routers ?? MULTI_ROUTERS;
  const log = opts.log ?? (() => undefined);
  const base = `/tmp/${prefix.replace(/-+$/, '')}`;
  const names: MultiNodeName[] = ['client', 'isp', 'server', ...routers];
  const sw = nsName(prefix, 'sw');
  const all = [...names.map((n) => nsName(prefix, n)), sw];
  const existing = new Set(await listNetns());
  const clash = all.filter((n) => existing.has(n));
  if (clash.length) throw new Error(`lab namespaces already exist: ${clash.join(', ')}`);
  const local = new LocalHost();
  const run = (argv: readonly string[]): Promise<RunResult> => runChecked(local, argv, { timeoutMs: CMD_TIMEOUT_MS });
  const nodes: Partial<Record<MultiNodeName, MultiNode>> = {};
  const lab: MultiLab = {
    prefix,
    base,
    routers,
    nodes,
    node(n) {
      const x = nodes[n];
      if (!x) throw new Error(`no node ${n} in lab ${prefix}`);
      return x;
    },
    asLabNode(n) {
      // Only name's type differs; the helpers use it as a label.
      return lab.node(n) as unknown as LabNode;
    },
    async setPort(port, state) {
      await run(['ip', '-n', sw, 'link', 'set', 'dev', port, state]);
    },
    destroy: () => destroyMultiLab(prefix, all, base, log),
  };
  try {
    await mkdir(base, { recursive: true, mode: 0o755 });
    await run(['ip', 'netns', 'add', all[0]!]);
    await Promise.all(all.slice(1).map((ns) => run(['ip', 'netns', 'add', ns])));
    await Promise.all(
      all.map(async (ns) => {
        const forwarding = ns === nsName(prefix, 'isp') || routers.some((r) => nsName(prefix, r) === ns);
        await run(['nsenter', `--net=/run/netns/${ns}`, '--', 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', ...(forwarding ? ['net.ipv4.ip_forward=1'] : [])]);
        await run(['ip', '-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
      }),
    );
    for (const br of ['lan', 'wan']) {
      await run(['ip', '-n', sw, 'link', 'add', br, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0']);
      await run(['ip', '-n', sw, 'link', 'set', 'dev', br, 'up']);
    }
    for (const name of names) {
      const netns = nsName(prefix, name);
      const root = posix.join(base, name, 'fs');
      const privateDirs = Object.fromEntries(PRIVATE_DIRS.map((d) => [d, posix.join(root, d)]));
      const holder = await startMountNsHolder(netns);
      const mountNsFile = `/proc/${holder}/ns/mnt`;
      const node: MultiNode = {
        name,
        netns,
        mountNsFile,
        mountNsHolder: holder,
        root,
        privateDirs: PRIVATE_DIRS,
        ifaces: name === 'client' ? { lan: 'eth0' } : name === 'server' ? {} : name === 'isp' ? { wan: 'wan0' } : { lan: 'lan0', wan: 'wan0' },
        addresses: name === 'client' ? { lan4: MULTI_ADDRESSES.client } : name === 'server' || name === 'isp' ? {} : { lan4: MULTI_ADDRESSES.routers[name].lan, wan4: MULTI_ADDRESSES.routers[name].wan },
        host: new NamespaceHost({ netns, mountNsFile, privateDirs, description: `lab ${prefix}${name}` }),
      };
      nodes[name] = node;
    }
    const links: { node: MultiNodeName; ifname: string; segment: 'lan' | 'wan'; address: string }[] = [
      { node: 'client', ifname: 'eth0', segment: 'lan', address: MULTI_ADDRESSES.client },
      { node: 'isp', ifname: 'wan0', segment: 'wan', address: MULTI_ADDRESSES.isp.wan },
      ...routers.flatMap((r) => [
        { node: r, ifname: 'lan0', segment: 'lan' as const, address: MULTI_ADDRESSES.routers[r].lan },
        { node: r, ifname: 'wan0', segment: 'wan' as const, address: MULTI_ADDRESSES.routers[r].wan },
      ]),
    ];
    await Promise.all(
      links.map(async (l) => {
        const ns = nsName(prefix, l.node);
        const port = `${l.node}-${l.segment}`;
        await run(['ip', '-n', ns, 'link', 'add', l.ifname, 'type', 'veth', 'peer', 'name', port, 'netns', sw]);
        await run(['ip', '-n', sw, 'link', 'set', 'dev', port, 'master', l.segment, 'up']);
        await run(['ip', '-n', ns, 'link', 'set', 'dev', l.ifname, 'up']);
        await run(['ip', '-n', ns, 'addr', 'add', `${l.address}/24`, 'dev', l.ifname]);
      }),
    );
    // isp ↔ server: a direct veth.
    const isp = nsName(prefix, 'isp');
    const server = nsName(prefix, 'server');
    await run(['ip', '-n', isp, 'link', 'add', 'srv0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', server]);
    await run(['ip', '-n', isp, 'link', 'set', 'dev', 'srv0', 'up']);
    await run(['ip', '-n', server, 'link', 'set', 'dev', 'eth0', 'up']);
    await run(['ip', '-n', isp, 'addr', 'add', `${MULTI_ADDRESSES.isp.server}/24`, 'dev', 'srv0']);
    await run(['ip', '-n', server, 'addr', 'add', `${MULTI_ADDRESSES.server}/24`, 'dev', 'eth0']);
    await run(['ip', '-n', server, 'route', 'add', 'default', 'via', MULTI_ADDRESSES.isp.server]);
    for (const r of routers) await run(['ip', '-n', nsName(prefix, r), 'route', 'add', MULTI_ADDRESSES.serverNet.prefix4, 'via', MULTI_ADDRESSES.isp.wan]);
    await Promise.all(names.map((n) => setupMountNamespace(lab.asLabNode(n), run)));
    return lab;
  } catch (e) {
    await destroyMultiLab(prefix, all, base, log).catch((d: Error) => log(`teardown after failed setup: ${d.message}`));
    throw e;
  }
}

async function destroyMultiLab(prefix: string, namespaces: readonly string[], base: string, log: (m: string) => void): Promise<void> {
  const local = new LocalHost();
  const present = new Set(await listNetns());
  const ours = namespaces.filter((n) => present.has(n));
  const pids = new Set<number>();
  for (const ns of ours) {
    const r = await local.run(['ip', 'netns', 'pids', ns], { timeoutMs: CMD_TIMEOUT_MS });
    for (const tok of r.stdout.split(/\s+/)) if (/^\d+$/.test(tok)) pids.add(Number(tok));
  }
  pids.delete(process.pid);
  const signal = (sig: NodeJS.Signals) => {
    for (const pid of pids)
      try {
        process.kill(pid, sig);
      } catch {
        pids.delete(pid);
      }
  };
  signal('SIGTERM');
  for (let i = 0; i < 40 && pids.size > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    for (const pid of [...pids])
      try {
        process.kill(pid, 0);
      } catch {
        pids.delete(pid);
      }
  }
  signal('SIGKILL');
  const problems: string[] = [];
  for (const ns of ours) {
    const r = await local.run(['ip', 'netns', 'del', ns], { timeoutMs: CMD_TIMEOUT_MS });
    if (r.code !== 0) problems.push(`ip netns del ${ns}: ${r.stderr.trim()}`);
  }
  await rm(base, { recursive: true, force: true });
  if (problems.length) throw new Error(`lab ${prefix} teardown incomplete: ${problems.join('; ')}`);
  log(`lab ${prefix} down`);
}

/**
 * Kill a router the way a machine dies: links dark first (no BGP notification
 * or BFD down message gets out, frr-facts pitfall 5), then every process in
 * its network namespace (routerd, FRR, keepalived, sshd, conntrack streams),
 * by PID, except the holder of its mount namespace.
 */
export async function killMultiRouter(lab: MultiLab, r: MultiRouter): Promise<void> {
  await lab.setPort(`${r}-lan`, 'down');
  await lab.setPort(`${r}-wan`, 'down');
  const node = lab.node(r);
  const out = await new LocalHost().run(['ip', 'netns', 'pids', node.netns], { timeoutMs: CMD_TIMEOUT_MS });
  for (const tok of out.stdout.split(/\s+/)) {
    const pid = Number(tok);
    if (tok === '' || !Number.isInteger(pid) || pid === node.mountNsHolder || pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}
