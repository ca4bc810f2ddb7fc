import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { rsyncArgv, rsyncRsh } from '../../src/transport/rsync.ts';
import { mergeSshOptions, remoteCommand, shellQuote, sshArgv } from '../../src/transport/ssh.ts';

test('defaults are BatchMode=yes and ConnectTimeout=10; -o ConnectTimeout=5 replaces only that key', () => {
  assert.deepEqual(mergeSshOptions(['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10'], ['-o', 'ConnectTimeout=5']), [
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=5',
  ]);
  assert.deepEqual(mergeSshOptions(['-o', 'BatchMode=yes'], ['-oconnecttimeout=3', '-i', '/k']), ['-o', 'BatchMode=yes', '-o', 'connecttimeout=3', '-i', '/k']);
});

test('ssh argv for seed 000: user, port, persistent connection, quoted remote command', () => {
  const argv = sshArgv({ host: 'routerd-standby.lan.example', port: 22, user: 'routerd', sshOptions: [] }, ['sudo', 'conntrack', '-R', '/dev/stdin'], {
    controlDir: '/run/routerd/ssh',
  });
  assert.deepEqual(argv, [
    'ssh',
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=10',
    '-o', 'ControlMaster=auto',
    '-o', 'ControlPath=/run/routerd/ssh/%C',
    '-o', 'ControlPersist=60',
    '-o', 'ServerAliveInterval=5',
    '-o', 'ServerAliveCountMax=3',
    '-p', '22',
    '-l', 'routerd',
    'routerd-standby.lan.example',
    '--',
    'sudo conntrack -R /dev/stdin',
  ]);
  assert.ok(!argv.some((a) => /StrictHostKeyChecking/.test(a)), 'host-key checking stays at its default (on)');
});

test('the remote command survives the remote shell unchanged, whatever the arguments hold', () => {
  const nasty = ['printf', '%s|', "it's", '$(id)', '`x`', 'a b', '; rm -rf /', '', '*', '\n'];
  const r = spawnSync('sh', ['-c', remoteCommand(nasty)], { encoding: 'utf8' });
  assert.equal(r.stdout, "it's|$(id)|`x`|a b|; rm -rf /||*|\n|");
  assert.equal(shellQuote('plain-arg_1.2'), 'plain-arg_1.2');
});

test('rsync: --timeout=60 by default, target options override it, the ssh command carries the merged options', () => {
  const t = { host: '192.0.2.3', port: 2222, user: 'routerd', sshOptions: ['-o', 'ConnectTimeout=5'], options: [] };
  const a = rsyncArgv(t, '/var/lib/routerd/dnsmasq/x.leases', '/var/lib/routerd/dnsmasq/x.leases');
  assert.ok(a.includes('--timeout=60'));
  assert.ok(a.includes('--delay-updates'));
  assert.equal(a[a.length - 1], 'routerd@192.0.2.3:/var/lib/routerd/dnsmasq/x.leases');
  const e = a[a.indexOf('-e') + 1]!;
  assert.equal(e, 'ssh -o BatchMode=yes -o ConnectTimeout=5 -p 2222 -l routerd');
  const b = rsyncArgv({ ...t, options: ['--timeout=30'] }, '/a', '/a');
  assert.ok(!b.includes('--timeout=60'));
  assert.ok(b.includes('--timeout=30'));
  assert.equal(rsyncRsh({ host: 'h', port: 22, sshOptions: ['-i', "/keys/it's"] }, {}), "ssh -o BatchMode=yes -o ConnectTimeout=10 -i '/keys/it'\\''s' -p 22");
});
