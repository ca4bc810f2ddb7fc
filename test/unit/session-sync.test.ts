import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { NAT44SessionSyncSpec } from '../../src/controllers/session-sync/schema.ts';
import { selectSnatAddresses } from '../../src/controllers/session-sync/select.ts';
import type { ResourceStatus } from '../../src/controllers/status.ts';
import { FakeHost } from '../../src/host/fake.ts';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { standaloneInput } from '../../src/controllers/session-sync/mode.ts';
import { SYNC_MODES } from '../../src/controllers/session-sync/modes.ts';
import { MIN_RESYNC_GAP_MS, SnapshotSyncMode } from '../../src/controllers/session-sync/snapshot.ts';
import { planStreamChanges, StreamSyncMode } from '../../src/controllers/session-sync/stream.ts';
import type { RoutedModeDeps, TargetStatus } from '../../src/controllers/session-sync/targets.ts';
import type { ChildHandle, SpawnOptions } from '../../src/host/host.ts';
import { LocalHost } from '../../src/host/local.ts';
import { parseConntrackEvent, isConntrackEvent, type ConntrackEvent } from '../../src/kernel/conntrack.ts';
import { restoreLineFromExtended } from '../../src/kernel/conntrack-lines.ts';
import { RestoreSession, SESSION_SCRIPT, type SessionBatch, type SessionReply } from '../../src/transport/restore-session.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { SshHost } from '../../src/transport/ssh-host.ts';
import { SessionSyncWorker } from '../../src/controllers/session-sync/worker.ts';
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


/** A restore session that records its batches and answers each one. */
class FakeSession {
  readonly batches: SessionBatch[] = [];
  inFlight = 0;
  closed = false;
  constructor(private readonly answer: (b: SessionBatch) => Partial<SessionReply> = () => ({})) {}
  send(b: SessionBatch): Promise<SessionReply> {
    this.batches.push(b);
    return Promise.resolve({ deleteCode: 0, restoreCode: 0, deleted: 0, missing: 0, failed: 0, stderr: '', durationMs: 1, ...this.answer(b) });
  }
  close(): void {
    this.closed = true;
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
}

/** A FakeHost whose spawned children can be reached (to feed conntrack -E lines). */
class SpawnHost extends FakeHost {
  readonly children: ChildHandle[] = [];
  override spawn(argv: readonly string[], opts?: SpawnOptions): ChildHandle {
    const c = super.spawn(argv, opts);
    this.children.push(c);
    return c;
  }
}

const A_ONLY = 'ipv4     2 tcp      6 3599 ESTABLISHED src=192.0.2.10 dst=198.51.100.200 sport=1024 dport=7007 src=198.51.100.200 dst=198.51.100.100 sport=7007 dport=20000 [ASSURED] mark=66 use=1';
const BOTH = NAT_FIXTURE.split('\n').find((l) => restoreLineFromExtended(l, '198.51.100.100').kind === 'entry')!;
/** Held by the target exactly as on A (ESTABLISHED, same mark): not rewritten. */
const SAME = 'ipv4     2 tcp      6 3599 ESTABLISHED src=192.0.2.11 dst=198.51.100.200 sport=1025 dport=7007 src=198.51.100.200 dst=198.51.100.100 sport=7007 dport=20001 [ASSURED] mark=66 use=1';
const B_ONLY = 'ipv4     2 udp      17 29 src=192.0.2.99 dst=198.51.100.200 sport=5353 dport=53 src=198.51.100.200 dst=198.51.100.100 sport=53 dport=40000 mark=0 use=1';

function harness(mode: 'snapshot' | 'stream', opts: { unreachable?: boolean } = {}) {
  const local = new SpawnHost().onSpawn(['conntrack', '-L'], { stdout: `${NAT_FIXTURE}${A_ONLY}\n${SAME}\n` });
  const remote = new FakeHost().onSpawn(['conntrack', '-L'], opts.unreachable ? { code: 255, stderr: 'ssh: connect to host 192.0.2.4 port 22: No route to host\n' } : { stdout: `${BOTH.replace(/mark=\d+/, 'mark=1')}\n${SAME}\n${B_ONLY}\n` });
  const sessions: FakeSession[] = [];
  const statuses: ResourceStatus[] = [];
  const deps: RoutedModeDeps = {
    local,
    remote: () => remote,
    session: () => {
      const s = new FakeSession((b) => ({ deleted: (b.deletes ?? '').split('\n').filter(Boolean).length }));
      sessions.push(s);
      return s as unknown as RestoreSession;
    },
    log: silent,
    metrics: createMetrics(),
    report: (s) => statuses.push(s),
    generation: () => 3,
  };
  const m = mode === 'stream' ? new StreamSyncMode('NAT44SessionSync/s', deps) : new SnapshotSyncMode('NAT44SessionSync/s', deps);
  return { m, local, remote, sessions, statuses, spec: spec({ mode, interval: '1h', targets: [spec().targets[0]!] }) };
}

test('modes: one registry; snapshot and stream are gated, conntrackd runs in every role', () => {
  assert.deepEqual(Object.keys(SYNC_MODES).sort(), ['conntrackd', 'snapshot', 'stream']);
  assert.equal(SYNC_MODES.snapshot.gated, true);
  assert.equal(SYNC_MODES.stream.gated, true);
  assert.equal(SYNC_MODES.conntrackd.gated, false);
});

test('snapshot: a full resync sends -A lines in batches, deletes exactly what the target holds before re-inserting it, and prunes what the master no longer has', async () => {
  const h = harness('snapshot');
  await h.m.update(standaloneInput(h.spec, ['198.51.100.100']));
  const s = await waitFor(() => h.statuses.find((x) => x.phase === 'Synced'));
  await h.m.stop();
  assert.deepEqual(h.local.spawned[0]!.argv, ['conntrack', '-L', '-o', 'extended', '-f', 'ipv4', '--src-nat', '198.51.100.100']);
  assert.deepEqual(h.remote.spawned[0]!.argv, ['conntrack', '-L', '-o', 'extended', '-f', 'ipv4', '--src-nat', '198.51.100.100']);
  const [bulk] = h.sessions;
  assert.ok(bulk);
  const [chunk, prune] = bulk.batches;
  const lines = chunk!.restore!.trim().split('\n');
  for (const l of lines) assert.match(l, /^-A -p (tcp|udp|icmp) .* --src-nat 198\.51\.100\.100(:\d+)? .* -m \d+$/);
  assert.ok(lines.some((l) => l.includes('--sport 1024 --dport 7007 --src-nat 198.51.100.100:20000')), 'the entry only A has is inserted');
  assert.ok(!lines.some((l) => l.includes('--sport 1025 ')), 'the entry B holds as it is is not rewritten');
  // The entry both hold with another mark is deleted exactly (its key) in the same batch, before its insert.
  const both = restoreLineFromExtended(BOTH, '198.51.100.100');
  assert.ok(both.kind === 'entry');
  assert.equal(chunk!.deletes, `${both.key}\n`);
  // The entry only B holds is pruned at the end, never sent.
  assert.equal(prune!.deletes, 'udp 192.0.2.99 198.51.100.200 5353 53 0\n');
  assert.equal(prune!.restore, '');
  assert.equal(s.observedGeneration, 3);
  assert.equal(s.localEntries, lines.length + 1);
  const t = (s.targets as TargetStatus[])[0]!;
  assert.equal(t.phase, 'Synced');
  assert.equal(t.sent, lines.length + 1);
  assert.equal(t.restored, lines.length);
  assert.equal(t.pruned, 1);
  assert.ok(bulk.closed, 'stop closes the sessions');
});

test('snapshot: an unreachable target is Degraded/TargetUnreachable and gets no batch', async () => {
  const h = harness('snapshot', { unreachable: true });
  await h.m.update(standaloneInput(h.spec, ['198.51.100.100']));
  const s = await waitFor(() => h.statuses.find((x) => x.phase === 'Degraded'));
  await h.m.stop();
  assert.equal(s.reason, 'TargetUnreachable');
  assert.match(s.message, /No route to host/);
  assert.equal(h.sessions.reduce((n, x) => n + x.batches.length, 0), 0);
});

test('restore session: framed batches reach the delete helper and conntrack -R in order; a target holding the address refuses', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'routerd-session-'));
  try {
    const ct = join(dir, 'conntrack');
    const del = join(dir, 'ct-delete');
    // Stand-ins: record argv and stdin, answer like the real tools.
    writeFileSync(ct, `#!/bin/sh\necho "ct $*" >> '${dir}/log'\ncat "$2" >> '${dir}/log'\n`);
    writeFileSync(del, `#!/bin/sh\necho "del" >> '${dir}/log'\ncat >> '${dir}/log'\necho "deleted 1 missing 1 failed 0"\n`);
    chmodSync(ct, 0o755);
    chmodSync(del, 0o755);
    const open = (addrs: string[]) =>
      new RestoreSession(new LocalHost(), { host: 'x', port: 22, sshOptions: [] }, {}, { refuseIfHolding: addrs, restoreCommand: [ct], deleteHelper: del, timeoutMs: 10_000, wrap: (r) => [...r] });
    const s = open(['198.51.100.100']);
    assert.deepEqual(s.argv().slice(0, 4), ['sh', '-c', SESSION_SCRIPT, 'routerd-session']);
    const [a, b] = await Promise.all([s.send({ deletes: 'tcp 192.0.2.1 192.0.2.2 1 2 0\ntcp 192.0.2.1 192.0.2.2 1 3 0\n', restore: '-A one\n' }), s.send({ restore: '-A two\n-A three\n' })]);
    assert.deepEqual([a.deleteCode, a.restoreCode, a.deleted, a.missing], [0, 0, 1, 1]);
    assert.deepEqual([b.deleteCode, b.restoreCode, b.deleted], [0, 0, 0]);
    s.close();
    assert.equal(readFileSync(join(dir, 'log'), 'utf8'), 'del\ntcp 192.0.2.1 192.0.2.2 1 2 0\ntcp 192.0.2.1 192.0.2.2 1 3 0\nct -R /dev/stdin\n-A one\nct -R /dev/stdin\n-A two\n-A three\n');
    // 127.0.0.1 is on lo: this "target" holds the address and refuses, and the session goes on.
    const held = open(['127.0.0.1']);
    const r = await held.send({ deletes: 'tcp 192.0.2.1 192.0.2.2 1 2 0\n', restore: '-A four\n' });
    assert.deepEqual([r.deleteCode, r.restoreCode], [75, 75]);
    const r2 = await held.send({ restore: '-A five\n' });
    assert.equal(r2.restoreCode, 75);
    held.close();
    assert.doesNotMatch(readFileSync(join(dir, 'log'), 'utf8'), /four|five/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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

test('stream changes: new flows are inserted, ESTABLISHED and mark updates replaced, ended flows deleted exactly, closing states wait', () => {
  const key = 'tcp 192.0.2.10 198.51.100.200 54344 7007 0';
  const fresh = planStreamChanges([ev(NEW), ev(EST)]);
  assert.deepEqual(fresh.counts, { inserts: 0, replaces: 1, deletes: 0 });
  assert.deepEqual(fresh.deletes, [key]);
  assert.match(fresh.inserts[0]!, /^-A -p tcp .* --state ESTABLISHED -m 0$/);
  const syn = planStreamChanges([ev(NEW)]);
  assert.deepEqual([syn.counts, syn.deletes], [{ inserts: 1, replaces: 0, deletes: 0 }, []]);
  assert.deepEqual(planStreamChanges([ev(FIN)]).inserts, []);
  const gone = planStreamChanges([ev(NEW), ev(DESTROY)]);
  assert.deepEqual(gone.deletes, ['udp 192.0.2.10 198.51.100.200 35427 7007 0']);
  assert.deepEqual(gone.counts, { inserts: 1, replaces: 0, deletes: 1 });
  // A tuple that ended and came back in one batch: the old copy goes first.
  const reused = planStreamChanges([ev(DESTROY), ev(DESTROY.replace('[DESTROY]', '[NEW]').replace(' [USERSPACE] portid=2647241828 progname=conntrack', ''))]);
  assert.deepEqual(reused.counts, { inserts: 0, replaces: 1, deletes: 0 });
});

/** Points ROUTERD_CT_EVENTS at an existing file (the helper path) or at none (the conntrack -E path) for one test. */
function eventsHelper(t: { after: (fn: () => void) => void }, present: boolean): string {
  const saved = process.env['ROUTERD_CT_EVENTS'];
  const path = present ? fileURLToPath(import.meta.url) : '/nonexistent/routerd-ct-events';
  process.env['ROUTERD_CT_EVENTS'] = path;
  t.after(() => {
    if (saved === undefined) delete process.env['ROUTERD_CT_EVENTS'];
    else process.env['ROUTERD_CT_EVENTS'] = saved;
  });
  return path;
}

for (const reader of ['routerd-ct-events', 'conntrack -E'] as const) {
  test(`stream (${reader}): events go to the stream session as exact deletes and -A lines; an overrun is counted and heals with a full resync`, async (t) => {
    const helper = eventsHelper(t, reader === 'routerd-ct-events');
    const h = harness('stream');
    await h.m.update(standaloneInput(h.spec, ['198.51.100.100', '198.51.100.101']));
    await waitFor(() => h.statuses.find((x) => x.phase === 'Synced'));
    let overrun: () => void;
    if (reader === 'routerd-ct-events') {
      const readers = h.local.children.filter((c) => c.argv[0] === helper);
      assert.equal(readers.length, 1, 'one helper for both addresses');
      const events = readers[0]!;
      assert.deepEqual(events.argv, [helper, '-b', String(64 * 1024 * 1024), '--', '198.51.100.100', '198.51.100.101']);
      assert.equal(h.local.children.filter((c) => c.argv[1] === '-E').length, 0);
      // The same two events as routerd-ct-events prints them, plus one of another address the helper would have filtered.
      (events.stdout as PassThrough).write(
        'rcvbuf 67108864 134217728\n' +
          'NEW 6 0 0 392 120 1 192.0.2.10 198.51.100.200 54344 7007 - 198.51.100.200 198.51.100.100 7007 47455 -\n' +
          'NEW 6 0 0 392 120 1 192.0.2.77 198.51.100.200 54344 7007 - 198.51.100.200 198.51.100.250 7007 47455 -\n' +
          'DESTROY 17 0 0 394 0 - 192.0.2.10 198.51.100.200 35427 7007 - 198.51.100.200 198.51.100.100 7007 34843 -\n',
      );
      overrun = () => (events.stdout as PassThrough).write('overrun 1\n');
    } else {
      const events = h.local.children.filter((c) => c.argv[1] === '-E');
      assert.deepEqual(
        events.map((c) => c.argv),
        ['198.51.100.100', '198.51.100.101'].map((a) => ['conntrack', '-E', '-o', 'extended,id', '-e', 'NEW,UPDATE,DESTROY', '--src-nat', a, '--buffer-size', String(32 * 1024 * 1024)]),
      );
      (events[0]!.stdout as PassThrough).write(`${NEW}\n${DESTROY}\n`);
      overrun = () => (events[0]!.stderr as PassThrough).write('WARNING: We have hit ENOBUFS! We are losing events.\n');
    }
    const stream = await waitFor(() => (h.sessions.length > 1 && h.sessions[1]!.batches.length ? h.sessions[1] : undefined));
    assert.equal(stream.batches[0]!.deletes, 'udp 192.0.2.10 198.51.100.200 35427 7007 0\n');
    assert.match(stream.batches[0]!.restore!, /^-A -p tcp -s 192\.0\.2\.10 .* --src-nat 198\.51\.100\.100:47455 .* --state SYN_SENT -m 0\n$/);
    const dumps = h.local.spawned.filter((c) => c.argv[1] === '-L').length;
    overrun();
    // The first resync just ended: the one the overrun asks for waits MIN_RESYNC_GAP_MS after it.
    const s = await waitFor(() => h.statuses.find((x) => x.eventOverruns === 1 && x.phase === 'Synced' && h.local.spawned.filter((c) => c.argv[1] === '-L').length > dumps), MIN_RESYNC_GAP_MS + 3000);
    assert.equal(s.resyncs, 1);
    assert.ok(s.lastOverrunTime);
    await h.m.stop();
  });
}

/**
 * Stream mode started on a harness whose sessions are held: the resync's (the
 * first session opened: bulk) until `release()`, the others while `ctl.hold`
 * is set. Resolves once the first resync batch is on its way.
 */
async function heldStream(h: ReturnType<typeof harness>, helper: string) {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const ctl: { hold?: Promise<void> } = {};
  const sessions: FakeSession[] = [];
  const deps = (h.m as unknown as { deps: RoutedModeDeps }).deps;
  (deps as { session: RoutedModeDeps['session'] }).session = () => {
    const first = sessions.length === 0;
    const s = new FakeSession();
    const send = s.send.bind(s);
    s.send = async (b) => {
      const reply = await send(b);
      await (first ? gate : ctl.hold);
      return reply;
    };
    sessions.push(s);
    return s as unknown as RestoreSession;
  };
  await h.m.update(standaloneInput(h.spec, ['198.51.100.100']));
  await waitFor(() => (sessions[0]?.batches.length ? true : undefined));
  const events = h.local.children.find((c) => c.argv[0] === helper)!;
  return { sessions, release, ctl, write: (text: string) => (events.stdout as PassThrough).write(text) };
}

test('stream: after a resync, only the events of flows it wrote or pruned are applied again', async (t) => {
  const helper = eventsHelper(t, true);
  const h = harness('stream');
  const { sessions, release, write } = await heldStream(h, helper);
  // A_ONLY (the resync inserts it), SAME (the target holds it as it is: untouched), and a flow the resync never saw.
  write(
    'UPDATE 6 0 66 414 3599 3 192.0.2.10 198.51.100.200 1024 7007 - 198.51.100.200 198.51.100.100 7007 20000 -\n' +
      'UPDATE 6 0 77 414 3599 3 192.0.2.11 198.51.100.200 1025 7007 - 198.51.100.200 198.51.100.100 7007 20001 -\n' +
      'NEW 6 0 0 414 3599 3 192.0.2.50 198.51.100.200 3000 7007 - 198.51.100.200 198.51.100.100 7007 21000 -\n',
  );
  const stream = await waitFor(() => (sessions[1]?.batches.length ? sessions[1] : undefined));
  assert.equal(stream.batches[0]!.restore!.trim().split('\n').length, 3, 'all three applied at once');
  release();
  await waitFor(() => (stream.batches.length > 1 ? true : undefined));
  const again = stream.batches[1]!.restore!.trim().split('\n');
  assert.equal(again.length, 1, `only the flow the resync wrote is applied again: ${JSON.stringify(again)}`);
  assert.match(again[0]!, /-s 192\.0\.2\.10 .*--sport 1024 /);
  await h.m.stop();
});

for (const superseded of [false, true]) {
test(`stream: after a resync, replays go after the fresh events${superseded ? ', and a fresh event of a replayed flow replaces its replay' : ''}`, async (t) => {
  const helper = eventsHelper(t, true);
  const h = harness('stream');
  const held = await heldStream(h, helper);
  const { sessions, release, ctl } = held;
  const write = (line: string) => held.write(`${line}\n`);
  let open: () => void = () => undefined;
  // During the resync: an update of the flow the resync writes (A_ONLY), applied at once and kept for replay.
  write('UPDATE 6 0 66 414 3599 3 192.0.2.10 198.51.100.200 1024 7007 - 198.51.100.200 198.51.100.100 7007 20000 -');
  const stream = await waitFor(() => (sessions[1]?.batches.length ? sessions[1] : undefined));
  // Then the stream session is held with a fresh flow's batch in flight, and the resync ends.
  ctl.hold = new Promise<void>((r) => (open = r));
  write('NEW 6 0 0 414 3599 3 192.0.2.70 198.51.100.200 3070 7007 - 198.51.100.200 198.51.100.100 7007 21070 -');
  await waitFor(() => (stream.batches.length === 2 ? true : undefined));
  release();
  await new Promise((r) => setTimeout(r, 50));
  // While the replay of 192.0.2.10 waits: a fresh event of a new flow (and of 192.0.2.10 itself, mark 99).
  if (superseded) write('UPDATE 6 0 99 414 3599 3 192.0.2.10 198.51.100.200 1024 7007 - 198.51.100.200 198.51.100.100 7007 20000 -');
  write('NEW 6 0 0 414 3599 3 192.0.2.80 198.51.100.200 3080 7007 - 198.51.100.200 198.51.100.100 7007 21080 -');
  await new Promise((r) => setTimeout(r, 50));
  open();
  delete ctl.hold;
  await waitFor(() => (stream.batches.length >= (superseded ? 3 : 4) ? true : undefined));
  await new Promise((r) => setTimeout(r, 100));
  const after = stream.batches.slice(2).map((b) => b.restore ?? '');
  if (superseded) {
    assert.equal(after.length, 1, `one batch after the held one, the fresh events; no replay: ${JSON.stringify(after)}`);
    assert.match(after[0]!, /-s 192\.0\.2\.10 .* -m 99\n/);
    assert.match(after[0]!, /-s 192\.0\.2\.80 /);
    assert.doesNotMatch(after.join(''), /-m 66\n/, 'the replayed (older) event of 192.0.2.10 is not sent after the fresher one');
  } else {
    assert.equal(after.length, 2, `the fresh event, then the replay: ${JSON.stringify(after)}`);
    assert.match(after[0]!, /^-A -p tcp -s 192\.0\.2\.80 [^\n]*\n$/, 'the fresh event goes alone, first');
    assert.match(after[1]!, /-s 192\.0\.2\.10 .* -m 66\n$/, 'then the replay of the flow the resync wrote');
  }
  await h.m.stop();
});
}

test('pool push worker: settled() waits for a batch already on its way after stop(), and no batch starts after stop()', async () => {
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

test('quiesce(): a resync already under way lands before it resolves; nothing is sent after it; update() starts again', async () => {
  const h = harness('snapshot');
  let open: () => void = () => undefined;
  const gate = new Promise<void>((r) => (open = r));
  const sent: SessionBatch[] = [];
  h.m.chunkLines = 1;
  const deps = (h.m as unknown as { deps: RoutedModeDeps }).deps;
  Object.assign(deps, {
    session: () =>
      Object.assign(new FakeSession(), {
        send: async (b: SessionBatch) => {
          sent.push(b);
          await gate;
          return { deleteCode: 0, restoreCode: 0, deleted: 0, missing: 0, failed: 0, stderr: '', durationMs: 1 };
        },
      }) as unknown as RestoreSession,
  });
  await h.m.update(standaloneInput(h.spec, ['198.51.100.100']));
  await waitFor(() => (sent.length > 0 ? true : undefined));
  let quiet = false;
  const q = h.m.quiesce().then(() => (quiet = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(quiet, false, 'the resync under way has not landed yet');
  open();
  await q;
  const after = sent.length;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(sent.length, after, 'nothing sent after quiesce()');
  await h.m.update(standaloneInput(h.spec, ['198.51.100.100']));
  await waitFor(() => (sent.length > after ? true : undefined));
  await h.m.stop();
});
