import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cidrContains, formatAddress, addressBytes, networkAddress, parseDuration, parsePortRange } from '../../src/api/primitives.ts';
import { insecureSshOption, parseSshOptions } from '../../src/api/ssh.ts';

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

test('ssh options parse as key/value pairs and insecure ones are named', () => {
  const { options, error } = parseSshOptions(['-o', 'ConnectTimeout=5', '-oServerAliveInterval=2', '-i', '/k']);
  assert.equal(error, undefined);
  assert.deepEqual(
    options.map((o) => o.key),
    ['connecttimeout', 'serveraliveinterval', '-i'],
  );
  const bad = parseSshOptions(['-o', 'StrictHostKeyChecking=no']).options[0]!;
  assert.match(insecureSshOption(bad) ?? '', /host-key checking off/);
  assert.equal(insecureSshOption(parseSshOptions(['-o', 'StrictHostKeyChecking=accept-new']).options[0]!), undefined);
  assert.match(parseSshOptions(['--weird']).error ?? '', /not a supported ssh option/);
});
