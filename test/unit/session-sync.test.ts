import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { NAT44SessionSyncSpec } from '../../src/api/nat.ts';
import { SessionSyncWorker, planStreamChanges } from '../../src/controllers/session-sync/worker.ts';
import { selectSnatAddresses } from '../../src/controllers/session-sync/select.ts';
import type { ResourceStatus } from '../../src/controllers/status.ts';
import { FakeHost } from '../../src/host/fake.ts';
import { parseConntrackExtended, parseConntrackEvent, isConntrackEvent, type ConntrackEvent } from '../../src/kernel/conntrack.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { SshHost } from '../../src/transport/ssh-host.ts';
import { resourcesOf } from '../helpers/config.ts';
import { fixture } from '../helpers/paths.ts';

const NAT_FIXTURE = readFileSync(fixture('kernel', 'conntrack-extended-nat.txt'), 'utf8');
const silent = createLogger({ node: 'test', level: 'silent' });

function spec(over: Partial<NAT44SessionSyncSpec> = {}): NAT44SessionSyncSpec {
  return {
    mode: 'snapshot',
    interval: '1s',
    natRules: [],
    excludeNatRules: [],
    snatAddresses: ['198.51.100.100'],
    targets: [
      { name: 'good', host: '192.0.2.3', port: 22, user: 'routerd', sshOptions: [], restoreCommand: ['sudo', 'conntrack'] },
      { name: 'down', host: '192.0.2.4', port: 22, sshOptions: [], restoreCommand: ['conntrack'] },
    ],
    ...over,
  };
}

async function waitFor<T>(fn: () => T | undefined, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('selection: natRules addresses from status, minus excludeNatRules, plus snatAddresses', () => {
  const [r] = resourcesOf(`
- apiVersion: net.routerd.net/v1alpha1
  kind: NAT44SessionSync
  metadata: {name: s}
  spec:
    natRules: [NAT44Rule/a, NAT44Rule/b]
    excludeNatRules: [NAT44Rule/c]
    snatAddresses: [192.0.0.9]
    targets: [{host: 192.0.2.3}]
- {apiVersion: net.routerd.net/v1alpha1, kind: NAT44Rule, metadata: {name: a}, spec: {outInterface: w, snat: {address: 192.0.0.2}}}
- {apiVersion: net.routerd.net/v1alpha1, kind: NAT44Rule, metadata: {name: b}, spec: {outInterface: w, snat: {addresses: [192.0.0.3, 192.0.0.4]}}}
- {apiVersion: net.routerd.net/v1alpha1, kind: NAT44Rule, metadata: {name: c}, spec: {outInterface: w, snat: {address: 192.0.0.4}}}
`);
  assert.ok(r?.kind === 'NAT44SessionSync');
  const statuses: Record<string, string[]> = { a: ['192.0.0.2'], b: ['192.0.0.3', '192.0.0.4'], c: ['192.0.0.4'] };
  const sel = selectSnatAddresses(r, (_k, name, field) => (field === 'snatAddresses' ? statuses[name] : undefined));
  assert.deepEqual(sel, { ok: true, addresses: ['192.0.0.2', '192.0.0.3', '192.0.0.9'] });
  const pending = selectSnatAddresses(r, (_k, name, field) => (name === 'b' || field !== 'snatAddresses' ? undefined : statuses[name]));
  assert.deepEqual(pending, { ok: false, pending: ['NAT44Rule/b'] });
});

test('SshHost runs the restore command of the target, quoted once, with the batch on stdin', async () => {
  const local = new FakeHost().on(['ssh'], { code: 0 });
  const host = new SshHost(
    local,
    { host: '192.0.2.3', port: 2222, user: 'routerd', sshOptions: ['-o', 'ConnectTimeout=5'] },
    { controlDir: '/run/routerd/ssh' },
    { commandMap: { conntrack: ['sudo', 'conntrack'] }, discardStdout: (a) => a[1] === '-R' },
  );
  await host.run(['conntrack', '-R', '/dev/stdin'], { stdin: '-D --src-nat 198.51.100.100\n' });
  const call = local.calls[0]!;
  assert.equal(call.argv[call.argv.length - 1], `sh -c 'exec "$@" >/dev/null' routerd-quiet sudo conntrack -R /dev/stdin`);
  await host.run(['conntrack', '-C']);
  assert.equal(local.calls[1]!.argv[local.calls[1]!.argv.length - 1], 'sudo conntrack -C');
  assert.ok(call.argv.includes('ConnectTimeout=5') && !call.argv.includes('ConnectTimeout=10'));
  assert.equal(call.stdin, '-D --src-nat 198.51.100.100\n');
  await assert.rejects(host.readFile(), /not supported over ssh/);
});

test('snapshot: one batch per target replaces the SNAT address; an unreachable target is Degraded, the other Synced', async () => {
  const local = new FakeHost()
    .on(['conntrack', '-L'], { stdout: NAT_FIXTURE })
    .on((a) => a[0] === 'ssh' && a.includes('192.0.2.3'), { code: 0 })
    .on((a) => a[0] === 'ssh' && a.includes('192.0.2.4'), { code: 255, stderr: 'ssh: connect to host 192.0.2.4 port 22: No route to host\n' });
  const statuses: ResourceStatus[] = [];
  const w = new SessionSyncWorker('NAT44SessionSync/s', spec(), ['198.51.100.100'], {
    local,
    remote: (t) => new SshHost(local, t, {}, { commandMap: { conntrack: t.restoreCommand } }),
    log: silent,
    metrics: createMetrics(),
    report: (s) => statuses.push(s),
    generation: () => 3,
  });
  w.start();
  const s = await waitFor(() => statuses.find((x) => x.phase === 'Degraded'));
  w.stop();
  assert.equal(s.reason, 'TargetUnreachable');
  assert.match(s.message, /down: ssh exited 255: ssh: connect to host 192\.0\.2\.4/);
  const targets = s.targets as { name: string; phase: string; sent: number }[];
  assert.equal(targets.find((t) => t.name === 'good')?.phase, 'Synced');
  assert.equal(targets.find((t) => t.name === 'down')?.phase, 'Degraded');
  assert.equal(s.observedGeneration, 3);
  const dump = local.calls.find((c) => c.argv[0] === 'conntrack')!;
  assert.deepEqual(dump.argv, ['conntrack', '-L', '-o', 'extended', '-f', 'ipv4', '--src-nat', '198.51.100.100']);
  const good = local.calls.find((c) => c.argv.includes('192.0.2.3'))!;
  assert.equal(good.argv[good.argv.length - 1], 'sudo conntrack -R /dev/stdin');
  const lines = good.stdin!.trim().split('\n');
  assert.equal(lines[0], '-D --src-nat 198.51.100.100');
  const expected = parseConntrackExtended(NAT_FIXTURE).entries.filter((e) => e.reply.dst === '198.51.100.100' && e.original.src !== '198.51.100.100');
  assert.ok(lines.length > 1);
  for (const l of lines.slice(1)) {
    assert.match(l, /^-A -p (tcp|udp|icmp) .* --src-nat 198\.51\.100\.100(:\d+)? /);
    assert.match(l, / -m \d+$/);
  }
  assert.ok(lines.length - 1 <= expected.length);
});

function ev(line: string): ConntrackEvent {
  const e = parseConntrackEvent(line);
  assert.ok(isConntrackEvent(e), JSON.stringify(e));
  return e;
}

const NEW = '    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=192.0.2.10 dst=198.51.100.200 sport=54344 dport=7007 [UNREPLIED] src=198.51.100.200 dst=198.51.100.100 sport=7007 dport=47455 id=3516075765';
const EST = ' [UPDATE] ipv4     2 tcp      6 432000 ESTABLISHED src=192.0.2.10 dst=198.51.100.200 sport=54344 dport=7007 src=198.51.100.200 dst=198.51.100.100 sport=7007 dport=47455 [ASSURED] id=3516075765';
const FIN = ' [UPDATE] ipv4     2 tcp      6 120 FIN_WAIT src=192.0.2.10 dst=198.51.100.200 sport=54344 dport=7007 src=198.51.100.200 dst=198.51.100.100 sport=7007 dport=47455 [ASSURED] id=3516075765';
const DESTROY = '[DESTROY] ipv4     2 udp      17 29 src=192.0.2.10 dst=198.51.100.200 sport=35427 dport=7007 src=198.51.100.200 dst=198.51.100.100 sport=7007 dport=34843 id=902998802 [USERSPACE] portid=2647241828 progname=conntrack';

test('events parse (real conntrack -E lines): no mark means 0, DESTROY keeps its tuple', () => {
  assert.equal(ev(NEW).entry.mark, 0);
  assert.equal(ev(NEW).entry.tcpState, 'SYN_SENT');
  assert.deepEqual(ev(DESTROY).entry.original, { src: '192.0.2.10', dst: '198.51.100.200', sport: 35427, dport: 7007 });
  assert.ok(!isConntrackEvent(parseConntrackEvent('conntrack v1.4.7 (conntrack-tools): 9 flow events have been shown.')));
});

test('stream changes: a new flow is inserted once, coalesced with its ESTABLISHED update; closing states wait; a known flow that ends is deleted', () => {
  const fresh = planStreamChanges([ev(NEW), ev(EST)], new Map());
  assert.deepEqual(
    fresh.map((c) => `${c.op} ${c.entry.tcpState}`),
    ['insert ESTABLISHED'],
  );
  const key = 'tcp 192.0.2.10:54344 198.51.100.200:7007';
  assert.deepEqual(
    planStreamChanges([ev(EST)], new Map([[key, 'SYN_SENT|0']])).map((c) => c.op),
    ['replace'],
  );
  assert.deepEqual(planStreamChanges([ev(FIN)], new Map([[key, 'ESTABLISHED|0']])), []);
  assert.deepEqual(
    planStreamChanges([ev(DESTROY)], new Map([['udp 192.0.2.10:35427 198.51.100.200:7007', '|0']])).map((c) => c.op),
    ['delete'],
  );
  assert.deepEqual(planStreamChanges([ev(DESTROY)], new Map()), []);
});

test('settled() waits for a batch already on its way after stop(), and no batch starts after stop()', async () => {
  const local = new FakeHost().on(['conntrack', '-L'], { stdout: NAT_FIXTURE }).on(['ssh'], { code: 0 });
  let open: () => void = () => undefined;
  const gate = new Promise<void>((r) => (open = r));
  let started = 0;
  let landed = 0;
  const w = new SessionSyncWorker('NAT44SessionSync/s', spec({ targets: [spec().targets[0]!] }), ['198.51.100.100'], {
    local,
    remote: (t) => {
      const ssh = new SshHost(local, t, {}, { commandMap: { conntrack: t.restoreCommand } });
      return Object.assign(Object.create(ssh) as SshHost, {
        run: async (argv: readonly string[], opts?: Parameters<SshHost['run']>[1]) => {
          started++;
          await gate;
          const r = await ssh.run(argv, opts);
          landed++;
          return r;
        },
      });
    },
    log: silent,
    metrics: createMetrics(),
    report: () => undefined,
    generation: () => 1,
  });
  w.start();
  await waitFor(() => (started === 1 ? true : undefined));
  w.stop();
  let settled = false;
  const done = w.settled().then(() => (settled = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(settled, false, 'the batch has not landed yet');
  open();
  await done;
  assert.equal(landed, 1);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(started, 1, 'nothing sent after stop()');
});
