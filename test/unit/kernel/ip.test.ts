import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  ipAddrAddArgv,
  ipAddrDelArgv,
  ipAddrShowArgv,
  ipLinkSetDownArgv,
  ipLinkSetUpArgv,
  ipLinkShowArgv,
  ipRouteShowArgv,
  parseIpAddr,
  parseIpLink,
  parseIpRoute,
} from '../../../src/kernel/ip.ts';
import type { IpInterface, IpParseResult } from '../../../src/kernel/ip.ts';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/kernel/${name}`, import.meta.url), 'utf8');

function ok<T>(r: IpParseResult<T>): T[] {
  assert.deepEqual(r.errors, []);
  return r.items;
}

function named(list: readonly IpInterface[], name: string): IpInterface {
  const i = list.find((x) => x.name === name);
  assert.ok(i, name);
  return i;
}

test('reads interfaces with their IPv4 and IPv6 addresses from ip -j addr', () => {
  const ifs = ok(parseIpAddr(fixture('ip-addr.json')));
  assert.deepEqual(
    ifs.map((i) => i.name),
    ['lo', 'br0', 'v1', 'v0', 'v3', 'v2'],
  );
  const br0 = named(ifs, 'br0');
  assert.equal(br0.index, 2);
  assert.equal(br0.up, true);
  assert.equal(br0.operstate, 'UP');
  assert.equal(br0.mac, '5e:cd:42:d5:4e:41');
  assert.deepEqual(
    br0.addresses.map((a) => `${a.family} ${a.local}/${a.prefixlen}`),
    ['inet 192.0.2.1/24', 'inet 203.0.113.5/32', 'inet6 fd00:10::1/64', 'inet6 fe80::5ccd:42ff:fed5:4e41/64'],
  );
  assert.equal(br0.addresses[1]?.label, 'br0:vip');
  assert.equal(br0.addresses[2]?.nodad, true);
  assert.equal(br0.addresses[3]?.scope, 'link');
  assert.equal(br0.addresses[0]?.validLifetime, 4294967295);
});

test('tells a link that is down from one that is up without carrier', () => {
  const ifs = ok(parseIpAddr(fixture('ip-addr.json')));
  const v2 = named(ifs, 'v2');
  assert.equal(v2.up, false);
  assert.equal(v2.operstate, 'DOWN');
  assert.deepEqual(
    v2.addresses.map((a) => a.local),
    ['198.51.100.9'],
  );
  const v3 = named(ifs, 'v3');
  assert.equal(v3.up, true);
  assert.equal(v3.lowerUp, false);
  assert.equal(v3.operstate, 'LOWERLAYERDOWN');
  assert.equal(v3.peer, 'v2');
  assert.deepEqual(v3.addresses, []);
});

test('reads bridge ports, veth peers and link kinds (with -d)', () => {
  const ifs = ok(parseIpAddr(fixture('ip-addr-details.json')));
  assert.equal(named(ifs, 'br0').kind, 'bridge');
  const v1 = named(ifs, 'v1');
  assert.equal(v1.kind, 'veth');
  assert.equal(v1.master, 'br0');
  assert.equal(v1.portKind, 'bridge');
  assert.equal(v1.peer, 'v0');
  assert.equal(named(ok(parseIpAddr(fixture('ip-addr.json'))), 'v1').kind, undefined);
});

test('flags secondary IPv4 addresses', () => {
  const wan = named(ok(parseIpAddr(fixture('ip-addr-router.json'))), 'wan0');
  assert.deepEqual(
    wan.addresses.filter((a) => a.family === 'inet').map((a) => [a.local, a.secondary]),
    [
      ['198.51.100.1', false],
      ['198.51.100.100', true],
    ],
  );
});

test('reads ip -j link with and without details', () => {
  const links = ok(parseIpLink(fixture('ip-link.json')));
  assert.equal(links.length, 6);
  assert.equal(links.find((l) => l.name === 'v2')?.up, false);
  const detailed = ok(parseIpLink(fixture('ip-link-details.json')));
  assert.deepEqual(
    detailed.map((l) => [l.name, l.kind ?? null]),
    [
      ['lo', null],
      ['br0', 'bridge'],
      ['v1', 'veth'],
      ['v0', 'veth'],
      ['v3', 'veth'],
      ['v2', 'veth'],
    ],
  );
});

test('reads IPv4 and IPv6 routes', () => {
  const v4 = ok(parseIpRoute(fixture('ip-route4.json')));
  assert.deepEqual(v4[2], { dst: '203.0.113.0/24', gateway: '198.51.100.1', dev: 'v0', flags: [] });
  assert.equal(v4[0]?.prefsrc, '192.0.2.1');
  const v6 = ok(parseIpRoute(fixture('ip-route6.json')));
  const def = v6.find((r) => r.dst === 'default');
  assert.equal(def?.gateway, 'fd00:20::1');
  assert.equal(def?.metric, 1024);
});

test('reports bad JSON and bad items without dropping the good ones', () => {
  assert.equal(parseIpAddr('not json').errors[0]?.path, '$');
  assert.equal(parseIpAddr('{}').errors[0]?.message, 'expected a JSON array');
  assert.deepEqual(parseIpAddr(''), { items: [], errors: [] });
  const doc = JSON.parse(fixture('ip-addr.json')) as Record<string, unknown>[];
  doc[0] = { ifname: 'broken' };
  (doc[1]!['addr_info'] as Record<string, unknown>[])[0] = { family: 'inet', local: 'nope', prefixlen: 24 };
  const r = parseIpAddr(JSON.stringify(doc));
  assert.equal(r.items.length, 5);
  assert.equal(named(r.items, 'br0').addresses.length, 3);
  assert.ok(r.errors.some((e) => e.path.startsWith('$[0]')));
  assert.ok(r.errors.some((e) => e.path === '$[1].addr_info[0].local'));
});

test('builds show argv', () => {
  assert.deepEqual(ipAddrShowArgv(), ['ip', '-j', 'addr', 'show']);
  assert.deepEqual(ipAddrShowArgv({ dev: 'br0', family: 'inet6', details: true }), [
    'ip',
    '-j',
    '-d',
    '-6',
    'addr',
    'show',
    'dev',
    'br0',
  ]);
  assert.deepEqual(ipLinkShowArgv({ details: true }), ['ip', '-j', '-d', 'link', 'show']);
  assert.deepEqual(ipRouteShowArgv({ family: 'inet' }), ['ip', '-j', '-4', 'route', 'show']);
  assert.throws(() => ipAddrShowArgv({ dev: 'br0 up' }));
});

test('adds IPv6 addresses without DAD unless asked, IPv4 with an optional label', () => {
  assert.deepEqual(ipAddrAddArgv({ dev: 'lan0', address: 'fd00:1::1', prefixlen: 64 }), [
    'ip',
    'addr',
    'add',
    'fd00:1::1/64',
    'dev',
    'lan0',
    'nodad',
  ]);
  assert.deepEqual(ipAddrAddArgv({ dev: 'lan0', address: 'fd00:1::1', prefixlen: 64, nodad: false }).at(-1), 'lan0');
  assert.deepEqual(
    ipAddrAddArgv({ dev: 'br0', address: '203.0.113.5', prefixlen: 32, label: 'br0:vip', replace: true }),
    ['ip', 'addr', 'replace', '203.0.113.5/32', 'dev', 'br0', 'label', 'br0:vip'],
  );
  assert.throws(() => ipAddrAddArgv({ dev: 'br0', address: '203.0.113.5', prefixlen: 33 }));
  assert.throws(() => ipAddrAddArgv({ dev: 'br0', address: '203.0.113.5', prefixlen: 32, label: 'vip' }));
  assert.throws(() => ipAddrAddArgv({ dev: 'a-name-longer-than-15', address: '203.0.113.5', prefixlen: 32 }));
  assert.deepEqual(ipAddrDelArgv({ dev: 'br0', address: '192.0.2.1', prefixlen: 24 }), [
    'ip',
    'addr',
    'del',
    '192.0.2.1/24',
    'dev',
    'br0',
  ]);
  assert.deepEqual(ipLinkSetUpArgv('v0'), ['ip', 'link', 'set', 'dev', 'v0', 'up']);
  assert.deepEqual(ipLinkSetDownArgv('v0'), ['ip', 'link', 'set', 'dev', 'v0', 'down']);
});
