// What operators expect of a CLI: --version, -o yaml, kinds in any case with
// a "did you mean", explain, completion, usage errors (no arguments too) exit 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { KIND_NAMES, statusFieldsOf } from '../../src/controllers/kinds.ts';
import { explain } from '../../src/cli/explain.ts';
import { findKind, resolveRef, suggestKinds } from '../../src/cli/kind-ref.ts';
import { COMMON_STATUS_DOCS, STATUS_DOCS } from '../../src/cli/status-fields.ts';
import { REPO, example } from '../helpers/paths.ts';

const routerctl = (...args: string[]) => {
  const r = spawnSync(join(REPO, 'bin', 'routerctl'), args, { encoding: 'utf8', cwd: '/' });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

test('--version prints the package version for both commands', () => {
  const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
  assert.equal(routerctl('--version').out.trim(), version);
  const d = spawnSync(join(REPO, 'bin', 'routerd'), ['--version'], { encoding: 'utf8' });
  assert.equal(d.status, 0);
  assert.equal(d.stdout.trim(), version);
});

test('no arguments is a usage error: help on stderr, exit 2', () => {
  const r = routerctl();
  assert.equal(r.code, 2);
  assert.equal(r.out, '');
  assert.match(r.err, /Usage: routerctl/);
  const d = spawnSync(join(REPO, 'bin', 'routerd'), [], { encoding: 'utf8' });
  assert.equal(d.status, 2);
  assert.match(d.stderr, /Usage: routerd/);
});

test('validate -o yaml prints the same data as -o json', () => {
  const args = ['validate', '-f', example('nat44-session-sync.yaml'), '--replace'];
  const y = routerctl(...args, '-o', 'yaml');
  const j = routerctl(...args, '-o', 'json');
  assert.equal(y.code, 0, y.err);
  assert.deepEqual(parse(y.out), JSON.parse(j.out));
});

test('kinds are found in any case and by controller name; typos get a suggestion', () => {
  assert.equal(findKind('virtualaddress'), 'VirtualAddress');
  assert.equal(findKind('NAT44SESSIONSYNC'), 'NAT44SessionSync');
  assert.equal(findKind('dhcpv4-server-lease-sync'), 'DHCPv4ServerLeaseSync');
  assert.equal(findKind('VirtualAdress'), undefined);
  assert.deepEqual(suggestKinds('VirtualAdress'), ['VirtualAddress']);
  assert.equal(suggestKinds('NAT44Rules')[0], 'NAT44Rule');
  assert.deepEqual(resolveRef('virtualaddress/lan-vip'), { kind: 'VirtualAddress', name: 'lan-vip' });
  const r = routerctl('schema', 'virtualadress');
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown kind "virtualadress"; did you mean VirtualAddress\?/);
  assert.equal(routerctl('schema', 'statelessnat44').code, 0);
  for (const bad of ['lan-vip', 'VirtualAddress/Lan_VIP', 'Nope/x']) assert.equal(routerctl('describe', bad).code, 2, bad);
  assert.equal(routerctl('get', 'virtualadress/lan-vip').code, 2);
});

test('explain shows a field\'s type, default, allowed values and docs, and the fields below it', () => {
  const mode = explain('nat44sessionsync', ['spec', 'mode']);
  assert.equal(mode.kind, 'NAT44SessionSync');
  assert.equal(mode.default, 'snapshot');
  assert.deepEqual(mode.values, ['snapshot', 'stream', 'conntrackd', 'event-stream']); // event-stream: routerd (Go)'s name for stream
  assert.match(mode.description!, /periodic dump and restore/);
  const targets = explain('NAT44SessionSync', ['spec', 'targets']);
  assert.equal(targets.type, 'object[]');
  const restore = targets.fields.find((f) => f.name === 'restoreCommand');
  assert.deepEqual(restore?.default, ['conntrack']);
  assert.ok(targets.fields.find((f) => f.name === 'host')?.required);
  const r = routerctl('explain', 'NAT44SessionSync.spec.targets');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^FIELD:\s+spec\.targets <object\[\]>/m);
  assert.match(r.out, /restoreCommand\s+<string\[\]>[\s\S]*Default:\s+\["conntrack"\]/);
  assert.equal(routerctl('explain', 'NAT44SessionSync.spec.nope').code, 2);
});

test('explain KIND.status lists every status field with its possible values', () => {
  const s = explain('VirtualAddress', ['status']);
  assert.deepEqual(s.fields.map((f) => f.name), [...statusFieldsOf('VirtualAddress')]);
  assert.deepEqual(s.fields.find((f) => f.name === 'role')?.values, ['master', 'backup', 'fault', 'unknown']);
  assert.ok(s.fields.find((f) => f.name === 'phase')?.values?.includes('Synced'));
  const r = routerctl('explain', 'virtualaddress.status.role', '-o', 'json');
  assert.equal(r.code, 0, r.err);
  assert.deepEqual((JSON.parse(r.out) as { values: string[] }).values, ['master', 'backup', 'fault', 'unknown']);
  // Every field spec.when may test is documented.
  for (const k of KIND_NAMES) for (const f of statusFieldsOf(k)) assert.ok(COMMON_STATUS_DOCS[f] ?? (STATUS_DOCS[k] as Record<string, unknown>)[f], `${k}.status.${f} has docs`);
});

test('bash completion covers every command and is valid bash', () => {
  const r = routerctl('completion', 'bash');
  assert.equal(r.code, 0, r.err);
  for (const c of ['validate', 'plan', 'describe', 'get', 'status', 'schema', 'explain']) assert.match(r.out, new RegExp(`\\b${c}\\) opts=`));
  assert.match(r.out, /complete -F _routerctl routerctl/);
  assert.match(r.out, /VirtualAddress/);
  const syntax = spawnSync('bash', ['-n'], { input: r.out, encoding: 'utf8' });
  assert.equal(syntax.status, 0, syntax.stderr);
  // Completing "explain virt" in a real bash gives the kind.
  const script = `${r.out}\nCOMP_WORDS=(routerctl explain virt); COMP_CWORD=2; _routerctl; echo "\${COMPREPLY[*]}"`;
  assert.equal(spawnSync('bash', ['-c', script], { encoding: 'utf8' }).stdout.trim(), 'VirtualAddress');
  assert.equal(routerctl('completion', 'fish').code, 2);
});
