// Issue 12: flaps. 200 TCP + 50 UDP flows through hardened routers syncing
// to each other (stream); the role moves 10 times back and forth. A (priority
// 150, preempt) fails in turn by its links going dark (routerd keeps running),
// by routerd and keepalived dying and routerd starting again, and by
// keepalived's VRRP child being killed; each time B takes over, then A takes
// the role back once it holds B's state. No flow may be lost or reset.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { killKeepalived, LAB_RUN_DIR } from '../../src/lab/routerd.ts';
import { HardenedPair, PAIR_CONTROLLERS } from '../../src/lab/pair.ts';
import { createLab, labPrefix } from '../../src/lab/topology.ts';
import { startEchoFlows, type FlowReport } from '../../src/lab/traffic.ts';
import { requireE2E } from '../helpers/e2e.ts';
import { failbackConfig, reviveRouter } from '../helpers/failback.ts';
import { killPid, labConfig, until, verboseEcho } from '../helpers/lab.ts';

const SERVER = '198.51.100.200';
const PORT = 7007;
const TCP_FLOWS = 200;
const UDP_FLOWS = 50;
const CYCLES = 5; // two role changes each

type Failure = 'links-dark' | 'routerd-restart' | 'vrrp-child-killed';
const FAILURES: readonly Failure[] = ['links-dark', 'routerd-restart', 'vrrp-child-killed'];

function dead(r: FlowReport): string {
  const d = r.flows.filter((f) => !f.alive);
  return `${d.length} dead of ${r.flows.length}; e.g. ${JSON.stringify(d.slice(0, 3).map((f) => ({ id: f.id, fatal: f.fatal, maxGapMs: f.maxGapMs, lastEchoAgoMs: f.lastEchoAgoMs })))}`;
}

test('flaps: 10 role changes (links dark, routerd restarted, VRRP child killed) lose no flow', { timeout: 300_000 }, async (t) => {
  if (!(await requireE2E(t, ['keepalived', 'nft', 'conntrack', 'sshd', 'ssh']))) return;
  const lab = await createLab({ prefix: labPrefix('flap') });
  const pair = new HardenedPair(lab, { controllers: PAIR_CONTROLLERS, echo: verboseEcho });
  const { procs, flows } = pair;
  const start = (n: 'ra' | 'rb') => pair.start(n);
  const role = async (n: 'ra' | 'rb') => (await procs[n]?.resource('VirtualAddress/lan-vip'))?.status.role;
  try {
    await pair.up({ a: failbackConfig(await labConfig('a'), { mode: 'stream' }), b: failbackConfig(await labConfig('b'), { mode: 'stream' }) }, PORT);
    const tcp = await startEchoFlows(lab.nodes.client, { target: SERVER, port: PORT, protocol: 'tcp', count: TCP_FLOWS, intervalMs: 100, durationMs: 200_000 });
    flows.push(tcp);
    const udp = await startEchoFlows(lab.nodes.client, { target: SERVER, port: PORT, protocol: 'udp', count: UDP_FLOWS, intervalMs: 100, durationMs: 200_000 });
    flows.push(udp);
    assert.equal(tcp.ready.established, TCP_FLOWS);
    assert.equal(udp.ready.established, UDP_FLOWS);
    const readyAt = new Date().toISOString();
    await procs.ra!.waitFor('NAT44SessionSync/lan-sessions', (r) => Number(r.status.localEntries) >= TCP_FLOWS + UDP_FLOWS && String(r.status.lastSyncTime ?? '') > readyAt, 20_000);

    let changes = 0;
    const check = async (what: string) => {
      await new Promise((r) => setTimeout(r, 2500));
      const [tr, ur] = await Promise.all([tcp.snapshot(), udp.snapshot()]);
      t.diagnostic(`${what}: TCP ${tr.summary.alive}/${TCP_FLOWS} UDP ${ur.summary.alive}/${UDP_FLOWS} (max gap ${tr.summary.maxGapMs} ms)`);
      assert.equal(tr.summary.alive, TCP_FLOWS, `TCP after ${what}: ${dead(tr)}`);
      assert.equal(ur.summary.alive, UDP_FLOWS, `UDP after ${what}: ${dead(ur)}`);
    };
    for (let i = 0; i < CYCLES; i++) {
      const how = FAILURES[i % FAILURES.length]!;
      // A fails; B takes the role.
      if (how === 'links-dark') {
        await lab.linkDown('sw', 'ra-lan');
        await lab.linkDown('sw', 'ra-wan');
      } else if (how === 'routerd-restart') {
        killPid(procs.ra?.pid, 'SIGKILL');
        await killKeepalived(lab.nodes.ra);
        procs.ra = undefined;
      } else {
        const child = Number((await lab.nodes.ra.host.readFile(`${LAB_RUN_DIR}/keepalived/vrrp.pid`))?.trim());
        killPid(Number.isInteger(child) && child > 1 ? child : undefined, 'SIGKILL');
      }
      await procs.rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 15_000);
      changes++;
      await check(`change ${changes}: A ${how}, B master`);
      // A comes back and takes the role back once it holds B's state.
      if (how === 'links-dark') await reviveRouter(lab, 'ra');
      if (how === 'routerd-restart') await start('ra');
      await until('A master again', async () => (await role('ra')) === 'master', 30_000, 100);
      await procs.rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'backup', 10_000);
      changes++;
      await check(`change ${changes}: A back (${how}), A master`);
    }
    assert.equal(changes, 2 * CYCLES);
    const pulls = procs.ra!.logs.filter((l) => l.action === 'handover-pull' && l.outcome === 'ok');
    t.diagnostic(`A's pulls in its last routerd: ${pulls.map((l) => `${l.sessions} sessions in ${l.durationMs} ms`).join(', ')}`);
    const [tr, ur] = await Promise.all([tcp.stop(), udp.stop()]);
    t.diagnostic(`end: TCP ${tr.summary.alive}/${TCP_FLOWS} (max gap ${tr.summary.maxGapMs} ms), UDP ${ur.summary.alive}/${UDP_FLOWS}`);
    assert.equal(tr.summary.alive, TCP_FLOWS, dead(tr));
    assert.equal(ur.summary.alive, UDP_FLOWS, dead(ur));
    assert.equal(tr.flows.filter((f) => f.fatal !== null).length, 0, 'no TCP flow was reset');
  } finally {
    await pair.close();
  }
});
