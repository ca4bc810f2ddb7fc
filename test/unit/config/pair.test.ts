import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { parseConfigText } from '../../../src/config/load.ts';
import { checkPair } from '../../../src/config/pair.ts';
import { example, REPO } from '../../helpers/paths.ts';

const A = readFileSync(example('lab/router-a.yaml'), 'utf8');
const B = readFileSync(example('lab/router-b.yaml'), 'utf8');
const pair = (a: string, b: string) => checkPair(parseConfigText(a, 'a.yaml').resources, parseConfigText(b, 'b.yaml').resources).map((e) => `${e.file}:${e.line}:${e.col} ${e.path}: ${e.message}`);

test('the lab pair agrees', () => {
  assert.deepEqual(pair(A, B), []);
});

test('a pair must share VRIDs, addresses and NAT rules, and differ in priority and targets', () => {
  const b = B.replace('virtualRouterId: 51', 'virtualRouterId: 52')
    .replace('priority: 100', 'priority: 150')
    .replace('portRange: "20000-60000"', 'portRange: "20000-50000"')
    .replace(/host: 192\.0\.2\.2\n(\s+user: root\n\s+when:\n\s+state:\n\s+VirtualAddress\/lan-vip\.role:\n\s+equals: master\n\n- apiVersion: net\.routerd\.net\/v1alpha1\n {2}kind: DHCPv4Server)/, 'host: 192.0.2.3\n$1');
  const errors = pair(A, b);
  assert.deepEqual(
    errors.map((e) => e.replace(/:.*? (spec\.\S+):.*/, ' $1')),
    ['b.yaml spec.virtualRouterId', 'b.yaml spec.priority', 'b.yaml spec.portRange', 'b.yaml spec.targets[0].host'],
  );
  assert.match(errors[0]!, /differs from a\.yaml: 52 here, 51 there/);
  assert.match(errors[3]!, /both routers push to 192\.0\.2\.3/);
});

test('a resource on one router only is named; IPv6 spellings compare equal', () => {
  const onlyA = B.replace(/- apiVersion: net\.routerd\.net\/v1alpha1\n {2}kind: DHCPv6ServerLeaseSync[^]*$/, '');
  const errors = pair(A, onlyA);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /DHCPv6ServerLeaseSync\/lan-v6-leases is only in a\.yaml/);
  assert.deepEqual(pair(A, B.replace('start: fd00:0:0:1::100', 'start: FD00::1:0:0:0:100')), []);
});

test('routerctl validate --pair exits 0 for the lab pair and names the file and field otherwise', () => {
  const ok = spawnSync(process.execPath, [`${REPO}/bin/routerctl`, 'validate', '--pair', example('lab/router-a.yaml'), example('lab/router-b.yaml')], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /valid pair/);
  const same = spawnSync(process.execPath, [`${REPO}/bin/routerctl`, 'validate', '--pair', example('lab/router-a.yaml'), example('lab/router-a.yaml')], { encoding: 'utf8' });
  assert.equal(same.status, 1);
  assert.match(same.stderr, /router-a\.yaml:25:15: RD_E_PAIR_MISMATCH VirtualAddress\/lan-vip spec\.priority: the same priority 150/);
});
