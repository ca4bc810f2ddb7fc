import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { KIND_NAMES } from '../../src/controllers/kinds.ts';
import { REPO, example, fixture } from '../helpers/paths.ts';

const routerctl = (...args: string[]) => {
  const r = spawnSync(join(REPO, 'bin', 'routerctl'), args, { encoding: 'utf8', cwd: '/' });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

test('validate accepts the seed 002 example as the README shows (exit 0)', () => {
  const r = routerctl('validate', '-f', example('dhcp-lease-sync-ha.yaml'), '--replace');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /valid: 9 resources/);
});

test('validate reports every error with file:line:col and exits 1', () => {
  const f = fixture('bad', '49-many-errors-at-once.yaml');
  const r = routerctl('validate', '-f', f, '--replace');
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`${f}:15:16: RD_E_INVALID_ADDRESS NAT44Rule/out spec\\.snat\\.address`));
  assert.match(r.err, /5 errors; nothing was applied/);
});

test('validate -o json gives scripts the errors', () => {
  const r = routerctl('validate', '-f', fixture('bad', '13-invalid-ipv4.yaml'), '--replace', '-o', 'json');
  assert.equal(r.code, 1);
  const body = JSON.parse(r.out) as { valid: boolean; errors: { code: string; line: number }[] };
  assert.equal(body.valid, false);
  assert.equal(body.errors[0]?.code, 'RD_E_INVALID_ADDRESS');
  assert.equal(body.errors[0]?.line, 8);
});

test('usage errors exit 2', () => {
  assert.equal(routerctl('validate', '--no-such-flag').code, 2);
  assert.equal(routerctl('frobnicate').code, 2);
  assert.equal(routerctl('validate', '--replace').code, 2);
  assert.equal(routerctl('schema', 'NoSuchKind').code, 2);
  assert.equal(routerctl('describe', 'not a ref').code, 2);
});

test('plan --replace on the seed 002 example prints a table of actions', () => {
  const r = routerctl('plan', '-f', example('dhcp-lease-sync-ha.yaml'), '--replace', '--run-dir', '/nonexistent/run', '--state-dir', '/nonexistent/state');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^RESOURCE\s+ACTION\s+OBJECT\s+DETAIL/m);
  assert.match(r.out, /DHCPv4ServerLeaseSync\/lan-v4-leases\s+wait\s+spec\.when/);
  assert.match(r.out, /Plan: /);
});

test('plan of an invalid config exits 1 and plans nothing', () => {
  const r = routerctl('plan', '-f', fixture('bad', '26-dangling-natrule.yaml'), '--replace');
  assert.equal(r.code, 1);
  assert.equal(r.out, '');
  assert.match(r.err, /RD_E_DANGLING_REFERENCE/);
});

test('schema exports JSON Schema with defaults and field docs', () => {
  const r = routerctl('schema', 'NAT44SessionSync');
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out) as { properties: { spec: { properties: Record<string, { default?: unknown; description?: string }> } } };
  assert.equal(s.properties.spec.properties.mode?.default, 'snapshot');
  assert.match(s.properties.spec.properties.targets?.description ?? '', /Standby/);
  const all = JSON.parse(routerctl('schema').out) as Record<string, unknown>;
  assert.equal(Object.keys(all).length, KIND_NAMES.length);
});

test('describe without a running daemon says how to reach one and exits 1', () => {
  const r = routerctl('describe', 'VirtualAddress/lan-vip', '--run-dir', '/nonexistent');
  assert.equal(r.code, 1);
  assert.match(r.err, /routerd is not reachable at \/nonexistent\/routerd\.sock/);
});
