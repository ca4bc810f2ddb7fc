// Status reasons are a closed set (src/controllers/status.ts Reason): spec.when,
// scripts and operators match them. A reason written as a literal anywhere
// else, or a Reason nobody sets, fails here.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Reason } from '../../src/controllers/status.ts';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const STATUS_FILE = join('src', 'controllers', 'status.ts');

test('no status reason is written as a literal outside Reason', () => {
  const offenders: string[] = [];
  for (const file of sources('src')) {
    if (file === STATUS_FILE) continue;
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        // A status reason is one PascalCase word; flow judgements ('address-removed') and log text are not.
        if (/\breason\s*(?::|=|===|!==)\s*['"`][A-Z][A-Za-z0-9]*['"`]/.test(line)) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(offenders, []);
});

test('every Reason is set somewhere (no reason kept for nothing)', () => {
  const text = sources('src')
    .filter((f) => f !== STATUS_FILE)
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  const unused = Object.keys(Reason).filter((k) => !text.includes(`Reason.${k}`));
  assert.deepEqual(unused, []);
});

test('Reason values are their names (stable strings)', () => {
  for (const [k, v] of Object.entries(Reason)) assert.equal(k, v);
});
