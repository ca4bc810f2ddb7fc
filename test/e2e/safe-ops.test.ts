// Issue 13: safe to operate. In the lab, with real keepalived, nftables and
// flows: a truncated config on SIGHUP is refused and the VIP, the NAT table and
// every flow stay; an apply --confirm nobody confirms rolls back with the
// VIP, the NAT and every flow intact; a second routerd on the same node is
// refused and the first keeps answering; rsync's real argv against a real sshd
// pushes a lease file and a hostile ssh option never reaches ssh (no command
// runs).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { apiGet } from '../../src/daemon/api-client.ts';
import { leaseSyncArgv } from '../../src/controllers/lease-sync/worker.ts';
import { startRouterd, ROUTERCTL_BIN, ROUTERD_BIN, LAB_CONFIG_PATH, type RouterdProcess } from '../../src/lab/routerd.ts';
import { enableLabSsh, type LabSsh } from '../../src/lab/sshd.ts';
import { createLab, labPrefix, type Lab } from '../../src/lab/topology.ts';
import { startEchoFlows, startTcpEchoServer, type EchoServer } from '../../src/lab/traffic.ts';
import { rsyncSshConfig } from '../../src/transport/rsync.ts';
import { requireE2E } from '../helpers/e2e.ts';
import { holders, installConfig, labConfig, stopAll, until, verboseEcho } from '../helpers/lab.ts';

const VIP = '192.0.2.1';
const SNAT = '198.51.100.100';
const SERVER = '198.51.100.200';
const PORT = 7007;
const FLOWS = 25;
const CONTROLLERS = ['interface', 'virtual-address', 'nat44-rule'];
const MARKER = '/run/routerd/pwned';

test('safe operations: reload guard, apply --confirm, one daemon per node, rsync without a shell string', { timeout: 180_000 }, async (t) => {
  if (!(await requireE2E(t, ['keepalived', 'nft', 'conntrack', 'rsync', 'ssh', 'sshd']))) return;
  const lab: Lab = await createLab({ prefix: labPrefix('safe') });
  let ra: RouterdProcess | undefined;
  let server: EchoServer | undefined;
  let ssh: LabSsh | undefined;
  try {
    await installConfig(lab.nodes.ra, await labConfig('a'));
    server = await startTcpEchoServer(lab.nodes.server, PORT);
    ra = await startRouterd(lab.nodes.ra, { controllers: CONTROLLERS, echo: verboseEcho });
    await ra.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master');
    await ra.waitFor('NAT44Rule/lan-out', (r) => r.status.phase === 'Ready');

    await t.test('an empty config on SIGHUP is refused: the VIP, the NAT table and every flow stay', async () => {
      const flows = await startEchoFlows(lab.nodes.client, { target: SERVER, port: PORT, protocol: 'tcp', count: FLOWS, intervalMs: 100, durationMs: 30_000 });
      assert.equal(flows.ready.established, FLOWS);
      await installConfig(lab.nodes.ra, '');
      const before = ra!.logs.length;
      process.kill(ra!.pid!, 'SIGHUP');
      const refused = await until('the refusal in the log', async () => ra!.logs.slice(before).find((l) => l.action === 'config-reload' && l.outcome === 'refused'));
      assert.match(String(refused.msg), /no resources at all.*routerctl reload --allow-removal/);
      // Two more resync passes: nothing may have been torn down in the meantime.
      const passes = (await apiGet<{ passes: number }>(ra!.socket, '/api/v1/status')).body.passes;
      await until('two more passes', async () => (await apiGet<{ passes: number }>(ra!.socket, '/api/v1/status')).body.passes >= passes + 2, 15_000);
      assert.deepEqual(await holders(lab, VIP), ['ra']);
      assert.deepEqual(await holders(lab, SNAT), ['ra']);
      const nft = await lab.exec('ra', ['nft', 'list', 'table', 'ip', 'routerd_nat']);
      assert.equal(nft.code, 0, nft.stderr);
      const status = spawnSync(process.execPath, [ROUTERCTL_BIN, 'status', '--socket', ra!.socket, '-o', 'json'], { encoding: 'utf8' });
      assert.equal((JSON.parse(status.stdout) as { lastReload: { outcome: string } }).lastReload.outcome, 'refused');
      const metrics = await apiGet<string>(ra!.socket, '/metrics');
      assert.match(metrics.body, /routerd_config_reloads_total\{outcome="refused"\} 1/);
      const report = await flows.stop();
      assert.equal(report.summary.alive, FLOWS, JSON.stringify(report.summary));
      assert.equal(report.summary.dead, 0);
      await installConfig(lab.nodes.ra, await labConfig('a'));
    });

    await t.test('apply --confirm that is not confirmed rolls back by itself; the VIP, the NAT table and every flow stay', async () => {
      const flows = await startEchoFlows(lab.nodes.client, { target: SERVER, port: PORT, protocol: 'tcp', count: FLOWS, intervalMs: 100, durationMs: 40_000 });
      assert.equal(flows.ready.established, FLOWS);
      const conf = async () => (await lab.exec('ra', ['cat', '/run/routerd/keepalived/keepalived.conf'])).stdout;
      const original = await conf();
      // A change keepalived must take (a new advert interval), applied with a short confirm window.
      const next = join(lab.nodes.ra.root, 'etc/routerd/next.yaml');
      await writeFile(next, (await labConfig('a')).replace('advertInterval: 200ms', 'advertInterval: 300ms'));
      const apply = spawnSync(process.execPath, [ROUTERCTL_BIN, 'apply', '-f', next, '--confirm', '3s', '--socket', ra!.socket], { encoding: 'utf8' });
      assert.equal(apply.status, 0, apply.stderr);
      assert.match(apply.stdout, /applied as generation 2; run routerctl confirm before .* or it rolls back to generation 1/);
      await until('keepalived on the new config', async () => (await conf()) !== original);
      // No confirm: routerd goes back to generation 1 by itself.
      await until('the rollback in the log', async () => ra!.logs.some((l) => l.action === 'apply-rollback' && l.outcome === 'applied'), 20_000);
      await until('keepalived on the old config again', async () => (await conf()) === original);
      const history = spawnSync(process.execPath, [ROUTERCTL_BIN, 'history', '--socket', ra!.socket], { encoding: 'utf8' });
      assert.match(history.stdout, /^3\s+\S+\s+confirm-timeout of 1\s/m);
      assert.equal((await ra!.resource('VirtualAddress/lan-vip'))?.status.role, 'master');
      assert.deepEqual(await holders(lab, VIP), ['ra']);
      assert.deepEqual(await holders(lab, SNAT), ['ra']);
      assert.equal((await lab.exec('ra', ['nft', 'list', 'table', 'ip', 'routerd_nat'])).code, 0);
      const report = await flows.stop();
      assert.equal(report.summary.alive, FLOWS, JSON.stringify(report.summary));
      assert.equal(report.summary.dead, 0);
    });

    await t.test('a second routerd on the node exits at once naming the first; the first keeps answering', async () => {
      const second = await lab.nodes.ra.host.run([process.execPath, ROUTERD_BIN, 'serve', '--config', LAB_CONFIG_PATH, '--node', 'ra', '--controllers', CONTROLLERS.join(',')], { timeoutMs: 30_000 });
      assert.equal(second.code, 1, second.stderr);
      assert.match(second.stderr, new RegExp(`another routerd \\(pid ${ra!.pid}\\) is already running`));
      assert.equal((await apiGet(ra!.socket, '/healthz')).status, 200);
      const after = await ra!.resource('VirtualAddress/lan-vip');
      assert.equal(after?.status.role, 'master');
      assert.ok(!ra!.logs.some((l) => l.action === 'stop'), 'the first routerd did not stop');
    });

    await t.test('validate --engines: keepalived, nft and dnsmasq accept the files routerd renders on the router; a broken one is named', async () => {
      const ok = await lab.nodes.ra.host.run([process.execPath, ROUTERCTL_BIN, 'validate', '--config', LAB_CONFIG_PATH, '--engines'], { timeoutMs: 60_000 });
      assert.equal(ok.code, 0, ok.stderr);
      // An interface the router does not have: the schema cannot know, keepalived can.
      const file = join(lab.nodes.ra.root, 'etc/routerd/bad-link.yaml');
      await writeFile(file, (await labConfig('a')).replace('ifname: lan0', 'ifname: lan9'));
      const bad = await lab.nodes.ra.host.run([process.execPath, ROUTERCTL_BIN, 'validate', '--config', '/etc/routerd/bad-link.yaml', '--engines'], { timeoutMs: 60_000 });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /VirtualAddress\/lan-vip: keepalived refused the rendered file: .*lan9/);
    });

    await t.test('rsync runs with -e "ssh -F <generated config>" against a real sshd; a hostile ssh option runs nothing', async () => {
      ssh = await enableLabSsh(lab);
      const node = lab.nodes.ra;
      const target = { name: 'peer', host: lab.nodes.rb.addresses.lan4!, port: 22, user: 'root', sshOptions: ['-o', 'ConnectTimeout=5', '-i', '/root/.ssh/id_ed25519'], options: [] };
      const controlDir = '/run/routerd/ssh';
      await node.host.mkdirp(controlDir, 0o700);
      const cfg = rsyncSshConfig(target, { controlDir }, controlDir);
      await node.host.writeFileAtomic(cfg.path, cfg.text, 0o600);
      const staged = '/run/routerd/lease-sync/probe.leases';
      const dest = '/var/lib/routerd/dnsmasq/probe.leases';
      await node.host.writeFileAtomic(staged, '1700000000 02:00:00:00:00:01 192.0.2.150 probe *\n');
      const argv = leaseSyncArgv({ sourceKind: 'DHCPv4Server', path: dest }, target, staged, cfg.path);
      assert.equal(argv[argv.indexOf('-e') + 1], `ssh -F ${cfg.path}`);
      const r = await node.host.run(argv, { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await lab.nodes.rb.host.readFile(dest), '1700000000 02:00:00:00:00:01 192.0.2.150 probe *\n');

      // The payload that used to break out of rsync's -e: refused by the config
      // check (routerctl validate) and by the transport itself, so no ssh starts.
      const payload = `/root/.ssh/id_ed25519' -oProxyCommand='touch ${MARKER}`;
      const hostile = { ...target, sshOptions: ['-i', payload] };
      assert.throws(() => rsyncSshConfig(hostile, { controlDir }, controlDir), /quotes, backslashes and control characters are not allowed/);
      const yaml = (await labConfig('a')).replace('        host: 192.0.2.3\n        user: root\n    when:\n      state:\n        VirtualAddress/lan-vip.role:\n          equals: master\n\n- apiVersion: net.routerd.net/v1alpha1\n  kind: DHCPv4Server', `        host: 192.0.2.3\n        user: root\n        sshOptions: ["-i", ${JSON.stringify(payload)}]\n    when:\n      state:\n        VirtualAddress/lan-vip.role:\n          equals: master\n\n- apiVersion: net.routerd.net/v1alpha1\n  kind: DHCPv4Server`);
      assert.ok(yaml.includes('ProxyCommand'), 'the hostile option is in the file');
      const file = join(lab.nodes.ra.root, 'etc/routerd/hostile.yaml');
      await writeFile(file, yaml);
      const v = spawnSync(process.execPath, [ROUTERCTL_BIN, 'validate', '--config', file], { encoding: 'utf8' });
      assert.equal(v.status, 1);
      assert.match(v.stderr, /RD_E_INVALID_OPTION .*sshOptions.*quotes, backslashes and control characters are not allowed/);
      assert.equal(await node.host.exists(MARKER), false, 'no injected command ran');
      // And a value that is merely unusual is never re-split: ssh sees exactly the file's lines.
      const show = await node.host.run(['ssh', '-G', '-F', cfg.path, target.host]);
      assert.match(show.stdout, /^connecttimeout 5$/m);
      assert.match(show.stdout, /^stricthostkeychecking (true|ask)$/m);
      assert.doesNotMatch(show.stdout, /^proxycommand /m);
    });
  } finally {
    await stopAll([ra]);
    await ssh?.stop().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await lab.destroy();
  }
});
