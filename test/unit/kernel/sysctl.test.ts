import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FakeHost } from '../../../src/host/fake.ts';
import {
  SYSCTL,
  SysctlWriteError,
  parseSysctlOutput,
  readConntrackSysctls,
  readSysctl,
  sysctlReadArgv,
  sysctlWriteArgv,
  writeSysctl,
} from '../../../src/kernel/sysctl.ts';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/kernel/${name}`, import.meta.url), 'utf8');

test('reads the conntrack sysctls in one sysctl run through the host', async () => {
  const host = new FakeHost().on(['sysctl'], { stdout: fixture('sysctl-conntrack.txt') });
  assert.deepEqual(await readConntrackSysctls(host), {
    ipForward: false,
    tcpLoose: true,
    conntrackMax: 262144,
    conntrackCount: 0,
  });
  assert.deepEqual(host.commandLines(), [
    'sysctl net.ipv4.ip_forward net.netfilter.nf_conntrack_tcp_loose net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_count',
  ]);
});

test('maps a key the kernel lacks to undefined', async () => {
  const host = new FakeHost().on(['sysctl'], {
    code: 1,
    stdout: 'net.ipv4.ip_forward = 1\n',
    stderr: 'sysctl: cannot stat /proc/sys/net/netfilter/nf_conntrack_count: No such file or directory\n',
  });
  const v = await readConntrackSysctls(host);
  assert.equal(v.ipForward, true);
  assert.equal(v.conntrackCount, undefined);
});

test('reads slashed keys (interface names with dots) as sysctl prints them', async () => {
  const host = new FakeHost().on(['sysctl'], { stdout: 'net.ipv4.conf.br0/5.forwarding = 1\n' });
  assert.equal(await readSysctl(host, 'net/ipv4/conf/br0.5/forwarding'), '1');
  assert.equal(parseSysctlOutput('a.b = 1\nnoise\n').get('a.b'), '1');
});

test('a write the kernel refuses fails even though sysctl exits 0', async () => {
  const host = new FakeHost()
    .on(['sysctl', '-w'], { code: 0, stderr: fixture('sysctl-write-refused-stderr.txt') })
    .on(['sysctl', SYSCTL.conntrackMax], { stdout: 'net.netfilter.nf_conntrack_max = 262144\n' });
  await assert.rejects(writeSysctl(host, SYSCTL.conntrackMax, 300000), (e: unknown) => {
    assert.ok(e instanceof SysctlWriteError);
    assert.equal(e.code, 'RD_E_SYSCTL_WRITE');
    assert.equal(e.actual, '262144');
    assert.match(e.message, /Invalid argument/);
    return true;
  });
});

test('a write that reads back passes', async () => {
  let value = '1';
  const host = new FakeHost()
    .on(['sysctl'], () => ({ stdout: `net.netfilter.nf_conntrack_tcp_loose = ${value}\n` }))
    .on(['sysctl', '-w'], (argv) => {
      value = argv[2]!.split('=')[1]!;
      return { stdout: `net.netfilter.nf_conntrack_tcp_loose = ${value}\n` };
    });
  await writeSysctl(host, SYSCTL.conntrackTcpLoose, 0);
  assert.equal(value, '0');
});

test('builds argv and rejects keys or values that are not plain tokens', () => {
  assert.deepEqual(sysctlReadArgv([SYSCTL.ipForward]), ['sysctl', 'net.ipv4.ip_forward']);
  assert.deepEqual(sysctlWriteArgv(SYSCTL.ipForward, 1), ['sysctl', '-w', 'net.ipv4.ip_forward=1']);
  assert.throws(() => sysctlReadArgv([]));
  assert.throws(() => sysctlReadArgv(['net.ipv4 ip_forward']));
  assert.throws(() => sysctlReadArgv(['../../etc/passwd']));
  assert.throws(() => sysctlWriteArgv(SYSCTL.ipForward, '1 2'));
  assert.throws(() => sysctlWriteArgv('net.ipv4.ip_forward=1', 1));
});
