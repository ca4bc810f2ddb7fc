// The namespace lab itself: links, addressing, the missing return route, the
// per-node mount namespaces, echo flows through a SNAT router, and a teardown
// that leaves nothing behind. Needs root and `ip netns`; skips otherwise unless CI=true.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { test } from 'node:test';
import { LocalHost } from '../../src/host/local.ts';
import { runChecked } from '../../src/host/host.ts';
import { createLab, labMounts, labPrefix, listNetns } from '../../src/lab/topology.ts';
import type { Lab } from '../../src/lab/topology.ts';
import { probeTcp, reached, startEchoFlows, startTcpEchoServer } from '../../src/lab/traffic.ts';
import type { EchoServer } from '../../src/lab/traffic.ts';
import { requireE2E } from '../helpers/e2e.ts';

const ECHO_PORT = 7007;
const CLOSED_PORT = 9;

async function gone(path: string): Promise<boolean> {
  try {
    await stat(path);
    return false;
  } catch {
    return true;
  }
}

test('network-namespace lab', { timeout: 120_000 }, async (t) => {
  if (!(await requireE2E(t))) return;

  const prefix = labPrefix('lab');
  const log = (msg: string): void => console.log(msg);
  let lab: Lab | undefined;
  let server: EchoServer | undefined;
  try {
    const upStarted = performance.now();
    lab = await createLab({ prefix, log });
    log(`createLab: ${Math.round(performance.now() - upStarted)} ms`);
    const l = lab;
    const { client, ra, rb } = l.nodes;
    const A = l.addresses;

    await t.test('bridges run without STP, forward delay or multicast snooping', async () => {
      const r = await runChecked(new LocalHost(), ['ip', '-n', l.switchNetns, '-j', '-d', 'link', 'show', 'type', 'bridge']);
      const links = JSON.parse(r.stdout) as { ifname: string; linkinfo: { info_data: Record<string, number> } }[];
      assert.deepEqual(links.map((x) => x.ifname).sort(), ['lan', 'wan']);
      for (const br of links) {
        assert.equal(br.linkinfo.info_data['stp_state'], 0, br.ifname);
        assert.equal(br.linkinfo.info_data['forward_delay'], 0, br.ifname);
        assert.equal(br.linkinfo.info_data['mcast_snooping'], 0, br.ifname);
      }
    });

    await t.test('client reaches both routers on the LAN, v4 and v6', async () => {
      const targets = [A.nodes.ra.lan4, A.nodes.rb.lan4, A.nodes.ra.lan6, A.nodes.rb.lan6];
      const probes = await Promise.all(targets.map((a) => probeTcp(client, a, CLOSED_PORT)));
      for (const [i, p] of probes.entries()) assert.equal(p.outcome, 'refused', `${targets[i]}: ${JSON.stringify(p)}`);
    });

    await t.test('routers reach the server on the WAN, v4 and v6', async () => {
      server = await startTcpEchoServer(l.nodes.server, ECHO_PORT, { maxLifetimeMs: 120_000 });
      const cases = [
        [ra, A.nodes.server.wan4],
        [rb, A.nodes.server.wan4],
        [ra, A.nodes.server.wan6],
        [rb, A.nodes.server.wan6],
      ] as const;
      const probes = await Promise.all(cases.map(([n, a]) => probeTcp(n, a, ECHO_PORT)));
      for (const [i, p] of probes.entries()) assert.equal(p.outcome, 'connected', `${cases[i]![0].name} → ${cases[i]![1]}`);
    });

    await t.test('client cannot reach the server without NAT: no route back', async () => {
      // With the gateway address on ra, the SYN is forwarded; only the answer has no way back.
      await runChecked(ra.host, ['ip', 'addr', 'add', `${A.lan.vip4}/${A.lan.len4}`, 'dev', 'lan0', 'nodad']);
      const p = await probeTcp(client, A.nodes.server.wan4, ECHO_PORT, 1_500);
      assert.equal(p.outcome, 'timeout', JSON.stringify(p));
      assert.equal(reached(p), false);
      const routes = await runChecked(l.nodes.server.host, ['ip', '-4', 'route', 'show']);
      assert.doesNotMatch(routes.stdout, /default|192\.0\.2|203\.0\.113/);
    });

    await t.test('each node has its own mount namespace and sysfs', async () => {
      const file = '/var/lib/routerd/lab-isolation';
      await ra.host.writeFileAtomic(file, 'written in ra\n');
      assert.equal(await ra.host.readFile(file), 'written in ra\n');
      assert.equal(await rb.host.readFile(file), undefined);
      assert.equal(await rb.host.exists(file), false);
      assert.equal(await gone(file), true, 'not on the host');
      // Commands inside the node see the same file as the mapped file operations.
      assert.equal((await runChecked(ra.host, ['cat', file])).stdout, 'written in ra\n');
      assert.equal((await rb.host.run(['test', '-e', file])).code, 1);
      assert.equal((await runChecked(ra.host, ['ls', '/var/lib/routerd'])).stdout.trim(), 'lab-isolation');
      for (const dir of ['/run/routerd', '/etc/routerd', '/var/lib/dhcpcd', '/run/dhcpcd', '/var/lib/kea', '/run/kea']) {
        await rb.host.writeFileAtomic(`${dir}/probe`, 'rb');
        assert.equal((await runChecked(rb.host, ['cat', `${dir}/probe`])).stdout, 'rb', dir);
        assert.equal((await ra.host.run(['test', '-e', `${dir}/probe`])).code, 1, dir);
      }

      // sysfs and ip link show the node's own links.
      const sys = (await runChecked(ra.host, ['ls', '/sys/class/net'])).stdout.split(/\s+/).filter(Boolean).sort();
      assert.deepEqual(sys, ['lan0', 'lo', 'wan0']);
      const csys = (await runChecked(client.host, ['ls', '/sys/class/net'])).stdout.split(/\s+/).filter(Boolean).sort();
      assert.deepEqual(csys, ['eth0', 'lo']);
      const links = JSON.parse((await runChecked(ra.host, ['ip', '-j', 'link', 'show'])).stdout) as { ifname: string }[];
      assert.deepEqual(links.map((x) => x.ifname).sort(), ['lan0', 'lo', 'wan0']);
      assert.equal(await client.host.exists('/sys/class/net/lan0'), false);
      assert.match((await ra.host.readFile('/sys/class/net/lan0/address')) ?? '', /^[0-9a-f:]{17}\n$/);

      // Per-netns sysctls through file operations.
      assert.equal(await ra.host.readFile('/proc/sys/net/ipv4/ip_forward'), '1\n');
      assert.equal(await client.host.readFile('/proc/sys/net/ipv4/ip_forward'), '0\n');

      // A path outside the private dirs goes through commands in the node (shared file system).
      const scratch = `${l.base}/scratch/file`;
      await ra.host.writeFileAtomic(scratch, 'via dd\n', 0o600);
      assert.equal(await new LocalHost().readFile(scratch), 'via dd\n');
      assert.equal((await stat(scratch)).mode & 0o777, 0o600);
      await ra.host.remove(`${l.base}/scratch`);
      assert.equal(await gone(scratch), true);

      // ip netns exec still works on the lab's namespaces.
      const viaIp = await runChecked(new LocalHost({ netns: ra.netns }), ['ip', '-br', 'link', 'show', 'dev', 'wan0']);
      assert.match(viaIp.stdout, /^wan0@/);
    });

    await t.test('echo flows through a SNAT router keep echoing', async () => {
      await runChecked(ra.host, ['ip', 'addr', 'add', `${A.wan.snatPool4.first}/${A.wan.len4}`, 'dev', 'wan0', 'nodad']);
      const ruleset = [
        'table ip labtest {',
        '  chain post {',
        '    type nat hook postrouting priority srcnat;',
        `    oifname "wan0" snat to ${A.wan.snatPool4.first}`,
        '  }',
        '}',
        '',
      ].join('\n');
      await runChecked(ra.host, ['nft', '-f', '-'], { stdin: ruleset });
      const common = { target: A.nodes.server.wan4, port: ECHO_PORT, intervalMs: 100, durationMs: 3_000 };
      const [tcp, udp] = await Promise.all([
        startEchoFlows(client, { ...common, protocol: 'tcp', count: 20 }),
        startEchoFlows(client, { ...common, protocol: 'udp', count: 5 }),
      ]);
      assert.equal(tcp.ready.established, 20, JSON.stringify(tcp.ready));
      assert.equal(udp.ready.established, 5, JSON.stringify(udp.ready));
      const mid = await tcp.snapshot();
      assert.equal(mid.kind, 'snapshot');
      const [tr, ur] = await Promise.all([tcp.done, udp.done]);
      for (const r of [tr, ur]) {
        const s = r.summary;
        const label = `${r.protocol}: ${JSON.stringify(s)}`;
        assert.equal(r.kind, 'final');
        assert.equal(s.alive, s.flows, label);
        assert.equal(s.lost, 0, label);
        assert.deepEqual(s.errors, {}, label);
        assert.ok(s.maxGapMs < 1_000, label);
        assert.ok(r.flows.every((f) => f.sent >= 20 && f.echoed >= f.sent - 2), label);
      }
      const conntrack = await runChecked(ra.host, ['conntrack', '-L', '-p', 'tcp', '--dport', String(ECHO_PORT)]);
      assert.match(conntrack.stdout, /dst=198\.51\.100\.100/, 'entries carry the SNAT binding');
      const stats = await server!.stats();
      assert.ok(stats.tcpConnections >= 20 && stats.udpDatagrams > 0, JSON.stringify(stats));
      log(`flows: tcp maxGap ${tr.summary.maxGapMs} ms, udp maxGap ${ur.summary.maxGapMs} ms`);
    });

    await t.test('destroy removes every namespace, mount and directory', async () => {
      await server?.stop();
      server = undefined;
      const downStarted = performance.now();
      await l.destroy();
      log(`destroy: ${Math.round(performance.now() - downStarted)} ms`);
      assert.deepEqual((await listNetns()).filter((n) => n.startsWith(prefix)), []);
      assert.deepEqual(await labMounts(l.base), []);
      assert.equal(await gone(l.base), true);
      await l.destroy(); // idempotent
    });
  } finally {
    await server?.stop();
    await lab?.destroy();
  }
});
