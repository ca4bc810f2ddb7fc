import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pathsToObserve, planNode } from '../../src/controllers/plan.ts';
import { observeNode } from '../../src/controllers/observe.ts';
import { desiredNatTable, resolveNatRule } from '../../src/controllers/nat44-rule/resolve.ts';
import type { ResourceOf } from '../../src/api/kinds.ts';
import { planContext } from '../../src/controllers/plan.ts';
import { FakeHost } from '../../src/host/fake.ts';
import { resourcesOf, resourcesOfFile } from '../helpers/config.ts';
import { example } from '../helpers/paths.ts';

const paths = { stateDir: '/var/lib/routerd', runDir: '/run/routerd' };
const opts = { paths, nodeName: 'ra' };

function ipAddrJson(links: { name: string; up?: boolean; addrs?: [string, number][] }[]): string {
  return JSON.stringify(
    links.map((l, i) => ({
      ifindex: i + 1,
      ifname: l.name,
      flags: l.up === false ? ['BROADCAST', 'MULTICAST'] : ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
      mtu: 1500,
      operstate: l.up === false ? 'DOWN' : 'UP',
      link_type: 'ether',
      address: `02:00:00:00:00:0${i}`,
      addr_info: (l.addrs ?? []).map(([a, len]) => ({ family: a.includes(':') ? 'inet6' : 'inet', local: a, prefixlen: len, scope: 'global', valid_life_time: 4294967295, preferred_life_time: 4294967295 })),
    })),
  );
}

function labHost(): FakeHost {
  return new FakeHost()
    .on(['ip', '-j', 'addr'], { stdout: ipAddrJson([{ name: 'lo', addrs: [['127.0.0.1', 8]] }, { name: 'lan0', addrs: [['192.0.2.2', 24]] }, { name: 'wan0', addrs: [['198.51.100.2', 24]] }]) })
    .on(['nft', '-j', 'list', 'chains'], { stdout: JSON.stringify({ nftables: [{ metainfo: { version: '1.0.6', release_name: 'x', json_schema_version: 1 } }] }) })
    .on(['nft', '-j', '-t', 'list', 'sets'], { stdout: JSON.stringify({ nftables: [{ metainfo: { version: '1.0.6', release_name: 'x', json_schema_version: 1 } }] }) })
    .on(['conntrack', '-C'], { stdout: '0\n' });
}

test('observe reads links, routerd tables and the conntrack count with read-only commands', async () => {
  const host = labHost();
  const resources = await resourcesOfFile(example('lab/router-a.yaml'));
  const { observed, problems } = await observeNode(host, pathsToObserve(resources, opts));
  assert.deepEqual(problems, []);
  assert.equal(observed.conntrackCount, 0);
  assert.deepEqual(
    observed.interfaces?.map((i) => i.name),
    ['lo', 'lan0', 'wan0'],
  );
  assert.deepEqual(host.commandLines().sort(), ['conntrack -C', 'ip -j addr show', 'nft -j -t list sets', 'nft -j list chains']);
});

test('on an empty host every engine-backed resource is a create; gated ones wait with the unmet condition', async () => {
  const resources = await resourcesOfFile(example('lab/router-a.yaml'));
  const host = labHost();
  const { observed } = await observeNode(host, pathsToObserve(resources, opts));
  const plans = planNode(resources, observed, opts);
  const verbs = Object.fromEntries(plans.map((p) => [p.resource, p.actions.map((a) => a.verb).join(',')]));
  assert.deepEqual(verbs, {
    'Interface/lan': 'noop',
    'Interface/wan': 'noop',
    'VirtualAddress/lan-vip': 'create',
    'NAT44Rule/lan-out': 'create',
    'NAT44SessionSync/lan-sessions': 'wait',
    'DHCPv4Server/lan-dhcpv4': 'create,wait',
    'DHCPv6Server/lan-dhcpv6': 'create,wait',
    'DHCPv4ServerLeaseSync/lan-v4-leases': 'wait',
    'DHCPv6ServerLeaseSync/lan-v6-leases': 'wait',
  });
  const sync = plans.find((p) => p.resource === 'NAT44SessionSync/lan-sessions')!;
  assert.equal(sync.status.reason, 'WhenFalse');
  assert.match(sync.status.message, /VirtualAddress\/lan-vip\.role is unknown, want equals "master"/);
});

test('as master, session sync selects the SNAT address its NAT44Rule projects', async () => {
  const resources = await resourcesOfFile(example('lab/router-a.yaml'));
  const { observed } = await observeNode(labHost(), pathsToObserve(resources, opts));
  const reported = (kind: string, _name: string, field: string) => (kind === 'VirtualAddress' && field === 'role' ? 'master' : undefined);
  const plans = planNode(resources, observed, { ...opts, reported });
  const sync = plans.find((p) => p.resource === 'NAT44SessionSync/lan-sessions')!;
  assert.equal(sync.actions[0]?.verb, 'run');
  assert.deepEqual(sync.status.snatAddresses, ['198.51.100.100']);
  assert.match(sync.actions[0]!.detail, /root@192\.0\.2\.3:22, restore with conntrack/);
  const dhcp = plans.find((p) => p.resource === 'DHCPv4Server/lan-dhcpv4')!;
  assert.deepEqual(
    dhcp.actions.map((a) => a.verb),
    ['create', 'run'],
  );
});

test('a NAT table already in place with the same digest plans a noop (applying twice changes nothing)', async () => {
  const resources = await resourcesOfFile(example('lab/router-a.yaml'));
  const first = await observeNode(labHost(), pathsToObserve(resources, opts));
  const ctx = planContext(resources, opts, new Map());
  const rules = resources.filter((r): r is ResourceOf<'NAT44Rule'> & typeof r => r.kind === 'NAT44Rule');
  const resolved = rules.map((r) => resolveNatRule(r, first.observed, ctx)).flatMap((x) => (x.ok ? [x.rule] : []));
  const { digest, text } = desiredNatTable(resolved);
  const host = labHost()
    .on(['nft', '-j', 'list', 'chains'], { stdout: JSON.stringify({ nftables: [{ chain: { family: 'ip', table: 'routerd_nat', name: 'snat_out', handle: 1 } }] }) })
    .on(['nft', 'list', 'table', 'ip', 'routerd_nat'], { stdout: text.split('\n').slice(2).join('\n') });
  const { observed } = await observeNode(host, pathsToObserve(resources, opts));
  assert.equal(observed.nftTables?.get('ip routerd_nat'), digest);
  const plan = planNode(resources, observed, opts).find((p) => p.resource === 'NAT44Rule/lan-out')!;
  assert.equal(plan.actions[0]?.verb, 'noop');
});

test('fromInterface waits with SNATAddressPending until the link has an address; dependents wait too', async () => {
  const resources = resourcesOf(`
- apiVersion: net.routerd.net/v1alpha1
  kind: NAT44Rule
  metadata: {name: dyn}
  spec: {outInterface: wan0, snat: {fromInterface: ppp0}}
- apiVersion: net.routerd.net/v1alpha1
  kind: NAT44SessionSync
  metadata: {name: s}
  spec:
    natRules: [NAT44Rule/dyn]
    targets: [{host: 192.0.2.3}]
`);
  const { observed } = await observeNode(labHost(), pathsToObserve(resources, opts));
  const plans = planNode(resources, observed, opts);
  assert.deepEqual(
    plans.map((p) => `${p.resource} ${p.status.phase}/${p.status.reason}`),
    ['NAT44Rule/dyn Pending/SNATAddressPending', 'NAT44SessionSync/s Pending/SNATAddressPending'],
  );
  const withPpp = labHost().on(['ip', '-j', 'addr'], { stdout: ipAddrJson([{ name: 'ppp0', addrs: [['203.0.113.7', 32]] }]) });
  const again = planNode(resources, (await observeNode(withPpp, pathsToObserve(resources, opts))).observed, opts);
  assert.deepEqual(again[0]?.status.snatAddresses, ['203.0.113.7']);
  assert.equal(again[1]?.status.phase, 'Pending');
  assert.deepEqual(again[1]?.status.snatAddresses, ['203.0.113.7']);
});

test('a missing tool is reported as not observed, not as an empty host', async () => {
  const resources = await resourcesOfFile(example('lab/router-a.yaml'));
  const host = new FakeHost();
  const { observed, problems } = await observeNode(host, pathsToObserve(resources, opts));
  assert.equal(observed.interfaces, undefined);
  assert.equal(problems.length, 3);
  const plans = planNode(resources, observed, opts);
  assert.equal(plans[0]?.status.reason, 'NotObserved');
});

test('masquerade plans carry the failover warning', async () => {
  const resources = resourcesOf(`
- apiVersion: net.routerd.net/v1alpha1
  kind: NAT44Rule
  metadata: {name: m}
  spec: {outInterface: wan0, snat: {masquerade: true}}
`);
  const { observed } = await observeNode(labHost(), pathsToObserve(resources, opts));
  const [p] = planNode(resources, observed, opts);
  assert.match(p!.actions.map((a) => a.detail).join(' '), /kernel drops these flows when the address goes away/);
});
