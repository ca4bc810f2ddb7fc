import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { When } from '../../src/api/when.ts';
import { evaluateWhen, type StatusLookup } from '../../src/when/evaluate.ts';

const roleIs =
  (role: string | undefined): StatusLookup =>
  (kind, name, field) =>
    kind === 'VirtualAddress' && name === 'lan-vip' && field === 'role' ? role : undefined;

const master: When = { state: { 'VirtualAddress/lan-vip.role': { equals: 'master' } } };

test('equals holds when the status matches', () => {
  assert.deepEqual(evaluateWhen(master, roleIs('master')), { truth: 'true', unmet: [] });
});

test('a different value is false and the message names it', () => {
  const o = evaluateWhen(master, roleIs('backup'));
  assert.equal(o.truth, 'false');
  assert.deepEqual(o.unmet, ['VirtualAddress/lan-vip.role is "backup", want equals "master"']);
});

test('an unreported status is unknown, not false', () => {
  const o = evaluateWhen(master, roleIs(undefined));
  assert.equal(o.truth, 'unknown');
  assert.match(o.unmet[0]!, /is unknown, want equals "master"/);
});

test('notEquals on an unknown value does not open the gate', () => {
  const w: When = { state: { 'VirtualAddress/lan-vip.role': { notEquals: 'backup' } } };
  assert.equal(evaluateWhen(w, roleIs(undefined)).truth, 'unknown');
  assert.equal(evaluateWhen(w, roleIs('master')).truth, 'true');
  assert.equal(evaluateWhen(w, roleIs('backup')).truth, 'false');
});

test('the literal value "unknown" counts as unknown', () => {
  assert.equal(evaluateWhen(master, roleIs('unknown')).truth, 'unknown');
});

test('in and exists', () => {
  const inW: When = { state: { 'VirtualAddress/lan-vip.role': { in: ['master', 'fault'] } } };
  assert.equal(evaluateWhen(inW, roleIs('fault')).truth, 'true');
  assert.equal(evaluateWhen(inW, roleIs('backup')).truth, 'false');
  const ex: When = { state: { 'VirtualAddress/lan-vip.role': { exists: true } } };
  assert.equal(evaluateWhen(ex, roleIs(undefined)).truth, 'false');
  assert.equal(evaluateWhen(ex, roleIs('backup')).truth, 'true');
  const notEx: When = { state: { 'VirtualAddress/lan-vip.role': { exists: false } } };
  assert.equal(evaluateWhen(notEx, roleIs(undefined)).truth, 'true');
});

test('all: false beats unknown; any: true beats unknown', () => {
  const lookup: StatusLookup = (_k, name) => (name === 'a' ? 'master' : name === 'b' ? 'backup' : undefined);
  const cond = (n: string): When => ({ state: { [`VirtualAddress/${n}.role`]: { equals: 'master' } } });
  assert.equal(evaluateWhen({ all: [cond('b'), cond('c')] }, lookup).truth, 'false');
  assert.equal(evaluateWhen({ all: [cond('a'), cond('c')] }, lookup).truth, 'unknown');
  assert.equal(evaluateWhen({ any: [cond('c'), cond('a')] }, lookup).truth, 'true');
  assert.equal(evaluateWhen({ any: [cond('c'), cond('b')] }, lookup).truth, 'unknown');
  assert.equal(evaluateWhen({ any: [cond('b')] }, lookup).truth, 'false');
});

test('no when means always', () => {
  assert.equal(evaluateWhen(undefined, () => undefined).truth, 'true');
});

test('numbers and booleans compare by value', () => {
  const w: When = { state: { 'NAT44Rule/x.observedGeneration': { equals: 3 } } };
  assert.equal(evaluateWhen(w, () => 3).truth, 'true');
  assert.equal(evaluateWhen(w, () => '3').truth, 'true');
  assert.equal(evaluateWhen(w, () => 4).truth, 'false');
});
