import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cidrContains, formatAddress, addressBytes, networkAddress, parseDuration, parsePortRange } from '../../src/api/primitives.ts';
import { parseSshOptions } from '../../src/api/ssh.ts';

test('durations in Go style', () => {
  assert.equal(parseDuration('2s'), 2000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('12h'), 43_200_000);
  for (const bad of ['', '2', 's', '2 s', '1x', '-1s']) assert.equal(parseDuration(bad), undefined, bad);
});

test('port ranges', () => {
  assert.deepEqual(parsePortRange('20000-60000'), { from: 20000, to: 60000 });
  assert.deepEqual(parsePortRange('53'), { from: 53, to: 53 });
  for (const bad of ['0-10', '10-65536', '60000-20000', '1:2', 'a-b']) assert.equal(typeof parsePortRange(bad), 'string', bad);
});

test('IPv6 addresses round-trip through bytes in RFC 5952 form', () => {
  for (const [input, out] of [
    ['fd00:0:0:1::10', 'fd00:0:0:1::10'],
    ['fd00:0000:0000:0001:0000:0000:0000:0010', 'fd00:0:0:1::10'],
    ['::1', '::1'],
    ['::', '::'],
    ['2001:db8::ffff:0:0', '2001:db8::ffff:0:0'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
  ] as const)
    assert.equal(formatAddress(addressBytes(input)), out, input);
});

test('prefix arithmetic', () => {
  assert.equal(networkAddress('192.0.2.77', 25), '192.0.2.0');
  assert.equal(networkAddress('192.0.2.200', 25), '192.0.2.128');
  assert.equal(networkAddress('fd00:0:0:1::10', 64), 'fd00:0:0:1::');
  assert.ok(cidrContains('192.0.2.0/24', '192.0.2.50'));
  assert.ok(!cidrContains('192.0.2.0/25', '192.0.2.200'));
  assert.ok(!cidrContains('192.0.2.0/24', 'fd00::1'));
});

test('ssh options parse into allowlisted ssh_config keys; insecure and unknown ones are refused by name', () => {
  const { options, problems } = parseSshOptions(['-o', 'ConnectTimeout=5', '-oServerAliveInterval=2', '-i', '/k', '-4', '-o', 'StrictHostKeyChecking=accept-new']);
  assert.deepEqual(problems, []);
  assert.deepEqual(parseSshOptions(['-o', 'UserKnownHostsFile=/etc/routerd/ssh/known_hosts']).problems, [], 'a dedicated known_hosts file (docs/deploy.md) keeps checking on');
  assert.deepEqual(
    options.map((o) => `${o.key} ${o.value}`),
    ['ConnectTimeout 5', 'ServerAliveInterval 2', 'IdentityFile /k', 'AddressFamily inet', 'StrictHostKeyChecking accept-new'],
  );
  const refused = (tokens: string[]) => parseSshOptions(tokens).problems;
  for (const tokens of [
    ['-o', 'StrictHostKeyChecking=no'],
    ['-o', 'StrictHostKeyChecking=false'],
    ['-o', 'StrictHostKeyChecking off'],
    ['-o', 'UserKnownHostsFile="/dev/null"'],
    ['-o', 'UserKnownHostsFile=/dev/null'],
    ['-o', 'UserKnownHostsFile /proc/self/fd/0'],
    ['-o', 'GlobalKnownHostsFile=/dev/null'],
    ['-o', 'KnownHostsCommand=/bin/echo %H'],
    ['-o', 'PKCS11Provider=/tmp/evil.so'],
    ['-o', 'SecurityKeyProvider=/tmp/evil.so'],
    ['-o', 'ProxyCommand=touch /tmp/pwned'],
    ['-o', 'LocalCommand=id'],
    ['-o', 'PermitLocalCommand=yes'],
    ['-o', 'HostKeyAlias=other'],
    ['-F', '/tmp/cfg'],
    ['-F/tmp/cfg'],
    ['-A'],
  ]) {
    const p = refused(tokens);
    assert.equal(p.length, 1, tokens.join(' '));
    assert.equal(p[0]!.insecure, true, tokens.join(' '));
  }
  for (const tokens of [
    ['--weird'],
    ['-o', 'SendEnv=LANG'],
    ['-o', 'ConnectTimeout=soon'],
    ['-o', "IdentityFile=/k' -oProxyCommand=touch /tmp/x '"],
    ['-i', '~/.ssh/id'],
    ['-i', '/keys/%h'],
    ['-o', 'ConnectTimeout=5\nProxyCommand touch /tmp/x'],
    ['-J', '-oProxyCommand=x'],
    ['-p', '22'],
    ['-l', 'root'],
  ]) {
    const p = refused(tokens);
    assert.ok(p.length >= 1, tokens.join(' '));
  }
  assert.match(refused(['--weird'])[0]!.message, /not a supported ssh option/);
  assert.match(refused(['-o', 'SendEnv=LANG'])[0]!.message, /not an ssh option routerd passes on/);
});
