// Seed 004 in the lab: 500 echoing TCP flows over two SNAT addresses on a
// hardened router (nf_conntrack_tcp_loose=0, ct state invalid drop). A config
// change ends exactly the flows it invalidates, judged by the kernel: the
// others keep echoing; an unrelated change ends none; re-applying is a no-op.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConntrackExtended, snatAddress } from '../../src/kernel/conntrack.ts';
import { hardenRouter } from '../../src/lab/harden.ts';
import { enableLabSsh, type LabSsh } from '../../src/lab/sshd.ts';
import { ROUTERCTL_BIN, startRouterd, type RouterdProcess } from '../../src/lab/routerd.ts';
import { createLab, labPrefix } from '../../src/lab/topology.ts';
import { startEchoFlows, startTcpEchoServer, type EchoFlows, type EchoServer, type FlowReport } from '../../src/lab/traffic.ts';
import { requireE2E } from '../helpers/e2e.ts';
import { installConfig, killPid, stopAll, until, verboseEcho } from '../helpers/lab.ts';

const SERVER = '198.51.100.200';
const PORT = 7007;
const HOST_A = '192.0.2.10';
const HOST_B = '192.0.2.11';
const PER_HOST = 250;

function config(o: { rangeA: string; addressB: string; rangeOther: string }, node: 'ra' | 'rb' = 'ra'): string {
  const rule = (name: string, source: string, address: string, range: string) => `
- apiVersion: net.routerd.net/v1alpha1
  kind: NAT44Rule
  metadata: {name: ${name}}
  spec:
    outInterface: wan0
    sources: [${source}]
    snat: {address: ${address}}
    portRange: "${range}"
    random: true`;
  return `
- apiVersion: net.routerd.net/v1alpha1
  kind: VirtualAddress
  metadata: {name: lan-vip}
  spec:
    interface: lan0
    address: 192.0.2.1/24
    virtualRouterId: 52
    priority: ${node === 'ra' ? 150 : 100}
    advertInterval: 200ms
    extraAddresses:
      - {interface: wan0, address: 198.51.100.100/24}
      - {interface: wan0, address: 198.51.100.101/24}
      - {interface: wan0, address: 198.51.100.102/24}
${rule('host-a', `${HOST_A}/32`, '198.51.100.100', o.rangeA)}
${rule('host-b', `${HOST_B}/32`, o.addressB, '20000-60000')}
${rule('other', '192.0.2.99/32', '198.51.100.102', o.rangeOther)}
- apiVersion: net.routerd.net/v1alpha1
  kind: NAT44SessionSync
  metadata: {name: sessions}
  spec:
    interval: 1s
    natRules: [NAT44Rule/host-a, NAT44Rule/host-b, NAT44Rule/other]
    targets: [{name: peer, host: ${node === 'ra' ? '192.0.2.3' : '192.0.2.2'}, user: root}]
    when:
      state:
        VirtualAddress/lan-vip.role: {equals: master}
`;
}

test('NAT44Rule changes end exactly the invalidated flows', { timeout: 300_000 }, async (t) => {
  if (!(await requireE2E(t, ['keepalived', 'nft', 'conntrack', 'sshd']))) return;
  const lab = await createLab({ prefix: labPrefix('recfg') });
  let ra: RouterdProcess | undefined;
  let rb: RouterdProcess | undefined;
  let ssh: LabSsh | undefined;
  let server: EchoServer | undefined;
  const flows: EchoFlows[] = [];
  const ra$ = lab.nodes.ra;
  const apply = async (o: Parameters<typeof config>[0]) => {
    const before = ra!.logs.length;
    await installConfig(ra$, config(o));
    await installConfig(lab.nodes.rb, config(o, 'rb'));
    killPid(ra!.pid, 'SIGHUP');
    killPid(rb!.pid, 'SIGHUP');
    return until('reconfig logged', async () => ra!.logs.slice(before).find((l) => l.action === 'nat-reconfig'), 20_000);
  };
  /** What the standby holds on an address, once the next sync has run. */
  const standbyOn = async (addr: string) => {
    await new Promise((r) => setTimeout(r, 2500));
    const r = await lab.exec('rb', ['conntrack', '-L', '-o', 'extended', '-p', 'tcp', '--src-nat', addr]);
    return parseConntrackExtended(r.stdout).entries.filter((e) => snatAddress(e) === addr);
  };
  /** client source port → SNAT port, per client address, from the router's table. */
  const bindings = async () => {
    const r = await lab.exec('ra', ['conntrack', '-L', '-o', 'extended', '-p', 'tcp', '--dport', String(PORT)]);
    return new Map(parseConntrackExtended(r.stdout).entries.filter((e) => snatAddress(e)).map((e) => [`${e.original.src}:${e.original.sport}`, { addr: e.reply.dst, port: e.reply.dport! }]));
  };
  const settle = () => new Promise((r) => setTimeout(r, 4000));
  const both = async (): Promise<FlowReport[]> => Promise.all(flows.map((f) => f.snapshot()));
  try {
    await lab.exec('client', ['ip', 'addr', 'add', `${HOST_B}/24`, 'dev', 'eth0']);
    await hardenRouter(ra$);
    const start = { rangeA: '20000-60000', addressB: '198.51.100.101', rangeOther: '20000-60000' };
    await installConfig(ra$, config(start));
    await installConfig(lab.nodes.rb, config(start, 'rb'));
    ssh = await enableLabSsh(lab);
    server = await startTcpEchoServer(lab.nodes.server, PORT);
    const controllers = ['interface', 'virtual-address', 'nat44-rule', 'nat44-session-sync'];
    ra = await startRouterd(ra$, { controllers, echo: verboseEcho });
    await ra.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master');
    rb = await startRouterd(lab.nodes.rb, { controllers, echo: verboseEcho });
    await rb.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'backup');
    await ra.waitFor('NAT44Rule/host-b', (r) => r.status.phase === 'Ready');

    for (const bind of [HOST_A, HOST_B]) {
      const f = await startEchoFlows(lab.nodes.client, { target: SERVER, port: PORT, protocol: 'tcp', count: PER_HOST, intervalMs: 200, durationMs: 240_000, bind });
      assert.equal(f.ready.established, PER_HOST);
      flows.push(f);
    }
    const initial = await bindings();
    assert.equal([...initial.values()].filter((b) => b.addr === '198.51.100.100').length, PER_HOST);
    assert.equal([...initial.values()].filter((b) => b.addr === '198.51.100.101').length, PER_HOST);

    await t.test('plan shows the impact before anything changes', async () => {
      const next = config({ rangeA: '20000-40000', addressB: '198.51.100.101', rangeOther: '20000-60000' });
      await installConfig(ra$, next);
      // routerctl runs inside the router, where the node's config, state and conntrack table are.
      const p = await ra$.host.run([process.execPath, ROUTERCTL_BIN, 'plan', '--node', 'ra']);
      assert.equal(p.code, 0, p.stderr);
      const outside = [...initial.values()].filter((b) => b.addr === '198.51.100.100' && b.port > 40000).length;
      assert.match(p.stdout, new RegExp(`NAT44Rule/host-a[\\s\\S]*conntrack flows\\s+keeps ${PER_HOST - outside} flows; removes ${outside} flows on 198\\.51\\.100\\.100 \\(port outside the new range\\)`));
      await installConfig(ra$, config({ rangeA: '20000-60000', addressB: '198.51.100.101', rangeOther: '20000-60000' }));
    });

    await t.test('changing an unrelated rule ends no flow', async () => {
      const log = await apply({ rangeA: '20000-60000', addressB: '198.51.100.101', rangeOther: '30000-31000' });
      assert.equal(log.removed, 0);
      assert.deepEqual(log.judgedAddresses, ['198.51.100.102'], 'only the address whose rule narrowed is read');
      await settle();
      for (const r of await both()) assert.equal(r.summary.alive, PER_HOST, JSON.stringify(r.summary));
    });

    await t.test('narrowing the port range ends only the flows outside it', async () => {
      const before = await bindings();
      const log = await apply({ rangeA: '20000-40000', addressB: '198.51.100.101', rangeOther: '30000-31000' });
      await settle();
      const reports = await both();
      const a = reports[0]!;
      let outside = 0;
      for (const f of a.flows) {
        const b = before.get(`${HOST_A}:${f.localPort}`);
        assert.ok(b, `binding of flow ${f.id}`);
        const shouldLive = b.port <= 40000;
        if (!shouldLive) outside++;
        if (f.alive !== shouldLive) {
          const ct = await lab.exec('ra', ['conntrack', '-L', '-o', 'extended', '-p', 'tcp', '--sport', String(f.localPort), '-s', HOST_A]);
          assert.fail(`flow ${f.id} on port ${b.port}: alive ${f.alive}; ${JSON.stringify(f)}; ra: ${ct.stdout.trim() || '(no entry)'}; reconfig ${JSON.stringify(log)}`);
        }
      }
      assert.ok(outside > 0 && outside < PER_HOST, `some but not all flows were outside (${outside})`);
      assert.equal(log.removed, outside);
      assert.equal(reports[1]!.summary.alive, PER_HOST, 'host B untouched');
      t.diagnostic(`port range narrowed: ${outside} flows ended, ${PER_HOST - outside + PER_HOST} kept, reconfig ${log.durationMs} ms`);
      const standby = await standbyOn('198.51.100.100');
      assert.equal(standby.filter((e) => e.reply.dport! > 40000).length, 0, 'the standby dropped the same flows');
      assert.equal(standby.length, PER_HOST - outside, 'and kept the others');
    });

    await t.test('removing an address ends exactly the flows bound to it', async () => {
      const log = await apply({ rangeA: '20000-40000', addressB: '198.51.100.100', rangeOther: '30000-31000' });
      assert.equal(log.removed, PER_HOST);
      await settle();
      const reports = await both();
      assert.equal(reports[1]!.summary.alive, 0, 'every flow on the removed address ended');
      const stillA = reports[0]!.flows.filter((f) => f.alive).length;
      const expectedA = [...initial.entries()].filter(([k, b]) => k.startsWith(`${HOST_A}:`) && b.port <= 40000).length;
      assert.equal(stillA, expectedA, 'host A flows inside the range keep echoing');
      const left = [...(await bindings()).values()].filter((b) => b.addr === '198.51.100.101');
      assert.equal(left.length, 0, 'no flow is left on 198.51.100.101');
      t.diagnostic(`address removed: ${log.removed} flows ended in ${log.durationMs} ms`);
      assert.equal((await standbyOn('198.51.100.101')).length, 0, 'the standby holds nothing on the removed address');
    });

    await t.test('re-applying the same config drops nothing', async () => {
      const before = ra!.logs.length;
      killPid(ra!.pid, 'SIGHUP');
      killPid(rb!.pid, 'SIGHUP');
      await until('config reloaded', async () => ra!.logs.slice(before).some((l) => l.action === 'config-load'));
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(ra!.logs.slice(before).filter((l) => l.action === 'nat-reconfig' || l.action === 'nft-apply').length, 0);
      const reports = await both();
      assert.ok(reports[0]!.summary.alive > 0);
      const desc = await ra$.host.run([process.execPath, ROUTERCTL_BIN, 'describe', 'NAT44Rule/host-b', '-o', 'json']);
      const status = (JSON.parse(desc.stdout) as { status: { lastReconfig: { flowsKept: number; flowsRemoved: number } } }).status;
      assert.equal(status.lastReconfig.flowsRemoved, 0);
    });
  } finally {
    for (const f of flows) await f.stop().catch(() => undefined);
    await stopAll([ra, rb]);
    await ssh?.stop().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await lab.destroy();
  }
});
