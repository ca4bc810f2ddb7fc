// The layers of docs/architecture.md, held to the code: an import may point to
// its own layer or one below, never above (type imports included). A kind
// folder's schema.ts (its spec and API facts, which the loader reads) imports
// only the shared vocabulary (src/api, src/support) and other kinds' schema.ts.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';

/** Top to bottom. `lab` (namespace lab, demo, e2e helpers) sits on top of everything. */
const LAYERS = ['lab', 'cli', 'daemon', 'config', 'controllers', 'engines', 'transport', 'kernel', 'host', 'when', 'observability', 'api', 'support'];

const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
const SOURCES = walk('src').filter((f) => f.endsWith('.ts'));

/** Import and export-from specifiers: static (`import type` too), side-effect and literal dynamic imports. */
function specifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found = [
    ...code.matchAll(/^\s*(?:import|export)\s+(?:type\s+)?[\w\s{},*$]*?\s*from\s*['"]([^'"]+)['"]/gm),
    ...code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
    ...code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ];
  return found.map((m) => m[1]!);
}

/** The file an import names, relative to the repository; undefined for packages and node: modules. */
function target(file: string, spec: string): string | undefined {
  return spec.startsWith('.') ? normalize(join(dirname(file), spec)) : undefined;
}

function layerOf(path: string): string | undefined {
  const parts = relative('src', path).split('/');
  return parts.length > 1 && !parts[0]!.startsWith('..') ? parts[0] : undefined;
}

const isSchema = (path: string) => /^src\/controllers\/[^/]+\/schema\.ts$/.test(path);

test('the parser finds every form of import', () => {
  const text = [
    "import { a, type B } from './a.ts';",
    "import type { C } from '../c.ts';",
    'import {\n  d,\n  e,\n} from "./d.ts";',
    "export { f } from './f.ts';",
    "export * from './g.ts';",
    "import './h.ts';",
    "const i = await import('./i.ts');",
    "// import { no } from './comment.ts';",
    "const s = 'import x from \"./string.ts\"';",
  ].join('\n');
  assert.deepEqual(specifiers(text).sort(), ['../c.ts', './a.ts', './d.ts', './f.ts', './g.ts', './h.ts', './i.ts']);
});

test('every source file sits in a known layer', () => {
  assert.deepEqual(SOURCES.filter((f) => !LAYERS.includes(layerOf(f) ?? '')), []);
});

test('imports point to the same layer or one below', () => {
  const offenders: string[] = [];
  for (const file of SOURCES) {
    const from = LAYERS.indexOf(layerOf(file)!);
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      const to = target(file, spec);
      if (to === undefined) continue;
      const layer = layerOf(to);
      if (layer === undefined) offenders.push(`${file}: import '${spec}' leaves src/`);
      else if (!LAYERS.includes(layer)) offenders.push(`${file}: import '${spec}' names no layer`);
      else if (LAYERS.indexOf(layer) < from) offenders.push(`${file} (${LAYERS[from]}): import '${spec}' points up to ${layer}`);
    }
  }
  assert.deepEqual(offenders, [], `imports against the layers (top to bottom: ${LAYERS.join(' → ')}):\n${offenders.join('\n')}`);
});

test('a kind\'s schema.ts imports only src/api, src/support and other kinds\' schema.ts', () => {
  const schemas = SOURCES.filter(isSchema);
  assert.ok(schemas.length >= 9, `found the kinds' schema.ts files: ${schemas.join(', ')}`);
  const offenders: string[] = [];
  for (const file of schemas)
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      const to = target(file, spec);
      if (to === undefined) continue;
      const layer = layerOf(to);
      if (layer !== 'api' && layer !== 'support' && !isSchema(to)) offenders.push(`${file}: import '${spec}'`);
    }
  assert.deepEqual(offenders, [], `schema.ts files import more than the API vocabulary:\n${offenders.join('\n')}`);
});
