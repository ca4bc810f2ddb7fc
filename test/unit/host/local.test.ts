import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LocalHost, writeFileAtomic } from '../../../src/host/local.ts';

test('a command that does not exist is a result (127, ENOENT), not an exception', async () => {
  const host = new LocalHost();
  const r = await host.run(['/nonexistent/routerd-no-such-command']);
  assert.equal(r.code, 127);
  assert.match(r.stderr, /ENOENT/);
  const child = host.spawn(['/nonexistent/routerd-no-such-command']);
  assert.deepEqual(await child.exited, { code: 127, signal: null });
});

test('spawn failing with EMFILE becomes a result and a failed child; the process survives', () => {
  // A child node with a tiny descriptor limit opens files until EMFILE, then runs and spawns.
  const script = fileURLToPath(new URL('./emfile-probe.ts', import.meta.url));
  const r = spawnSync('sh', ['-c', 'ulimit -n 64 && exec "$@"', 'probe', process.execPath, '--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { run: { code: number; stderr: string }; spawn: { code: number }; stdin: { code: number } };
  assert.equal(out.run.code, 127);
  assert.match(out.run.stderr, /EMFILE|ENFILE|EAGAIN/);
  assert.equal(out.spawn.code, 127);
  assert.equal(out.stdin.code, 127);
});

test('an atomic write that fails removes its temporary file and leaves the old content', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'routerd-atomic-'));
  try {
    const file = join(dir, 'state.json');
    await writeFileAtomic(file, 'old\n');
    await writeFileAtomic(file, 'new\n');
    assert.equal(await readFile(file, 'utf8'), 'new\n');
    // A directory where the file should go: rename fails (EISDIR) after the data was written.
    const blocked = join(dir, 'blocked');
    await mkdir(join(blocked, 'x'), { recursive: true });
    await assert.rejects(writeFileAtomic(blocked, 'data'), /EISDIR|ENOTEMPTY|EEXIST/);
    assert.deepEqual((await readdir(dir)).sort(), ['blocked', 'state.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
