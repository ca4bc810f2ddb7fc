import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ResourceOf } from '../../src/api/kinds.ts';
import { addressPoolPlanner, renderNodeFrr } from '../../src/controllers/address-pool/plan.ts';
import { planContext } from '../../src/controllers/plan.ts';
import { parseBfdPeers, parseBgpSummary } from '../../src/engines/frr/engine.ts';
import { networkChangeCommands, renderFrrConf, type FrrInput } from '../../src/engines/frr/render.ts';
import { resourcesOf, resourcesOfFile } from '../helpers/config.ts';
import { assertGolden } from '../helpers/golden.ts';
import { example } from '../helpers/paths.ts';

const pool = await resourcesOfFile(example('nat44-address-pool.yaml'));
const paths = { stateDir: '/var/lib/routerd', runDir: '/run/routerd' };
const noObserved = { files: new Map(), existing: new Set<string>() };

test('frr.conf for router ra of the example pool (all members up)', () => {
  const ctx = planContext(pool, { paths, nodeName: 'ra' }, new Map());
  const frr = renderNodeFrr(pool, ctx);
  assert.equal(frr.error, undefined);
  assertGolden('frr-pool-ra.conf', frr.text!);
  assert.match(frr.text!, /^ bgp router-id 198\.51\.100\.2$/m);
  assert.match(frr.text!, /^bgp route-map delay-timer 0$/m);
  assert.match(frr.text!, /^ set as-path prepend 64501 64501 64501$/m);
  assert.match(frr.text!, /^ neighbor 198\.51\.100\.1 bfd profile fast$/m);
  assert.match(frr.text!, /^ peer 192\.0\.2\.3$/m);
});

test('when rb is down, ra owns what rb owned and ra was successor for', () => {
  const up = planContext(pool, { paths, nodeName: 'ra' }, new Map());
  const down = planContext(pool, { paths, nodeName: 'ra', reported: (k, n, f) => (k === 'NAT44AddressPool' && f === 'membersUp' ? ['ra', 'rc'] : undefined) }, new Map());
  const p = pool.filter((r) => r.kind === 'NAT44AddressPool') as ResourceOf<'NAT44AddressPool'>[];
  const before = addressPoolPlanner.plan(p, noObserved, up).resources[0]!.status;
  const after = addressPoolPlanner.plan(p, noObserved, down).resources[0]!.status;
  const assignments = before.assignments as { address: string; owner: string; successor: string }[];
  const fromRb = assignments.filter((a) => a.owner === 'rb' && a.successor === 'ra').map((a) => a.address);
  assert.ok(fromRb.length > 0, 'the example has an address ra stands by for rb');
  for (const a of fromRb) assert.ok((after.owned as string[]).includes(a), `${a} moves to ra`);
  for (const a of before.owned as string[]) assert.ok((after.owned as string[]).includes(a), `${a} stays on ra`);
  assert.deepEqual(after.membersUp, ['ra', 'rc']);
});

const base: FrrInput = {
  asn: 64501,
  routerId: '198.51.100.2',
  peers: [{ address: '198.51.100.1', remoteAs: 64500, holdTimeS: 9, bfdProfile: 'fast' }],
  bfdProfiles: [{ name: 'fast', detectMultiplier: 3, receiveIntervalMs: 100, transmitIntervalMs: 100 }],
  bfdPeers: [],
  pool: ['198.51.100.116'],
  owned: ['198.51.100.116'],
  standby: [],
  prepend: 3,
};

test('frr.conf refuses values FRR would read as more than one value', () => {
  assert.throws(() => renderFrrConf({ ...base, routerId: '198.51.100.2\nrouter bgp 1' }), /router id/);
  assert.throws(() => renderFrrConf({ ...base, asn: 0 }), /asn/);
  assert.throws(() => renderFrrConf({ ...base, bfdProfiles: [{ ...base.bfdProfiles[0]!, name: 'fast\n exit' }] }), /profile name/);
  assert.throws(() => renderFrrConf({ ...base, owned: ['198.51.100.9'] }), /not in the pool/);
  assert.throws(() => renderFrrConf({ ...base, peers: [{ ...base.peers[0]!, bfdProfile: 'slow' }] }), /unknown BFD profile/);
});

test('an address moving from standby to owned changes its network line in place, without a withdraw', () => {
  const cmds = networkChangeCommands(64501, ['network 198.51.100.117/32 route-map ROUTERD-STANDBY', 'network 198.51.100.116/32'], ['network 198.51.100.117/32']);
  assert.deepEqual(cmds, ['configure terminal', 'router bgp 64501', 'address-family ipv4 unicast', 'no network 198.51.100.116/32', 'network 198.51.100.117/32', 'end']);
  assert.deepEqual(networkChangeCommands(64501, ['network 198.51.100.117/32'], ['network 198.51.100.117/32']), []);
});

test('a pool member that is not in the members list, or listed twice, is refused', () => {
  assert.throws(() =>
    resourcesOf(`- apiVersion: net.routerd.net/v1alpha1
  kind: NAT44AddressPool
  metadata: {name: p}
  spec:
    bgpRouter: BGPRouter/edge
    addresses: [198.51.100.116, 198.51.100.116]
    members: [{node: ra, address: 192.0.2.2}, {node: ra, address: 192.0.2.3}]
`),
  );
});

test('vtysh JSON: bfd peers and bgp summary', () => {
  assert.deepEqual(parseBfdPeers('[{"multihop":false,"peer":"192.0.2.3","status":"up"},{"peer":"192.0.2.4","status":"down"}]'), [
    { peer: '192.0.2.3', status: 'up' },
    { peer: '192.0.2.4', status: 'down' },
  ]);
  assert.deepEqual(parseBgpSummary('{"routerId":"198.51.100.2","as":64501,"peers":{"198.51.100.1":{"remoteAs":64500,"state":"Established","pfxSnt":3}}}'), [
    { address: '198.51.100.1', state: 'Established', prefixesSent: 3 },
  ]);
  assert.equal(parseBfdPeers('garbage'), undefined);
});

test('a config that only gains statements (a member joined) is added to the running daemons; one that loses any is not', async () => {
  const { onlyAdds } = await import('../../src/engines/frr/engine.ts');
  const before = 'bfd\n peer 192.0.2.3\n  profile fast\n exit\nexit';
  assert.ok(onlyAdds(before, 'bfd\n peer 192.0.2.3\n  profile fast\n exit\n peer 192.0.2.5\n  profile fast\n exit\nexit'));
  assert.ok(!onlyAdds(before, 'bfd\nexit'));
});
