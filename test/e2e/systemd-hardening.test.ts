// deploy/systemd/routerd.service's restrictions do not break routerd: the lab
// pair (examples/lab/router-{a,b}.yaml: VRRP, SNAT, session sync, DHCPv4/v6
// with lease sync) runs with routerd under the unit's CapabilityBoundingSet and
// NoNewPrivileges (setpriv, read from the unit file) and ProtectSystem=full's
// read-only /usr, /boot, /efi and /etc (a private mount namespace), and fails
// over with every flow and the client's addresses. There is no systemd in the
// lab; what is emulated is exactly what the engines routerd starts inherit.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ChildHandle } from '../../src/host/host.ts';
import { leasedAddresses, startDhcpClient } from '../../src/lab/dhcp-client.ts';
import { hardenRouter } from '../../src/lab/harden.ts';
import { keepalivedPid, killKeepalived, startRouterd, type RouterdProcess } from '../../src/lab/routerd.ts';
import { enableLabSsh, type LabSsh } from '../../src/lab/sshd.ts';
import { createLab, labPrefix, type Lab } from '../../src/lab/topology.ts';
import { startEchoFlows, startTcpEchoServer, type EchoFlows, type EchoServer } from '../../src/lab/traffic.ts';
import { requireE2E } from '../helpers/e2e.ts';
import { installConfig, stopAll, until, verboseEcho } from '../helpers/lab.ts';
import { REPO } from '../helpers/paths.ts';

const UNIT = readFileSync(join(REPO, 'deploy', 'systemd', 'routerd.service'), 'utf8');
const directive = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(UNIT)?.[1]?.trim();
const SERVER = '198.51.100.200';
const PORT = 7007;

/** setpriv + a mount namespace with ProtectSystem=full's read-only trees, from the unit's own lines. */
function unitRestrictions(): string[] {
  const caps = directive('CapabilityBoundingSet')!.split(/\s+/).map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`);
  assert.equal(directive('NoNewPrivileges'), 'yes');
  assert.equal(directive('ProtectSystem'), 'full');
  const readOnly = 'for d in /usr /boot /efi /etc; do [ -d "$d" ] || continue; mount --rbind "$d" "$d" && mount -o remount,bind,ro "$d" || exit 1; done; exec "$@"';
  return ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', readOnly, 'protect-system', 'setpriv', '--no-new-privs', '--bounding-set', ['-all', ...caps].join(','), '--'];
}

function procStatus(pid: number): Record<string, string> {
  return Object.fromEntries(
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .map((l) => l.split(':\t'))
      .filter((kv) => kv.length === 2)
      .map(([k, v]) => [k!, v!.trim()]),
  );
}

test('routerd under the systemd unit\'s restrictions runs the pair and fails over', { timeout: 300_000 }, async (t) => {
  if (!(await requireE2E(t, ['keepalived', 'nft', 'conntrack', 'dnsmasq', 'rsync', 'sshd', 'dhcpcd', 'setpriv']))) return;
  const lab: Lab = await createLab({ prefix: labPrefix('unit') });
  const procs: Partial<Record<'ra' | 'rb', RouterdProcess>> = {};
  let ssh: LabSsh | undefined;
  let server: EchoServer | undefined;
  let dhcp: ChildHandle | undefined;
  let flows: EchoFlows | undefined;
  try {
    ssh = await enableLabSsh(lab);
    for (const [node, file] of [['ra', 'router-a.yaml'], ['rb', 'router-b.yaml']] as const) {
      await installConfig(lab.nodes[node], readFileSync(join(REPO, 'examples', 'lab', file), 'utf8'));
      await hardenRouter(lab.nodes[node]);
    }
    const wrap = unitRestrictions();
    procs.ra = await startRouterd(lab.nodes.ra, { wrap, echo: verboseEcho });
    procs.rb = await startRouterd(lab.nodes.rb, { wrap, echo: verboseEcho });

    await t.test('routerd and the keepalived it starts run with the unit\'s bounding set and no new privileges', async () => {
      await procs.ra!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 20_000);
      await procs.rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'backup', 20_000);
      const routerd = procStatus(procs.ra!.pid!);
      const keepalived = procStatus((await keepalivedPid(lab.nodes.ra))!);
      assert.equal(routerd.NoNewPrivs, '1');
      assert.equal(keepalived.NoNewPrivs, '1');
      assert.notEqual(routerd.CapBnd, '000001ffffffffff', 'bounding set reduced');
      assert.equal(keepalived.CapBnd, routerd.CapBnd);
      assert.match(readFileSync(`/proc/${procs.ra!.pid!}/mountinfo`, 'utf8'), / \/etc ro,/m);
    });

    await t.test('DHCP, session sync and lease sync reach their working state', async () => {
      dhcp = await startDhcpClient(lab);
      const leased = await until('client leases', async () => {
        const a = await leasedAddresses(lab);
        return a.v4 && a.v6 ? a : undefined;
      }, 45_000, 250);
      server = await startTcpEchoServer(lab.nodes.server, PORT);
      flows = await startEchoFlows(lab.nodes.client, { target: SERVER, port: PORT, protocol: 'tcp', count: 20, intervalMs: 100, durationMs: 120_000 });
      assert.equal(flows.ready.established, 20);
      const since = new Date().toISOString();
      for (const ref of ['NAT44SessionSync/lan-sessions', 'DHCPv4ServerLeaseSync/lan-v4-leases', 'DHCPv6ServerLeaseSync/lan-v6-leases'])
        await procs.ra!.waitFor(ref, (r) => r.status.phase === 'Synced' && String(r.status.lastSyncTime ?? '') > since, 30_000);
      assert.ok(leased.v4);
    });

    await t.test('A dies: B takes over, every flow keeps echoing and B serves DHCP', async () => {
      await lab.linkDown('sw', 'ra-lan');
      await lab.linkDown('sw', 'ra-wan');
      procs.ra!.child.kill('SIGKILL');
      await killKeepalived(lab.nodes.ra);
      procs.ra = undefined;
      await procs.rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 15_000);
      await procs.rb!.waitFor('DHCPv4Server/lan-dhcpv4', (r) => r.status.phase === 'Ready', 20_000);
      await new Promise((r) => setTimeout(r, 4000));
      const report = await flows!.snapshot();
      assert.equal(report.summary.alive, 20, JSON.stringify(report.summary));
    });
  } finally {
    await flows?.stop().catch(() => undefined);
    dhcp?.kill('SIGTERM');
    await stopAll([procs.ra, procs.rb]);
    await server?.stop().catch(() => undefined);
    await ssh?.stop().catch(() => undefined);
    await lab.destroy();
  }
});
