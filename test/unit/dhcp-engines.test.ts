import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FakeProcs } from '../helpers/fake-procs.ts';
import type { AnyResource } from '../../src/api/kinds.ts';
import { dnsmasqPaths } from '../../src/api/paths.ts';
import { standaloneContext } from '../../src/controllers/controller.ts';
import { DhcpServerController } from '../../src/controllers/dhcp-server/controller.ts';
import { reconcileKind } from '../../src/controllers/plan.ts';
import { StatusStore } from '../../src/controllers/status-store.ts';
import { BIND_AND_EXEC, dhcpcdArgv, dhcpcdPidFile, privateMountsArgv } from '../../src/engines/dhcpcd/engine.ts';
import { DnsmasqEngine, dnsmasqArgv } from '../../src/engines/dnsmasq/engine.ts';
import { FakeHost } from '../../src/host/fake.ts';
import { resourcesOfFile } from '../helpers/config.ts';
import { example, fixture } from '../helpers/paths.ts';

test('dnsmasq argv: foreground, logging to its log file, one config per server', () => {
  assert.deepEqual(dnsmasqArgv('/run/routerd/dnsmasq/dhcpv4-server-lan-dhcpv4.conf'), [
    'dnsmasq',
    '--keep-in-foreground',
    '--log-facility=-',
    '--conf-file=/run/routerd/dnsmasq/dhcpv4-server-lan-dhcpv4.conf',
  ]);
});

test('dhcpcd argv: a private mount namespace binds the derived state dir over /var/lib/dhcpcd', () => {
  const f = { conf: '/run/routerd/dhcpcd/wan-pd.conf', stateDir: '/var/lib/routerd/dhcpcd/wan-pd', runDir: '/run/routerd/dhcpcd/wan-pd', logFile: '/run/routerd/dhcpcd/wan-pd.log', ifname: 'wan0' };
  assert.deepEqual(dhcpcdArgv(f), [
    'unshare', '--mount', '--propagation', 'private', '--',
    'sh', '-c', BIND_AND_EXEC, 'routerd-mounts',
    '/var/lib/routerd/dhcpcd/wan-pd', '/var/lib/dhcpcd',
    '/run/routerd/dhcpcd/wan-pd', '/run/dhcpcd',
    '--',
    'dhcpcd', '--nobackground', '--config', '/run/routerd/dhcpcd/wan-pd.conf', 'wan0',
  ]);
  assert.equal(dhcpcdPidFile(f), '/run/routerd/dhcpcd/wan-pd/wan0.pid');
  assert.throws(() => privateMountsArgv([{ source: '--', target: '/x' }], ['true']), /not a path/);
});

test('the bind-and-exec script passes paths and argv through verbatim (no shell interpretation)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'routerd-bind-'));
  try {
    // A stand-in `mount` that records its argv, one per line.
    const log = join(dir, 'mount.log');
    await writeFile(join(dir, 'mount'), `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> ${log}; done\n`);
    await chmod(join(dir, 'mount'), 0o755);
    const nasty = "/tmp/it's $(id) `x` a b";
    const argv = privateMountsArgv([{ source: nasty, target: '/var/lib/dhcpcd' }], ['printf', '%s|', 'a b', '$HOME', ';', '*']).slice(5);
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { PATH: `${dir}:/usr/bin:/bin` } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'a b|$HOME|;|*|');
    assert.deepEqual((await readFile(log, 'utf8')).split('\n').filter(Boolean), ['--bind', '--', nasty, '/var/lib/dhcpcd']);
    // A failing mount stops before the daemon runs.
    await writeFile(join(dir, 'mount'), '#!/bin/sh\nexit 32\n');
    const f = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { PATH: `${dir}:/usr/bin:/bin` } });
    assert.equal(f.status, 111);
    assert.equal(f.stdout, '');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('dnsmasq engine: a config change restarts a running dnsmasq; a running one is adopted from its pid file', async () => {
  const host = new FakeHost();
  const procs = new FakeProcs();
  const files = { ...dnsmasqPaths({ stateDir: '/var/lib/routerd', runDir: '/run/routerd' }, 'DHCPv4Server', 'lan-dhcpv4'), logFile: '/run/routerd/dnsmasq/x.log' };
  const e = new DnsmasqEngine(host, files, () => undefined, procs);
  assert.equal(await e.writeConfig('conf 1\n'), true);
  assert.equal(await e.run(true), 'started');
  assert.deepEqual(host.spawned.map((c) => c.argv), [dnsmasqArgv(files.conf)]);
  assert.equal(await e.writeConfig('conf 1\n'), false);
  assert.equal(await e.run(false), 'running');
  assert.equal(await e.writeConfig('conf 2\n'), true);
  assert.equal(await e.run(true), 'restarted');
  assert.equal(procs.killed[0]?.[1], 'SIGTERM');
  assert.equal(host.spawned.length, 2);
  // routerd restarts: a new engine finds the running dnsmasq by its pid file and command line.
  await e.stop(true);
  host.files.set(files.pidFile, '4242\n');
  procs.cmdlines.set(4242, dnsmasqArgv(files.conf));
  const again = new DnsmasqEngine(host, files, () => undefined, procs);
  assert.equal(await again.run(false), 'adopted');
  assert.equal(host.spawned.length, 2);
  // A pid file naming some other process is not adopted.
  const other = new FakeProcs();
  other.cmdlines.set(4242, ['dnsmasq', '--conf-file=/etc/dnsmasq.conf']);
  assert.equal(await new DnsmasqEngine(host, files, () => undefined, other).run(false), 'started');
});

test('DHCP server controller: dnsmasq only on the master; promotion starts it on the synced lease file, demotion stops it', async () => {
  const resources = (await resourcesOfFile(example('dhcp-lease-sync-ha.yaml'))) as AnyResource[];
  const paths = { stateDir: '/var/lib/routerd', runDir: '/run/routerd' };
  const host = new FakeHost();
  const procs = new FakeProcs();
  const status = new StatusStore();
  const leaseFile = dnsmasqPaths(paths, 'DHCPv6Server', 'lan-dhcpv6').leaseFile;
  // The captured leases, still valid (expiry in 2100).
  host.files.set(leaseFile, (await readFile(fixture('dhcp', 'dnsmasq-v6.leases'), 'utf8')).replace(/^\d+ /gm, '4102444800 '));
  const c = new DhcpServerController('DHCPv6Server', 'dhcpv6-server', (ctx, _r, files) => new DnsmasqEngine(ctx.host, files, () => undefined, procs));
  const ctx = standaloneContext({ host, paths, nodeName: 'node1', status });
  const pass = async (role: string) => {
    const opts = { paths, nodeName: 'node1', reported: (k: string, _n: string, f: string) => (k === 'VirtualAddress' && f === 'role' ? role : undefined) };
    const observed = { interfaces: [], files: new Map(), existing: new Set<string>(), nftTables: new Map() };
    await reconcileKind(c, resources, observed, opts, ctx);
    return status.get('DHCPv6Server/lan-dhcpv6')!;
  };
  const backup = await pass('backup');
  assert.equal(host.spawned.length, 0, 'no dnsmasq on the backup');
  assert.equal(backup.reason, 'WhenFalse');
  assert.equal(backup.leaseCount, 2);
  assert.equal(backup.serverDuid, '00:01:00:01:32:97:04:18:b2:70:9d:82:90:a1');
  assert.match(backup.message, /holds 2 synced lease\(s\) for promotion/);
  assert.match(String(host.files.get('/run/routerd/dnsmasq/dhcpv6-server-lan-dhcpv6.conf')), /dhcp-leasefile=\/var\/lib\/routerd\/dnsmasq\/dhcpv6-server-lan-dhcpv6\.leases/);

  const master = await pass('master');
  assert.equal(host.spawned.length, 1);
  assert.deepEqual(host.spawned[0]!.argv, dnsmasqArgv('/run/routerd/dnsmasq/dhcpv6-server-lan-dhcpv6.conf'));
  assert.equal(master.phase, 'Ready');
  assert.match(String(master.process), /^running \(pid \d+\)$/);
  // The synced file's server DUID is kept: the promoted router answers Renews addressed to it.
  assert.equal(master.serverDuid, '00:01:00:01:32:97:04:18:b2:70:9d:82:90:a1');
  assert.match(host.files.get(leaseFile)!, /^duid 00:01:00:01:32:97:04:18:b2:70:9d:82:90:a1$/m, 'the synced file is used as it is');

  // routerd restarts on the master: while the role is not known yet, the
  // running dnsmasq is adopted and left alone (as keepalived is), not restarted.
  await c.stop({ keepEngines: true });
  host.files.set(dnsmasqPaths(paths, 'DHCPv6Server', 'lan-dhcpv6').pidFile, '100001\n');
  procs.cmdlines.set(100001, dnsmasqArgv('/run/routerd/dnsmasq/dhcpv6-server-lan-dhcpv6.conf'));
  const unknown = await pass('unknown');
  assert.equal(host.spawned.length, 1, 'not restarted');
  assert.equal(procs.killed.length, 0, 'not stopped');
  assert.match(unknown.message, /role of the VIP not known yet; dnsmasq left running \(adopted, pid 100001\)/);
  assert.equal((await pass('master')).process, 'running (pid 100001, adopted)');

  const demoted = await pass('backup');
  assert.equal(procs.killed.length, 1);
  assert.equal(procs.killed[0]![1], 'SIGTERM');
  assert.equal(demoted.process, 'stopped');
  await c.stop({ keepEngines: false });
});

test('a rendered config the engine refuses (dnsmasq --test, keepalived --config-test) is never installed', async () => {
  const host = new FakeHost().on((argv) => argv[0] === 'dnsmasq' && argv[1] === '--test', { code: 1, stderr: 'dnsmasq: bad dhcp-range at line 3 of /run/routerd/dnsmasq/x.conf.candidate\n' });
  const files = { ...dnsmasqPaths({ stateDir: '/var/lib/routerd', runDir: '/run/routerd' }, 'DHCPv4Server', 'lan-dhcpv4'), logFile: '/run/routerd/dnsmasq/x.log' };
  host.files.set(files.conf, 'the running config\n');
  const e = new DnsmasqEngine(host, files, () => undefined, new FakeProcs());
  await assert.rejects(e.writeConfig('dhcp-range=broken\n'), /dnsmasq refused the rendered config \(dnsmasq exited 1: dnsmasq: bad dhcp-range.*\); the running config stays/);
  assert.equal(host.files.get(files.conf), 'the running config\n');
  assert.equal(host.files.has(`${files.conf}.candidate`), false, 'the candidate is removed');
  assert.deepEqual(host.calls.map((c) => c.argv), [['dnsmasq', '--test', `--conf-file=${files.conf}.candidate`]]);
  // Accepted: installed.
  const ok = new FakeHost().on(['dnsmasq', '--test'], { code: 0, stderr: 'dnsmasq: syntax check OK.\n' });
  assert.equal(await new DnsmasqEngine(ok, files, () => undefined, new FakeProcs()).writeConfig('dhcp-range=fine\n'), true);
  assert.equal(ok.files.get(files.conf), 'dhcp-range=fine\n');
});
