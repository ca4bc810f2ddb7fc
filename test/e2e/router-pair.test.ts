// Issue: router pair. Real keepalived and nftables in the lab: the VIP and the
// SNAT address live on exactly one router; killing the master moves them and
// new connections go through the backup; the old master follows preempt;
// restarting routerd on the master moves nothing and drops no flow.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { keepalivedPid, killKeepalived, startRouterd, ROUTERCTL_BIN, type RouterdProcess } from '../../src/lab/routerd.ts';
import { createLab, labPrefix, type Lab } from '../../src/lab/topology.ts';
import { probeTcp, reached, startEchoFlows, startTcpEchoServer, type EchoServer } from '../../src/lab/traffic.ts';
import { requireE2E } from '../helpers/e2e.ts';
import { holders, installConfig, killPid, labConfig, roleOf, stopAll, until, verboseEcho } from '../helpers/lab.ts';

const VIP = '192.0.2.1';
const SNAT = '198.51.100.100';
const SERVER = '198.51.100.200';
const PORT = 7007;
const CONTROLLERS = ['interface', 'virtual-address', 'nat44-rule'];

test('router pair: VRRP failover with SNAT', { timeout: 240_000 }, async (t) => {
  if (!(await requireE2E(t, ['keepalived', 'nft', 'conntrack']))) return;
  const lab: Lab = await createLab({ prefix: labPrefix('pair') });
  let ra: RouterdProcess | undefined;
  let rb: RouterdProcess | undefined;
  let server: EchoServer | undefined;
  const start = async (node: 'ra' | 'rb') => startRouterd(lab.nodes[node], { controllers: CONTROLLERS, echo: verboseEcho });
  try {
    await installConfig(lab.nodes.ra, await labConfig('a'));
    await installConfig(lab.nodes.rb, await labConfig('b'));
    server = await startTcpEchoServer(lab.nodes.server, PORT);
    ra = await start('ra');
    rb = await start('rb');

    await t.test('the higher priority router becomes master, the other backup', async () => {
      await ra!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master');
      await rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'backup');
      assert.deepEqual(await holders(lab, VIP), ['ra']);
      assert.deepEqual(await holders(lab, SNAT), ['ra']);
    });

    await t.test('NAT44Rule reports its SNAT address and the nft table is in place', async () => {
      const rule = await ra!.waitFor('NAT44Rule/lan-out', (r) => r.status.phase === 'Ready');
      assert.equal(rule.status.snatAddress, SNAT);
      const nft = await lab.exec('ra', ['nft', 'list', 'table', 'ip', 'routerd_nat']);
      assert.match(nft.stdout, /snat to 198\.51\.100\.100:20000-60000 random/);
    });

    await t.test('the client reaches the server through the master, seen from the SNAT address', async () => {
      const flows = await startEchoFlows(lab.nodes.client, { target: SERVER, port: PORT, protocol: 'tcp', count: 3, intervalMs: 100, durationMs: 5_000 });
      assert.equal(flows.ready.established, 3);
      const ss = await lab.exec('server', ['ss', '-Htn', 'state', 'established', `( sport = :${PORT} )`]);
      const peers = ss.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).pop()!.replace(/:\d+$/, '').replace(/^\[(?:::ffff:)?|\]$/g, ''));
      assert.ok(peers.length >= 3, ss.stdout);
      for (const p of peers) assert.equal(p, SNAT, `server sees ${p}`);
      const report = await flows.stop();
      assert.equal(report.summary.alive, 3);
    });

    await t.test('routerctl describe shows role, since and why', async () => {
      const r = spawnSync(process.execPath, [ROUTERCTL_BIN, 'describe', 'VirtualAddress/lan-vip', '--socket', ra!.socket], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^role\s+master$/m);
      assert.match(r.stdout, /^since\s+\d{4}-/m);
      assert.match(r.stdout, /^roleReason\s+keepalived: MASTER \(priority 150\)$/m);
      const b = spawnSync(process.execPath, [ROUTERCTL_BIN, 'get', '--socket', rb!.socket, '-o', 'json'], { encoding: 'utf8' });
      const items = (JSON.parse(b.stdout) as { items: { kind: string; name: string; status: { reason: string; role?: string } }[] }).items;
      assert.equal(items.find((i) => i.kind === 'VirtualAddress')?.status.role, 'backup');
      assert.equal(items.find((i) => i.kind === 'NAT44SessionSync')?.status.reason, 'ControllerDisabled');
    });

    await t.test('restarting routerd on the master moves nothing and drops no flow', async () => {
      const flows = await startEchoFlows(lab.nodes.client, { target: SERVER, port: PORT, protocol: 'tcp', count: 5, intervalMs: 100, durationMs: 20_000 });
      const kaBefore = await keepalivedPid(lab.nodes.ra);
      const rbTransitions = rb!.logs.filter((l) => l.action === 'role-change').length;
      await ra!.stop('SIGTERM');
      ra = await start('ra');
      await ra.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master');
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await keepalivedPid(lab.nodes.ra), kaBefore, 'keepalived was adopted, not restarted');
      assert.match(String((await ra.resource('VirtualAddress/lan-vip'))?.status.keepalived), /adopted/);
      assert.equal(rb!.logs.filter((l) => l.action === 'role-change').length, rbTransitions, 'rb saw no transition');
      assert.deepEqual(await holders(lab, VIP), ['ra']);
      const report = await flows.stop();
      assert.equal(report.summary.alive, 5);
      assert.equal(report.summary.dead, 0);
    });

    await t.test('killing the master (routerd and keepalived) moves the addresses; new connections go through the backup', async () => {
      const killedAt = Date.now();
      killPid(ra!.pid, 'SIGKILL');
      // Children first, as a crash: no priority-0 resignation to speed things up.
      await killKeepalived(lab.nodes.ra);
      ra = undefined;
      await rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 10_000);
      const tookMs = Date.now() - killedAt;
      t.diagnostic(`rb master ${tookMs} ms after the kill`);
      assert.ok((await holders(lab, VIP)).includes('rb'));
      const probe = await until('a new connection through rb', async () => {
        const p = await probeTcp(lab.nodes.client, SERVER, PORT, 1000);
        return reached(p) ? p : undefined;
      });
      assert.equal(probe.outcome, 'connected');
      const neigh = await lab.exec('server', ['ip', '-j', 'neigh', 'show', SNAT]);
      const rbMac = (await lab.exec('rb', ['cat', '/sys/class/net/wan0/address'])).stdout.trim();
      assert.match(neigh.stdout, new RegExp(rbMac), 'the server learned the SNAT address at rb (gratuitous ARP)');
    });

    await t.test('the old master returns, cleans up its stale addresses and takes the role back (preempt)', async () => {
      ra = await start('ra');
      await ra.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 15_000);
      await rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'backup', 10_000);
      await until('addresses on ra only', async () => JSON.stringify(await holders(lab, VIP)) === '["ra"]' && JSON.stringify(await holders(lab, SNAT)) === '["ra"]');
      assert.ok(reached(await probeTcp(lab.nodes.client, SERVER, PORT, 2000)));
    });

    await t.test('the master losing its LAN link hands over; with preempt off the backup keeps the role', async () => {
      for (const [node, proc] of [['ra', ra!], ['rb', rb!]] as const) {
        await installConfig(lab.nodes[node], (await labConfig(node === 'ra' ? 'a' : 'b')).replace('advertInterval: 200ms', 'advertInterval: 200ms\n    preempt: false'));
        killPid(proc.pid, 'SIGHUP');
      }
      await until('keepalived reloaded with nopreempt', async () => (await lab.exec('ra', ['grep', '-c', 'nopreempt', '/run/routerd/keepalived/keepalived.conf'])).stdout.trim() === '1');
      await ra!.waitFor('VirtualAddress/lan-vip', (r) => r.generation === 2 && r.status.observedGeneration === 2);
      await lab.linkDown('sw', 'ra-lan');
      await rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 10_000);
      assert.ok(reached(await until('connection via rb', async () => { const p = await probeTcp(lab.nodes.client, SERVER, PORT, 1000); return reached(p) ? p : undefined; })));
      await lab.linkUp('sw', 'ra-lan');
      await ra!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'backup', 10_000);
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(await roleOf(rb!), 'master', 'no preemption');
      assert.deepEqual(await holders(lab, VIP), ['rb']);
    });

    await t.test('an invalid config on SIGHUP changes nothing and is reported', async () => {
      await installConfig(lab.nodes.rb, '- apiVersion: net.routerd.net/v1alpha1\n  kind: VirtualAddress\n  metadata: {name: lan-vip}\n  spec: {}\n');
      const before = rb!.logs.length;
      killPid(rb!.pid, 'SIGHUP');
      await until('invalid config logged', async () => rb!.logs.slice(before).some((l) => l.action === 'config-load' && l.outcome === 'invalid'));
      assert.equal(await roleOf(rb!), 'master');
      assert.deepEqual(await holders(lab, VIP), ['rb']);
      const status = spawnSync(process.execPath, [ROUTERCTL_BIN, 'status', '--socket', rb!.socket, '-o', 'json'], { encoding: 'utf8' });
      assert.equal((JSON.parse(status.stdout) as { lastReload: { outcome: string } }).lastReload.outcome, 'invalid');
    });
  } finally {
    await stopAll([ra, rb]);
    await server?.stop().catch(() => undefined);
    await lab.destroy();
  }
});
