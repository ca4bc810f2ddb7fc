// The handover gate (issue 12) without keepalived: which priority offset it
// writes and when, given the roles keepalived reports and what the pull returns.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ResourceOf } from '../../src/api/kinds.ts';
import { interfaceResolver } from '../../src/controllers/interface/resolve.ts';
import { demotedOffset, renderKeepalivedConf } from '../../src/engines/keepalived/render.ts';
import { targetHost } from '../../src/controllers/session-sync/controller.ts';
import { FakeHost } from '../../src/host/fake.ts';
import { rsyncPullArgv } from '../../src/transport/rsync.ts';
import { HandoverGate } from '../../src/controllers/virtual-address/handover.ts';
import type { PullOutcome } from '../../src/controllers/virtual-address/pull.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { resourcesOfFile } from '../helpers/config.ts';
import { example } from '../helpers/paths.ts';

const labA = await resourcesOfFile(example('lab/router-a.yaml'));
const vipA = labA.find((r) => r.kind === 'VirtualAddress') as ResourceOf<'VirtualAddress'>;

function gateWith(pulls: (() => Promise<PullOutcome>)[], maxWaitMs = 60_000) {
  const writes: number[] = [];
  const metrics = createMetrics();
  let calls = 0;
  const gate = new HandoverGate(
    {
      id: 'VirtualAddress/lan-vip',
      log: createLogger({ node: 't', level: 'silent' }),
      metrics,
      writeOffset: async (o) => {
        writes.push(o);
      },
      pull: (progress) => {
        progress('waiting for sessions from 192.0.2.3 (412 received)');
        const next = pulls[Math.min(calls++, pulls.length - 1)]!;
        return next();
      },
      changed: () => undefined,
      retryMs: 5,
    },
    demotedOffset(150),
    maxWaitMs,
  );
  return { gate, writes, metrics, calls: () => calls };
}

const ok: PullOutcome = { ok: true, from: '192.0.2.3', sessions: 412, leaseFiles: 2, durationMs: 30 };
const fail: PullOutcome = { ok: false, sessions: 0, leaseFiles: 0, durationMs: 1, error: 'no target holds 192.0.2.1' };
const settle = (ms = 30) => new Promise((r) => setTimeout(r, ms));

test('keepalived.conf: the gate is a track_file with weight 1, demoted at init; preempt_delay in seconds', () => {
  const vip = { ...vipA, spec: { ...vipA.spec, preemptDelay: '2500ms' } };
  const conf = renderKeepalivedConf({ routerId: 'ra', virtualAddresses: [vip], ifname: interfaceResolver(labA), paths: { notifyFifo: '/run/f', gateFile: (n) => `/run/routerd/keepalived/gate-${n}` } });
  assert.match(conf, /^track_file routerd_lan_vip_gate \{\nfile "\/run\/routerd\/keepalived\/gate-lan-vip"\nweight 1\ninit_file -149\n\}$/m);
  assert.match(conf, /^track_file \{\nrouterd_lan_vip_gate\n\}$/m);
  assert.match(conf, /^preempt_delay 2\.5$/m);
  const off = renderKeepalivedConf({
    routerId: 'ra',
    virtualAddresses: [{ ...vipA, spec: { ...vipA.spec, handover: { waitForState: false, maxWait: '60s' } } }],
    ifname: interfaceResolver(labA),
    paths: { notifyFifo: '/run/f', gateFile: (n) => `/g/${n}` },
  });
  assert.doesNotMatch(off, /track_file/);
});

test('a returning router stays demoted while backup until the pull succeeds, then writes offset 0', async () => {
  const { gate, writes, metrics } = gateWith([async () => fail, async () => ok]);
  gate.close('routerd started');
  await gate.sync();
  assert.deepEqual(writes, [-149]);
  gate.onRole('backup', 'unknown');
  await settle();
  assert.equal(gate.status().state, 'open');
  assert.deepEqual(writes, [-149, 0]);
  assert.match(gate.status().text, /holds the state of 192\.0\.2\.3 \(412 sessions, 2 lease files\)/);
  assert.match(await metrics.registry.metrics(), /routerd_handover_gate_opens_total\{resource="VirtualAddress\/lan-vip",outcome="state-received"\} 1/);
});

test('while it waits, status says what for', async () => {
  let release: (o: PullOutcome) => void = () => undefined;
  const { gate } = gateWith([() => new Promise<PullOutcome>((r) => (release = r))]);
  gate.close('routerd started');
  gate.onRole('backup', 'unknown');
  await settle(5);
  assert.equal(gate.status().state, 'waiting');
  assert.equal(gate.status().text, 'Demoted: waiting for sessions from 192.0.2.3 (412 received)');
  release(ok);
  await settle(5);
  assert.equal(gate.status().state, 'open');
});

test('no master to wait for: becoming master opens the gate at once, without a pull', async () => {
  const { gate, writes, calls } = gateWith([async () => ok]);
  gate.close('routerd started');
  gate.onRole('master', 'unknown');
  await settle();
  assert.equal(gate.status().state, 'open');
  assert.equal(calls(), 0);
  assert.equal(writes.at(-1), 0, 'writes are serialised and coalesced: the file ends at full priority');
});

test('a gate that cannot be met opens after maxWait, loudly', async () => {
  const { gate, writes, metrics } = gateWith([async () => fail], 60);
  gate.close('routerd started');
  gate.onRole('backup', 'unknown');
  await settle(150);
  assert.equal(gate.status().state, 'timed-out');
  assert.match(gate.status().text, /^Open without the master's state: gave up after 0 s \(handover\.maxWait\): no target holds 192\.0\.2\.1/);
  assert.equal(writes.at(-1), 0);
  assert.match(await metrics.registry.metrics(), /routerd_handover_gate\{resource="VirtualAddress\/lan-vip",state="timed-out"\} 1/);
});

test('fault, keepalived gone or losing the master role close the gate again; the maxWait clock runs only as backup', async () => {
  const { gate, writes } = gateWith([async () => ok], 50);
  gate.onRole('master', 'unknown');
  await settle();
  gate.onRole('fault', 'master');
  await settle(100);
  assert.equal(gate.status().state, 'waiting', 'a dark router stays demoted, however long');
  assert.match(gate.status().text, /VRRP fault/);
  gate.onRole('backup', 'fault');
  await settle();
  assert.equal(gate.status().state, 'open');
  gate.onRole('backup', 'master');
  await settle();
  assert.equal(gate.status().state, 'open', 'lost the role, pulled again, open');
  assert.deepEqual(writes, [0, -149, 0, -149, 0]);
});

test('a restore is refused by a target that holds the SNAT address; the addresses travel as arguments, the script is constant', async () => {
  const local = new FakeHost();
  const t = { name: 'peer', host: '192.0.2.3', port: 22, user: 'root', sshOptions: [], restoreCommand: ['sudo', 'conntrack'] };
  await targetHost(local, t, '/run/routerd/ssh', ['198.51.100.100']).run(['conntrack', '-R', '/dev/stdin'], { stdin: '' });
  await targetHost(local, t, '/run/routerd/ssh', ['198.51.100.100']).run(['conntrack', '-L', '-o', 'extended']);
  const [restore, dump] = local.calls.map((c) => c.argv.at(-1)!);
  assert.match(restore!, /routerd-guard 198\.51\.100\.100 -- sudo conntrack -R \/dev\/stdin$/);
  assert.match(restore!, /exit 75/);
  assert.equal(dump, 'sudo conntrack -L -o extended', 'dumps are not guarded');
});

test('the returning router pulls the same derived path from the master', async () => {
  const argv = rsyncPullArgv({ host: '192.0.2.3', port: 22, user: 'root', sshOptions: [], options: ['--checksum'] }, '/var/lib/routerd/dnsmasq/x.leases', '/run/routerd/ssh/ssh-config-0123456789ab');
  assert.deepEqual(argv.slice(-2), ['root@192.0.2.3:/var/lib/routerd/dnsmasq/x.leases', '/var/lib/routerd/dnsmasq/x.leases']);
  assert.ok(argv.includes('--delay-updates') && argv.includes('--protect-args'));
});

test('mode conntrackd: the returning router takes the master\'s sessions through conntrackd, replacing its own, and waits until every one is in its kernel', async () => {
  const { nat44SessionSyncSpec } = await import('../../src/controllers/session-sync/schema.ts');
  const { gatedSyncs, pullState } = await import('../../src/controllers/virtual-address/pull.ts');
  const meta = (name: string) => ({ apiVersion: 'net.routerd.net/v1alpha1' as const, metadata: { name } });
  const vip = { ...meta('lan-vip'), kind: 'VirtualAddress', spec: { address: '192.0.2.1/24' } } as unknown as ResourceOf<'VirtualAddress'>;
  const sync = { ...meta('lan-sessions'), kind: 'NAT44SessionSync', spec: nat44SessionSyncSpec.parse({ mode: 'conntrackd', snatAddresses: ['198.51.100.100'], targets: [{ name: 'peer', host: '192.0.2.3' }] }) };
  const syncs = gatedSyncs('lan-vip', 1, [vip, sync] as never, () => true);
  assert.equal(syncs.sessions.length, 1, 'a conntrackd-mode sync is gated too');
  const line = (sport: number, mark: number) =>
    `ipv4     2 tcp      6 431999 ESTABLISHED src=192.0.2.10 dst=198.51.100.200 sport=${sport} dport=7007 src=198.51.100.200 dst=198.51.100.100 sport=7007 dport=${sport + 1000} [ASSURED] mark=${mark} use=1\n`;
  const theirs = line(40001, 0) + line(40002, 66);
  const local = new FakeHost();
  let localDumps = 0;
  local.on((a) => a[0] === 'ssh' && a.join(' ').includes('addr'), { stdout: JSON.stringify([{ ifindex: 2, ifname: 'lan0', flags: [], mtu: 1500, operstate: 'UP', addr_info: [{ family: 'inet', local: '192.0.2.1', prefixlen: 24 }] }]) });
  local.on((a) => a[0] === 'ssh' && a.join(' ').includes('conntrack -L'), { stdout: theirs });
  local.on(['conntrackd'], {});
  local.on(['conntrack', '-D'], { code: 1, stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n' });
  // First our kernel has one of the two (the resync is under way; the other's mark not yet), then both.
  local.on(['conntrack', '-L'], () => ({ stdout: ++localDumps === 1 ? line(40001, 0) + line(40002, 0) : theirs }));
  const progress: string[] = [];
  const out = await pullState(vip, syncs, {
    local,
    controlDir: '/run/routerd/ssh',
    planCtx: { paths: { stateDir: '/var/lib/routerd', runDir: '/run/routerd' }, status: () => undefined } as never,
    log: createLogger({ node: 't', level: 'silent' }),
    progress: (w) => progress.push(w),
    signal: new AbortController().signal,
  });
  assert.equal(out.ok, true, out.error);
  assert.equal(out.sessions, 2);
  const lines = local.commandLines().filter((l) => !l.startsWith('ssh'));
  const conf = '/run/routerd/conntrackd/lan-sessions.conf';
  assert.deepEqual(lines.slice(0, 3), [`conntrackd -C ${conf} -f internal`, 'conntrack -D --src-nat 198.51.100.100', `conntrackd -C ${conf} -n`], 'forget our own flows, delete our stale entries, then ask for a resync');
  assert.ok(!lines.some((l) => l.startsWith('conntrack -R')), 'nothing is restored by routerd: conntrackd writes the entries');
  assert.ok(progress.some((p) => p.includes('(1 of 2 received)')), progress.join(' | '));
  assert.equal(localDumps, 2, 'waited until the mark matched too');
});
