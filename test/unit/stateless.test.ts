// StatelessNAT44: the nftables rendering, element diffs, the element parser,
// the planner and the controller against a FakeHost (exact nft input).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { AnyResource, ResourceOf } from '../../src/api/kinds.ts';
import { formatDescribe } from '../../src/cli/format.ts';
import { READ_SPACING, StatelessNAT44Controller, VERIFY_MS, mappingCounters } from '../../src/controllers/stateless-nat44/controller.ts';
import { observeNode } from '../../src/controllers/observe.ts';
import { statelessLayoutFor, statelessNat44Planner } from '../../src/controllers/stateless-nat44/plan.ts';
import { planContext, planNode, reconcileKind } from '../../src/controllers/plan.ts';
import { StatusStore } from '../../src/controllers/status-store.ts';
import type { Observed } from '../../src/controllers/types.ts';
import {
  desiredElements,
  desiredStatelessTable,
  diffElements,
  renderElementChanges,
  statelessDigest,
  statelessLayout,
  type StatelessInput,
} from '../../src/engines/nft/stateless.ts';
import { FakeHost } from '../../src/host/fake.ts';
import { nftListTableJsonArgv, parseNftElements } from '../../src/kernel/nft-elements.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { resourcesOf, resourcesOfFile } from '../helpers/config.ts';
import { example, fixture } from '../helpers/paths.ts';
import { standaloneContext } from '../../src/controllers/controller.ts';

const paths = { stateDir: '/var/lib/routerd', runDir: '/run/routerd' };
const opts = { paths, nodeName: 'ra' };
const KEY = 'ip routerd_stateless';
const LISTING = readFileSync(fixture('kernel', 'nft-stateless-table.json'), 'utf8');

const two: StatelessInput[] = [
  {
    ifname: 'wan0',
    mappings: [
      { external: '198.51.100.150', internal: '192.0.2.50' },
      { external: '198.51.100.151', internal: '192.0.2.51' },
    ],
  },
];

function many(n: number): StatelessInput[] {
  const mappings = Array.from({ length: n }, (_, i) => ({
    external: `198.51.${100 + Math.floor(i / 256)}.${i % 256}`,
    internal: `10.0.${Math.floor(i / 256)}.${i % 256}`,
  }));
  return [{ ifname: 'wan0', mappings }];
}

test('the digest covers the structure, not the elements: a changed mapping keeps it, a new interface changes it', () => {
  const base = statelessDigest(statelessLayout(two));
  const changed = structuredClone(two);
  (changed[0]!.mappings as { external: string; internal: string }[])[1]!.internal = '192.0.2.52';
  assert.equal(statelessDigest(statelessLayout(changed)), base);
  assert.equal(statelessDigest(statelessLayout(many(5000))), base);
  assert.notEqual(statelessDigest(statelessLayout([...two, { ifname: 'wan1', mappings: [{ external: '203.0.113.5', internal: '192.0.2.60' }] }])), base);
  const { text, digest } = desiredStatelessTable(statelessLayout(two));
  assert.equal(digest, base);
  assert.match(text, new RegExp(`^\\tcomment "routerd:${digest}"$`, 'm'));
});

test('one rule per direction serves every mapping: the rule count does not grow with the mappings', () => {
  const rules = (text: string) => text.split('\n').filter((l) => /^\t\t(iifname|oifname)/.test(l));
  const small = desiredStatelessTable(statelessLayout(two)).text;
  const big = desiredStatelessTable(statelessLayout(many(10_000))).text;
  assert.deepEqual(rules(big), rules(small));
  assert.deepEqual(rules(small), [
    '\t\tiifname "wan0" ip daddr set ip daddr map @in_0 notrack',
    '\t\tiifname != "wan0" ip saddr @int_0 notrack',
    '\t\toifname "wan0" ip saddr set ip saddr map @out_0',
  ]);
  // Both directions skip conntrack before it runs (raw priority); the source is rewritten after routing.
  assert.match(small, /chain pre_raw \{\n\t\ttype filter hook prerouting priority raw;/);
  assert.match(small, /chain post_rewrite \{\n\t\ttype filter hook postrouting priority srcnat;/);
});

test('interfaces get their own maps, sorted by name; an address claimed twice keeps its first mapping', () => {
  const layout = statelessLayout([
    { ifname: 'wan1', mappings: [{ external: '203.0.113.5', internal: '192.0.2.60' }] },
    { ifname: 'wan0', mappings: [{ external: '198.51.100.150', internal: '192.0.2.50' }, { external: '198.51.100.150', internal: '192.0.2.99' }] },
  ]);
  assert.deepEqual(
    layout.map((i) => [i.ifname, i.inMap, i.outMap, i.internalSet, i.mappings.length]),
    [
      ['wan0', 'in_0', 'out_0', 'int_0', 1],
      ['wan1', 'in_1', 'out_1', 'int_1', 1],
    ],
  );
});

test('changing one mapping among 10000 is one small transaction: delete and add of that mapping only', () => {
  const before = many(10_000);
  const after = structuredClone(before);
  (after[0]!.mappings as { external: string; internal: string }[])[1234] = { external: '198.51.104.210', internal: '10.0.200.1' };
  const live = desiredElements(statelessLayout(before));
  const changes = diffElements(desiredElements(statelessLayout(after)), live);
  assert.equal(
    renderElementChanges(changes),
    [
      'delete element ip routerd_stateless in_0 { 198.51.104.210 }',
      'delete element ip routerd_stateless out_0 { 10.0.4.210 }',
      'delete element ip routerd_stateless int_0 { 10.0.4.210 }',
      'add element ip routerd_stateless in_0 { 198.51.104.210 : 10.0.200.1 }',
      'add element ip routerd_stateless out_0 { 10.0.200.1 : 198.51.104.210 }',
      'add element ip routerd_stateless int_0 { 10.0.200.1 }',
      '',
    ].join('\n'),
  );
  assert.equal(renderElementChanges(diffElements(live, live)), '', 'the same config again writes nothing');
});

test('element diff: removed mappings are deleted, new ones added, stray live elements removed', () => {
  const want = new Map([['in_0', new Map([['198.51.100.150', '192.0.2.50']])]]);
  const live = new Map([['in_0', new Map([['198.51.100.150', '192.0.2.50'], ['198.51.100.199', '192.0.2.99']])]]);
  assert.equal(renderElementChanges(diffElements(want, live)), 'delete element ip routerd_stateless in_0 { 198.51.100.199 }\n');
  assert.equal(renderElementChanges(diffElements(live, want)), 'add element ip routerd_stateless in_0 { 198.51.100.199 : 192.0.2.99 }\n');
});

test('parses the elements and per-element counters of a live table (nft 1.0.6 -j)', () => {
  const { containers, errors } = parseNftElements(LISTING);
  assert.deepEqual(errors, []);
  assert.deepEqual(
    containers.map((c) => [c.kind, c.name, c.elements.length]),
    [
      ['map', 'in_0', 2],
      ['map', 'out_0', 2],
      ['set', 'int_0', 2],
    ],
  );
  assert.deepEqual(containers[0]!.elements[0], { key: '198.51.100.150', value: '192.0.2.50', packets: 5, bytes: 190 });
  assert.deepEqual(containers[2]!.elements[0], { key: '192.0.2.50' });
  assert.deepEqual(nftListTableJsonArgv('ip', 'routerd_stateless'), ['nft', '-j', 'list', 'table', 'ip', 'routerd_stateless']);
});

test('the element parser reads other element shapes and reports the ones it does not know', () => {
  const other = parseNftElements(readFileSync(fixture('kernel', 'nft-ruleset-elements.json'), 'utf8'));
  assert.deepEqual(other.errors, []);
  const byName = new Map(other.containers.map((c) => [c.name, c]));
  assert.deepEqual(byName.get('dnat_concat')?.elements[0], { key: '203.0.113.10 . 80', value: '192.0.2.10 . 8080' });
  assert.deepEqual(byName.get('port_verdict')?.elements.map((e) => `${e.key} ${e.value}`), ['22 accept', '23 drop']);
  assert.deepEqual(byName.get('recent')?.elements.map((e) => e.key), ['192.0.2.20', '192.0.2.21']);
  const bad = parseNftElements(JSON.stringify({ nftables: [{ map: { family: 'ip', table: 't', name: 'm', elem: [['a'], [{ weird: 1 }, 'b']] } }] }));
  assert.deepEqual(bad.errors.map((e) => e.path), ['$.nftables[0].map.elem[0]', '$.nftables[0].map.elem[1]']);
  assert.equal(parseNftElements('not json').errors.length, 1);
});

// --- planner -------------------------------------------------------------

const seed003 = await resourcesOfFile(example('stateless-nat44.yaml'));
const labA = await resourcesOfFile(example('lab/stateless-router-a.yaml'));

function observedWith(table?: string | null, addrs: string[] = [], elements?: string): Observed {
  const nftTables = new Map<string, string | undefined>();
  if (table !== undefined) nftTables.set(KEY, table ?? undefined);
  return {
    interfaces: [{ name: 'wan0', up: true, addresses: addrs.map((a) => ({ family: 4, address: a, prefixLength: 32 })) }],
    nftTables,
    nftElementDigests: new Map(elements === undefined ? [] : [[KEY, elements]]),
    files: new Map(),
    existing: new Set(),
  };
}

function statelessOf(resources: readonly AnyResource[]): ResourceOf<'StatelessNAT44'>[] {
  return resources.filter((r): r is ResourceOf<'StatelessNAT44'> & AnyResource => r.kind === 'StatelessNAT44');
}

function digestOf(resources: readonly AnyResource[]): string {
  const ctx = planContext(resources, opts, new Map());
  return desiredStatelessTable(statelessLayoutFor(statelessOf(resources), ctx)).digest;
}

function elementsDigestOf(resources: readonly AnyResource[]): string {
  const ctx = planContext(resources, opts, new Map());
  return desiredStatelessTable(statelessLayoutFor(statelessOf(resources), ctx)).elementsDigest;
}

test('plan: create when missing, replace when foreign or stale, noop when the structure is current', () => {
  const verb = (o: Observed) => planNode(labA, o, opts).find((p) => p.resource === 'StatelessNAT44/floating-ips')!.actions[0]!;
  assert.equal(verb(observedWith()).verb, 'create');
  assert.equal(verb(observedWith(null)).verb, 'update');
  assert.match(verb(observedWith(null)).detail, /no routerd digest/);
  assert.equal(verb(observedWith('0000000000000000')).verb, 'update');
  const current = verb(observedWith(digestOf(labA)));
  assert.equal(current.verb, 'noop');
  assert.match(current.detail, /2 mapping\(s\) on wan0 without conntrack: 198\.51\.100\.150↔192\.0\.2\.50/);
});

test('plan: status lists the mappings and how many floating addresses this router holds', () => {
  const plan = planNode(labA, observedWith(digestOf(labA), ['198.51.100.150']), opts).find((p) => p.resource === 'StatelessNAT44/floating-ips')!;
  assert.equal(plan.status.phase, 'Ready');
  assert.match(plan.status.message, /this router holds 1 of the 2 floating address\(es\)/);
  assert.deepEqual(plan.status.mappings, [
    { external: '198.51.100.150', internal: '192.0.2.50' },
    { external: '198.51.100.151', internal: '192.0.2.51' },
  ]);
  assert.equal(plan.status.warnings, undefined);
});

test('plan: a floating address no VirtualAddress carries on the interface is a warning', () => {
  const resources = resourcesOf(`
- apiVersion: net.routerd.net/v1alpha1
  kind: VirtualAddress
  metadata: {name: vip}
  spec:
    interface: lan0
    address: 192.0.2.1/24
    virtualRouterId: 51
    priority: 150
    extraAddresses:
      - {interface: wan0, address: 198.51.100.150/32}
      - {interface: lan0, address: 198.51.100.151/32}
- apiVersion: net.routerd.net/v1alpha1
  kind: StatelessNAT44
  metadata: {name: fips}
  spec:
    interface: wan0
    mappings:
      - {external: 198.51.100.150, internal: 192.0.2.50}
      - {external: 198.51.100.151, internal: 192.0.2.51}
      - {external: 198.51.100.152, internal: 192.0.2.52}
`);
  const ctx = planContext(resources, opts, new Map());
  const [plan] = statelessNat44Planner.plan(statelessOf(resources), observedWith(), ctx).resources;
  assert.deepEqual(plan!.actions.map((a) => a.verb), ['create', 'noop']);
  assert.match(plan!.actions[1]!.detail, /198\.51\.100\.151, 198\.51\.100\.152 are not an address or extraAddress of any VirtualAddress on wan0/);
  assert.equal((plan!.status.warnings as string[]).length, 1);
  // The seed 003 config carries every floating address on the WAN.
  const seedPlan = planNode(seed003, observedWith(), opts).find((p) => p.resource === 'StatelessNAT44/floating-ips')!;
  assert.deepEqual(seedPlan.actions.map((a) => a.verb), ['create']);
});

// --- controller ----------------------------------------------------------

function controllerHarness(resources: readonly AnyResource[], host: FakeHost, clock = { now: 1_000_000 }) {
  const controller = new StatelessNAT44Controller(() => clock.now);
  const status = new StatusStore();
  const metrics = createMetrics();
  const silent = createLogger({ node: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  const ctx = standaloneContext({ host, paths, nodeName: 'ra', log: silent, metrics, status });
  const run = async (observed: Observed) => {
    await reconcileKind(controller, resources, observed, opts, ctx);
  };
  return { status, run };
}

const nftApplies = (host: FakeHost) => host.calls.filter((c) => c.argv.join(' ') === 'nft -f -');

test('controller: a missing table is created whole, stamped with the structure digest', async () => {
  const host = new FakeHost().on(['nft', '-f', '-'], {});
  const { status, run } = controllerHarness(labA, host);
  await run(observedWith());
  const applies = nftApplies(host);
  assert.equal(applies.length, 1);
  assert.equal(applies[0]!.stdin, desiredStatelessTable(statelessLayoutFor(statelessOf(labA), planContext(labA, opts, new Map()))).text);
  assert.ok(!host.commandLines().some((l) => l.startsWith('nft -j')), 'a fresh table has nothing to read');
  const s = status.get('StatelessNAT44/floating-ips')!;
  assert.equal(s.phase, 'Ready');
  assert.deepEqual(s.mappings, [
    { external: '198.51.100.150', internal: '192.0.2.50', inPackets: 0, outPackets: 0 },
    { external: '198.51.100.151', internal: '192.0.2.51', inPackets: 0, outPackets: 0 },
  ]);
});

test('controller: a current table with the right elements is left alone and its counters reported', async () => {
  const host = new FakeHost().on(nftListTableJsonArgv('ip', 'routerd_stateless'), { stdout: LISTING });
  const { status, run } = controllerHarness(labA, host);
  await run(observedWith(digestOf(labA), ['198.51.100.150', '198.51.100.151'], elementsDigestOf(labA)));
  assert.deepEqual(host.commandLines(), ['nft -j list table ip routerd_stateless']);
  const s = status.get('StatelessNAT44/floating-ips')!;
  assert.match(s.message, /holds 2 of the 2/);
  assert.deepEqual(s.mappings, [
    { external: '198.51.100.150', internal: '192.0.2.50', inPackets: 5, outPackets: 0 },
    { external: '198.51.100.151', internal: '192.0.2.51', inPackets: 0, outPackets: 0 },
  ]);
  const text = formatDescribe({ kind: 'StatelessNAT44', name: 'floating-ips', generation: 1, spec: {}, status: s });
  assert.match(text, /\n\nMappings:\nEXTERNAL {8}INTERNAL {4}INPACKETS {2}OUTPACKETS\n198\.51\.100\.150 {2}192\.0\.2\.50 {2}5 {10}0\n/);
});

test('controller: a pass whose elements digest matches issues no command; the maps are read again after 100 reads\' time, at most VERIFY_MS', async () => {
  const clock = { now: 1_000_000 };
  let readMs = 600; // a read of 10 000 mappings
  const host = new FakeHost().on(nftListTableJsonArgv('ip', 'routerd_stateless'), () => {
    clock.now += readMs;
    return { stdout: LISTING };
  }).on(['nft', '-f', '-'], {});
  const { status, run } = controllerHarness(labA, host, clock);
  const observed = observedWith(digestOf(labA), [], elementsDigestOf(labA));
  await run(observed);
  assert.deepEqual(host.commandLines(), ['nft -j list table ip routerd_stateless'], 'the first pass of a routerd reads the maps once');
  for (let i = 0; i < 3; i++) {
    clock.now += (READ_SPACING * readMs) / 4;
    await run(observed);
  }
  assert.equal(host.calls.length, 1, 'passes with a matching digest issue no kernel command');
  const s = status.get('StatelessNAT44/floating-ips')!;
  assert.equal((s.mappings as { inPackets: number }[])[0]!.inPackets, 5, 'counters as last read');
  assert.equal(s.countersReadAt, new Date(1_000_000).toISOString());
  clock.now += (READ_SPACING * readMs) / 4;
  await run(observed);
  assert.equal(host.calls.length, 2, 'read again once 100 × the read time has passed');
  assert.equal(nftApplies(host).length, 0);
  // A slow read is still repeated within VERIFY_MS; a fast one (a small table) every pass.
  readMs = VERIFY_MS;
  await run({ ...observed, nftElementDigests: new Map() });
  clock.now += VERIFY_MS;
  await run(observed);
  assert.equal(host.calls.filter((c) => c.argv.includes('list')).length, 4);
  readMs = 0;
  await run(observed);
  await run(observed);
  assert.equal(host.calls.filter((c) => c.argv.includes('list')).length, 6);
});

test('controller: right elements under a missing or different elements digest: only the digest is written', async () => {
  for (const marker of [undefined, '0000000000000000']) {
    const host = new FakeHost().on(nftListTableJsonArgv('ip', 'routerd_stateless'), { stdout: LISTING }).on(['nft', '-f', '-'], {});
    const { run } = controllerHarness(labA, host);
    await run(observedWith(digestOf(labA), [], marker));
    const applies = nftApplies(host);
    assert.equal(applies.length, 1);
    assert.equal(
      applies[0]!.stdin,
      [
        'add element ip routerd_stateless routerd_state { 1 }',
        'delete element ip routerd_stateless routerd_state { 1 }',
        `add element ip routerd_stateless routerd_state { 1 comment "elements:${elementsDigestOf(labA)}" }`,
        '',
      ].join('\n'),
    );
  }
});

test('controller: a changed mapping becomes one element transaction; the unchanged one keeps its counter', async () => {
  const changed = resourcesOf((readFileSync(example('lab/stateless-router-a.yaml'), 'utf8')).replace('internal: 192.0.2.51', 'internal: 192.0.2.52'));
  const host = new FakeHost().on(nftListTableJsonArgv('ip', 'routerd_stateless'), { stdout: LISTING }).on(['nft', '-f', '-'], {});
  const { status, run } = controllerHarness(changed, host);
  await run(observedWith(digestOf(changed), [], elementsDigestOf(labA)));
  const applies = nftApplies(host);
  assert.equal(applies.length, 1);
  assert.equal(
    applies[0]!.stdin,
    [
      'delete element ip routerd_stateless in_0 { 198.51.100.151 }',
      'delete element ip routerd_stateless out_0 { 192.0.2.51 }',
      'delete element ip routerd_stateless int_0 { 192.0.2.51 }',
      'add element ip routerd_stateless in_0 { 198.51.100.151 : 192.0.2.52 }',
      'add element ip routerd_stateless out_0 { 192.0.2.52 : 198.51.100.151 }',
      'add element ip routerd_stateless int_0 { 192.0.2.52 }',
      'add element ip routerd_stateless routerd_state { 1 }',
      'delete element ip routerd_stateless routerd_state { 1 }',
      `add element ip routerd_stateless routerd_state { 1 comment "elements:${elementsDigestOf(changed)}" }`,
      '',
    ].join('\n'),
  );
  assert.deepEqual(status.get('StatelessNAT44/floating-ips')!.mappings, [
    { external: '198.51.100.150', internal: '192.0.2.50', inPackets: 5, outPackets: 0 },
    { external: '198.51.100.151', internal: '192.0.2.52', inPackets: 0, outPackets: 0 },
  ]);
});

test('controller: a foreign table, or a failed element update, is replaced whole', async () => {
  const host = new FakeHost().on(['nft', '-f', '-'], {});
  await controllerHarness(labA, host).run(observedWith(null));
  assert.equal(nftApplies(host).length, 1);
  assert.match(nftApplies(host)[0]!.stdin!, /^table ip routerd_stateless\ndelete table ip routerd_stateless\n/);

  const changed = resourcesOf((readFileSync(example('lab/stateless-router-a.yaml'), 'utf8')).replace('internal: 192.0.2.51', 'internal: 192.0.2.52'));
  const failing = new FakeHost()
    .on(nftListTableJsonArgv('ip', 'routerd_stateless'), { stdout: LISTING })
    .on(['nft', '-f', '-'], (_argv, stdin) => (stdin?.startsWith('delete element') ? { code: 1, stderr: 'Error: Could not process rule: No such file or directory' } : {}));
  const { status, run } = controllerHarness(changed, failing);
  await run(observedWith(digestOf(changed)));
  const applies = nftApplies(failing);
  assert.equal(applies.length, 2);
  assert.match(applies[1]!.stdin!, /^table ip routerd_stateless\ndelete table ip routerd_stateless\n/);
  assert.equal(status.get('StatelessNAT44/floating-ips')!.phase, 'Ready');
});

test('controller: nft refusing the table is a Failed status with its message; no resources remove the table', async () => {
  const host = new FakeHost().on(['nft', '-f', '-'], { code: 1, stderr: '/dev/stdin:9:1-4: Error: syntax error\n' });
  const { status, run } = controllerHarness(labA, host);
  await run(observedWith());
  const s = status.get('StatelessNAT44/floating-ips')!;
  assert.equal(s.phase, 'Failed');
  assert.match(s.message, /nft: line 9: syntax error/);

  const remove = new FakeHost().on(['nft', '-f', '-'], {});
  const none = labA.filter((r) => r.kind !== 'StatelessNAT44');
  await controllerHarness(none, remove).run(observedWith('whatever'));
  assert.equal(nftApplies(remove).length, 1);
  assert.match(nftApplies(remove)[0]!.stdin!, /delete table ip routerd_stateless/);
});

test('per-mapping counters come from the right map and are 0 for an element whose value changed', () => {
  const live = new Map(parseNftElements(LISTING).containers.map((c) => [c.name, c]));
  const [iface] = statelessLayout(two);
  assert.deepEqual(mappingCounters(iface, [{ external: '198.51.100.150', internal: '192.0.2.99' }], live), [
    { external: '198.51.100.150', internal: '192.0.2.99', inPackets: 0, outPackets: 0 },
  ]);
  assert.deepEqual(mappingCounters(undefined, [{ external: '198.51.100.150', internal: '192.0.2.50' }], live), [
    { external: '198.51.100.150', internal: '192.0.2.50', inPackets: 0, outPackets: 0 },
  ]);
});

test('observe reads the stateless table through routerd_state, never listing its maps', async () => {
  const meta = { metainfo: { version: '1.0.6', release_name: 'x', json_schema_version: 1 } };
  const t = { family: 'ip', table: 'routerd_stateless' };
  const host = new FakeHost()
    .on(['ip', '-j', 'addr'], { stdout: '[]' })
    .on(['conntrack', '-C'], { stdout: '0\n' })
    .on(['nft', '-j', 'list', 'chains'], { stdout: JSON.stringify({ nftables: [meta, { chain: { ...t, name: 'pre_raw', handle: 1 } }] }) })
    .on(['nft', '-j', '-t', 'list', 'sets'], { stdout: JSON.stringify({ nftables: [meta, { set: { ...t, name: 'int_0', handle: 5 } }, { set: { ...t, name: 'routerd_state', handle: 9 } }] }) })
    .on(['nft', '-j', 'list', 'set', 'ip', 'routerd_stateless', 'routerd_state'], {
      stdout: JSON.stringify({
        nftables: [meta, { set: { ...t, name: 'routerd_state', handle: 9, elem: [{ elem: { val: 0, comment: 'routerd:aaaa' } }, { elem: { val: 1, comment: 'elements:bbbb' } }] } }],
      }),
    });
  const { observed, problems } = await observeNode(host, { contents: [], existence: [] });
  assert.deepEqual(problems, []);
  assert.equal(observed.nftTables?.get(KEY), 'aaaa');
  assert.equal(observed.nftElementDigests?.get(KEY), 'bbbb');
  assert.ok(!host.commandLines().some((l) => / list (table|tables|map)\b/.test(l)), host.commandLines().join('; '));
});
