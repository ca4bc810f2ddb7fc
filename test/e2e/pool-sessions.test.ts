// Issue 18, end to end: three routers share an eight-address SNAT pool;
// 300 TCP and 60 UDP echo flows from the client spread over it (client source
// i → gateway i → pool address i), on routers hardened like real ones
// (nf_conntrack_tcp_loose=0, forward policy drop, random SNAT ports), so a
// flow survives only if its conntrack entry is where its packets go.
// - rb dies (links dark, every process killed): its flows keep echoing
//   through the successors, the other flows see no gap beyond noise, and the
//   isp routes rb's addresses to the successors within about a second.
// - rb returns: it pulls the sessions of its addresses before it claims
//   them; ownership returns without a lost flow.
// - rd joins: at most a quarter of the addresses move, their flows survive.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { assign, moved } from '../../src/controllers/address-pool/ownership.ts';
import { hardenRouter } from '../../src/lab/harden.ts';
import { ispRoutes, routerOfWan, startIsp } from '../../src/lab/isp.ts';
import { createMultiLab, killMultiRouter, MULTI_ADDRESSES, setupClientSources, type MultiLab, type MultiRouter } from '../../src/lab/multi.ts';
import { multiRouterConfig } from '../../src/lab/multi-config.ts';
import { enableMultiSsh, type MultiSsh } from '../../src/lab/multi-ssh.ts';
import { startRouterd, type RouterdProcess } from '../../src/lab/routerd.ts';
import { labPrefix } from '../../src/lab/topology.ts';
import { startEchoFlows, startTcpEchoServer, type EchoFlows, type EchoServer, type FlowReport } from '../../src/lab/traffic.ts';
import { requireE2E } from '../helpers/e2e.ts';
import { installConfig, stopAll, until, verboseEcho } from '../helpers/lab.ts';
import { untilOrDiagnose } from '../helpers/pool.ts';

const POOL: string[] = [...MULTI_ADDRESSES.pool];
const PORT = 7007;
const TCP_FLOWS = 300;
const UDP_FLOWS = 60;
const CONTROLLERS = ['interface', 'nat44-rule', 'bgp'];
/** Longest gap a flow on an address that did not move may show ("noise"): a few intervals. */
const NOISE_MS = 1500;

const owners = (up: readonly MultiRouter[]) => new Map(assign(POOL, up).map((a) => [a.address, a.owner as MultiRouter]));
/** Flow i binds client source i mod 8, so it uses pool address i mod 8. */
const addressOfFlow = (id: number) => POOL[id % POOL.length]!;

async function routesMatch(lab: MultiLab, want: Map<string, MultiRouter>): Promise<boolean> {
  const routes = await ispRoutes(lab);
  return [...want].every(([a, r]) => routerOfWan(routes.get(a)) === r);
}

function dead(r: FlowReport): string {
  const d = r.flows.filter((f) => !f.alive);
  return `${d.length} dead of ${r.flows.length}; e.g. ${JSON.stringify(d.slice(0, 4).map((f) => ({ id: f.id, address: addressOfFlow(f.id), fatal: f.fatal, lastEchoAgoMs: f.lastEchoAgoMs })))}`;
}

function gapsOn(r: FlowReport, addresses: ReadonlySet<string>): number {
  return Math.max(0, ...r.flows.filter((f) => addresses.has(addressOfFlow(f.id))).map((f) => f.maxGapMs));
}

/** The longest echo gap (over three intervals) of the flows on these addresses that ended after `sinceEpochMs`, and when it began relative to it. */
function gapsAfter(r: FlowReport, addresses: ReadonlySet<string>, sinceEpochMs: number): { ms: number; startMs: number | undefined; flows: number } {
  let ms = 0;
  let startMs: number | undefined;
  let flows = 0;
  for (const f of r.flows.filter((x) => addresses.has(addressOfFlow(x.id)))) {
    const late = f.gaps.filter((g) => g.startEpochMs + g.ms >= sinceEpochMs);
    if (late.length) flows++;
    for (const g of late)
      if (g.ms > ms) {
        ms = g.ms;
        startMs = g.startEpochMs - sinceEpochMs;
      }
  }
  return { ms, startMs, flows };
}

test('pool sessions: a dead router\'s flows continue through its successors, return with it, and survive a fourth router joining', { timeout: 300_000 }, async (t: TestContext) => {
  if (!(await requireE2E(t, ['vtysh', 'keepalived', 'nft', 'conntrack', 'sshd', 'ssh']))) return;
  const lab = await createMultiLab({ prefix: labPrefix('pool') });
  const three: MultiRouter[] = ['ra', 'rb', 'rc'];
  const four: MultiRouter[] = ['ra', 'rb', 'rc', 'rd'];
  const procs: Partial<Record<MultiRouter, RouterdProcess>> = {};
  const flows: EchoFlows[] = [];
  let ssh: MultiSsh | undefined;
  let server: EchoServer | undefined;
  const start = async (r: MultiRouter) => (procs[r] = await startRouterd(lab.asLabNode(r), { controllers: CONTROLLERS, echo: verboseEcho }));
  const snapshot = async () => Promise.all(flows.map((f) => f.snapshot(10_000)));
  try {
    await startIsp(lab);
    ssh = await enableMultiSsh(lab);
    for (const r of four) await hardenRouter(lab.asLabNode(r));
    await setupClientSources(lab);
    server = await startTcpEchoServer({ name: 'server', host: lab.node('server').host }, PORT);
    for (const r of three) await installConfig(lab.asLabNode(r), multiRouterConfig(r, three, { sessions: true }));
    await Promise.all(three.map(start));
    const all = owners(three);
    await untilOrDiagnose('the isp routes every pool address to its owner', lab, procs, () => routesMatch(lab, all), 60_000, 200);
    for (const r of three) await procs[r]!.waitFor('NAT44AddressPool/egress', (x) => x.status.ready === true && JSON.stringify(x.status.membersUp) === JSON.stringify(three), 30_000);

    const binds = MULTI_ADDRESSES.clientSources.join(',');
    const client = { name: 'client', host: lab.node('client').host };
    flows.push(await startEchoFlows(client, { target: MULTI_ADDRESSES.server, port: PORT, protocol: 'tcp', count: TCP_FLOWS, intervalMs: 200, durationMs: 200_000, bind: binds }));
    flows.push(await startEchoFlows(client, { target: MULTI_ADDRESSES.server, port: PORT, protocol: 'udp', count: UDP_FLOWS, intervalMs: 200, durationMs: 200_000, bind: binds }));
    assert.equal(flows[0]!.ready.established, TCP_FLOWS, 'every TCP flow is up');
    assert.equal(flows[1]!.ready.established, UDP_FLOWS, 'every UDP flow is up');

    // Each owner pushes its sessions to its successor; wait for a full sync that includes the flows.
    const flowsAt = new Date().toISOString();
    for (const r of three)
      await procs[r]!.waitFor('NAT44AddressPool/egress', (x) => {
        const sync = Object.values((x.status.sync ?? {}) as Record<string, { phase?: string; targets?: { lastFullSyncTime?: string }[] }>);
        return sync.length > 0 && sync.every((s) => s.phase === 'Synced' && (s.targets ?? []).every((tt) => (tt.lastFullSyncTime ?? '') > flowsAt));
      }, 30_000);

    // rb dies.
    const victim: MultiRouter = 'rb';
    const survivors = three.filter((r) => r !== victim);
    const after = owners(survivors);
    const victimAddrs = new Set(POOL.filter((a) => all.get(a) === victim));
    const others = new Set(POOL.filter((a) => !victimAddrs.has(a)));
    const t0 = performance.now();
    const killedAt = Date.now();
    await killMultiRouter(lab, victim);
    procs[victim] = undefined;
    let switchedMs = 0;
    await until('the isp routes rb\'s addresses to their successors', async () => (await routesMatch(lab, after)) && ((switchedMs = performance.now() - t0), true), 20_000, 20);
    t.diagnostic(`rb dead: upstream switched ${[...victimAddrs].join(', ')} in ${Math.round(switchedMs)} ms`);
    assert.ok(switchedMs < 1000, `upstream switch took ${Math.round(switchedMs)} ms`);
    await new Promise((r) => setTimeout(r, 4000));
    const [tcp1, udp1] = await snapshot();
    const stayed = gapsAfter(tcp1!, others, killedAt);
    const stayedUdp = gapsAfter(udp1!, others, killedAt);
    t.diagnostic(
      `after rb died: TCP alive ${tcp1!.summary.alive}/${TCP_FLOWS}, UDP ${udp1!.summary.alive}/${UDP_FLOWS}; max gap on rb's addresses ${gapsOn(tcp1!, victimAddrs)} ms; ` +
        `on the others since the kill: TCP ${stayed.ms} ms in ${stayed.flows} flows (from ${stayed.startMs ?? '-'} ms), UDP ${stayedUdp.ms} ms in ${stayedUdp.flows} flows (gaps under ${3 * 200} ms are not counted; since the flows began: ${gapsOn(tcp1!, others)} ms)`,
    );
    assert.equal(tcp1!.summary.alive, TCP_FLOWS, `TCP after rb died: ${dead(tcp1!)}`);
    assert.equal(udp1!.summary.alive, UDP_FLOWS, `UDP after rb died: ${dead(udp1!)}`);
    assert.ok(stayed.ms < NOISE_MS && stayedUdp.ms < NOISE_MS, `flows on addresses that stayed had a gap of ${Math.max(stayed.ms, stayedUdp.ms)} ms after the kill`);

    // rb returns: links up, sshd and routerd again; it pulls before it claims.
    await lab.setPort(`${victim}-lan`, 'up');
    await lab.setPort(`${victim}-wan`, 'up');
    await ssh.restart(victim);
    await start(victim);
    await untilOrDiagnose('the isp routes every address to its owner again', lab, procs, () => routesMatch(lab, all), 60_000, 200);
    const ready = procs[victim]!.logs.find((l) => l.action === 'pool-ready');
    t.diagnostic(`rb back: ${JSON.stringify({ pulls: ready?.pulls, entries: ready?.entries, durationMs: ready?.durationMs })}`);
    assert.ok(ready, 'rb logged pool-ready');
    await new Promise((r) => setTimeout(r, 4000));
    const [tcp2, udp2] = await snapshot();
    t.diagnostic(`after rb returned: TCP alive ${tcp2!.summary.alive}/${TCP_FLOWS}, UDP ${udp2!.summary.alive}/${UDP_FLOWS}`);
    assert.equal(tcp2!.summary.alive, TCP_FLOWS, `TCP after rb returned: ${dead(tcp2!)}`);
    assert.equal(udp2!.summary.alive, UDP_FLOWS, `UDP after rb returned: ${dead(udp2!)}`);

    // rd joins: every member gets the new member list; rd pulls what it takes.
    for (const r of four) await installConfig(lab.asLabNode(r), multiRouterConfig(r, four, { sessions: true }));
    await start('rd');
    for (const r of three) procs[r]!.child.kill('SIGHUP');
    const joined = owners(four);
    const movedOnJoin = moved(assign(POOL, three), assign(POOL, four));
    assert.ok(movedOnJoin.length <= POOL.length / 4, `${movedOnJoin.length} addresses move`);
    await untilOrDiagnose('the isp routes every address to its owner among four', lab, procs, () => routesMatch(lab, joined), 60_000, 200);
    t.diagnostic(`rd joined: ${movedOnJoin.join(', ')} moved to it`);
    await new Promise((r) => setTimeout(r, 4000));
    const [tcp3, udp3] = await Promise.all(flows.map((f) => f.stop()));
    t.diagnostic(`after rd joined: TCP alive ${tcp3!.summary.alive}/${TCP_FLOWS}, UDP ${udp3!.summary.alive}/${UDP_FLOWS}`);
    assert.equal(tcp3!.summary.alive, TCP_FLOWS, `TCP after rd joined: ${dead(tcp3!)}`);
    assert.equal(udp3!.summary.alive, UDP_FLOWS, `UDP after rd joined: ${dead(udp3!)}`);
    assert.equal(tcp3!.flows.filter((f) => f.fatal !== null).length, 0, 'no TCP flow was reset');
  } finally {
    for (const f of flows) await f.stop().catch(() => undefined);
    await stopAll(Object.values(procs));
    await server?.stop().catch(() => undefined);
    await ssh?.stop().catch(() => undefined);
    await lab.destroy();
  }
});
