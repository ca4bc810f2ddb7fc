import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { loadDesired } from '../../../src/config/desired.ts';
import { fixture } from '../../helpers/paths.ts';

const dir = fixture('bad');
const expected = JSON.parse(readFileSync(`${dir}/expected.json`, 'utf8')) as Record<string, string[]>;
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

test('every broken fixture has its expected errors listed', () => {
  assert.ok(files.length >= 30, `only ${files.length} broken fixtures`);
  assert.deepEqual(Object.keys(expected).sort(), files);
});

for (const f of files)
  test(`rejects ${f} with the expected code and position`, async () => {
    const r = await loadDesired({ files: [`${dir}/${f}`], replace: true });
    const got = r.errors.map((e) => `${e.code} ${e.line}:${e.col}${e.path ? ` ${e.path}` : ''}`);
    assert.deepEqual(got, expected[f]);
    for (const e of r.errors) {
      assert.equal(e.file, `${dir}/${f}`);
      assert.ok(e.message.length > 0);
    }
    assert.equal(r.errors.length > 0, true);
  });
