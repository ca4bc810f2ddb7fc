// Issue 12: failback keeps every flow. Routers hardened like real ones
// (nf_conntrack_tcp_loose=0, forward policy drop, ct state invalid drop),
// both syncing to each other, priorities 150/100 with preempt. 100 TCP + 20
// UDP flows run through A; A goes dark (links cut, routerd and keepalived
// killed); B carries them; 60 TCP + 10 UDP new flows open through B; A comes
// back and takes the role back. With the handover gate A takes the role only
// once it holds B's sessions, and every flow, old and new, keeps echoing.
// Without the gate A takes the role back at once with its stale table, and
// flows die: the test measures something. B's pushes to A are kept out until
// A is master, so A's state is whatever A took itself (in the issue, B's
// target for A was in backoff; here it is made certain).
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { HardenedPair, PAIR_CONTROLLERS } from '../../src/lab/pair.ts';
import { createLab, labPrefix } from '../../src/lab/topology.ts';
import { startEchoFlows, type FlowReport } from '../../src/lab/traffic.ts';
import { requireE2E } from '../helpers/e2e.ts';
import { blockIncomingSsh, failbackConfig, killRouter, reviveRouter, unblockIncomingSsh } from '../helpers/failback.ts';
import { labConfig, until, verboseEcho } from '../helpers/lab.ts';
import { apiGet } from '../../src/daemon/api-client.ts';

const SERVER = '198.51.100.200';
const PORT = 7007;

type Mode = 'snapshot' | 'stream' | 'conntrackd';

function dead(r: FlowReport): string {
  const d = r.flows.filter((f) => !f.alive);
  return `${d.length} dead of ${r.flows.length}; e.g. ${JSON.stringify(d.slice(0, 3).map((f) => ({ id: f.id, fatal: f.fatal, maxGapMs: f.maxGapMs, lastEchoAgoMs: f.lastEchoAgoMs })))}`;
}

async function runFailback(t: TestContext, mode: Mode, gate: boolean): Promise<void> {
  const lab = await createLab({ prefix: labPrefix(`fb${mode.slice(0, 2)}${gate ? 'g' : 'n'}`) });
  const pair = new HardenedPair(lab, { controllers: PAIR_CONTROLLERS, echo: verboseEcho });
  const { procs, flows } = pair;
  const start = (n: 'ra' | 'rb') => pair.start(n);
  const flowOpts = { target: SERVER, port: PORT, intervalMs: 100, durationMs: 90_000 };
  try {
    await pair.up({ a: failbackConfig(await labConfig('a'), { mode, gate }), b: failbackConfig(await labConfig('b'), { mode, gate }) }, PORT);

    const oldTcp = await startEchoFlows(lab.nodes.client, { ...flowOpts, protocol: 'tcp', count: 100 });
    flows.push(oldTcp);
    const oldUdp = await startEchoFlows(lab.nodes.client, { ...flowOpts, protocol: 'udp', count: 20 });
    flows.push(oldUdp);
    assert.equal(oldTcp.ready.established, 100);
    assert.equal(oldUdp.ready.established, 20);
    const readyAt = new Date().toISOString();
    await procs.ra!.waitFor(
      'NAT44SessionSync/lan-sessions',
      (r) => r.status.phase === 'Synced' && Number(r.status.localEntries) >= 120 && (mode === 'conntrackd' || String(r.status.lastSyncTime ?? '') > readyAt),
      20_000,
    );

    // A goes dark; B takes over and carries the old flows.
    await killRouter(lab, 'ra', procs.ra);
    procs.ra = undefined;
    await procs.rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 15_000);
    await new Promise((r) => setTimeout(r, 3000));
    const [t1, u1] = await Promise.all([oldTcp.snapshot(), oldUdp.snapshot()]);
    t.diagnostic(`${mode}: A dark, B carries TCP ${t1.summary.alive}/100 UDP ${u1.summary.alive}/20 (failover max gap ${t1.summary.maxGapMs} ms)`);
    assert.equal(t1.summary.alive, 100, `old TCP through B: ${dead(t1)}`);

    // New flows through B while A is away; their data moves A's stale windows further behind.
    const newTcp = await startEchoFlows(lab.nodes.client, { ...flowOpts, protocol: 'tcp', count: 60 });
    flows.push(newTcp);
    const newUdp = await startEchoFlows(lab.nodes.client, { ...flowOpts, protocol: 'udp', count: 10 });
    flows.push(newUdp);
    assert.equal(newTcp.ready.established, 60);
    assert.equal(newUdp.ready.established, 10);
    await new Promise((r) => setTimeout(r, 2000));

    // A returns and takes the role back (preempt). B's pushes cannot reach A
    // (as when B's target for A is still in backoff): whatever A holds when it
    // takes the role, it took itself.
    const before = new Map((await Promise.all([oldTcp.snapshot(), newTcp.snapshot()])).flatMap((r, i) => r.flows.map((f) => [`${i}:${f.id}`, f.maxGapMs] as const)));
    await blockIncomingSsh(lab, 'ra');
    await reviveRouter(lab, 'ra');
    const returnedAt = Date.now();
    await start('ra');
    const seen = new Set<string>();
    await until(
      'A master again',
      async () => {
        const v = await procs.ra!.resource('VirtualAddress/lan-vip');
        if (v?.status.reason === 'Demoted') seen.add(String(v.status.message).replace(/\(\d+ received\)/, '(N received)'));
        return v?.status.role === 'master';
      },
      30_000,
      20,
    );
    const masterAfterMs = Date.now() - returnedAt;
    t.diagnostic(`A's status while demoted: ${[...seen].join(' | ') || '(not caught between polls)'}`);
    await procs.rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'backup', 10_000);
    await unblockIncomingSsh(lab, 'ra');
    const pulls = procs.ra!.logs.filter((l) => l.action === 'handover-pull' && l.outcome === 'ok');
    t.diagnostic(
      `${mode} gate ${gate ? 'on' : 'off'}: A master ${masterAfterMs} ms after its links and routerd came back; ` +
        (pulls.length ? `pull: ${pulls.map((l) => `${l.sessions} sessions in ${l.durationMs} ms, waited ${l.waitedMs} ms`).join('; ')}` : 'no pull'),
    );
    if (gate) {
      const metrics = await apiGet<string>(procs.ra!.socket, '/metrics');
      assert.match(metrics.body, /routerd_handover_gate_opens_total\{resource="VirtualAddress\/lan-vip",outcome="state-received"\} 1/);
      assert.match(metrics.body, /routerd_handover_gate\{resource="VirtualAddress\/lan-vip",state="open"\} 1/);
      assert.equal(pulls.length, 1, 'A took the state from B once before taking the role');
      assert.ok(Number(pulls[0]!.sessions) >= 190, `A took every session from B: ${pulls[0]!.sessions}`);
      const order = procs.ra!.logs.findIndex((l) => l.action === 'handover-pull' && l.outcome === 'ok') < procs.ra!.logs.findIndex((l) => l.action === 'role-change' && l.to === 'master');
      assert.ok(order, 'A held the state before it became master');
    }
    await new Promise((r) => setTimeout(r, 4000));
    const reports = await Promise.all(flows.map((f) => f.stop()));
    const [tcpOld, udpOld, tcpNew, udpNew] = reports as [FlowReport, FlowReport, FlowReport, FlowReport];
    const grew = [tcpOld, tcpNew].flatMap((r, i) => r.flows.filter((f) => f.maxGapMs > (before.get(`${i}:${f.id}`) ?? 0)).map((f) => f.maxGapMs));
    t.diagnostic(`${mode} gate ${gate ? 'on' : 'off'}: TCP flows with a longer gap at the failback: ${grew.length}, longest ${grew.length ? Math.max(...grew) : 0} ms`);
    t.diagnostic(
      `${mode} gate ${gate ? 'on' : 'off'} after failback: old TCP ${tcpOld.summary.alive}/100 (max gap ${tcpOld.summary.maxGapMs} ms), old UDP ${udpOld.summary.alive}/20, ` +
        `new TCP ${tcpNew.summary.alive}/60 (max gap ${tcpNew.summary.maxGapMs} ms), new UDP ${udpNew.summary.alive}/10`,
    );
    const vip = await procs.ra!.resource('VirtualAddress/lan-vip');
    assert.equal(vip?.status.role, 'master', 'A is master at the end');
    if (!gate) {
      assert.ok(tcpOld.summary.alive + tcpNew.summary.alive < 160, `without the gate TCP flows should die: old ${tcpOld.summary.alive}/100, new ${tcpNew.summary.alive}/60`);
      return;
    }
    assert.equal(tcpOld.summary.alive, 100, `old TCP after failback: ${dead(tcpOld)}`);
    assert.equal(udpOld.summary.alive, 20, `old UDP after failback: ${dead(udpOld)}`);
    assert.equal(tcpNew.summary.alive, 60, `new TCP after failback: ${dead(tcpNew)}`);
    assert.equal(udpNew.summary.alive, 10, `new UDP after failback: ${dead(udpNew)}`);
    assert.equal([...tcpOld.flows, ...tcpNew.flows].filter((f) => f.fatal !== null).length, 0, 'no TCP flow was reset');
  } finally {
    await pair.close();
  }
}

for (const mode of ['stream', 'snapshot', 'conntrackd'] as const)
  test(`failback (${mode}): A takes the role back only once it holds B's sessions; every old and new flow keeps echoing`, { timeout: 240_000 }, async (t) => {
    if (!(await requireE2E(t, ['keepalived', 'nft', 'conntrack', 'sshd', 'ssh', ...(mode === 'conntrackd' ? ['conntrackd'] : [])]))) return;
    await runFailback(t, mode, true);
  });

test('failback without the handover gate: A takes the role back with its stale table and flows die', { timeout: 240_000 }, async (t) => {
  if (!(await requireE2E(t, ['keepalived', 'nft', 'conntrack', 'sshd', 'ssh']))) return;
  await runFailback(t, 'stream', false);
});
