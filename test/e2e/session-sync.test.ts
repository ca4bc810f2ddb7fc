// Issue: NAT44SessionSync. Established NAT sessions survive failover, judged
// only by what the kernel does to packets: 200 TCP and 50 UDP echo flows
// through the master's SNAT on routers hardened like real ones
// (nf_conntrack_tcp_loose=0, forward policy drop, ct state invalid drop,
// random SNAT ports). The master dies (routerd and keepalived killed, links
// cut); every flow must keep echoing through the standby, ct marks included,
// and again when the role moves back and forth. The same run without session
// sync shows TCP flows dying, so the test measures something.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { parseConntrackExtended, snatAddress } from '../../src/kernel/conntrack.ts';
import { ctEventsHelperPresent } from '../../src/kernel/ct-events.ts';
import { hardenRouter } from '../../src/lab/harden.ts';
import { enableLabSsh, type LabSsh } from '../../src/lab/sshd.ts';
import { killConntrackd, startRouterd, type RouterdProcess } from '../../src/lab/routerd.ts';
import { createLab, labPrefix, type Lab } from '../../src/lab/topology.ts';
import { startEchoFlows, startTcpEchoServer, type EchoFlows, type EchoServer, type FlowReport } from '../../src/lab/traffic.ts';
import { requireE2E } from '../helpers/e2e.ts';
import { killRouter, reviveRouter } from '../helpers/failback.ts';
import { installConfig, labConfig, stopAll, until, verboseEcho } from '../helpers/lab.ts';

const SNAT = '198.51.100.100';
const SERVER = '198.51.100.200';
const PORT = 7007;
const TCP_FLOWS = 200;
const UDP_FLOWS = 50;
const MARK = 0x42;

interface Scenario {
  readonly mode: 'snapshot' | 'stream' | 'conntrackd' | 'off';
}

function configFor(router: 'a' | 'b', yaml: string, s: Scenario): string {
  let y = yaml;
  if (s.mode === 'stream') y = y.replace('mode: snapshot\n    interval: 1s', 'mode: stream\n    interval: 10s');
  if (s.mode === 'conntrackd') y = y.replace('mode: snapshot\n    interval: 1s', 'mode: conntrackd');
  return y;
}

/** Only router A marks new UDP flows, so a mark on B can only come from sync. */
async function hardenRouters(lab: Lab): Promise<void> {
  await hardenRouter(lab.nodes.ra, { markNewUdp: MARK });
  await hardenRouter(lab.nodes.rb);
}

function deadFlows(r: FlowReport): string {
  const dead = r.flows.filter((f) => !f.alive);
  return `${dead.length} dead of ${r.flows.length}; e.g. ${JSON.stringify(dead.slice(0, 3).map((f) => ({ id: f.id, fatal: f.fatal, maxGapMs: f.maxGapMs, lastEchoAgoMs: f.lastEchoAgoMs })))}`;
}

async function snapshotBoth(tcp: EchoFlows, udp: EchoFlows): Promise<[FlowReport, FlowReport]> {
  return Promise.all([tcp.snapshot(), udp.snapshot()]);
}

async function udpEntries(lab: Lab, node: 'ra' | 'rb', protocol: 'udp' | 'tcp' = 'udp') {
  const r = await lab.exec(node, ['conntrack', '-L', '-o', 'extended', '-p', protocol, '--src-nat', SNAT]);
  return parseConntrackExtended(r.stdout).entries.filter((e) => snatAddress(e) === SNAT && e.original.dport === PORT);
}

async function runScenario(t: TestContext, s: Scenario): Promise<void> {
  const lab = await createLab({ prefix: labPrefix(s.mode.slice(0, 4)) });
  let ssh: LabSsh | undefined;
  let server: EchoServer | undefined;
  const procs: Record<'ra' | 'rb', RouterdProcess | undefined> = { ra: undefined, rb: undefined };
  const flows: EchoFlows[] = [];
  const controllers = ['interface', 'virtual-address', 'nat44-rule', ...(s.mode === 'off' ? [] : ['nat44-session-sync'])];
  const start = async (n: 'ra' | 'rb') => (procs[n] = await startRouterd(lab.nodes[n], { controllers, echo: verboseEcho }));
  try {
    ssh = await enableLabSsh(lab);
    await installConfig(lab.nodes.ra, configFor('a', await labConfig('a'), s));
    await installConfig(lab.nodes.rb, configFor('b', await labConfig('b'), s));
    await hardenRouters(lab);
    server = await startTcpEchoServer(lab.nodes.server, PORT);
    await start('ra');
    await start('rb');
    await procs.ra!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master');
    await procs.rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'backup');

    const tcp = await startEchoFlows(lab.nodes.client, { target: SERVER, port: PORT, protocol: 'tcp', count: TCP_FLOWS, intervalMs: 100, durationMs: 120_000 });
    flows.push(tcp);
    const udp = await startEchoFlows(lab.nodes.client, { target: SERVER, port: PORT, protocol: 'udp', count: UDP_FLOWS, intervalMs: 100, durationMs: 120_000 });
    flows.push(udp);
    assert.equal(tcp.ready.established, TCP_FLOWS);
    assert.equal(udp.ready.established, UDP_FLOWS);
    const raUdp = await udpEntries(lab, 'ra');
    assert.equal(raUdp.length, UDP_FLOWS);
    assert.ok(raUdp.every((e) => e.mark === MARK), 'router A marks its UDP flows');

    if (s.mode !== 'off') {
      const readyAt = new Date().toISOString();
      const synced = await procs.ra!.waitFor(
        'NAT44SessionSync/lan-sessions',
        (r) => r.status.phase === 'Synced' && Number(r.status.localEntries) >= TCP_FLOWS + UDP_FLOWS && (s.mode === 'conntrackd' || String(r.status.lastFullSyncTime ?? r.status.lastSyncTime) > readyAt),
        20_000,
      );
      const target = (synced.status.targets as { sent: number; lagMs: number }[])[0]!;
      t.diagnostic(
        s.mode === 'conntrackd'
          ? `conntrackd: ra's internal cache holds ${String(synced.status.localEntries)} entries; ${String(synced.status.packetsSent)} sync packets sent, ${String(synced.status.messagesLost)} lost`
          : `${s.mode}: ra synced ${target.sent} entries to rb, lag ${target.lagMs} ms`,
      );
      await until('rb holds the UDP sessions', async () => (await udpEntries(lab, 'rb')).length === UDP_FLOWS, 15_000);
      // Every flow is in rb's kernel before the VIP moves (conntrackd: no external cache, nothing to commit on promotion).
      await until('rb holds the TCP sessions', async () => (await udpEntries(lab, 'rb', 'tcp')).length === TCP_FLOWS, 15_000);
      if (s.mode === 'conntrackd') {
        // A dead conntrackd is a status reason and heals: routerd restarts it with backoff; the standby's kernel keeps the entries.
        await killConntrackd(lab.nodes.rb, 'lan-sessions');
        await until('rb reports conntrackd exited', async () => procs.rb!.logs.some((l) => l.action === 'conntrackd-exit'), 10_000);
        const healed = await procs.rb!.waitFor('NAT44SessionSync/lan-sessions', (r) => r.status.phase === 'Synced' && /restarted 1 time/.test(String(r.status.process)), 20_000);
        t.diagnostic(`conntrackd on rb killed and healed: ${String(healed.status.process)}; kernel entries ${String(healed.status.kernelEntries)}, resync done ${String(healed.status.resyncDoneAt)}`);
        assert.equal((await udpEntries(lab, 'rb', 'tcp')).length, TCP_FLOWS);
        // A routerd restart leaves conntrackd running and adopts it.
        await procs.rb!.stop('SIGTERM');
        await start('rb');
        const adopted = await procs.rb!.waitFor('NAT44SessionSync/lan-sessions', (r) => r.status.phase === 'Synced' && /adopted/.test(String(r.status.process)), 20_000);
        const healedPid = /pid (\d+)/.exec(String(healed.status.process))![1];
        assert.equal(/pid (\d+)/.exec(String(adopted.status.process))![1], healedPid, 'the same conntrackd, adopted');
      }
      if (s.mode === 'stream') {
        // New flows reach the standby through the event stream, well before the next full resync.
        const extra = await startEchoFlows(lab.nodes.client, { target: SERVER, port: PORT, protocol: 'tcp', count: 5, intervalMs: 100, durationMs: 3000 });
        const streamed = await until('stream batches to rb', async () => {
          const lines = procs.ra!.logs.filter((l) => l.action === 'sync-stream' && l.outcome === 'ok');
          return lines.length > 0 ? lines : undefined;
        }, 5000);
        // routerd's own event reader when it is built (one socket, the asked buffer), conntrack -E otherwise.
        const reader = procs.ra!.logs.find((l) => l.action === 'events-reader');
        assert.equal(reader?.reader, ctEventsHelperPresent() ? 'routerd-ct-events' : 'conntrack -E', 'the event reader routerd logs');
        if (ctEventsHelperPresent()) {
          const buffer = procs.ra!.logs.find((l) => l.action === 'events-buffer');
          assert.ok(buffer && Number(buffer.reported) >= Number(buffer.asked), `the event socket got its buffer: ${JSON.stringify(buffer)}`);
        }
        t.diagnostic(`stream: ${streamed.length} batches, lag ${streamed.map((l) => l.lagMs).join('/')} ms, duration ${streamed.map((l) => l.durationMs).join('/')} ms, entries ${streamed.map((l) => `${l.entries}(i${l.inserts} r${l.replaces} d${l.deletes})`).join('/')}`);
        await extra.stop();
      }
    }

    // First failover: ra dies, rb takes over.
    await killRouter(lab, 'ra', procs.ra);
    procs.ra = undefined;
    await procs.rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 15_000);
    await new Promise((r) => setTimeout(r, 4000));
    const [tcp1, udp1] = await snapshotBoth(tcp, udp);
    t.diagnostic(`${s.mode} ra→rb: TCP alive ${tcp1.summary.alive}/${TCP_FLOWS} max gap ${tcp1.summary.maxGapMs} ms; UDP alive ${udp1.summary.alive}/${UDP_FLOWS} max gap ${udp1.summary.maxGapMs} ms`);

    if (s.mode === 'off') {
      assert.ok(tcp1.summary.alive <= TCP_FLOWS / 10, `without session sync TCP flows should die: ${tcp1.summary.alive} alive`);
      return;
    }
    assert.equal(tcp1.summary.alive, TCP_FLOWS, `TCP after ra→rb: ${deadFlows(tcp1)}`);
    assert.equal(udp1.summary.alive, UDP_FLOWS, `UDP after ra→rb: ${deadFlows(udp1)}`);
    const rbUdp = await udpEntries(lab, 'rb');
    assert.ok(rbUdp.length >= UDP_FLOWS);
    const raPorts = new Map(raUdp.map((e) => [e.original.sport, e.reply.dport]));
    for (const e of rbUdp.filter((x) => raPorts.has(x.original.sport))) {
      assert.equal(e.mark, MARK, 'ct mark kept on the standby');
      assert.equal(e.reply.dport, raPorts.get(e.original.sport), 'same SNAT port on the standby');
    }

    // Back: ra returns (preempt) and takes the flows back.
    await reviveRouter(lab, 'ra');
    await start('ra');
    await until(
      'rb pushed its sessions to the returning ra, or ra is master already',
      async () => (await procs.rb!.resource('NAT44SessionSync/lan-sessions'))?.status.phase === 'Synced' || (await procs.ra!.resource('VirtualAddress/lan-vip'))?.status.role === 'master',
      20_000,
    );
    await procs.ra!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 20_000);
    await procs.rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'backup', 10_000);
    await new Promise((r) => setTimeout(r, 4000));
    const [tcp2, udp2] = await snapshotBoth(tcp, udp);
    t.diagnostic(`${s.mode} rb→ra: TCP alive ${tcp2.summary.alive}/${TCP_FLOWS}; UDP alive ${udp2.summary.alive}/${UDP_FLOWS}`);
    assert.equal(tcp2.summary.alive, TCP_FLOWS, `TCP after rb→ra: ${deadFlows(tcp2)}`);
    assert.equal(udp2.summary.alive, UDP_FLOWS, `UDP after rb→ra: ${deadFlows(udp2)}`);

    // And over again: the sessions ra now pushes must carry them to rb once more.
    await procs.ra!.waitFor('NAT44SessionSync/lan-sessions', (r) => r.status.phase === 'Synced' && Number(r.status.localEntries) >= TCP_FLOWS + UDP_FLOWS, 20_000);
    await new Promise((r) => setTimeout(r, 1500));
    await killRouter(lab, 'ra', procs.ra);
    procs.ra = undefined;
    await procs.rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 15_000);
    await new Promise((r) => setTimeout(r, 4000));
    const final = await Promise.all([tcp.stop(), udp.stop()]);
    t.diagnostic(`${s.mode} ra→rb again: TCP alive ${final[0].summary.alive}/${TCP_FLOWS} max gap ${final[0].summary.maxGapMs} ms; UDP alive ${final[1].summary.alive}/${UDP_FLOWS}`);
    assert.equal(final[0].summary.alive, TCP_FLOWS, `TCP after the second ra→rb: ${deadFlows(final[0])}`);
    assert.equal(final[1].summary.alive, UDP_FLOWS, `UDP after the second ra→rb: ${deadFlows(final[1])}`);
    assert.equal(final[0].flows.filter((f) => f.fatal !== null).length, 0, 'no TCP flow was reset');
  } finally {
    for (const f of flows) await f.stop().catch(() => undefined);
    await stopAll([procs.ra, procs.rb]);
    await server?.stop().catch(() => undefined);
    await ssh?.stop().catch(() => undefined);
    await lab.destroy();
  }
}

for (const mode of ['snapshot', 'stream', 'conntrackd', 'off'] as const)
  test(`session sync ${mode === 'off' ? 'disabled: TCP flows die on failover' : `(${mode}): every flow survives failover back and forth`}`, { timeout: 300_000 }, async (t) => {
    if (!(await requireE2E(t, ['keepalived', 'nft', 'conntrack', 'sshd', 'ssh', ...(mode === 'conntrackd' ? ['conntrackd'] : [])]))) return;
    await runScenario(t, { mode });
  });
