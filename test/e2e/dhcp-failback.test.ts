// Issue 12, DHCP: a returning router never serves from a lease file older than
// the master's. A goes dark (links cut, every process in it killed); client 2
// leases an address from B; A comes back, takes B's lease file before it takes
// the role back (B's pushes are kept out, so the file can only
// come from A's own pull), and starts dnsmasq from it. Client 2 restarts
// (INIT-REBOOT) and keeps its address; a third client asking for that very
// address is offered another.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { parseDnsmasqLeases } from '../../src/engines/dnsmasq/leases.ts';
import { startRouterd, type RouterdProcess } from '../../src/lab/routerd.ts';
import { enableLabSsh, type LabSsh } from '../../src/lab/sshd.ts';
import { createLab, labPrefix } from '../../src/lab/topology.ts';
import { requireE2E } from '../helpers/e2e.ts';
import { blockIncomingSsh, killRouter, reviveRouter, unblockIncomingSsh } from '../helpers/failback.ts';
import { installConfig, labConfig, stopAll, until, verboseEcho } from '../helpers/lab.ts';
import { addLanClient, type LanClient } from '../helpers/lan-client.ts';

const CONTROLLERS = ['interface', 'virtual-address', 'dhcpv4-server', 'dhcpv4-server-lease-sync'];
const V4_LEASES = '/var/lib/routerd/dnsmasq/dhcpv4-server-lan-dhcpv4.leases';
const DNSMASQ_LOG = '/run/routerd/dnsmasq/dhcpv4-server-lan-dhcpv4.log';
const TOOLS = ['keepalived', 'dnsmasq', 'dhcpcd', 'rsync', 'ssh', '/usr/sbin/sshd'];

test('DHCP failback: A takes B\'s leases before the role; client 2 keeps its address, a third client is offered another', { timeout: 240_000 }, async (t) => {
  if (!(await requireE2E(t, TOOLS))) return;
  const lab = await createLab({ prefix: labPrefix('dhfb') });
  let ssh: LabSsh | undefined;
  const procs: Record<'ra' | 'rb', RouterdProcess | undefined> = { ra: undefined, rb: undefined };
  const clients: LanClient[] = [];
  const start = async (n: 'ra' | 'rb') => (procs[n] = await startRouterd(lab.nodes[n], { controllers: CONTROLLERS, echo: verboseEcho }));
  const leasesOn = async (node: 'ra' | 'rb') => {
    const text = await readFile(lab.nodes[node].host.backingPath(V4_LEASES)!, 'utf8').catch(() => '');
    const p = parseDnsmasqLeases(text);
    return p.ok ? p.leases.v4 : [];
  };
  try {
    ssh = await enableLabSsh(lab);
    await installConfig(lab.nodes.ra, await labConfig('a'));
    await installConfig(lab.nodes.rb, await labConfig('b'));
    await start('ra');
    await start('rb');
    await procs.ra!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 20_000);
    await procs.ra!.waitFor('DHCPv4Server/lan-dhcpv4', (r) => r.status.phase === 'Ready', 20_000);

    // A goes dark, dnsmasq and all.
    await killRouter(lab, 'ra', procs.ra);
    procs.ra = undefined;
    await procs.rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 15_000);
    await procs.rb!.waitFor('DHCPv4Server/lan-dhcpv4', (r) => r.status.phase === 'Ready', 20_000);

    // Client 2 leases from B while A is away.
    const c2 = await addLanClient(lab, 'c2');
    clients.push(c2);
    await c2.start();
    const x = await c2.waitForAddress();
    t.diagnostic(`client 2 leased ${x} from rb`);
    assert.ok((await leasesOn('rb')).some((l) => l.address === x));
    assert.ok(!(await leasesOn('ra')).some((l) => l.address === x), 'A\'s own lease file does not know the lease');

    // A returns; B's pushes cannot reach it, so the lease file A serves from is the one it took itself.
    await blockIncomingSsh(lab, 'ra');
    await reviveRouter(lab, 'ra');
    await start('ra');
    await procs.ra!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 30_000);
    await procs.rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'backup', 10_000);
    await unblockIncomingSsh(lab, 'ra');
    const pull = procs.ra!.logs.find((l) => l.action === 'handover-pull-leases');
    t.diagnostic(`ra: ${JSON.stringify(pull)}`);
    assert.equal(pull?.outcome, 'ok', 'A took B\'s lease file');
    const started = await procs.ra!.waitFor('DHCPv4Server/lan-dhcpv4', (r) => r.status.phase === 'Ready', 20_000);
    const startLine = procs.ra!.logs.find((l) => l.action === 'dnsmasq-start');
    t.diagnostic(`ra dnsmasq started from ${String(startLine?.leases)} lease(s); status ${String(started.status.message)}`);
    if (!(await leasesOn('ra')).some((l) => l.address === x)) {
      // What each side holds, and every dnsmasq alive in A's namespace, to tell a stale writer from a bad copy.
      const file = async (n: 'ra' | 'rb') => JSON.stringify(await readFile(lab.nodes[n].host.backingPath(V4_LEASES)!, 'utf8').catch((e: Error) => e.message));
      const ps = await lab.nodes.ra.host.run(['ps', '-eo', 'pid,lstart,args']);
      const dnsmasqs = ps.stdout.split('\n').filter((l) => l.includes('dnsmasq'));
      assert.fail(`A serves from a file without client 2's lease: ra ${await file('ra')}, rb ${await file('rb')}; dnsmasq on ra: ${dnsmasqs.join(' | ')}; ra log: ${procs.ra!.logs.filter((l) => /dnsmasq|lease|handover/.test(String(l.action))).map((l) => JSON.stringify(l)).join('\n')}`);
    }

    // Client 2 restarts with its stored lease (INIT-REBOOT) and keeps the address.
    await c2.stop();
    await until('client 2 lost its address with dhcpcd', async () => (await c2.address()) === undefined, 10_000).catch(() => undefined);
    await c2.start();
    const again = await c2.waitForAddress();
    t.diagnostic(`client 2 after INIT-REBOOT through ra: ${again}`);
    assert.equal(again, x, 'client 2 keeps its address');

    // A third client asks for client 2's address and is offered another.
    const c3 = await addLanClient(lab, 'c3');
    clients.push(c3);
    await c3.start(x);
    const y = await c3.waitForAddress();
    t.diagnostic(`client 3 asked for ${x}, got ${y}`);
    assert.notEqual(y, x, 'an address leased by B is not offered to another client');
    const log = ((await lab.nodes.ra.host.readFile(DNSMASQ_LOG)) ?? '').split('\n').filter((l) => /DHCP[A-Z]+\(/.test(l));
    t.diagnostic(`ra dnsmasq:\n  ${log.slice(0, 12).join('\n  ')}`);
    const owners = (await leasesOn('ra')).filter((l) => l.address === x);
    assert.equal(owners.length, 1, 'one lease for the address on A');
  } finally {
    for (const c of clients) await c.destroy().catch(() => undefined);
    await stopAll([procs.ra, procs.rb]);
    await ssh?.stop().catch(() => undefined);
    await lab.destroy();
  }
});
