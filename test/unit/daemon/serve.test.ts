import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { apiGet } from '../../../src/daemon/api-client.ts';
import { apiPost } from '../../../src/cli/api-post.ts';
import { socketPath } from '../../../src/api/paths.ts';
import { parseListen } from '../../../src/daemon/listen.ts';
import { AlreadyRunningError, acquireLock, lockPath } from '../../../src/daemon/lock.ts';
import { destructiveChange } from '../../../src/daemon/reload-guard.ts';
import { startDaemon, type ReloadOutcome } from '../../../src/daemon/serve.ts';
import { FakeHost } from '../../../src/host/fake.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import type { AnyResource } from '../../../src/api/kinds.ts';
import { example } from '../../helpers/paths.ts';

async function daemonDir() {
  const dir = await mkdtemp(join(tmpdir(), 'routerd-serve-'));
  const config = join(dir, 'router.yaml');
  await copyFile(example('lab/router-a.yaml'), config);
  const paths = { runDir: join(dir, 'run'), stateDir: join(dir, 'state') };
  return { dir, config, paths };
}

function start(d: Awaited<ReturnType<typeof daemonDir>>) {
  return startDaemon({ configPath: d.config, paths: d.paths, nodeName: 'ra', controllers: [], host: new FakeHost(), log: createLogger({ node: 'ra', level: 'silent' }), resyncMs: 3_600_000 });
}

test('--listen: loopback HOST:PORT only; ":9556" and "9555" are errors, not every interface or host 955', () => {
  assert.deepEqual(parseListen('127.0.0.1:9555', false), { host: '127.0.0.1', port: 9555 });
  assert.deepEqual(parseListen('[::1]:9555', false), { host: '::1', port: 9555 });
  assert.deepEqual(parseListen('localhost:9555', false), { host: 'localhost', port: 9555 });
  assert.match(String(parseListen(':9556', false)), /has no host, which would listen on every interface/);
  assert.match(String(parseListen(':9556', true)), /has no host/);
  assert.match(String(parseListen('9555', false)), /has no host; write HOST:PORT, e.g. 127.0.0.1:9555/);
  assert.match(String(parseListen('::1', false)), /has no port/);
  assert.match(String(parseListen('127.0.0.1:0', false)), /outside 1-65535/);
  assert.match(String(parseListen('127.0.0.1:70000', false)), /outside 1-65535/);
  assert.match(String(parseListen('192.0.2.1:9555', false)), /not a loopback address; the TCP API has no authentication/);
  assert.match(String(parseListen('0.0.0.0:9555', false)), /--listen-allow-remote/);
  assert.deepEqual(parseListen('0.0.0.0:9555', true), { host: '0.0.0.0', port: 9555 });
  assert.match(String(parseListen('router.example:9555', true)), /IP address or localhost/);
});

test('reload guard: empty config, or one removing every VIP, NAT rule or DHCP server, is destructive', () => {
  const r = (kind: string, name = 'x') => ({ kind, metadata: { name }, spec: {} }) as unknown as AnyResource;
  const running = [r('Interface'), r('VirtualAddress'), r('NAT44Rule'), r('DHCPv4Server')];
  assert.match(destructiveChange(running, []) ?? '', /no resources at all/);
  assert.match(destructiveChange(running, [r('Interface'), r('NAT44Rule'), r('DHCPv4Server')]) ?? '', /removes every VirtualAddress$/);
  assert.match(destructiveChange(running, [r('Interface')]) ?? '', /every VirtualAddress, every NAT44Rule, every DHCP server/);
  assert.equal(destructiveChange(running, [r('VirtualAddress'), r('NAT44Rule'), r('DHCPv6Server')]), undefined);
  assert.equal(destructiveChange([r('Interface')], [r('Interface', 'y')]), undefined);
  assert.equal(destructiveChange([], []), undefined);
});

test('lock: a live holder is named; a dead one is taken over', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'routerd-lock-'));
  try {
    const lock = await acquireLock(dir);
    await assert.rejects(acquireLock(dir, process.pid + 1), (e: unknown) => e instanceof AlreadyRunningError && e.pid === process.pid && /already running/.test(e.message));
    await lock.release();
    // A PID that does not exist: stale.
    await writeFile(lockPath(dir), '999999999\n');
    const again = await acquireLock(dir);
    assert.match(await readFile(lockPath(dir), 'utf8'), new RegExp(`^${process.pid} \\d+\n$`));
    await again.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('reload: an empty file is refused and the running config stays; --allow-removal applies it', async () => {
  const d = await daemonDir();
  const daemon = await start(d);
  try {
    const before = daemon.manager.config.length;
    assert.ok(before > 0);
    await writeFile(d.config, '');
    const refused = await daemon.reload({ trigger: 'SIGHUP' });
    assert.equal(refused.outcome, 'refused');
    assert.match(refused.message, /no resources at all.*the running config stays.*routerctl reload --allow-removal/);
    assert.equal(daemon.manager.config.length, before);
    const status = await apiGet<{ lastReload: { outcome: string; message: string } }>(socketPath(d.paths), '/api/v1/status');
    assert.equal(status.body.lastReload.outcome, 'refused');
    const metrics = await apiGet<string>(socketPath(d.paths), '/metrics');
    assert.match(metrics.body, /routerd_config_reloads_total\{outcome="refused"\} 1/);
    // Through the API (what routerctl reload sends): refused without the flag, applied with it.
    const viaApi = await apiPost<ReloadOutcome>(socketPath(d.paths), '/api/v1/reload', {});
    assert.equal(viaApi.status, 409);
    const allowed = await apiPost<ReloadOutcome>(socketPath(d.paths), '/api/v1/reload', { allowRemoval: true });
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
    assert.equal(daemon.manager.config.length, 0);
  } finally {
    await daemon.shutdown();
    await rm(d.dir, { recursive: true, force: true });
  }
});

test('reload: requests are serialised and the last one decides', async () => {
  const d = await daemonDir();
  const daemon = await start(d);
  try {
    const full = await readFile(d.config, 'utf8');
    // A large file first (slow to parse), then a small one; both reloads asked for at once.
    const big = `${full}\n${Array.from({ length: 300 }, (_, i) => `- apiVersion: net.routerd.net/v1alpha1\n  kind: Interface\n  metadata: {name: extra-${i}}\n  spec: {ifname: ex${i}}\n`).join('')}`;
    await writeFile(d.config, big);
    const first = daemon.reload({ trigger: 'SIGHUP' });
    const second = (async () => {
      await new Promise((r) => setImmediate(r));
      // As an editor saves: a new file renamed over the old one.
      await writeFile(`${d.config}.new`, full);
      await rename(`${d.config}.new`, d.config);
      return daemon.reload({ trigger: 'SIGHUP' });
    })();
    const outcomes = await Promise.all([first, second]);
    assert.deepEqual(outcomes.map((o) => o.outcome), ['applied', 'applied'], JSON.stringify(outcomes));
    assert.ok(!daemon.manager.config.some((r) => r.metadata.name.startsWith('extra-')), 'the daemon ends on the file of the last reload');
  } finally {
    await daemon.shutdown();
    await rm(d.dir, { recursive: true, force: true });
  }
});

test('one daemon per run dir: a second start fails at once naming the PID; the first keeps its socket and answers', async () => {
  const d = await daemonDir();
  const daemon = await start(d);
  try {
    await assert.rejects(start(d), (e: unknown) => e instanceof AlreadyRunningError && e.pid === process.pid);
    const h = await apiGet<{ status: string }>(socketPath(d.paths), '/healthz');
    assert.equal(h.status, 200);
  } finally {
    await daemon.shutdown();
  }
  // Released on shutdown: the next start takes it.
  const next = await start(d);
  await next.shutdown();
  await rm(d.dir, { recursive: true, force: true });
});

test('startup refuses an empty config and bad --node / --run-dir values', async () => {
  const d = await daemonDir();
  try {
    await writeFile(d.config, '');
    await assert.rejects(start(d), /has no resources; routerd did not start/);
    const bad = (nodeName: string, runDir: string) =>
      startDaemon({ configPath: d.config, paths: { runDir, stateDir: d.paths.stateDir }, nodeName, controllers: [], host: new FakeHost(), log: createLogger({ node: 'x', level: 'silent' }) });
    await assert.rejects(bad('ra\nvrrp_script x {', d.paths.runDir), /--node/);
    await assert.rejects(bad('ra', '/run/routerd dir'), /--run-dir/);
    await assert.rejects(bad('ra', 'relative/run'), /--run-dir/);
    await assert.rejects(bad('ra', '/run/../etc'), /--run-dir/);
  } finally {
    await rm(d.dir, { recursive: true, force: true });
  }
});
