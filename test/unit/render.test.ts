import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ResourceOf } from '../../src/api/kinds.ts';
import { interfaceResolver } from '../../src/controllers/interface/resolve.ts';
import { renderDhcpcdConf, iaidOf } from '../../src/engines/dhcpcd/render.ts';
import { renderDhcpv4Conf, renderDhcpv6Conf } from '../../src/engines/dnsmasq/render.ts';
import { renderKeepalivedConf } from '../../src/engines/keepalived/render.ts';
import { renderNatTable } from '../../src/engines/nft/nat.ts';
import { renderStatelessTable } from '../../src/engines/nft/stateless.ts';
import { stampTable } from '../../src/engines/nft/table.ts';
import { resourcesOfFile } from '../helpers/config.ts';
import { assertGolden } from '../helpers/golden.ts';
import { example } from '../helpers/paths.ts';

const labA = await resourcesOfFile(example('lab/router-a.yaml'));
const seed000 = await resourcesOfFile(example('nat44-session-sync.yaml'));
const dhcp = await resourcesOfFile(example('dhcp-lease-sync-ha.yaml'));
const ofKind = <K extends ResourceOf<never>['kind'] | string>(rs: readonly { kind: string }[], kind: K) => rs.filter((r) => r.kind === kind);

test('keepalived.conf for the lab router, one statement per line', () => {
  const conf = renderKeepalivedConf({
    routerId: 'ra',
    virtualAddresses: ofKind(labA, 'VirtualAddress') as ResourceOf<'VirtualAddress'>[],
    ifname: interfaceResolver(labA),
    paths: { notifyFifo: '/run/routerd/keepalived/notify.fifo' },
  });
  assertGolden('keepalived-lab-a.conf', conf);
  for (const line of conf.split('\n')) assert.ok(!/\{.*\S.*\}/.test(line), `two statements on one line: ${line}`);
  assert.match(conf, /^advert_int 0\.2$/m);
  assert.match(conf, /^vrrp_version 3$/m);
});

test('keepalived.conf with unicast peers, nopreempt and excluded addresses', () => {
  const vip = ofKind(seed000, 'VirtualAddress')[0] as ResourceOf<'VirtualAddress'>;
  const tweaked: ResourceOf<'VirtualAddress'> = { ...vip, spec: { ...vip.spec, peers: ['192.168.30.3'], preempt: false } };
  const conf = renderKeepalivedConf({ routerId: 'node1', virtualAddresses: [tweaked], ifname: interfaceResolver(seed000), paths: { notifyFifo: '/run/fifo' } });
  assertGolden('keepalived-seed000.conf', conf);
  assert.match(conf, /^nopreempt$/m);
  assert.match(conf, /^unicast_peer \{\n192\.168\.30\.3\n\}$/m);
});

test('nft NAT table for the seed 000 rules: most specific source first', () => {
  const rules = (ofKind(seed000, 'NAT44Rule') as ResourceOf<'NAT44Rule'>[]).map((r) => ({
    name: r.metadata.name,
    outIfname: r.spec.outInterface,
    sources: r.spec.sources,
    snat: { kind: 'addresses' as const, addresses: [r.spec.snat.address!] },
    portRange: r.spec.portRange ? { from: 20000, to: 60000 } : undefined,
    random: r.spec.random,
  }));
  const { text, digest } = stampTable(renderNatTable(rules), { family: 'ip', name: 'routerd_nat' });
  assertGolden('nft-nat-seed000.nft', text);
  assert.match(text, new RegExp(`comment "routerd:${digest}"`));
  const order = [...text.matchAll(/comment "NAT44Rule\/([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(order)], ['lan-to-dslite-b', 'lan-to-dslite-c', 'lan-to-dslite-a', 'lan-to-dslite-ra']);
});

test('nft NAT table: address lists, ranges and masquerade', () => {
  const base = { outIfname: 'wan0', sources: ['0.0.0.0/0'], random: false, portRange: undefined };
  const text = renderNatTable([
    { ...base, name: 'range', sources: ['192.0.2.0/25'], snat: { kind: 'addresses', addresses: ['198.51.100.101', '198.51.100.100'] } },
    { ...base, name: 'list', sources: ['192.0.2.128/25'], snat: { kind: 'addresses', addresses: ['198.51.100.100', '198.51.100.110'] }, portRange: { from: 1024, to: 65535 } },
    { ...base, name: 'masq', snat: { kind: 'masquerade' } },
  ]);
  assertGolden('nft-nat-forms.nft', text);
});

test('nft stateless table maps both directions through one rule each', () => {
  const text = renderStatelessTable([
    {
      ifname: 'wan0',
      mappings: [
        { external: '198.51.100.150', internal: '192.0.2.50' },
        { external: '198.51.100.151', internal: '192.0.2.51' },
      ],
    },
  ]);
  assertGolden('nft-stateless.nft', text);
});

test('dnsmasq configs for the seed 002 servers: DHCP only, leases under the state dir', () => {
  const v4 = ofKind(dhcp, 'DHCPv4Server')[0] as ResourceOf<'DHCPv4Server'>;
  const v6 = ofKind(dhcp, 'DHCPv6Server')[0] as ResourceOf<'DHCPv6Server'>;
  const files = (n: string) => ({ leaseFile: `/var/lib/routerd/dnsmasq/${n}.leases`, pidFile: `/run/routerd/dnsmasq/${n}.pid` });
  const c4 = renderDhcpv4Conf(v4, 'lan0', files('dhcpv4-server-lan-dhcpv4'));
  const c6 = renderDhcpv6Conf(v6, 'lan0', files('dhcpv6-server-lan-dhcpv6'));
  assertGolden('dnsmasq-seed002-v4.conf', c4);
  assertGolden('dnsmasq-seed002-v6.conf', c6);
  assert.match(c4, /^port=0$/m);
  assert.match(c6, /^dhcp-range=set:v6-lan-dhcpv6,fd00:30::100,fd00:30::1ff,64,3600$/m);
});

test('dhcpcd config requests only a prefix, with an IAID both routers derive alike', () => {
  const pd = ofKind(dhcp, 'DHCPv6PrefixDelegation')[0] as ResourceOf<'DHCPv6PrefixDelegation'>;
  assertGolden('dhcpcd-seed002.conf', renderDhcpcdConf(pd, 'wan0'));
  assert.equal(iaidOf(pd), iaidOf(structuredClone(pd)));
  assert.equal(iaidOf({ ...pd, spec: { ...pd.spec, iaid: 7 } }), 7);
});
