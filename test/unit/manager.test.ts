// The manager against a stateful FakeHost: one pass observes, plans and runs
// every controller; a second pass over the same config only reads; outcomes
// are counted and schedule the next look (requeue after, retry with backoff);
// and a seeded random walk through configs ends where the last config says.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resourceId, type AnyResource, type Kind } from '../../src/api/kinds.ts';
import { Outcome, type Controller, type ReconcileOutcome } from '../../src/controllers/controller.ts';
import { desiredNatTable, resolveNatRule } from '../../src/controllers/nat44-rule/resolve.ts';
import { planContext } from '../../src/controllers/plan.ts';
import { makeControllers } from '../../src/controllers/registry.ts';
import { StatusStore } from '../../src/controllers/status-store.ts';
import { Manager } from '../../src/daemon/manager.ts';
import { FakeHost } from '../../src/host/fake.ts';
import { FakeKernel } from '../../src/kernel/fake.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { resourcesOf, resourcesOfFile } from '../helpers/config.ts';
import { assertGolden } from '../helpers/golden.ts';
import { example } from '../helpers/paths.ts';
import { mulberry32 } from '../helpers/prng.ts';
import { PATHS } from '../helpers/transcript.ts';

const LINKS = { lan0: ['192.0.2.2/24'], wan0: ['198.51.100.2/24', '198.51.100.100/24', '198.51.100.101/24'] };
const READS = [/^ip -j addr show$/, /^nft -j list chains$/, /^nft -j -t list sets$/, /^nft list table /, /^conntrack -C$/];

function managerOn(host: FakeHost, controllers: readonly Controller[]) {
  const status = new StatusStore();
  const metrics = createMetrics();
  const manager = new Manager({ host, paths: PATHS, nodeName: 'ra', controllers, log: createLogger({ node: 'ra', level: 'silent' }), metrics, status, resyncMs: 3_600_000 });
  return { manager, status, metrics };
}

async function pass(manager: Manager, why: string): Promise<void> {
  manager.trigger(why);
  await manager.settle();
}

test('manager: a first pass sets up the host, a second pass over the same config only reads', async () => {
  const kernel = new FakeKernel(LINKS);
  const host = kernel.attach(new FakeHost());
  const { manager, status } = managerOn(host, makeControllers(['interface', 'nat44-rule', 'dhcpv4-server', 'dhcpv6-server']));
  const resources = await resourcesOfFile(example('lab/router-a.yaml'));
  manager.setConfig(resources);
  await manager.settle();
  const first = host.commandLines();
  const from = host.calls.length;
  await pass(manager, 'resync');
  const second = host.commandLines().slice(from);
  assertGolden('transcripts/manager.txt', `# first pass\n${first.join('\n')}\n\n# second pass\n${second.join('\n')}\n`);
  assert.deepEqual(second.filter((l) => !READS.some((r) => r.test(l))), [], 'the second pass changes nothing');
  assert.equal(status.get('NAT44Rule/lan-out')?.phase, 'Ready');
  assert.equal(status.get('VirtualAddress/lan-vip')?.reason, 'ControllerDisabled');
  assert.equal(status.get('DHCPv4Server/lan-dhcpv4')?.reason, 'WhenFalse', 'the role is unknown: dnsmasq stands by');
  await manager.stop(false);
});

function stub(kind: Kind, outcomes: ReconcileOutcome[]): Controller & { calls: number } {
  return {
    name: 'stub',
    kind,
    calls: 0,
    async reconcile() {
      this.calls++;
      return outcomes.shift() ?? Outcome.ok;
    },
    async stop() {},
  };
}

test('manager: outcomes are counted; a requeue asks for a pass at its time, an error retries with backoff', async () => {
  const host = new FakeKernel(LINKS).attach(new FakeHost());
  const c = stub('Interface', [Outcome.requeue(50, 'engine backoff'), Outcome.error('boom'), Outcome.ok]);
  const { manager, metrics } = managerOn(host, [c]);
  manager.setConfig(resourcesOf('- {apiVersion: net.routerd.net/v1alpha1, kind: Interface, metadata: {name: lan}, spec: {ifname: lan0}}'));
  await manager.settle();
  assert.equal(c.calls, 1);
  await new Promise((r) => setTimeout(r, 150));
  await manager.settle();
  assert.equal(c.calls, 2, 'the requeue brought a pass');
  const t0 = Date.now();
  while (c.calls < 3 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 50));
  assert.equal(c.calls, 3, 'the error was retried');
  assert.ok(Date.now() - t0 >= 800, 'after the backoff (1 s)');
  const counted = (await metrics.registry.getSingleMetricAsString('routerd_reconcile_total')).split('\n').filter((l) => l.startsWith('routerd_reconcile_total{'));
  for (const outcome of ['ok', 'requeue', 'error']) assert.ok(counted.some((l) => l.includes(`outcome="${outcome}"`)), `counts ${outcome}: ${counted.join('; ')}`);
  await manager.stop(false);
});

test('manager: a controller that throws marks its resources failed and is retried', async () => {
  const host = new FakeKernel(LINKS).attach(new FakeHost());
  const c: Controller = { name: 'stub', kind: 'Interface', reconcile: async () => Promise.reject(new Error('host gone')), stop: async () => undefined };
  const { manager, status } = managerOn(host, [c]);
  manager.setConfig(resourcesOf('- {apiVersion: net.routerd.net/v1alpha1, kind: Interface, metadata: {name: lan}, spec: {ifname: lan0}}'));
  await manager.settle();
  assert.equal(status.get('Interface/lan')?.reason, 'ReconcileError');
  assert.equal(status.get('Interface/lan')?.message, 'host gone');
  await manager.stop(false);
});

function randomConfig(rand: () => number): AnyResource[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const docs = [
    '- {apiVersion: net.routerd.net/v1alpha1, kind: Interface, metadata: {name: lan}, spec: {ifname: lan0}}',
    '- {apiVersion: net.routerd.net/v1alpha1, kind: Interface, metadata: {name: wan}, spec: {ifname: wan0}}',
  ];
  const rules = Math.floor(rand() * 3);
  for (let i = 0; i < rules; i++) {
    const snat = pick(['{address: 198.51.100.100}', '{address: 198.51.100.101}', '{addresses: [198.51.100.100, 198.51.100.101]}', '{masquerade: true}']);
    const sources = pick(['[192.0.2.0/24]', '[192.0.2.0/25]', '[192.0.2.128/25, 10.0.0.0/8]']);
    const ports = pick(['', ', portRange: "20000-60000"']);
    docs.push(`- {apiVersion: net.routerd.net/v1alpha1, kind: NAT44Rule, metadata: {name: r${i}}, spec: {outInterface: wan, sources: ${sources}, snat: ${snat}${ports}}}`);
  }
  const servers = pick([[], ['v4'], ['v4', 'v6']]);
  if (servers.includes('v4')) docs.push('- {apiVersion: net.routerd.net/v1alpha1, kind: DHCPv4Server, metadata: {name: d4}, spec: {interface: lan, addressPool: {start: 192.0.2.100, end: 192.0.2.199}}}');
  if (servers.includes('v6')) docs.push('- {apiVersion: net.routerd.net/v1alpha1, kind: DHCPv6Server, metadata: {name: d6}, spec: {interface: lan, mode: stateful, addressPool: {start: "fd00::100", end: "fd00::1ff"}}}');
  return resourcesOf(docs.join('\n'));
}

test('manager: seeded random sequences of configs end in the state the last one asks for', async () => {
  for (const seed of [1, 2, 3]) {
    const rand = mulberry32(seed);
    const kernel = new FakeKernel(LINKS);
    const host = kernel.attach(new FakeHost());
    const { manager, status } = managerOn(host, makeControllers(['interface', 'nat44-rule', 'dhcpv4-server', 'dhcpv6-server']));
    let last: AnyResource[] = [];
    for (let step = 0; step < 8; step++) {
      last = randomConfig(rand);
      manager.setConfig(last);
      await manager.settle();
    }
    const rules = last.filter((r) => r.kind === 'NAT44Rule');
    if (rules.length === 0) assert.equal(kernel.tables.has('ip routerd_nat'), false, `seed ${seed}: no rule, no table`);
    else {
      const ctx = planContext(last, { paths: PATHS, nodeName: 'ra' }, new Map());
      const observed = { interfaces: [...kernel.links.values()].map((l) => ({ name: l.name, up: l.up, addresses: l.addresses.map((a) => ({ family: 4 as const, address: a.split('/')[0]!, prefixLength: Number(a.split('/')[1]) })) })), files: new Map(), existing: new Set<string>() };
      const resolved = rules.flatMap((r) => (r.kind === 'NAT44Rule' ? [resolveNatRule(r, observed, ctx)] : [])).flatMap((x) => (x.ok ? [x.rule] : []));
      assert.equal(kernel.digestOf('ip routerd_nat'), desiredNatTable(resolved).digest, `seed ${seed}: the live table is the last config's`);
    }
    // No VirtualAddress owns the link: every DHCP server of the last config runs, and only those.
    const servers = last.filter((r) => r.kind === 'DHCPv4Server' || r.kind === 'DHCPv6Server').map((r) => `${r.kind === 'DHCPv4Server' ? 'dhcpv4' : 'dhcpv6'}-server-${r.metadata.name}.conf`);
    assert.deepEqual(host.processLines().map((l) => l.split('/').pop()).sort(), servers.sort(), `seed ${seed}: dnsmasq runs for the last config's servers`);
    for (const r of last) assert.ok(status.get(resourceId(r)), `seed ${seed}: ${resourceId(r)} has a status`);
    await manager.stop(false);
  }
});
