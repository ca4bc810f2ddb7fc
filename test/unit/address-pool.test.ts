import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assign, moved, rank, roleOf, score } from '../../src/controllers/address-pool/ownership.ts';

const pool = (n: number, base = 100): string[] => Array.from({ length: n }, (_, i) => `198.51.100.${base + (i % 100)}`).map((a, i) => (i < 100 ? a : `203.0.113.${i - 100}`));

/** A BGPRouter, a BFD and a NAT44AddressPool of ra, rb and rc (LAN 192.0.2.2-4) over `addresses`, with `sync` when given. */
async function threeMemberPool(addresses: readonly string[], sync?: string) {
  return (await import('../helpers/config.ts')).resourcesOf(`- apiVersion: net.routerd.net/v1alpha1
  kind: BGPRouter
  metadata: {name: edge}
  spec: {asn: 64501, routerID: 198.51.100.2}
- apiVersion: net.routerd.net/v1alpha1
  kind: BFD
  metadata: {name: fast}
  spec: {}
- apiVersion: net.routerd.net/v1alpha1
  kind: NAT44AddressPool
  metadata: {name: egress}
  spec:
    bgpRouter: BGPRouter/edge
    liveness: BFD/fast
    addresses: [${addresses.join(', ')}]
    members: [{node: ra, address: 192.0.2.2}, {node: rb, address: 192.0.2.3}, {node: rc, address: 192.0.2.4}]
${sync ? `    sync: ${sync}\n` : ''}`);
}

test('ownership is deterministic and independent of the order members are listed in', () => {
  const addrs = pool(24);
  const a = assign(addrs, ['ra', 'rb', 'rc']);
  const b = assign(addrs, ['rc', 'ra', 'rb']);
  assert.deepEqual(a, b);
  assert.equal(score('198.51.100.100', 'ra'), score('198.51.100.100', 'ra'));
  for (const x of a) {
    assert.ok(x.owner !== undefined && x.successor !== undefined && x.owner !== x.successor);
    assert.equal(roleOf(x, x.owner), 'owner');
    assert.equal(roleOf(x, x.successor), 'standby');
  }
});

test('ownership is balanced: with 3 members and 600 addresses each owns 150-250', () => {
  const addrs = [...pool(100), ...Array.from({ length: 500 }, (_, i) => `203.0.${113 + Math.floor(i / 250)}.${i % 250}`)];
  const counts = new Map<string, number>();
  for (const a of assign(addrs, ['ra', 'rb', 'rc'])) counts.set(a.owner!, (counts.get(a.owner!) ?? 0) + 1);
  for (const [m, c] of counts) assert.ok(c >= 150 && c <= 250, `${m} owns ${c}`);
});

test('a member that leaves hands each of its addresses to that address\'s successor, and nothing else moves', () => {
  const addrs = pool(60);
  const before = assign(addrs, ['ra', 'rb', 'rc', 'rd']);
  const after = assign(addrs, ['ra', 'rc', 'rd']);
  for (const b of before) {
    const a = after.find((x) => x.address === b.address)!;
    if (b.owner === 'rb') assert.equal(a.owner, b.successor, `${b.address} goes to its successor`);
    else assert.equal(a.owner, b.owner, `${b.address} stays`);
  }
});

test('a member that joins takes about 1/N of the addresses, only onto itself', () => {
  const addrs = pool(100);
  const before = assign(addrs, ['ra', 'rb', 'rc']);
  const after = assign(addrs, ['ra', 'rb', 'rc', 'rd']);
  const m = moved(before, after);
  for (const a of m) assert.equal(after.find((x) => x.address === a)!.owner, 'rd');
  assert.ok(m.length >= 15 && m.length <= 35, `${m.length} of 100 moved`);
});

test('the lab pool: at most a quarter of its 8 addresses move when rd joins ra, rb, rc', () => {
  // Rendezvous hashing moves 1/N of the addresses on average; on a pool this
  // small the count varies (0-4 of 8 over the windows of 198.51.100.0/24), so
  // the lab uses a window where the bound holds: docs/multi-router.md.
  const addrs = pool(8, 116);
  const m = moved(assign(addrs, ['ra', 'rb', 'rc']), assign(addrs, ['ra', 'rb', 'rc', 'rd']));
  assert.ok(m.length >= 1 && m.length <= 2, `${m.join(', ')} moved`);
});

test('with one member up there is no successor; with none, no owner', () => {
  assert.deepEqual(assign(['198.51.100.100'], ['ra']), [{ address: '198.51.100.100', owner: 'ra', successor: undefined }]);
  assert.deepEqual(assign(['198.51.100.100'], []), [{ address: '198.51.100.100', owner: undefined, successor: undefined }]);
  assert.deepEqual(rank('198.51.100.100', ['ra', 'rb']).length, 2);
});

test('gate: a returning member pulls its addresses from their holders, and they push to it meanwhile', async () => {
  const { eligibleMembers, pullsNeeded, pushTargets, viewComplete, gatewayPriority } = await import('../../src/controllers/address-pool/gate.ts');
  const addrs = pool(8, 116);
  const members = ['ra', 'rb', 'rc'];
  const full = assign(addrs, members);
  const rbs = full.filter((a) => a.owner === 'rb').map((a) => a.address);
  // rb returns: it is up (BFD) but not ready; ra and rc own everything.
  const views = new Map([['ra', { up: true, ready: true }], ['rc', { up: true, ready: true }]]);
  assert.ok(viewComplete(members, 'rb', views));
  assert.ok(!viewComplete(members, 'rb', new Map([['ra', { up: true, ready: undefined }]])));
  const eligible = eligibleMembers(members, 'rb', false, views);
  assert.deepEqual(eligible, ['ra', 'rc']);
  const pulls = pullsNeeded(addrs, 'rb', eligible);
  assert.deepEqual(pulls.map((p) => p.address).sort(), [...rbs].sort());
  for (const p of pulls) assert.equal(p.from, assign(addrs, ['ra', 'rc']).find((a) => a.address === p.address)!.owner);
  // ra, seeing rb up but not ready, pushes each address rb will take to rb as well.
  const raPush = pushTargets(addrs, 'ra', ['ra', 'rc'], ['ra', 'rb', 'rc']);
  for (const p of pulls.filter((x) => x.from === 'ra')) assert.ok(raPush.get('rb')?.includes(p.address), `ra pushes ${p.address} to rb`);
  // Pending rb has the lowest gateway priority; once eligible, the owner has the highest.
  assert.equal(gatewayPriority(addrs[0]!, 'rb', ['ra', 'rc']), 10);
  for (const a of full) assert.equal(gatewayPriority(a.address, a.owner!, members), 200);
  // An owner that does not serve the address yet claims it below the holder and above everyone else.
  for (const a of full) assert.equal(gatewayPriority(a.address, a.owner!, members, false), 190);
  for (const a of full) assert.ok(gatewayPriority(a.address, a.successor!, members, false) < 190);
  // A claimant pushes nothing of what it does not serve yet; without LAN gateways an owner serves what it owns.
  const { servedPushes } = await import('../../src/controllers/address-pool/gate.ts');
  const targets = new Map([['rb', ['198.51.100.116', '198.51.100.119']], ['rc', ['198.51.100.117']]]);
  assert.deepEqual([...servedPushes(targets, new Set(['198.51.100.119']))], [['rb', ['198.51.100.119']]]);
  assert.deepEqual([...servedPushes(targets, undefined)], [...targets]);
  assert.deepEqual([...servedPushes(targets, new Set())], []);
  // Cold start: nobody else is eligible, nothing to pull.
  assert.deepEqual(pullsNeeded(addrs, 'ra', []), []);
});

test('members: a booting node counts everyone up (claims nothing of theirs); a member whose BFD session went down is down', async () => {
  const { PoolMembers } = await import('../../src/controllers/address-pool/members.ts');
  const rs = await threeMemberPool(['198.51.100.116', '198.51.100.117']);
  const pool = rs.find((r) => r.kind === 'NAT44AddressPool') as never;
  const m = new PoolMembers(pool, 'ra');
  assert.deepEqual(m.eligible(), ['ra', 'rb', 'rc'], 'no sync: ready at once; the others up until BFD says otherwise');
  m.observeBfd(new Map([['192.0.2.3', true], ['192.0.2.4', true]]));
  m.observeBfd(new Map([['192.0.2.3', false], ['192.0.2.4', true]]));
  assert.deepEqual(m.eligible(), ['ra', 'rc']);
});

test('hold-back: a successor whose last sync from a dead owner failed or is stale waits (bounded) before taking its addresses', async () => {
  const { holdTakeover, parseSyncMark } = await import('../../src/controllers/address-pool/gate.ts');
  const { PoolMembers, TAKEOVER_MAX_HOLD_MS, syncMarkPath } = await import('../../src/controllers/address-pool/members.ts');
  assert.deepEqual(parseSyncMark('ok 2026-11-30T15:00:00.000Z\n'), { ok: true, at: Date.parse('2026-11-30T15:00:00.000Z') });
  assert.deepEqual(parseSyncMark('failed 2026-11-30T15:00:00.000Z'), { ok: false, at: Date.parse('2026-11-30T15:00:00.000Z') });
  for (const bad of [undefined, '', 'ok', 'ok yesterday', 'maybe 2026-11-30T15:00:00Z']) assert.equal(parseSyncMark(bad), undefined, String(bad));
  const down = 1_000_000;
  assert.equal(holdTakeover({ ok: true, at: down - 5000 }, down, down, 17_000, 10_000), false, 'a recent good sync: take over at once');
  assert.equal(holdTakeover({ ok: true, at: down - 20_000 }, down, down, 17_000, 10_000), true, 'a resync missed: hold');
  assert.equal(holdTakeover({ ok: false, at: down - 1000 }, down, down + 9999, 17_000, 10_000), true, 'the last push failed: hold');
  assert.equal(holdTakeover(undefined, down, down, 17_000, 10_000), true, 'never synced: hold');
  assert.equal(holdTakeover({ ok: false, at: down - 1000 }, down, down + 10_000, 17_000, 10_000), false, 'bounded');

  const addrs = pool(8, 116);
  const members = ['ra', 'rb', 'rc'];
  const lan: Record<string, string> = { ra: '192.0.2.2', rb: '192.0.2.3', rc: '192.0.2.4' };
  const full = assign(addrs, members);
  const victim = full.find((a) => a.owner === 'rb')!;
  const self = victim.successor!;
  const rs = await threeMemberPool(addrs, '{mode: stream, interval: 10s}');
  const paths = { stateDir: '/var/lib/routerd', runDir: '/run/routerd' };
  const files = new Map<string, string>();
  const noop = () => undefined;
  let sshResult = { argv: ['ssh'], code: 0 as number | null, stdout: 'ready\n', stderr: '', timedOut: false };
  const logged: Array<Record<string, unknown>> = [];
  const host = {
    description: 'fake',
    // Over ssh: `cat ready` prints a time; a dump prints nothing; a restore succeeds.
    run: async () => sshResult,
    readFile: async (p: string) => files.get(p),
    writeFileAtomic: async (p: string, d: string) => void files.set(p, d),
    mkdirp: async () => undefined,
    remove: async () => undefined,
    exists: async () => false,
  };
  const record = (o: Record<string, unknown>) => void logged.push(o);
  const ctx = { host, paths, log: { info: record, warn: record, error: noop, debug: noop } } as never;
  const m = new PoolMembers(rs.find((r) => r.kind === 'NAT44AddressPool') as never, self);
  const allUp = new Map(members.filter((x) => x !== self).map((x) => [lan[x]!, true]));
  const t0 = Date.now();
  m.observeBfd(allUp, t0);
  await m.pollReady(ctx, 'NAT44AddressPool/egress');
  await m.maybeBecomeReady(ctx, 'NAT44AddressPool/egress');
  assert.ok(m.selfReady);
  assert.deepEqual(m.eligible(t0), members);
  const mark = (text: string) => files.set(syncMarkPath(paths as never, 'egress', 'rb'), text);
  const rbDown = new Map([...allUp].map(([a, up]) => [a, a === lan.rb ? false : up]));

  // The last push from rb failed: rb stays in this node's plan (its addresses not taken) until the bound.
  mark(`failed ${new Date(t0 - 1000).toISOString()}\n`);
  await m.pollReady(ctx, 'NAT44AddressPool/egress');
  m.observeBfd(rbDown, t0 + 1000);
  assert.deepEqual(m.eligible(t0 + 1000), members);
  assert.equal(assign(addrs, m.eligible(t0 + 1000)).find((a) => a.address === victim.address)!.owner, 'rb');
  assert.deepEqual(m.eligible(t0 + 1000 + TAKEOVER_MAX_HOLD_MS), members.filter((x) => x !== 'rb'));
  // rb comes back: nothing held; it goes down again after a good recent sync: taken over at once.
  m.observeBfd(allUp, t0 + 2000);
  await m.pollReady(ctx, 'NAT44AddressPool/egress');
  mark(`ok ${new Date(t0 + 2500).toISOString()}\n`);
  await m.pollReady(ctx, 'NAT44AddressPool/egress');
  m.observeBfd(rbDown, t0 + 3000);
  assert.deepEqual(m.eligible(t0 + 3000), members.filter((x) => x !== 'rb'));
  assert.equal(assign(addrs, m.eligible(t0 + 3000)).find((a) => a.address === victim.address)!.owner, self);

  // ssh failing says nothing about a member: its state stays, and the failure is logged once, then its end.
  m.observeBfd(allUp, t0 + 4000);
  await m.pollReady(ctx, 'NAT44AddressPool/egress');
  logged.length = 0;
  sshResult = { ...sshResult, code: 255, stdout: '', stderr: 'ssh: connect to host 192.0.2.3 port 22: Connection timed out' };
  await m.pollReady(ctx, 'NAT44AddressPool/egress');
  await m.pollReady(ctx, 'NAT44AddressPool/egress');
  assert.deepEqual(m.eligible(t0 + 4000), members);
  const polls = logged.filter((l) => l.action === 'pool-ready-poll');
  assert.equal(polls.filter((l) => l.outcome === 'error').length, 2, 'one warning per member that cannot be read, not one per poll');
  assert.match(String(polls[0]!.err), /Connection timed out/);
  sshResult = { ...sshResult, code: 0, stdout: 'ready\n', stderr: '' };
  await m.pollReady(ctx, 'NAT44AddressPool/egress');
  assert.equal(logged.filter((l) => l.action === 'pool-ready-poll' && l.outcome === 'ok').length, 2);
});
