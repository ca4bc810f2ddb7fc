// Issue 6: prefix delegation across failover. kea-dhcp6 plays the ISP on the
// lab's server node (WAN) and delegates /56s from 2001:db8:100::/48
// (documentation range). The master's dhcpcd obtains a prefix; the
// DHCPv6PrefixDelegationLeaseSync copies dhcpcd's state (DUID + lease) to the
// standby; the master dies; the promoted standby's dhcpcd rebinds with the
// synced DUID and IAID and keeps the same prefix.
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDhcpcdState, type DhcpcdState } from '../../src/engines/dhcpcd/state.ts';
import type { ChildHandle } from '../../src/host/host.ts';
import { killKeepalived, startRouterd, type RouterdProcess } from '../../src/lab/routerd.ts';
import { enableLabSsh, type LabSsh } from '../../src/lab/sshd.ts';
import { createLab, labPrefix, type Lab } from '../../src/lab/topology.ts';
import { requireE2E } from '../helpers/e2e.ts';
import { installConfig, killPid, stopAll, until, verboseEcho } from '../helpers/lab.ts';
import { example } from '../helpers/paths.ts';

const CONTROLLERS = ['interface', 'virtual-address', 'dhcpv6-prefix-delegation', 'dhcpv6-prefix-delegation-lease-sync'];
const STATE_DIR = '/var/lib/routerd/dhcpcd/wan-pd';
const PD_ID = 'DHCPv6PrefixDelegation/wan-pd';

const KEA_CONF = {
  Dhcp6: {
    'interfaces-config': { interfaces: ['eth0'] },
    'lease-database': { type: 'memfile', persist: true, name: '/var/lib/kea/dhcp6.leases', 'lfc-interval': 0 },
    'preferred-lifetime': 120,
    'valid-lifetime': 180,
    'renew-timer': 60,
    'rebind-timer': 90,
    subnet6: [{ id: 1, subnet: 'fd00:0:0:2::/64', interface: 'eth0', 'pd-pools': [{ prefix: '2001:db8:100::', 'prefix-len': 48, 'delegated-len': 56 }] }],
    loggers: [{ name: 'kea-dhcp6', output_options: [{ output: 'stdout' }], severity: 'INFO' }],
  },
};

async function stateOn(lab: Lab, node: 'ra' | 'rb'): Promise<{ state: DhcpcdState; leaseMtimeMs?: number } | undefined> {
  const dir = lab.nodes[node].host.backingPath(STATE_DIR)!;
  const names = await readdir(dir).catch(() => [] as string[]);
  const files = new Map<string, Buffer>();
  for (const n of names.filter((x) => !x.startsWith('.'))) files.set(n, await readFile(join(dir, n)));
  const p = parseDhcpcdState(files);
  if (!p.ok || !p.state.duid) return undefined;
  const st = await stat(join(dir, 'wan0.lease6')).catch(() => undefined);
  return { state: p.state, ...(st ? { leaseMtimeMs: st.mtimeMs } : {}) };
}

const prefixOf = (s: DhcpcdState | undefined) => s?.leases[0]?.prefixes.map((p) => `${p.prefix}/${p.prefixLength}`)[0];

test('prefix delegation: the standby takes over the lease and keeps the delegated prefix', { timeout: 240_000 }, async (t) => {
  if (!(await requireE2E(t, ['keepalived', 'dhcpcd', 'kea-dhcp6', 'rsync', 'ssh', '/usr/sbin/sshd']))) return;
  const lab = await createLab({ prefix: labPrefix('dhcppd') });
  let ssh: LabSsh | undefined;
  let ra: RouterdProcess | undefined;
  let rb: RouterdProcess | undefined;
  let kea: ChildHandle | undefined;
  const start = (node: 'ra' | 'rb') => startRouterd(lab.nodes[node], { controllers: CONTROLLERS, echo: verboseEcho });
  try {
    ssh = await enableLabSsh(lab);
    await lab.nodes.server.host.writeFileAtomic('/etc/routerd/kea-dhcp6.json', JSON.stringify(KEA_CONF, null, 2));
    kea = lab.nodes.server.host.spawn(['kea-dhcp6', '-c', '/etc/routerd/kea-dhcp6.json'], {
      env: { KEA_PIDFILE_DIR: '/run/kea', KEA_LOCKFILE_DIR: '/run/kea' },
      logFile: join(lab.base, 'kea.log'),
    });
    await installConfig(lab.nodes.ra, await readFile(example('lab/pd-router-a.yaml'), 'utf8'));
    await installConfig(lab.nodes.rb, await readFile(example('lab/pd-router-b.yaml'), 'utf8'));
    ra = await start('ra');
    rb = await start('rb');
    await ra.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 20_000);
    await rb.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'backup', 20_000);

    const bound = await ra.waitFor(PD_ID, (r) => r.status.phase === 'Ready', 45_000);
    const prefix = bound.status.prefix as string;
    const duid = bound.status.duid as string;
    t.diagnostic(`ra: delegated ${prefix} (valid ${bound.status.validLifetime} s, T1 ${bound.status.t1} s, T2 ${bound.status.t2} s), DUID ${duid}, IAID ${bound.status.iaid}`);
    assert.match(prefix, /^2001:db8:100:[0-9a-f]*::\/56$|^2001:db8:100::\/56$/);
    assert.equal(typeof bound.status.validUntil, 'string');

    // The lease state moves to the standby (and rb's dhcpcd stays stopped).
    const synced = await until('rb holds the synced DUID and lease', async () => {
      const s = await stateOn(lab, 'rb');
      return s && s.state.duid === duid && prefixOf(s.state) === prefix ? s : undefined;
    }, 30_000, 100);
    const raState = await stateOn(lab, 'ra');
    assert.ok(Math.abs((synced.leaseMtimeMs ?? 0) - (raState?.leaseMtimeMs ?? 1e15)) < 1, 'the lease keeps its mtime (dhcpcd ages lifetimes from it)');
    const sync = await ra.waitFor('DHCPv6PrefixDelegationLeaseSync/wan-pd-lease', (r) => r.status.phase === 'Synced', 15_000);
    t.diagnostic(`ra's sync: ${sync.status.message}`);
    const standby = await rb.waitFor(PD_ID, (r) => r.status.syncedPrefix === prefix, 15_000);
    const leaseIno = (await stat(join(lab.nodes.rb.host.backingPath(STATE_DIR)!, 'wan0.lease6'))).ino;
    assert.equal(standby.status.process, 'stopped');

    // The master dies, WAN and LAN.
    const dhcpcdPid = Number((await lab.nodes.ra.host.readFile('/run/routerd/dhcpcd/wan-pd/wan0.pid'))?.trim());
    killPid(ra.pid, 'SIGKILL');
    await killKeepalived(lab.nodes.ra);
    if (Number.isInteger(dhcpcdPid)) killPid(dhcpcdPid, 'SIGKILL');
    ra = undefined;
    await lab.linkDown('sw', 'ra-lan');
    await lab.linkDown('sw', 'ra-wan');
    const failedAt = Date.now();
    await rb.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 15_000);

    // The promoted standby rebinds the same prefix with the same DUID.
    const rebound = await until('rb rebound the delegation', async () => {
      const s = await stateOn(lab, 'rb');
      return s && (s.leaseMtimeMs ?? 0) > failedAt ? s : undefined;
    }, 45_000, 200);
    const inoAfter = (await stat(join(lab.nodes.rb.host.backingPath(STATE_DIR)!, 'wan0.lease6'))).ino;
    t.diagnostic(`rb after promotion: ${prefixOf(rebound.state)} with DUID ${rebound.state.duid}; dhcpcd ${inoAfter === leaseIno ? 'rewrote the synced lease file in place' : 'replaced the synced lease file (new inode)'}`);
    assert.equal(rebound.state.duid, duid);
    assert.equal(prefixOf(rebound.state), prefix, 'the same delegated prefix');
    const promoted = await rb.waitFor(PD_ID, (r) => r.status.phase === 'Ready' && r.status.prefix === prefix, 15_000);
    assert.match(String(promoted.status.process), /^running/);
    const keaLog = await readFile(join(lab.base, 'kea.log'), 'utf8');
    const renewals = keaLog.split('\n').filter((l) => l.includes('DHCP6_PD_LEASE_RENEW') && l.includes(duid));
    t.diagnostic(`kea: ${renewals.length} renewal(s) of the delegation for DUID ${duid}`);
    assert.ok(renewals.length >= 1, 'kea saw the rebind of the existing delegation');
    assert.ok(!keaLog.split('\n').some((l) => l.includes('DHCP6_PD_LEASE_ALLOC') && !l.includes(duid)), 'no second delegation for another DUID');
  } finally {
    await stopAll([ra, rb]);
    kea?.kill('SIGTERM');
    await ssh?.stop().catch(() => undefined);
    await lab.destroy();
  }
});
