import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import type { AnyResource } from '../../src/api/kinds.ts';
import { leaseSyncPath, type NodePaths } from '../../src/api/paths.ts';
import { standaloneContext } from '../../src/controllers/controller.ts';
import { LeaseSyncController } from '../../src/controllers/lease-sync/controller.ts';
import { LeaseSyncWorker, leaseSyncArgv, pushDeadlineMs, type LeaseSyncSpec, type RsyncRunner } from '../../src/controllers/lease-sync/worker.ts';
import { reconcileKind } from '../../src/controllers/plan.ts';
import { StatusStore } from '../../src/controllers/status-store.ts';
import { FakeHost } from '../../src/host/fake.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { resourcesOfFile } from '../helpers/config.ts';
import { example, fixture } from '../helpers/paths.ts';

const LEASES = await readFile(fixture('dhcp', 'dnsmasq-v4.leases'), 'utf8');

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Stands in for rsync over ssh: copies the staged source to `<root>/<host><dest>`
 * (a directory per target host), or fails for hosts listed as down.
 */
function fakeRsync(root: string, down: Set<string>, calls: string[][]): RsyncRunner {
  return async (argv) => {
    calls.push([...argv]);
    const src = argv[argv.length - 2]!;
    const remote = argv[argv.length - 1]!;
    const m = /^(?:[^@]+@)?([^:]+):(.*)$/.exec(remote)!;
    const [host, dest] = [m[1]!, m[2]!];
    if (host === '192.0.2.66') throw new Error('spawn rsync EAGAIN');
    if (down.has(host))
      return {
        code: 255,
        stdout: '',
        stderr: `ssh: connect to host ${host} port 22: Connection refused\nrsync: connection unexpectedly closed (0 bytes received so far) [sender]\nrsync error: unexplained error (code 255) at io.c(232) [sender=3.2.7]\n`,
        timedOut: false,
        durationMs: 3,
      };
    const to = join(root, host, dest);
    await mkdir(dirname(to), { recursive: true });
    await cp(src, to, { recursive: true, preserveTimestamps: true });
    return { code: 0, stdout: `Total bytes sent: 1,234\nTotal bytes received: 35\n`, stderr: '', timedOut: false, durationMs: 7 };
  };
}

async function setup(targets: { name: string; host: string }[], opts: { intervalMs?: number } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'routerd-leasesync-'));
  const paths: NodePaths = { stateDir: join(dir, 'state'), runDir: join(dir, 'run') };
  const remote = join(dir, 'remote');
  const down = new Set<string>();
  const calls: string[][] = [];
  const status = new StatusStore();
  const metrics = createMetrics();
  const path = leaseSyncPath(paths, 'DHCPv4Server', 'lan-dhcpv4');
  await mkdir(dirname(path), { recursive: true });
  const spec: LeaseSyncSpec = {
    id: 'DHCPv4ServerLeaseSync/lan-v4-leases',
    sourceKind: 'DHCPv4Server',
    sourceRef: 'DHCPv4Server/lan-dhcpv4',
    path,
    intervalMs: opts.intervalMs ?? 3_600_000,
    targets: targets.map((t) => ({ ...t, port: 22, user: 'routerd', sshOptions: [], options: [] })),
  };
  const worker = new LeaseSyncWorker(spec, {
    host: new FakeHost(),
    paths,
    log: createLogger({ node: 't', level: 'silent' }),
    metrics,
    status,
    generation: () => 1,
    runner: fakeRsync(remote, down, calls),
    debounceMs: 5,
    emptyConfirmMs: 100,
  });
  const onTarget = (host: string) => readFile(join(remote, host, path), 'utf8').catch(() => undefined);
  const st = () => status.get(spec.id);
  return { dir, paths, path, worker, status, st, metrics, down, calls, onTarget, cleanup: async () => { await worker.stop(); await rm(dir, { recursive: true, force: true }); } };
}

test('lease sync: Pending/SourceMissing until dnsmasq writes the file, then Synced as soon as it appears', async () => {
  const s = await setup([{ name: 'standby', host: '192.0.2.3' }]);
  try {
    await s.worker.start();
    const missing = await until('SourceMissing', () => s.st()?.reason === 'SourceMissing' && s.st());
    assert.equal(missing.phase, 'Pending');
    assert.match(missing.message, /does not exist yet/);
    // The interval is an hour: only the watch can notice the new file.
    await writeFile(s.path, LEASES);
    const synced = await until('Synced', () => s.st()?.phase === 'Synced' && s.st());
    assert.equal(synced.reason, 'Synced');
    assert.equal(await s.onTarget('192.0.2.3'), LEASES);
    const [t] = synced.targets as Record<string, unknown>[];
    assert.deepEqual(Object.keys(t!), ['name', 'host', 'phase', 'lastSyncTime', 'bytes', 'durationMs', 'error']);
    assert.equal(t!.name, 'standby');
    assert.equal(t!.phase, 'Synced');
    assert.equal(t!.bytes, 1234);
    assert.equal(t!.error, null);
    assert.match(String(t!.lastSyncTime), /^\d{4}-\d\d-\d\dT/);
    assert.equal(synced.leaseFile, s.path);
    const m = await s.metrics.registry.getSingleMetricAsString('routerd_lease_sync_total');
    assert.match(m, /routerd_lease_sync_total\{resource="DHCPv4ServerLeaseSync\/lan-v4-leases",target="standby",outcome="ok"\} 1/);
  } finally {
    await s.cleanup();
  }
});

test('lease sync: a push that throws is SyncFailed with backoff, never an unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  const s = await setup([{ name: 'broken', host: '192.0.2.66' }]);
  try {
    await s.worker.start();
    await writeFile(s.path, LEASES);
    const failed = await until('SyncFailed', () => s.st()?.reason === 'SyncFailed' && s.st());
    assert.equal(failed.phase, 'Failed');
    assert.match(failed.message, /broken: spawn rsync EAGAIN \(retry in 1s\)/);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await s.cleanup();
  }
});

test('lease sync: a change on the source reaches the target without waiting for the interval', async () => {
  const s = await setup([{ name: 'standby', host: '192.0.2.3' }]);
  try {
    await writeFile(s.path, LEASES);
    await s.worker.start();
    await until('first copy', async () => (await s.onTarget('192.0.2.3')) === LEASES);
    // dnsmasq renews a lease: same length, rewritten in place.
    const renewed = LEASES.replace('1795442714', '1795442999');
    await writeFile(s.path, renewed);
    await until('renewed copy', async () => (await s.onTarget('192.0.2.3')) === renewed);
    const argv = s.calls.at(-1)!;
    assert.ok(argv.includes('--checksum'), 'same-size rewrites are not skipped by the quick check');
    assert.equal(argv.at(-1), `routerd@192.0.2.3:${s.path}`, 'the same derived path on the target');
  } finally {
    await s.cleanup();
  }
});

test('lease sync: a truncated or garbage source is not pushed over the good copy, and says why', async () => {
  const s = await setup([{ name: 'standby', host: '192.0.2.3' }]);
  try {
    await writeFile(s.path, LEASES);
    await s.worker.start();
    await until('good copy', async () => (await s.onTarget('192.0.2.3')) === LEASES);
    const pushes = s.calls.length;
    await writeFile(s.path, LEASES.slice(0, 150)); // cut mid-line
    const bad = await until('SourceInvalid', () => s.st()?.reason === 'SourceInvalid' && s.st(), 8000);
    assert.equal(bad.phase, 'Failed');
    assert.match(bad.message, /line 2: ends mid-line \(truncated\); not pushed, targets keep their last good copy/);
    assert.equal(await s.onTarget('192.0.2.3'), LEASES);
    await writeFile(s.path, '\u0000\u0001garbage that is not a lease file');
    await until('still invalid, new reason', () => /NUL bytes|fields/.test(s.st()?.message ?? ''), 8000);
    assert.equal(s.calls.length, pushes, 'nothing was pushed while the source was invalid');
    assert.equal(await s.onTarget('192.0.2.3'), LEASES);
    const m = await s.metrics.registry.getSingleMetricAsString('routerd_lease_sync_total');
    assert.match(m, /target="-",outcome="invalid"\} [12]/);
    // Fixed at the source: syncing resumes.
    await writeFile(s.path, LEASES.replace('laptop', 'desktop'));
    await until('Synced again', () => s.st()?.phase === 'Synced', 8000);
    assert.match((await s.onTarget('192.0.2.3')) ?? '', /desktop/);
  } finally {
    await s.cleanup();
  }
});

test('lease sync: an empty file must stay empty before it replaces leases (dnsmasq truncates, then writes)', async () => {
  const s = await setup([{ name: 'standby', host: '192.0.2.3' }]);
  try {
    await writeFile(s.path, LEASES);
    await s.worker.start();
    await until('good copy', async () => (await s.onTarget('192.0.2.3')) === LEASES);
    await writeFile(s.path, '');
    await new Promise((r) => setTimeout(r, 30));
    await writeFile(s.path, `${LEASES}1795449999 02:00:00:00:00:09 192.0.2.160 * *\n`);
    await until('new copy', async () => /192\.0\.2\.160/.test((await s.onTarget('192.0.2.3')) ?? ''));
    // Every push carried leases: the transient empty file never reached the target.
    for (const argv of s.calls) assert.ok(argv.includes('--checksum'));
    // All leases released for real: the empty file is pushed once it stays empty.
    await writeFile(s.path, '');
    await until('empty copy', async () => (await s.onTarget('192.0.2.3')) === '', 5000);
  } finally {
    await s.cleanup();
  }
});

test('lease sync: a target that is down does not stop the others; it is retried with backoff', async () => {
  const s = await setup([
    { name: 'standby', host: '192.0.2.3' },
    { name: 'spare', host: '192.0.2.9' },
  ]);
  s.down.add('192.0.2.9');
  try {
    await writeFile(s.path, LEASES);
    await s.worker.start();
    const st = await until('standby synced, spare failed', () => {
      const x = s.st();
      const ts = (x?.targets ?? []) as Record<string, unknown>[];
      return ts[0]?.phase === 'Synced' && ts[1]?.phase === 'SyncFailed' && x;
    });
    assert.equal(st.phase, 'Degraded');
    assert.equal(st.reason, 'SyncFailed');
    assert.match(st.message, /^spare: rsync exited 255: ssh: connect to host 192\.0\.2\.9 port 22: Connection refused \| rsync: connection unexpectedly closed/);
    const spare = (st.targets as Record<string, unknown>[])[1]!;
    assert.match(String(spare.error), /\(retry in 1s\)$/);
    assert.equal(await s.onTarget('192.0.2.3'), LEASES);
    // The standby keeps receiving changes while the spare is down.
    const changed = LEASES.replace('laptop', 'tablet');
    await writeFile(s.path, changed);
    await until('standby has the change', async () => (await s.onTarget('192.0.2.3')) === changed);
    // The spare comes back: the backoff retry delivers the latest state.
    const failures = s.calls.filter((a) => a.at(-1)!.includes('192.0.2.9')).length;
    assert.ok(failures >= 1);
    s.down.delete('192.0.2.9');
    await until('spare caught up', async () => (await s.onTarget('192.0.2.9')) === changed, 8000);
    await until('all Synced', () => s.st()?.phase === 'Synced', 5000);
  } finally {
    await s.cleanup();
  }
});

test('prefix delegation sync: dhcpcd\'s state dir goes over whole, mtimes kept; a cut lease6 is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'routerd-leasesync-'));
  const paths: NodePaths = { stateDir: join(dir, 'state'), runDir: join(dir, 'run') };
  const status = new StatusStore();
  const calls: string[][] = [];
  const path = leaseSyncPath(paths, 'DHCPv6PrefixDelegation', 'wan-pd');
  const worker = new LeaseSyncWorker(
    {
      id: 'DHCPv6PrefixDelegationLeaseSync/wan-pd-lease',
      sourceKind: 'DHCPv6PrefixDelegation',
      sourceRef: 'DHCPv6PrefixDelegation/wan-pd',
      path,
      intervalMs: 3_600_000,
      targets: [{ name: 'peer', host: '192.0.2.3', port: 22, user: 'root', sshOptions: [], options: [] }],
    },
    { host: new FakeHost(), paths, log: createLogger({ node: 't', level: 'silent' }), metrics: createMetrics(), status, generation: () => 1, runner: fakeRsync(join(dir, 'remote'), new Set(), calls), debounceMs: 5 },
  );
  const st = () => status.get('DHCPv6PrefixDelegationLeaseSync/wan-pd-lease');
  const remote = (name: string) => join(dir, 'remote', '192.0.2.3', path, name);
  try {
    await mkdir(path, { recursive: true });
    await worker.start();
    await until('SourceMissing', () => st()?.reason === 'SourceMissing');
    const lease = await readFile(fixture('dhcp', 'dhcpcd-pd-wan0.lease6'));
    await writeFile(join(path, 'wan0.lease6'), lease);
    await utimes(join(path, 'wan0.lease6'), 1700000000.25, 1700000000.25);
    await writeFile(join(path, 'duid'), await readFile(fixture('dhcp', 'dhcpcd-duid')));
    const synced = await until('Synced', () => st()?.phase === 'Synced' && st());
    assert.match(synced.message, /DUID 00:01:00:01:32:97:04:39:4a:60:3f:ce:87:42, delegated 2001:db8:100::\/56/);
    assert.deepEqual(await readFile(remote('wan0.lease6')), lease);
    assert.equal((await stat(remote('wan0.lease6'))).mtimeMs, 1700000000250, 'dhcpcd ages the lease from its mtime');
    assert.ok(calls.at(-1)!.includes('--delete'));
    assert.equal(calls.at(-1)!.at(-1), `root@192.0.2.3:${path}`);
    // dhcpcd rewrites lease6 in place: a half-written one is not pushed.
    await writeFile(join(path, 'wan0.lease6'), lease.subarray(0, 50));
    const bad = await until('SourceInvalid', () => st()?.reason === 'SourceInvalid' && st(), 8000);
    assert.match(bad.message, /wan0\.lease6: message: option 25 claims 41 bytes, 6 left \(truncated\); not pushed/);
    assert.deepEqual(await readFile(remote('wan0.lease6')), lease);
  } finally {
    await worker.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('lease sync argv: seed 002 target options, derived paths, deadline above rsync and ssh timeouts', async () => {
  const target = { name: 'standby', host: 'routerd-standby.lan.example', port: 22, user: 'routerd', sshOptions: ['-o', 'ConnectTimeout=5'], options: ['--timeout=30'] };
  const spec = { sourceKind: 'DHCPv6Server' as const, path: '/var/lib/routerd/dnsmasq/dhcpv6-server-lan-dhcpv6.leases' };
  const argv = leaseSyncArgv(spec, target, '/run/routerd/lease-sync/x/dhcpv6-server-lan-dhcpv6.leases', '/run/routerd/ssh/ssh-config-0123456789abcdef');
  assert.deepEqual(argv, [
    'rsync',
    '--archive',
    '--delay-updates',
    '--protect-args',
    '--mkpath',
    '--stats',
    '--checksum',
    '--timeout=30',
    '-e',
    'ssh -F /run/routerd/ssh/ssh-config-0123456789abcdef',
    '--',
    '/run/routerd/lease-sync/x/dhcpv6-server-lan-dhcpv6.leases',
    'routerd@routerd-standby.lan.example:/var/lib/routerd/dnsmasq/dhcpv6-server-lan-dhcpv6.leases',
  ]);
  assert.equal(pushDeadlineMs(target), (30 + 5 + 20) * 1000);
  assert.equal(pushDeadlineMs({ ...target, sshOptions: [], options: [] }), (60 + 10 + 20) * 1000);
  const pd = leaseSyncArgv({ sourceKind: 'DHCPv6PrefixDelegation', path: '/var/lib/routerd/dhcpcd/wan-pd/' }, { ...target, options: [] }, '/run/x/state/', '/run/routerd/ssh/ssh-config-0123456789abcdef');
  assert.ok(pd.includes('--delete') && pd.includes('--timeout=60'));
  assert.deepEqual(pd.slice(-2), ['/run/x/state/', 'routerd@routerd-standby.lan.example:/var/lib/routerd/dhcpcd/wan-pd/']);
});

test('lease sync controller: runs only while spec.when holds; the gate shutting stops the sync', async () => {
  const resources = (await resourcesOfFile(example('dhcp-lease-sync-ha.yaml'))) as AnyResource[];
  const dir = await mkdtemp(join(tmpdir(), 'routerd-leasesync-'));
  const paths: NodePaths = { stateDir: join(dir, 'state'), runDir: join(dir, 'run') };
  const status = new StatusStore();
  const calls: string[][] = [];
  const c = new LeaseSyncController('DHCPv4ServerLeaseSync', 'dhcpv4-server-lease-sync', { runner: fakeRsync(join(dir, 'remote'), new Set(), calls), debounceMs: 5 });
  const ctx = standaloneContext({ host: new FakeHost(), paths, nodeName: 'node1', status });
  const pass = async (role: string | undefined) => {
    const opts = { paths, nodeName: 'node1', reported: (k: string, n: string, f: string) => (k === 'VirtualAddress' && f === 'role' ? role : undefined) };
    const observed = { interfaces: [], files: new Map(), existing: new Set([leaseSyncPath(paths, 'DHCPv4Server', 'lan-dhcpv4')]), nftTables: new Map() };
    await reconcileKind(c, resources, observed, opts, ctx);
  };
  const id = 'DHCPv4ServerLeaseSync/lan-v4-leases';
  try {
    await mkdir(join(paths.stateDir, 'dnsmasq'), { recursive: true });
    await writeFile(leaseSyncPath(paths, 'DHCPv4Server', 'lan-dhcpv4'), LEASES);
    await pass('backup');
    assert.equal(status.get(id)?.reason, 'WhenFalse');
    assert.match(String(status.get(id)?.message), /VirtualAddress\/lan-vip\.role is "backup", want equals "master"|role/);
    await pass('master');
    await until('Synced', () => status.get(id)?.phase === 'Synced');
    const pushed = calls.length;
    await pass('backup');
    assert.equal(status.get(id)?.reason, 'WhenFalse');
    assert.equal((status.get(id)?.targets as { phase: string }[])[0]?.phase, 'Paused', 'the last push stays visible');
    await writeFile(leaseSyncPath(paths, 'DHCPv4Server', 'lan-dhcpv4'), LEASES.replace('laptop', 'other'));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(calls.length, pushed, 'a backup pushes nothing');
  } finally {
    await c.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
