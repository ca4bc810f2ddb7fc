import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { rsyncArgv, rsyncRsh, rsyncSshConfig } from '../../src/transport/rsync.ts';
import { mergeSshOptions, remoteCommand, shellQuote, sshArgv, SSH_DEFAULTS } from '../../src/transport/ssh.ts';

test('defaults are BatchMode=yes and ConnectTimeout=10; -o ConnectTimeout=5 replaces only that key', () => {
  const text = (o: readonly { key: string; value: string }[]) => o.map((x) => `${x.key} ${x.value}`);
  assert.deepEqual(text(mergeSshOptions(SSH_DEFAULTS, ['-o', 'ConnectTimeout=5'])), ['BatchMode yes', 'ConnectTimeout 5']);
  assert.deepEqual(text(mergeSshOptions(SSH_DEFAULTS, ['-oconnecttimeout=3', '-i', '/k', '-i', '/k2'])), ['BatchMode yes', 'ConnectTimeout 3', 'IdentityFile /k', 'IdentityFile /k2']);
  assert.throws(() => mergeSshOptions(SSH_DEFAULTS, ['-o', 'ProxyCommand=touch /tmp/x']), /ProxyCommand runs a local shell command/);
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

test('rsync: --timeout=60 by default, target options override it, -e is always ssh -F with the generated config', () => {
  const t = { host: '192.0.2.3', port: 2222, user: 'routerd', sshOptions: ['-o', 'ConnectTimeout=5'], options: [] };
  const cfg = rsyncSshConfig(t, { controlDir: '/run/routerd/ssh' }, '/run/routerd/ssh');
  assert.match(cfg.path, /^\/run\/routerd\/ssh\/ssh-config-[0-9a-f]{16}$/);
  assert.equal(
    cfg.text,
    [
      '# Written by routerd for 192.0.2.3; regenerated on every push.',
      'BatchMode yes',
      'ControlMaster auto',
      'ControlPath /run/routerd/ssh/%C',
      'ControlPersist 60',
      'ServerAliveInterval 5',
      'ServerAliveCountMax 3',
      'ConnectTimeout 5',
      'Port 2222',
      'User routerd',
      '',
    ].join('\n'),
  );
  const a = rsyncArgv(t, '/var/lib/routerd/dnsmasq/x.leases', '/var/lib/routerd/dnsmasq/x.leases', cfg.path);
  assert.ok(a.includes('--timeout=60'));
  assert.ok(a.includes('--delay-updates'));
  assert.equal(a[a.length - 1], 'routerd@192.0.2.3:/var/lib/routerd/dnsmasq/x.leases');
  assert.equal(a[a.indexOf('-e') + 1], `ssh -F ${cfg.path}`);
  const b = rsyncArgv({ ...t, options: ['--timeout=30'] }, '/a', '/a', cfg.path);
  assert.ok(!b.includes('--timeout=60'));
  assert.ok(b.includes('--timeout=30'));
});

test('rsync -e never carries a config value: a quote in an ssh option is refused, not quoted', () => {
  const hostile = { host: 'h', port: 22, sshOptions: ['-i', "/keys/x' -oProxyCommand='touch /tmp/pwned"], options: [] };
  assert.throws(() => rsyncSshConfig(hostile, {}, '/run/routerd/ssh'), /quotes, backslashes and control characters are not allowed/);
  assert.throws(() => rsyncRsh("/run/routerd/ssh/x' -oProxyCommand=y"), /not a safe absolute path/);
  assert.throws(() => rsyncRsh('/run/routerd dir/x'), /not a safe absolute path/);
});
