import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  findTable,
  nftApplyArgv,
  nftCheckArgv,
  nftDeleteTableArgv,
  nftDeleteTableIfExistsScript,
  nftListRulesetArgv,
  nftListTableArgv,
  parseNftDiagnostics,
  parseNftJson,
} from '../../../src/kernel/nft.ts';
import type { NftRuleset, NftTable } from '../../../src/kernel/nft.ts';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/kernel/${name}`, import.meta.url), 'utf8');

function ok(text: string): NftRuleset {
  const r = parseNftJson(text);
  assert.deepEqual(r.errors, []);
  return r.ruleset;
}

function table(rs: NftRuleset, family: NftTable['family'], name: string): NftTable {
  const t = findTable(rs, family, name);
  assert.ok(t, `${family} ${name}`);
  return t;
}

test('summarises a ruleset: tables, base chains with hook and priority, rule counts', () => {
  const rs = ok(fixture('nft-ruleset.json'));
  assert.equal(rs.version, '1.0.6');
  assert.deepEqual(
    rs.tables.map((t) => `${t.family} ${t.name}`),
    ['ip rtknat', 'inet rtkfilter', 'ip rtkraw'],
  );
  const nat = table(rs, 'ip', 'rtknat');
  assert.deepEqual(nat.chains, [
    { family: 'ip', table: 'rtknat', name: 'postnat', handle: 1, type: 'nat', hook: 'postrouting', priority: 100, policy: 'accept', rules: 2 },
    { family: 'ip', table: 'rtknat', name: 'prenat', handle: 2, type: 'nat', hook: 'prerouting', priority: -100, policy: 'accept', rules: 0 },
  ]);
  const raw = table(rs, 'ip', 'rtkraw').chains[0];
  assert.equal(raw?.priority, -300);
  assert.equal(raw?.rules, 2);
  const filter = table(rs, 'inet', 'rtkfilter');
  assert.deepEqual(
    filter.chains.map((c) => [c.name, c.policy, c.rules]),
    [
      ['forward_filter', 'drop', 4],
      ['mark_pre', 'accept', 4],
    ],
  );
});

test('counts set and map elements, keeping key and data types', () => {
  const rs = ok(fixture('nft-ruleset.json'));
  const nat = table(rs, 'ip', 'rtknat');
  assert.deepEqual(
    nat.sets.map((s) => [s.kind, s.name, s.keyType, s.dataType ?? null, s.flags, s.elements]),
    [
      ['map', 'snat_by_src', 'ipv4_addr', 'ipv4_addr', [], 2],
      ['set', 'blocked', 'ipv4_addr', null, ['interval'], 1],
    ],
  );
  const el = ok(fixture('nft-ruleset-elements.json'));
  const t = table(el, 'inet', 'rtkel');
  const byName = new Map(t.sets.map((s) => [s.name, s]));
  assert.equal(byName.get('dnat_concat')?.keyType, 'ipv4_addr . inet_service');
  assert.equal(byName.get('dnat_concat')?.dataType, 'ipv4_addr . inet_service');
  assert.equal(byName.get('dnat_concat')?.elements, 2);
  assert.equal(byName.get('port_verdict')?.dataType, 'verdict');
  assert.equal(byName.get('recent')?.elements, 2);
  assert.equal(byName.get('recent')?.timeout, 3600);
  assert.equal(byName.get('empty_set')?.elements, 0);
  const helper = t.chains.find((c) => c.name === 'helper_chain');
  assert.equal(helper?.hook, undefined);
  assert.equal(helper?.rules, 1);
});

test('reads nft -j list table like a one-table ruleset', () => {
  const rs = ok(fixture('nft-table-inet-rtkfilter.json'));
  assert.equal(rs.tables.length, 1);
  assert.deepEqual(table(rs, 'inet', 'rtkfilter').chains.map((c) => c.rules), [4, 4]);
  assert.equal(ok(fixture('nft-table-ip-rtknat.json')).tables[0]?.sets.length, 2);
  assert.deepEqual(ok(fixture('nft-ruleset-empty.json')), { version: '1.0.6', tables: [] });
});

test('reports malformed documents and objects without throwing', () => {
  assert.equal(parseNftJson('{').errors[0]?.path, '$');
  assert.equal(parseNftJson('[]').errors.length, 1);
  const doc = JSON.parse(fixture('nft-ruleset.json')) as { nftables: Record<string, Record<string, unknown>>[] };
  doc.nftables[4]!['chain']!['handle'] = 'x';
  doc.nftables.push({ chain: { family: 'ip', table: 'ghost', name: 'c', handle: 1 } });
  const r = parseNftJson(JSON.stringify(doc));
  assert.equal(r.errors.length, 2);
  assert.match(r.errors[0]?.path ?? '', /nftables\[4\]\.chain\.handle/);
  assert.match(r.errors[1]?.message ?? '', /unknown table ip ghost/);
  assert.equal(table(r.ruleset, 'ip', 'rtknat').chains.length, 1);
});

test('locates errors from nft -f - on stdin', () => {
  assert.deepEqual(parseNftDiagnostics(fixture('nft-apply-error-stderr.txt')), [
    { file: '/dev/stdin', line: 3, columnStart: 19, columnEnd: 19, message: "syntax error, unexpected '}'" },
    { file: '/dev/stdin', line: 5, columnStart: 1, columnEnd: 1, message: 'syntax error, unexpected end of file' },
  ]);
  assert.deepEqual(parseNftDiagnostics('Error: Could not process rule: No such file or directory\n'), []);
});

test('builds nft argv and refuses names nft would misread', () => {
  assert.deepEqual(nftApplyArgv(), ['nft', '-f', '-']);
  assert.deepEqual(nftCheckArgv(), ['nft', '-c', '-f', '-']);
  assert.deepEqual(nftListRulesetArgv(), ['nft', '-j', 'list', 'ruleset']);
  assert.deepEqual(nftListTableArgv('inet', 'routerd_nat'), ['nft', '-j', 'list', 'table', 'inet', 'routerd_nat']);
  assert.deepEqual(nftDeleteTableArgv('ip', 'rtk-x'), ['nft', 'delete', 'table', 'ip', 'rtk-x']);
  assert.equal(nftDeleteTableIfExistsScript('inet', 'rtk'), 'table inet rtk\ndelete table inet rtk\n');
  assert.throws(() => nftListTableArgv('inet', '9lives'));
  assert.throws(() => nftDeleteTableIfExistsScript('inet', 'x\nflush ruleset'));
  assert.throws(() => nftListTableArgv('bogus' as 'inet', 'x'));
});
