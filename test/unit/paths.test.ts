// Derived paths sit below the registry, so they spell out the names they
// share with it; lease files must stay where they are on disk.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controllerNameOf } from '../../src/controllers/kinds.ts';
import { DNSMASQ_FILE_BASES, dnsmasqPaths, leaseSyncPath } from '../../src/api/paths.ts';

test('the DHCP servers\' file base names are their controller names', () => {
  for (const [kind, base] of Object.entries(DNSMASQ_FILE_BASES)) assert.equal(base, controllerNameOf(kind as keyof typeof DNSMASQ_FILE_BASES), kind);
});

test('lease and prefix-delegation paths on disk', () => {
  const p = { stateDir: '/var/lib/routerd', runDir: '/run/routerd' };
  assert.deepEqual(dnsmasqPaths(p, 'DHCPv4Server', 'lan'), {
    conf: '/run/routerd/dnsmasq/dhcpv4-server-lan.conf',
    pidFile: '/run/routerd/dnsmasq/dhcpv4-server-lan.pid',
    leaseFile: '/var/lib/routerd/dnsmasq/dhcpv4-server-lan.leases',
  });
  assert.equal(leaseSyncPath(p, 'DHCPv6Server', 'lan6'), '/var/lib/routerd/dnsmasq/dhcpv6-server-lan6.leases');
  assert.equal(leaseSyncPath(p, 'DHCPv6PrefixDelegation', 'wan-pd'), '/var/lib/routerd/dhcpcd/wan-pd/');
});
