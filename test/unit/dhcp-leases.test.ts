import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseDhcpcdState, parseDuidFile, parseLease6 } from '../../src/engines/dhcpcd/state.ts';
import { activeLeaseCount, formatDnsmasqLeases, parseDnsmasqLeases } from '../../src/engines/dnsmasq/leases.ts';
import {
  Dhcp6Option,
  Dhcp6Type,
  delegatedPrefixes,
  encodeDhcp6Message,
  hexColons,
  leasedAddresses,
  messageStatus,
  option,
  parseDhcp6Message,
} from '../../src/engines/dhcpcd/dhcp6.ts';
import { parseRsyncStats } from '../../src/transport/rsync-stats.ts';
import { fixture } from '../helpers/paths.ts';

const text = (name: string) => readFileSync(fixture('dhcp', name), 'utf8');
const bytes = (name: string) => readFileSync(fixture('dhcp', name));

test('dnsmasq lease file: DHCPv4 lines, hardware types, infinite leases', () => {
  const p = parseDnsmasqLeases(text('dnsmasq-v4.leases'));
  assert.ok(p.ok, p.ok ? '' : p.error);
  assert.equal(p.leases.v4.length, 3);
  assert.deepEqual(p.leases.v4[1], { expires: 1795442796, hwaddr: 'ba:0b:65:32:31:74', address: '192.0.2.109', hostname: 'laptop', clientId: '01:ba:0b:65:32:31:74' });
  assert.equal(p.leases.v4[2]!.hwaddr, '20-01:02:03:04');
  assert.equal(p.leases.serverDuid, undefined);
  // Expiry 0 never expires; the others are counted against "now".
  assert.equal(activeLeaseCount(p.leases, 1795442700), 3);
  assert.equal(activeLeaseCount(p.leases, 1795442750), 2);
  assert.equal(formatDnsmasqLeases(p.leases), text('dnsmasq-v4.leases'));
});

test('dnsmasq lease file: the server DUID line and DHCPv6 bindings (IA_NA and IA_TA)', () => {
  const p = parseDnsmasqLeases(text('dnsmasq-v6.leases'));
  assert.ok(p.ok, p.ok ? '' : p.error);
  assert.equal(p.leases.serverDuid, '00:01:00:01:32:97:04:18:b2:70:9d:82:90:a1');
  assert.deepEqual(
    p.leases.v6.map((l) => [l.iaid, l.temporary, l.address, l.clientDuid]),
    [
      [1, false, 'fd00:0:0:1::155', '00:01:00:01:32:97:04:1d:86:2b:4f:4f:3f:6e'],
      [7, true, 'fd00:0:0:1::1a0', '00:01:00:01:32:97:04:70:ba:0b:65:32:31:74'],
    ],
  );
  assert.equal(formatDnsmasqLeases(p.leases), text('dnsmasq-v6.leases'));
  // An empty file is a valid file with no leases (dnsmasq writes it that way).
  assert.deepEqual(parseDnsmasqLeases(''), { ok: true, leases: { v4: [], v6: [] } });
});

test('dnsmasq lease file: truncated or garbage files are rejected with the line that is wrong', () => {
  const good = text('dnsmasq-v4.leases');
  const cases: [string, RegExp][] = [
    [good.slice(0, good.length - 20), /line 3: ends mid-line \(truncated\)/],
    [good.slice(0, 40), /line 1: ends mid-line/],
    ['garbage\n', /line 1: 1 fields, want 5/],
    ['1795442714 86:2b:4f:4f:3f:6e 192.0.2.300 * *\n', /not an IPv4 address/],
    ['soon 86:2b:4f:4f:3f:6e 192.0.2.3 * *\n', /expiry "soon" is not a number/],
    ['1 86:2b: 192.0.2.3 * *\n', /hardware address/],
    ['1 86:2b:4f:4f:3f:6e 192.0.2.3 * zz:yy\n', /client id/],
    [`${good}duid 00:01\nduid 00:02\n`, /line 5: a second duid line/],
    ['duid 00:01\n1 1 192.0.2.3 * *\n', /not an IPv6 address/],
    ['duid 00:01\n1 X1 fd00::1 * *\n', /IAID "X1"/],
    ['\0\0\0\0\n', /NUL bytes/],
    [good.replace('\n', '\n\n'), /line 2: 1 fields/],
  ];
  for (const [input, want] of cases) {
    const p = parseDnsmasqLeases(input);
    assert.equal(p.ok, false, JSON.stringify(input));
    if (!p.ok) assert.match(p.error, want);
  }
});

test('DHCPv6: dhcpcd\'s stored Reply for a delegated prefix (captured from kea)', () => {
  const m = parseDhcp6Message(bytes('dhcpcd-pd-wan0.lease6'));
  assert.ok(m.ok);
  assert.equal(m.message.type, Dhcp6Type.Reply);
  assert.equal(hexColons(option(m.message, Dhcp6Option.ClientId)!), '00:01:00:01:32:97:04:39:4a:60:3f:ce:87:42');
  const pd = delegatedPrefixes(m.message);
  assert.deepEqual(pd.errors, []);
  assert.deepEqual(pd.items, [{ iaid: 1196158154, t1: 60, t2: 90, preferredLifetime: 120, validLifetime: 180, prefixLength: 56, prefix: '2001:db8:100::' }]);
  // Re-encoding gives the same bytes.
  assert.deepEqual(encodeDhcp6Message(m.message), bytes('dhcpcd-pd-wan0.lease6'));
});

test('DHCPv6: dhcpcd\'s stored Reply for an address (captured from dnsmasq)', () => {
  const m = parseDhcp6Message(bytes('dhcpcd-na-eth0.lease6'));
  assert.ok(m.ok);
  const na = leasedAddresses(m.message);
  assert.deepEqual(na.items, [{ iaid: 1, t1: 60, t2: 105, address: 'fd00:0:0:1::155', preferredLifetime: 120, validLifetime: 120 }]);
  assert.deepEqual(na.statuses, []);
  assert.deepEqual(messageStatus(m.message), { code: 0, message: 'success' });
  assert.equal(hexColons(option(m.message, Dhcp6Option.ServerId)!), '00:01:00:01:32:97:04:18:b2:70:9d:82:90:a1');
});

test('DHCPv6: a truncated message or option is rejected', () => {
  const full = bytes('dhcpcd-pd-wan0.lease6');
  for (const cut of [3, 10, 41, full.length - 1]) {
    const m = parseDhcp6Message(full.subarray(0, cut));
    const pd = m.ok ? delegatedPrefixes(m.message) : undefined;
    assert.ok(!m.ok || (pd && pd.errors.length > 0), `cut at ${cut} accepted`);
  }
  // A cut exactly between two options is a shorter, well-formed message: as a
  // lease it is refused because it leases nothing.
  const atBoundary = parseLease6('wan0.lease6', full.subarray(0, 40));
  assert.ok(!atBoundary.ok && /no IA_PD or IA_NA/.test(atBoundary.error));
  assert.equal(parseDhcp6Message(Buffer.from('hello world\n')).ok, false);
});

test('dhcpcd state: duid and lease6 are validated; the prefix and server come out', () => {
  assert.equal(parseDuidFile('00:01:00:01:32:97:04:39:4a:60:3f:ce:87:42\n'), '00:01:00:01:32:97:04:39:4a:60:3f:ce:87:42');
  assert.equal(parseDuidFile('not a duid\n'), undefined);
  const good = new Map([
    ['duid', bytes('dhcpcd-duid')],
    ['wan0.lease6', bytes('dhcpcd-pd-wan0.lease6')],
    ['secret', Buffer.from('whatever dhcpcd keeps')],
  ]);
  const p = parseDhcpcdState(good);
  assert.ok(p.ok);
  assert.equal(p.state.duid, '00:01:00:01:32:97:04:39:4a:60:3f:ce:87:42');
  assert.equal(p.state.leases[0]!.ifname, 'wan0');
  assert.equal(p.state.leases[0]!.serverDuid, '00:01:00:01:32:97:04:2e:a6:fa:d0:8b:15:8c');
  const truncated = parseDhcpcdState(new Map([...good, ['wan0.lease6', bytes('dhcpcd-pd-wan0.lease6').subarray(0, 60)]]));
  assert.equal(truncated.ok, false);
  const garbled = parseDhcpcdState(new Map([...good, ['duid', Buffer.from('\0\0\0')]]));
  assert.ok(!garbled.ok && /duid/.test(garbled.error));
  const l = parseLease6('wan0.lease6', Buffer.from([2, 0, 0, 1]));
  assert.ok(!l.ok && /want a Reply/.test(l.error));
});

test('rsync --stats: byte counters with thousands separators', () => {
  const out = 'Number of regular files transferred: 1\nLiteral data: 3,893 bytes\nTotal bytes sent: 4,007\nTotal bytes received: 35\n';
  assert.deepEqual(parseRsyncStats(out), { bytesSent: 4007, bytesReceived: 35, filesTransferred: 1, literalBytes: 3893 });
  assert.equal(parseRsyncStats('rsync: connection unexpectedly closed'), undefined);
});
