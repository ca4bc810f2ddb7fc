// Issue 18, upstream side: three routers share an eight-address SNAT pool and
// announce it to an FRR "isp" over BGP with BFD. Judged by the isp's kernel
// routing table: every /32 via its rendezvous owner; when a router dies (links
// dark, routerd and FRR killed) its addresses go to their successors, and
// when it returns they come back to it.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { assign } from '../../src/controllers/address-pool/ownership.ts';
import { ispRoutes, routerOfWan, startIsp } from '../../src/lab/isp.ts';
import { createMultiLab, killMultiRouter, MULTI_ADDRESSES, type MultiLab, type MultiRouter } from '../../src/lab/multi.ts';
import { multiRouterConfig } from '../../src/lab/multi-config.ts';
import { startRouterd, type RouterdProcess } from '../../src/lab/routerd.ts';
import { labPrefix } from '../../src/lab/topology.ts';
import { requireE2E } from '../helpers/e2e.ts';
import { installConfig, stopAll, until, verboseEcho } from '../helpers/lab.ts';
import { untilOrDiagnose } from '../helpers/pool.ts';

const POOL: string[] = [...MULTI_ADDRESSES.pool];
const CONTROLLERS = ['interface', 'bgp'];

function expected(up: readonly MultiRouter[]): Map<string, MultiRouter> {
  return new Map(assign(POOL, up).map((a) => [a.address, a.owner as MultiRouter]));
}

async function routesMatch(lab: MultiLab, want: Map<string, MultiRouter>): Promise<boolean> {
  const routes = await ispRoutes(lab);
  return [...want].every(([a, r]) => routerOfWan(routes.get(a)) === r);
}

function describeRoutes(routes: Map<string, string | undefined>): string {
  return [...routes].map(([a, via]) => `${a}→${routerOfWan(via) ?? via}`).join(' ');
}

test('BGP pool: every address via its owner; a dead router\'s addresses move to their successors within about a second, and come back', { timeout: 240_000 }, async (t: TestContext) => {
  if (!(await requireE2E(t, ['vtysh', 'nft', 'conntrack']))) return;
  const routers: MultiRouter[] = ['ra', 'rb', 'rc'];
  const lab = await createMultiLab({ prefix: labPrefix('bgp'), routers });
  const procs: Partial<Record<MultiRouter, RouterdProcess>> = {};
  try {
    await startIsp(lab);
    for (const r of routers) await installConfig(lab.asLabNode(r), multiRouterConfig(r, routers));
    const start = async (r: MultiRouter) => (procs[r] = await startRouterd(lab.asLabNode(r), { controllers: CONTROLLERS, echo: verboseEcho }));
    await Promise.all(routers.map(start));

    const all = expected(routers);
    await untilOrDiagnose('the isp routes every pool address to its owner', lab, procs, () => routesMatch(lab, all), 60_000, 200);
    t.diagnostic(`owners: ${describeRoutes(await ispRoutes(lab))}`);
    for (const r of routers) {
      const st = await procs[r]!.resource('NAT44AddressPool/egress');
      assert.deepEqual(st?.status.owned, POOL.filter((a) => all.get(a) === r), `${r} owns its share`);
      await procs[r]!.waitFor('BGPPeer/isp', (x) => x.status.state === 'Established' && x.status.bfd === 'up', 10_000);
    }

    // rb dies.
    const victim: MultiRouter = 'rb';
    const survivors = routers.filter((r) => r !== victim);
    const after = expected(survivors);
    const moved = POOL.filter((a) => all.get(a) === victim);
    assert.ok(moved.length > 0, 'the victim owns something');
    // The successors' standby routes are in place before the kill.
    await until('standby routes are known to the isp', async () => {
      const r = await lab.node('isp').host.run(['vtysh', '-N', 'isp', '-c', 'show bgp ipv4 unicast json'], { timeoutMs: 10_000 });
      const routes = (JSON.parse(r.stdout) as { routes: Record<string, unknown[]> }).routes;
      return moved.every((a) => (routes[`${a}/32`]?.length ?? 0) >= 2);
    }, 20_000, 200);
    const t0 = performance.now();
    await killMultiRouter(lab, victim);
    procs[victim] = undefined;
    let switchedMs: number | undefined;
    await until('the isp routes the victim\'s addresses to their successors', async () => {
      const ok = await routesMatch(lab, after);
      if (ok) switchedMs = performance.now() - t0;
      return ok;
    }, 20_000, 20);
    t.diagnostic(`upstream switched ${moved.join(', ')} from ${victim} in ${Math.round(switchedMs!)} ms (link down to isp kernel route, 20 ms poll)`);
    // The issue asks for 1 s: BFD 100 ms x 3 plus the poll is about 0.4 s; the bench reports the distribution.
    assert.ok(switchedMs! < 1000, `upstream switch took ${switchedMs} ms`);
    for (const r of survivors)
      await procs[r]!.waitFor('NAT44AddressPool/egress', (x) => JSON.stringify(x.status.owned) === JSON.stringify(POOL.filter((a) => after.get(a) === r)), 10_000);
    // The status (API socket) can be read before the log line of the same pass (stdout pipe) arrives.
    const takeover = () => procs[survivors[0]!]!.logs.concat(procs[survivors[1]!]!.logs).filter((l) => l.action === 'pool-own' && moved.includes(String(l.address)));
    await until('one pool-own log line per moved address', async () => takeover().length >= moved.length, 5000, 100);
    assert.equal(takeover().length, moved.length, 'one pool-own log line per moved address');

    // rb comes back: its addresses return to it.
    await lab.setPort(`${victim}-lan`, 'up');
    await lab.setPort(`${victim}-wan`, 'up');
    await start(victim);
    await untilOrDiagnose('the isp routes every address to its owner again', lab, procs, () => routesMatch(lab, all), 60_000, 200);
    t.diagnostic(`after return: ${describeRoutes(await ispRoutes(lab))}`);
  } finally {
    await stopAll(Object.values(procs));
    await lab.destroy();
  }
});
