// Every controller against a stateful FakeHost (FakeKernel: nftables,
// conntrack, links; FakeHost: files, processes), the way the daemon runs it:
// observe, plan, reconcile. Golden transcripts record what each pass does to
// the host; a second pass over the same config does nothing.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import type { AnyResource } from '../../src/api/kinds.ts';
import { controllerNameOf } from '../../src/controllers/kinds.ts';
import { leaseSyncPath } from '../../src/api/paths.ts';
import { DhcpServerController } from '../../src/controllers/dhcp-server/controller.ts';
import { moduleOf } from '../../src/controllers/registry.ts';
import { VirtualAddressController } from '../../src/controllers/virtual-address/controller.ts';
import { frrPaths } from '../../src/engines/frr/paths.ts';
import { KeepalivedEngine } from '../../src/engines/keepalived/engine.ts';
import { FakeHost } from '../../src/host/fake.ts';
import { FakeKernel } from '../../src/kernel/fake.ts';
import { SESSION_SCRIPT } from '../../src/transport/restore-session.ts';
import { shellQuote } from '../../src/transport/ssh.ts';
import { resourcesOf, resourcesOfFile } from '../helpers/config.ts';
import { assertGolden } from '../helpers/golden.ts';
import { FakePeer } from '../helpers/fake-peer.ts';
import { example, fixture } from '../helpers/paths.ts';
import { ControllerRun, transcript, type PassRecord } from '../helpers/transcript.ts';

const LAB_LINKS = { lan0: ['192.0.2.2/24'], wan0: ['198.51.100.2/24', '198.51.100.100/24'] };

function labHost(): { host: FakeHost; kernel: FakeKernel } {
  const kernel = new FakeKernel(LAB_LINKS);
  const host = kernel.attach(new FakeHost());
  return { host, kernel };
}

const LEASES = await readFile(fixture('dhcp', 'dnsmasq-v4.leases'), 'utf8');

const routerA = () => resourcesOfFile(example('lab/router-a.yaml'));

function nothing(p: PassRecord, what: string): void {
  assert.deepEqual(p.lines, [], `${what}: a second pass over the same config changes nothing`);
}

test('interface: observes only', async () => {
  const { host } = labHost();
  const run = new ControllerRun(moduleOf('Interface').newController!(), host);
  const resources = await routerA();
  const first = await run.pass(resources);
  nothing(first, 'interface');
  assert.equal(run.status.get('Interface/wan')?.phase, 'Ready');
});

test('nat44-rule: the table once, the flow judgement once; a second pass issues no command', async () => {
  const { host, kernel } = labHost();
  kernel.flows = [
    'ipv4     2 tcp      6 431990 ESTABLISHED src=192.0.2.50 dst=203.0.113.7 sport=40000 dport=443 src=203.0.113.7 dst=198.51.100.100 sport=443 dport=30000 [ASSURED] mark=0 use=1',
  ];
  const run = new ControllerRun(moduleOf('NAT44Rule').newController!(), host);
  const resources = await routerA();
  const first = await run.pass(resources);
  const second = await run.pass(resources);
  assertGolden('transcripts/nat44-rule.txt', transcript([['first pass', first], ['second pass', second]]));
  nothing(second, 'nat44-rule');
  assert.ok(kernel.digestOf('ip routerd_nat'), 'the table carries its digest');
  assert.equal(kernel.flows.length, 1, 'a flow the rule still translates stays');
  assert.equal(run.status.get('NAT44Rule/lan-out')?.phase, 'Ready');
  // Removing the rule is planned as a removal and done by the same controller.
  const removal = await run.pass(resources.filter((r) => r.kind !== 'NAT44Rule'));
  assert.equal(kernel.tables.has('ip routerd_nat'), false);
  assert.equal(kernel.flows.length, 0, 'the flows of an address no rule uses go');
  assertGolden('transcripts/nat44-rule-removal.txt', transcript([['rule removed', removal]]));
});

test('virtual-address: keepalived started once; a second pass issues no command; no VIP left stops it', async () => {
  const { host } = labHost();
  const noGate = (await routerA()).map((r) => (r.kind === 'VirtualAddress' ? ({ ...r, spec: { ...r.spec, handover: { ...r.spec.handover, waitForState: false } } } as AnyResource) : r));
  const controller: VirtualAddressController = new VirtualAddressController(
    (ctx, c) => new KeepalivedEngine(ctx.host, ctx.paths, { onNotify: (e) => c.onNotify(e), onExit: () => undefined }, async () => new PassThrough()),
  );
  const run = new ControllerRun(controller, host);
  const first = await run.pass(noGate);
  const second = await run.pass(noGate);
  assertGolden('transcripts/virtual-address.txt', transcript([['first pass', first], ['second pass', second]]));
  nothing(second, 'virtual-address');
  assert.equal(host.processLines().filter((l) => l.startsWith('keepalived ')).length, 1);
  const gone = await run.pass(noGate.filter((r) => r.kind !== 'VirtualAddress'));
  assert.deepEqual(host.processLines(), [], 'keepalived stops with the last VIP');
  assert.equal(gone.outcome.result, 'ok');
  await controller.stop({ keepEngines: false });
});

for (const kind of ['DHCPv4Server', 'DHCPv6Server'] as const) {
  test(`${controllerNameOf(kind)}: dnsmasq only as master; a second pass issues no command; demotion stops it`, async () => {
    const { host } = labHost();
    const controller = new DhcpServerController(kind, controllerNameOf(kind));
    const run = new ControllerRun(controller, host);
    const resources = await routerA();
    const backup = await run.pass(resources, { 'lan-vip': 'backup' });
    const master = await run.pass(resources, { 'lan-vip': 'master' });
    const again = await run.pass(resources, { 'lan-vip': 'master' });
    assert.equal(host.processLines().length, 1);
    const demoted = await run.pass(resources, { 'lan-vip': 'backup' });
    assertGolden(`transcripts/${controllerNameOf(kind)}.txt`, transcript([['backup', backup], ['promoted', master], ['master again', again], ['demoted', demoted]]));
    nothing(again, kind);
    assert.deepEqual(host.processLines(), []);
    await controller.stop({ keepEngines: false });
  });
}

test('dhcpv6-prefix-delegation: dhcpcd only as master; a second pass issues no command', async () => {
  const { host } = labHost();
  const controller = moduleOf('DHCPv6PrefixDelegation').newController!();
  const run = new ControllerRun(controller, host);
  const resources = await resourcesOfFile(example('lab/pd-router-a.yaml'));
  const master = await run.pass(resources, { 'lan-vip': 'master' });
  const again = await run.pass(resources, { 'lan-vip': 'master' });
  assertGolden('transcripts/dhcpv6-prefix-delegation.txt', transcript([['master', master], ['master again', again]]));
  nothing(again, 'prefix delegation');
  assert.equal(host.processLines().length, 1);
  await controller.stop({ keepEngines: false });
  assert.deepEqual(host.processLines(), []);
});

test('lease syncs and session sync: nothing runs while the gate is shut, and a second pass changes nothing', async () => {
  const { host } = labHost();
  const resources = await routerA();
  for (const kind of ['DHCPv4ServerLeaseSync', 'DHCPv6ServerLeaseSync', 'NAT44SessionSync'] as const) {
    const controller = moduleOf(kind).newController!();
    const run = new ControllerRun(controller, host);
    const first = await run.pass(resources, { 'lan-vip': 'backup' });
    const second = await run.pass(resources, { 'lan-vip': 'backup' });
    nothing(first, kind);
    nothing(second, kind);
    const [r] = resources.filter((x) => x.kind === kind);
    assert.equal(run.status.get(`${kind}/${r!.metadata.name}`)?.reason, 'WhenFalse');
    await controller.stop({ keepEngines: false });
  }
});

test('stateless-nat44: the table once; a second pass only reads; a changed mapping is an element update; removal takes the table', async () => {
  const { host, kernel } = labHost();
  const run = new ControllerRun(moduleOf('StatelessNAT44').newController!(), host);
  const config = (internal: string) =>
    resourcesOf(`
- apiVersion: net.routerd.net/v1alpha1
  kind: Interface
  metadata: {name: wan}
  spec: {ifname: wan0}
- apiVersion: net.routerd.net/v1alpha1
  kind: StatelessNAT44
  metadata: {name: fips}
  spec:
    interface: wan
    mappings:
      - {external: 198.51.100.150, internal: 192.0.2.50}
      - {external: 198.51.100.151, internal: ${internal}}
`);
  const resources = config('192.0.2.51');
  const first = await run.pass(resources);
  const second = await run.pass(resources);
  assert.equal(run.status.get('StatelessNAT44/fips')?.phase, 'Ready');
  const changed = await run.pass(config('192.0.2.52'));
  const removed = await run.pass(resources.filter((r) => r.kind !== 'StatelessNAT44'));
  assertGolden('transcripts/stateless-nat44.txt', transcript([['first pass', first], ['second pass', second], ['one mapping changed', changed], ['removed', removed]]));
  assert.deepEqual(second.lines.filter((l) => l.startsWith('run nft -f')), [], 'a second pass writes nothing');
  assert.equal(changed.outcome.result, 'ok');
  assert.equal(kernel.tables.has('ip routerd_stateless'), false, 'no StatelessNAT44 left: the planned removal took the table');
});

/** A transcript with what varies or is long named instead (a temporary dir, the restore session's script), and what the peer ran last. */
function peerTranscript(passes: [string, PassRecord][], peer: FakePeer, names: [string | RegExp, string][]): string {
  const name = (l: string) => names.reduce((s, [from, to]) => s.replaceAll(from, to), l);
  const named = passes.map(([t, p]) => [t, { ...p, lines: p.lines.map(name) }] as [string, PassRecord]);
  return `${transcript(named)}\n# on the peer\n${peer.ran.map(name).join('\n')}\n`;
}

test('dhcpv4-server-lease-sync: the gate open pushes the lease file to the peer once; a second pass issues no command; demotion stops the pushes', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'routerd-ctl-'));
  const paths = { stateDir: join(tmp, 'state'), runDir: join(tmp, 'run') };
  try {
    const { host } = labHost();
    const peer = new FakePeer('192.0.2.3');
    peer.attach(host);
    const leases = leaseSyncPath(paths, 'DHCPv4Server', 'lan-dhcpv4');
    await mkdir(dirname(leases), { recursive: true });
    await writeFile(leases, LEASES);
    const controller = moduleOf('DHCPv4ServerLeaseSync').newController!();
    const run = new ControllerRun(controller, host, 'ra', paths);
    const id = 'DHCPv4ServerLeaseSync/lan-v4-leases';
    const synced = () => (run.status.get(id)?.['targets'] as { phase: string }[] | undefined)?.[0]?.phase === 'Synced';
    const resources = (await routerA()).filter((r) => r.kind !== 'DHCPv6ServerLeaseSync');
    const backup = await run.pass(resources, { 'lan-vip': 'backup' });
    const master = await run.pass(resources, { 'lan-vip': 'master' }, synced);
    const again = await run.pass(resources, { 'lan-vip': 'master' });
    const demoted = await run.pass(resources, { 'lan-vip': 'backup' });
    assertGolden('transcripts/dhcpv4-server-lease-sync.txt', peerTranscript([['backup', backup], ['promoted', master], ['master again', again], ['demoted', demoted]], peer, [
      [tmp, '$TMP'],
      [/ssh-config-[0-9a-f]+/g, 'ssh-config-$DIGEST'],
    ]));
    nothing(backup, 'lease sync as backup');
    nothing(again, 'lease sync');
    nothing(demoted, 'lease sync demoted');
    assert.equal(peer.host.files.get(leases), LEASES, 'the peer holds the lease file at the same derived path');
    assert.equal(run.status.get(id)?.reason, 'WhenFalse');
    await controller.stop({ keepEngines: false });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('nat44-session-sync (snapshot): the gate open restores the NAT flows on the peer once; a second pass issues no command; demotion ends the session', async () => {
  const { host, kernel } = labHost();
  kernel.flows = [
    'ipv4     2 tcp      6 431990 ESTABLISHED src=192.0.2.50 dst=203.0.113.7 sport=40000 dport=443 src=203.0.113.7 dst=198.51.100.100 sport=443 dport=30000 [ASSURED] mark=0 use=1',
    'ipv4     2 tcp      6 431990 ESTABLISHED src=192.0.2.60 dst=203.0.113.8 sport=40001 dport=80 src=203.0.113.8 dst=192.0.2.60 sport=80 dport=40001 [ASSURED] mark=0 use=1',
  ];
  const peer = new FakePeer('192.0.2.3');
  peer.attach(host);
  const controller = moduleOf('NAT44SessionSync').newController!();
  const run = new ControllerRun(controller, host);
  // An hour between full resyncs: the passes below are all this test records.
  const resources = (await routerA()).map((r) => (r.kind === 'NAT44SessionSync' ? ({ ...r, spec: { ...r.spec, interval: '1h' } } as AnyResource) : r));
  const id = 'NAT44SessionSync/lan-sessions';
  const backup = await run.pass(resources, { 'lan-vip': 'backup' });
  const master = await run.pass(resources, { 'lan-vip': 'master' }, () => run.status.get(id)?.phase === 'Synced');
  const again = await run.pass(resources, { 'lan-vip': 'master' });
  const demoted = await run.pass(resources, { 'lan-vip': 'backup' });
  assertGolden('transcripts/nat44-session-sync.txt', peerTranscript([['backup', backup], ['promoted', master], ['master again', again], ['demoted', demoted]], peer, [[shellQuote(SESSION_SCRIPT), '$SESSION_SCRIPT']]));
  nothing(backup, 'session sync as backup');
  nothing(again, 'session sync');
  assert.deepEqual(
    peer.kernel.flows.map((f) => /src=(\S+)/.exec(f)?.[1]),
    ['192.0.2.50'],
    'the peer holds the SNAT flow, and not the flow without SNAT',
  );
  assert.equal(run.status.get(id)?.reason, 'WhenFalse');
  assert.deepEqual(host.processLines(), [], 'no session left open');
  await controller.stop({ keepEngines: false });
});

test('bgp: FRR started and configured once; a second pass only reads; a member leaving the config restarts bfdd and bgpd with the new file; no BGPRouter stops FRR', async () => {
  const kernel = new FakeKernel({ lan0: ['192.0.2.2/24'], wan0: ['198.51.100.2/24'] });
  const host = kernel.attach(new FakeHost());
  host.files.set(frrPaths.zservSocket, ''); // zebra's socket, which the engine waits for after starting it
  host.on(['chown', 'frr:frr'], {}).on(['vtysh', '-N', 'routerd'], { stdout: '{}' });
  const controller = moduleOf('BGPRouter').newController!();
  const run = new ControllerRun(controller, host);
  // Status reads (vtysh show …) are left out: the BFD watcher polls them on its own timer too.
  const changes = (p: PassRecord): PassRecord => ({ ...p, lines: p.lines.filter((l) => !/^run vtysh -N routerd -c show /.test(l)) });
  const resources = await resourcesOfFile(example('nat44-address-pool.yaml'));
  const first = changes(await run.pass(resources));
  const second = changes(await run.pass(resources));
  // rc leaves the config: its BFD peer goes, which `vtysh -b` cannot take back (engines/frr/engine.ts).
  const withoutRc = resources.map((r) => (r.kind === 'NAT44AddressPool' ? ({ ...r, spec: { ...r.spec, members: r.spec.members.filter((m) => m.node !== 'rc') } } as AnyResource) : r));
  const shrunk = changes(await run.pass(withoutRc));
  const removed = changes(await run.pass(resources.filter((r) => !['BGPRouter', 'BGPPeer', 'BFD', 'NAT44AddressPool'].includes(r.kind))));
  assertGolden('transcripts/bgp.txt', transcript([['first pass', first], ['second pass', second], ['rc left the pool', shrunk], ['BGP kinds removed', removed]]));
  nothing(second, 'bgp');
  assert.ok(host.files.get(frrPaths.conf)?.includes('router bgp 64501'), 'frr.conf holds the speaker');
  assert.deepEqual(host.processLines(), [], 'no BGPRouter left: zebra, bfdd and bgpd stop');
  await controller.stop({ keepEngines: false });
});
