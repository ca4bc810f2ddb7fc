// More machines on the lab's LAN for DHCP tests: each its own netns (lab
// prefix), a veth on the LAN bridge, dhcpcd with private state (its own MAC,
// client id and lease file), pings ignored and no ARP probe (firewalled hosts:
// only the servers' lease database protects an address). Removed in destroy.
import { join } from 'node:path';
import { privateMountsArgv } from '../../src/engines/dhcpcd/engine.ts';
import type { ChildHandle } from '../../src/host/host.ts';
import { LocalHost } from '../../src/host/local.ts';
import { ipAddrShowArgv, parseIpAddr } from '../../src/kernel/ip.ts';
import { dhcpClientConf } from '../../src/lab/dhcp-client.ts';
import type { Lab } from '../../src/lab/topology.ts';
import { killPid, until } from './lab.ts';

const POOL4 = /^192\.0\.2\.1\d\d$/;

export interface LanClientOptions {
  /** Also DHCPv6: setup waits for a usable link-local address, and start() can hint an address. */
  readonly ipv6?: boolean;
}

export interface LanClient {
  readonly netns: string;
  /**
   * Start dhcpcd (IPv4 only unless the client has ipv6), optionally asking for
   * an address (and hinting a DHCPv6 one). With its stored lease it starts in INIT-REBOOT.
   */
  start(request4?: string, hint6?: string): Promise<void>;
  /** Stop dhcpcd (no release: the lease stays the client's). */
  stop(): Promise<void>;
  /** The pool address on its eth0, if any. */
  address(): Promise<string | undefined>;
  waitForAddress(timeoutMs?: number): Promise<string>;
  readonly logFile: string;
  destroy(): Promise<void>;
}

export async function addLanClient(lab: Lab, name: string, opts: LanClientOptions = {}): Promise<LanClient> {
  const local = new LocalHost();
  const netns = `${lab.prefix}${name}`;
  const dir = join(lab.base, name);
  const logFile = join(dir, 'dhcpcd.log');
  const run = async (argv: string[]) => {
    const r = await local.run(argv, { timeoutMs: 15_000 });
    if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr.trim()}`);
  };
  await run(['ip', 'netns', 'add', netns]);
  let dhcpcd: ChildHandle | undefined;
  const stop = async () => {
    dhcpcd?.kill('SIGTERM');
    await Promise.race([dhcpcd?.exited, new Promise((r) => setTimeout(r, 3000))]);
    dhcpcd = undefined;
  };
  const destroy = async () => {
    await stop();
    const pids = await local.run(['ip', 'netns', 'pids', netns], { timeoutMs: 5000 });
    for (const p of pids.stdout.split(/\s+/).filter((s) => /^\d+$/.test(s))) killPid(Number(p), 'SIGKILL');
    await local.run(['ip', 'netns', 'del', netns], { timeoutMs: 10_000 });
  };
  const address = async () => {
    const r = await local.run(['ip', '-n', netns, ...ipAddrShowArgv().slice(1)]);
    return parseIpAddr(r.stdout).items.find((i) => i.name === 'eth0')?.addresses.map((a) => a.local).find((a) => POOL4.test(a));
  };
  try {
    await run(['nsenter', `--net=/run/netns/${netns}`, '--', 'sysctl', '-q', '-w', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv4.icmp_echo_ignore_all=1']);
    await run(['ip', '-n', netns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `${name}-lan`, 'netns', lab.switchNetns]);
    await run(['ip', '-n', lab.switchNetns, 'link', 'set', 'dev', `${name}-lan`, 'master', 'lan', 'up']);
    await run(['ip', '-n', netns, 'link', 'set', 'dev', 'lo', 'up']);
    await run(['ip', '-n', netns, 'link', 'set', 'dev', 'eth0', 'up']);
    for (const d of ['lib', 'run']) await local.mkdirp(join(dir, d));
    await local.writeFileAtomic(join(dir, 'dhcpcd.conf'), dhcpClientConf());
    if (opts.ipv6)
      await until(`a usable link-local address on ${name}`, async () => {
        const r = await local.run(['ip', '-n', netns, '-j', 'addr', 'show', 'dev', 'eth0']);
        return /"scope":"link"/.test(r.stdout) && !/"tentative":true/.test(r.stdout);
      }, 10_000, 50);
  } catch (e) {
    await destroy();
    throw e;
  }
  return {
    netns,
    logFile,
    destroy,
    stop,
    address,
    async start(request4, hint6) {
      const conf = join(dir, 'dhcpcd.conf');
      if (hint6 !== undefined) await local.writeFileAtomic(conf, dhcpClientConf(hint6));
      const argv = privateMountsArgv(
        [
          { source: join(dir, 'lib'), target: '/var/lib/dhcpcd' },
          { source: join(dir, 'run'), target: '/run/dhcpcd' },
        ],
        ['dhcpcd', '--nobackground', ...(opts.ipv6 ? [] : ['-4']), '--config', conf, ...(request4 ? [`--request=${request4}`] : []), 'eth0'],
      );
      dhcpcd = local.spawn(['nsenter', `--net=/run/netns/${netns}`, '--', ...argv], { logFile });
    },
    waitForAddress(timeoutMs = 45_000) {
      return until(`${name} has a DHCPv4 lease`, address, timeoutMs, 250);
    },
  };
}
