import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { example, REPO } from '../helpers/paths.ts';

const routerctl = (...args: string[]) => spawnSync(process.execPath, [`${REPO}/bin/routerctl`, ...args], { encoding: 'utf8' });

test('routerctl render prints the file an engine gets for one resource', () => {
  const ka = routerctl('render', 'VirtualAddress/lan-vip', '-f', example('lab/router-a.yaml'), '--node', 'ra');
  assert.equal(ka.status, 0, ka.stderr);
  assert.match(ka.stdout, /vrrp_instance routerd_lan_vip \{/);
  const nft = routerctl('render', 'NAT44Rule/lan-out', '-f', example('lab/router-a.yaml'));
  assert.match(nft.stdout, /snat to 198\.51\.100\.100:20000-60000 random/);
  const dns = routerctl('render', 'DHCPv4Server/lan-dhcpv4', '-f', example('lab/router-a.yaml'));
  assert.match(dns.stdout, /^interface=lan0$/m);
  const none = routerctl('render', 'NAT44SessionSync/lan-sessions', '-f', example('lab/router-a.yaml'));
  assert.equal(none.status, 1);
  assert.match(none.stderr, /has no engine file of its own/);
  assert.equal(routerctl('render', 'not a ref').status, 2);
});
