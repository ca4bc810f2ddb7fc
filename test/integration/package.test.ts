// The package as an operator gets it: `npm pack` (which builds dist/), then
// `npm install -g` of the tarball into an empty prefix, offline (the runtime
// dependencies are bundled), then the installed commands, run from /.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { REPO } from '../helpers/paths.ts';

const PACKAGE_VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
// What `npm pack` reads: the package's files plus what its build needs. Packing
// a copy keeps the checkout's own dist/ untouched while other tests run bin/.
const SOURCES = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'bin', 'src', 'scripts', 'examples', 'deploy', 'docs'];

let work: string;
let prefix: string;

function run(argv: readonly string[], cwd: string) {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(join(dir, e.name)) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : [],
  );
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'routerd-pack-'));
  const src = join(work, 'src');
  for (const f of SOURCES) cpSync(join(REPO, f), join(src, f), { recursive: true });
  symlinkSync(realpathSync(join(REPO, 'node_modules')), join(src, 'node_modules'));
  const pack = run(['npm', 'pack', '--json', '--pack-destination', work], src);
  assert.equal(pack.code, 0, `npm pack failed:\n${pack.err}`);
  const [{ filename }] = JSON.parse(pack.out) as [{ filename: string }];
  prefix = join(work, 'prefix');
  const install = run(['npm', 'install', '--global', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, join(work, filename)], work);
  assert.equal(install.code, 0, `npm install -g of the tarball failed:\n${install.err}`);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const installed = (cmd: 'routerd' | 'routerctl', ...args: string[]) => run([join(prefix, 'bin', cmd), ...args], '/');

test('the installed package runs compiled JavaScript: no sources, no TypeScript loader', () => {
  const pkg = join(prefix, 'lib', 'node_modules', 'routerd');
  assert.ok(existsSync(join(pkg, 'dist', 'cli', 'routerctl.js')));
  assert.ok(!existsSync(join(pkg, 'src')), 'src/ is not shipped');
  assert.ok(!existsSync(join(pkg, 'node_modules', 'tsx')), 'tsx (a dev dependency) is not installed');
  assert.ok(existsSync(join(pkg, 'deploy', 'systemd', 'routerd.service')), 'the systemd unit ships with the package');
});

test('the installed package carries the C helpers, and its compiled code finds them there', () => {
  const pkg = join(prefix, 'lib', 'node_modules', 'routerd');
  for (const name of ['routerd-ct-delete', 'routerd-ct-dump', 'routerd-ct-events']) {
    const path = join(pkg, 'build', name);
    assert.ok(existsSync(path), `${name} is shipped in build/`);
    assert.ok((statSync(path).mode & 0o111) !== 0, `${name} is executable`);
  }
  const probe = [
    `const [d, e, x] = await Promise.all(['ct-dump', 'ct-events', 'ct-delete'].map((m) => import('${pkg}/dist/kernel/' + m + '.js')));`,
    `console.log(JSON.stringify([d.ctDumpHelperPath(), e.ctEventsHelperPath(), x.ctDeleteHelperPath()]));`,
  ].join('\n');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^ROUTERD_CT_/.test(k)));
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: '/', encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), ['routerd-ct-dump', 'routerd-ct-events', 'routerd-ct-delete'].map((n) => join(pkg, 'build', n)));
});

test('both installed commands answer --version with the package version', () => {
  for (const cmd of ['routerd', 'routerctl'] as const) {
    const r = installed(cmd, '--version');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), PACKAGE_VERSION);
  }
});

test('the installed routerctl validates every example', () => {
  const examples = yamlFiles(join(REPO, 'examples'));
  assert.ok(examples.length >= 9, `examples found: ${examples.length}`);
  for (const file of examples) {
    const r = installed('routerctl', 'validate', '-f', file, '--replace');
    assert.equal(r.code, 0, `${relative(REPO, file)}: ${r.err}`);
    assert.match(r.out, /^valid: \d+ resources? in /);
  }
});

test('the installed routerd rejects a bad flag with exit 2 (commander and its dependencies load)', () => {
  const r = installed('routerd', 'serve', '--resync', '0', '--config', '/nonexistent.yaml');
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /--resync must be a number of seconds/);
});
