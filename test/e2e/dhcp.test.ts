// Issue 6: DHCP servers and lease sync. Real dnsmasq on the lab routers, real
// dhcpcd clients. The master serves DHCPv4 and stateful DHCPv6; the lease syncs
// keep the standby's files warm over rsync/ssh; the master fails; the client
// keeps its addresses through the promoted router, and a second client asking
// after failover gets other, free addresses. The same run without lease sync
// shows what goes wrong.
//
// The second client is a namespace of its own (labPrefix'd, attached to the LAN
// bridge) rather than a second interface of the client: a separate MAC, DUID
// and dhcpcd state, as a second machine would have, and no ARP/route confusion
// between two interfaces on one subnet in one namespace.
//
// Both clients ignore pings (net.ipv4.icmp_echo_ignore_all=1) and skip their own
// ARP probe, like firewalled hosts: dnsmasq's ping check is then no protection
// and only the lease database decides (docs/kernel-facts.md). The lab turns DAD
// off, so a duplicate IPv6 address is not caught by the clients either.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { addLanClient, type LanClient } from '../helpers/lan-client.ts';
import { apiGet } from '../../src/daemon/api-client.ts';
import { parseDnsmasqLeases, type DnsmasqLeaseFile } from '../../src/engines/dnsmasq/leases.ts';
import { dhcpClientConf } from '../../src/lab/dhcp-client.ts';
import type { ChildHandle } from '../../src/host/host.ts';
import { LocalHost } from '../../src/host/local.ts';
import { ipAddrShowArgv, parseIpAddr } from '../../src/kernel/ip.ts';
import { killKeepalived, startRouterd, ROUTERCTL_BIN, type RouterdProcess } from '../../src/lab/routerd.ts';
import { enableLabSsh, type LabSsh } from '../../src/lab/sshd.ts';
import { createLab, labPrefix, type Lab } from '../../src/lab/topology.ts';
import { requireE2E } from '../helpers/e2e.ts';
import { installConfig, killPid, labConfig, stopAll, until, verboseEcho } from '../helpers/lab.ts';
import { fixture } from '../helpers/paths.ts';

const CONTROLLERS = ['interface', 'virtual-address', 'dhcpv4-server', 'dhcpv6-server', 'dhcpv4-server-lease-sync', 'dhcpv6-server-lease-sync'];
const V4_LEASES = '/var/lib/routerd/dnsmasq/dhcpv4-server-lan-dhcpv4.leases';
const V6_LEASES = '/var/lib/routerd/dnsmasq/dhcpv6-server-lan-dhcpv6.leases';
const POOL4 = /^192\.0\.2\.1\d\d$/;
const POOL6 = /^fd00:0:0:1::1[0-9a-f]{2}$/;
const TOOLS = ['keepalived', 'dnsmasq', 'dhcpcd', 'rsync', 'ssh', '/usr/sbin/sshd'];

/** Leases in a router's file (read through its backing dir). */
async function leasesOn(lab: Lab, node: 'ra' | 'rb', path: string): Promise<DnsmasqLeaseFile | undefined> {
  const backing = lab.nodes[node].host.backingPath(path);
  const text = await readFile(backing!, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const p = parseDnsmasqLeases(text);
  return p.ok ? p.leases : undefined;
}

function poolAddresses(stdout: string, ifname: string): { v4?: string; v6?: string } {
  const link = parseIpAddr(stdout).items.find((i) => i.name === ifname);
  const addrs = link?.addresses.map((a) => a.local) ?? [];
  return { v4: addrs.find((a) => POOL4.test(a)), v6: addrs.find((a) => POOL6.test(a)) };
}

async function clientAddresses(lab: Lab): Promise<{ v4?: string; v6?: string }> {
  return poolAddresses((await lab.exec('client', ipAddrShowArgv())).stdout, 'eth0');
}

/** Client 1's Renew (from its stored lease), sent from the second client's namespace where port 546 is free. */
async function renewProbe(lab: Lab, netns: string): Promise<{ answered: boolean; serverDuid?: string; requestedServerDuid: string; addresses?: { address: string }[]; status?: number; iaStatus?: number[] }> {
  const lease6 = lab.nodes.client.host.backingPath('/var/lib/dhcpcd/eth0.lease6')!;
  const argv = ['nsenter', `--net=/run/netns/${netns}`, '--', process.execPath, '--import', import.meta.resolve('tsx'), fixture('dhcp6-renew-probe.ts'), lease6, 'eth0', '4000'];
  const r = await new LocalHost().run(argv, { timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Awaited<ReturnType<typeof renewProbe>>;
}

interface Outcome {
  readonly a1: string;
  readonly b1: string;
  readonly raDuid: string | undefined;
  readonly rbDuid: string | undefined;
  readonly syncedBeforeFailover: { v4: boolean; v6: boolean };
  readonly renew: Awaited<ReturnType<typeof renewProbe>>;
  readonly second: { v4?: string; v6?: string };
  readonly afterRebind: { v4?: string; v6?: string };
  readonly rbLeasesAfter: DnsmasqLeaseFile | undefined;
  readonly promotedFromLeases: unknown;
}

function withoutLeaseSync(yaml: string): string {
  return yaml
    .split(/\n(?=- apiVersion:)/)
    .filter((doc) => !/kind: DHCPv[46]ServerLeaseSync/.test(doc))
    .join('\n');
}

async function scenario(t: TestContext, opts: { sync: boolean; tag: string }): Promise<Outcome> {
  const lab = await createLab({ prefix: labPrefix(opts.tag) });
  let ssh: LabSsh | undefined;
  let ra: RouterdProcess | undefined;
  let rb: RouterdProcess | undefined;
  let client: ChildHandle | undefined;
  let second: LanClient | undefined;
  const start = (node: 'ra' | 'rb') => startRouterd(lab.nodes[node], { controllers: CONTROLLERS, echo: verboseEcho });
  try {
    ssh = await enableLabSsh(lab);
    const conf = async (r: 'a' | 'b') => (opts.sync ? labConfig(r) : withoutLeaseSync(await labConfig(r)));
    await installConfig(lab.nodes.ra, await conf('a'));
    await installConfig(lab.nodes.rb, await conf('b'));
    ra = await start('ra');
    rb = await start('rb');
    await ra.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 20_000);
    await rb.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'backup', 20_000);
    await ra.waitFor('DHCPv4Server/lan-dhcpv4', (r) => r.status.phase === 'Ready', 20_000);
    await ra.waitFor('DHCPv6Server/lan-dhcpv6', (r) => r.status.phase === 'Ready', 20_000);
    const rbV4 = await rb.waitFor('DHCPv4Server/lan-dhcpv4', (r) => r.status.reason === 'WhenFalse', 20_000);
    assert.equal(rbV4.status.process, 'stopped', 'the backup runs no dnsmasq');

    // Client 1 gets an IPv4 and an IPv6 lease from the master.
    await lab.exec('client', ['sysctl', '-q', '-w', 'net.ipv4.icmp_echo_ignore_all=1']);
    await lab.nodes.client.host.writeFileAtomic('/etc/routerd/dhcpcd-client.conf', dhcpClientConf());
    client = lab.nodes.client.host.spawn(['dhcpcd', '--nobackground', '--config', '/etc/routerd/dhcpcd-client.conf', 'eth0'], { logFile: join(lab.base, 'client-dhcpcd.log') });
    const first = await until('client 1 has a v4 and a v6 lease', async () => {
      const a = await clientAddresses(lab);
      return a.v4 && a.v6 ? a : undefined;
    }, 45_000, 250);
    const a1 = first.v4!;
    const b1 = first.v6!;
    t.diagnostic(`client 1 leased ${a1} and ${b1} from ra`);
    const raDuid = (await leasesOn(lab, 'ra', V6_LEASES))?.serverDuid;

    let syncedBeforeFailover = { v4: false, v6: false };
    if (opts.sync) {
      const t0 = Date.now();
      await until('rb holds both leases', async () => {
        const v4 = await leasesOn(lab, 'rb', V4_LEASES);
        const v6 = await leasesOn(lab, 'rb', V6_LEASES);
        return v4?.v4.some((l) => l.address === a1) && v6?.v6.some((l) => l.address === b1);
      }, 20_000, 50);
      t.diagnostic(`rb's lease files held both leases ${Date.now() - t0} ms after client 1 was bound`);
      const sync = await ra.waitFor('DHCPv4ServerLeaseSync/lan-v4-leases', (r) => r.status.phase === 'Synced', 15_000);
      const targets = sync.status.targets as { name: string; phase: string; lastSyncTime: string; bytes: number }[];
      assert.equal(targets[0]?.name, 'peer');
      assert.equal(targets[0]?.phase, 'Synced');
      const d = spawnSync(process.execPath, [ROUTERCTL_BIN, 'describe', 'DHCPv4ServerLeaseSync/lan-v4-leases', '--socket', ra.socket], { encoding: 'utf8' });
      assert.equal(d.status, 0, d.stderr);
      t.diagnostic(`routerctl describe DHCPv4ServerLeaseSync/lan-v4-leases:\n${d.stdout}`);
      assert.match(d.stdout, /^Phase\s+Synced$/m);
      assert.match(d.stdout, /^Targets:$/m);
      assert.match(d.stdout, /^NAME\s+HOST\s+PHASE\s+LASTSYNCTIME\s+BYTES\s+DURATIONMS\s+ERROR$/m);
      assert.match(d.stdout, /^peer\s+192\.0\.2\.3\s+Synced\s+\d{4}-\d\d-\d\dT\S+\s+\d+\s+\d+\s+-$/m);
      const metrics = await apiGet<string>(ra.socket, '/metrics');
      assert.match(metrics.body, /routerd_lease_sync_total\{resource="DHCPv4ServerLeaseSync\/lan-v4-leases",target="peer",outcome="ok"\} \d+/);
      assert.match(metrics.body, /routerd_lease_sync_bytes_total\{resource="DHCPv6ServerLeaseSync\/lan-v6-leases",target="peer"\} \d+/);
      assert.ok(ra.logs.some((l) => l.action === 'lease-sync' && l.outcome === 'ok' && typeof l.bytes === 'number' && typeof l.durationMs === 'number' && l.target === 'peer'));
      syncedBeforeFailover = { v4: true, v6: true };
    } else {
      assert.equal((await leasesOn(lab, 'rb', V4_LEASES))?.v4.some((l) => l.address === a1) ?? false, false);
    }

    // The master fails: routerd, keepalived and both dnsmasq die, its LAN link goes.
    const pids = await Promise.all(['dhcpv4-server-lan-dhcpv4', 'dhcpv6-server-lan-dhcpv6'].map(async (n) => Number((await lab.nodes.ra.host.readFile(`/run/routerd/dnsmasq/${n}.pid`))?.trim())));
    killPid(ra.pid, 'SIGKILL');
    await killKeepalived(lab.nodes.ra);
    for (const p of pids) if (Number.isInteger(p)) killPid(p, 'SIGKILL');
    ra = undefined;
    await lab.linkDown('sw', 'ra-lan');
    await rb.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 15_000);
    const promoted = await rb.waitFor('DHCPv6Server/lan-dhcpv6', (r) => r.status.phase === 'Ready', 20_000);
    await rb.waitFor('DHCPv4Server/lan-dhcpv4', (r) => r.status.phase === 'Ready', 20_000);
    const startLog = rb.logs.filter((l) => l.action === 'dnsmasq-start').map((l) => ({ resource: l.resource, leases: l.leases, serverDuid: l.serverDuid }));
    t.diagnostic(`rb promoted; dnsmasq started from: ${JSON.stringify(startLog)}`);
    const rbDuid = promoted.status.serverDuid as string | undefined;

    // A Renew addressed to the old master's DUID (what client 1 sends at T1).
    second = await addLanClient(lab, 'c2', { ipv6: true });
    const renew = await renewProbe(lab, second.netns);
    t.diagnostic(`Renew to server DUID ${renew.requestedServerDuid}: ${renew.answered ? `answered by ${renew.serverDuid} with ${JSON.stringify(renew.addresses)}` : 'no answer'}`);

    // A second client asks after failover, for client 1's addresses.
    await second.start(a1, b1);
    const got = await until('client 2 has a v4 and a v6 lease', async () => {
      const a = poolAddresses((await new LocalHost().run(['ip', '-n', second!.netns, '-j', 'addr', 'show'])).stdout, 'eth0');
      return a.v4 && a.v6 ? a : undefined;
    }, 45_000, 250);
    t.diagnostic(`client 2 (asked for ${a1} and ${b1}) got ${got.v4} and ${got.v6}`);

    // Client 1 rebinds through the promoted router (forced instead of waiting for T2).
    const rebind = await lab.exec('client', ['dhcpcd', '--rebind', 'eth0']);
    assert.equal(rebind.code, 0, rebind.stderr);
    await until('rb acknowledged client 1 again', async () => (await leasesOn(lab, 'rb', V4_LEASES))?.v4.filter((l) => l.address === a1).length === 1, 20_000, 100).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 3000));
    const afterRebind = await clientAddresses(lab);
    t.diagnostic(`client 1 after the forced rebind: ${afterRebind.v4} and ${afterRebind.v6}`);
    const c2log = (await readFile(join(lab.base, 'c2', 'dhcpcd.log'), 'utf8').catch(() => '')).split('\n').filter((l) => /IA|SOLICIT|REQUEST|offered|acknowledged|adding/.test(l));
    t.diagnostic(`client 2 dhcpcd:\n  ${c2log.slice(0, 20).join('\n  ')}`);
    for (const n of ['dhcpv4-server-lan-dhcpv4', 'dhcpv6-server-lan-dhcpv6']) {
      const log = (await lab.nodes.rb.host.readFile(`/run/routerd/dnsmasq/${n}.log`)) ?? '';
      const lines = log.split('\n').filter((l) => /DHCP[A-Z]+\(/.test(l));
      t.diagnostic(`rb ${n}:\n  ${lines.slice(0, 20).join('\n  ')}`);
    }
    return {
      a1,
      b1,
      raDuid,
      rbDuid,
      syncedBeforeFailover,
      renew,
      second: got,
      afterRebind,
      rbLeasesAfter: await leasesOn(lab, 'rb', V4_LEASES),
      promotedFromLeases: startLog,
    };
  } finally {
    client?.kill('SIGTERM');
    await second?.destroy().catch(() => undefined);
    await stopAll([ra, rb]);
    await ssh?.stop().catch(() => undefined);
    await lab.destroy();
  }
}

test('DHCP lease sync: clients keep their addresses across failover, new clients get free ones', { timeout: 300_000 }, async (t) => {
  if (!(await requireE2E(t, TOOLS))) return;
  const o = await scenario(t, { sync: true, tag: 'dhcp' });
  assert.deepEqual(o.syncedBeforeFailover, { v4: true, v6: true });
  // The promoted dnsmasq kept the server DUID it found in the synced file: the
  // client's Renew (addressed to that DUID) is answered with the same address.
  assert.ok(o.raDuid, 'ra wrote a server DUID');
  assert.equal(o.rbDuid, o.raDuid, 'rb serves DHCPv6 under the synced server DUID');
  assert.equal(o.renew.answered, true, 'rb answers the Renew sent to the old DUID');
  assert.equal(o.renew.serverDuid, o.raDuid);
  assert.deepEqual(o.renew.addresses?.map((a) => a.address), [o.b1]);
  // Client 1 keeps both addresses.
  assert.equal(o.afterRebind.v4, o.a1);
  assert.equal(o.afterRebind.v6, o.b1);
  // Client 2 asked for client 1's addresses and got other, free ones.
  assert.notEqual(o.second.v4, o.a1);
  assert.notEqual(o.second.v6, o.b1);
  const owners = o.rbLeasesAfter?.v4.filter((l) => l.address === o.a1) ?? [];
  assert.equal(owners.length, 1, 'one lease per address on the promoted router');
});

test('DHCP without lease sync: the promoted router hands leased addresses to a second client', { timeout: 300_000 }, async (t) => {
  if (!(await requireE2E(t, TOOLS))) return;
  const o = await scenario(t, { sync: false, tag: 'dhcpns' });
  // What goes wrong, measured: a new server DUID (the client's Renew is dropped,
  // it must wait for T2 to rebind), and client 1's addresses handed out again.
  assert.notEqual(o.rbDuid, o.raDuid, 'without the synced file rb has its own DUID');
  assert.equal(o.renew.answered, false, 'a Renew to the old DUID goes unanswered');
  const conflicts = [o.second.v4 === o.a1 ? `v4 ${o.a1}` : undefined, o.second.v6 === o.b1 ? `v6 ${o.b1}` : undefined].filter(Boolean);
  t.diagnostic(`duplicate addresses handed to client 2: ${conflicts.join(', ') || 'none'}`);
  assert.deepEqual(conflicts, [`v4 ${o.a1}`, `v6 ${o.b1}`], 'both of client 1\'s addresses were given to client 2');
  // And client 1 pays for it: its rebind is refused ("address in use").
  assert.notEqual(o.afterRebind.v4, o.a1, 'client 1 lost its IPv4 address');
});
