import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { apiPost } from '../../../src/cli/api-post.ts';
import { apiGet } from '../../../src/daemon/api-client.ts';
import { socketPath } from '../../../src/api/paths.ts';
import type { Generation } from '../../../src/daemon/generations.ts';
import { startDaemon, type ApplyOutcome } from '../../../src/daemon/serve.ts';
import { FakeHost } from '../../../src/host/fake.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { example } from '../../helpers/paths.ts';

async function withDaemon(fn: (d: { sock: string; config: string; stateDir: string; daemon: Awaited<ReturnType<typeof startDaemon>> }) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'routerd-apply-'));
  const config = join(dir, 'router.yaml');
  await copyFile(example('lab/router-a.yaml'), config);
  const paths = { runDir: join(dir, 'run'), stateDir: join(dir, 'state') };
  const daemon = await startDaemon({ configPath: config, paths, nodeName: 'ra', controllers: [], host: new FakeHost(), log: createLogger({ node: 'ra', level: 'silent' }), resyncMs: 3_600_000 });
  try {
    await fn({ sock: socketPath(paths), config, stateDir: paths.stateDir, daemon });
  } finally {
    await daemon.shutdown();
    await rm(dir, { recursive: true, force: true });
  }
}

const post = (sock: string, path: string, body: unknown) => apiPost<ApplyOutcome>(sock, path, body);
const vipPriority = (d: { daemon: Awaited<ReturnType<typeof startDaemon>> }) => {
  const v = d.daemon.manager.config.find((r) => r.kind === 'VirtualAddress');
  return v?.kind === 'VirtualAddress' ? v.spec.priority : undefined;
};

test('apply installs the config as a new generation; rollback --to brings an earlier one back', async () => {
  await withDaemon(async (d) => {
    const original = await readFile(d.config, 'utf8');
    const changed = original.replace('priority: 150', 'priority: 140');
    const r = await post(d.sock, '/api/v1/apply', { config: changed });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.generation, 2, 'generation 1 is the config routerd ran before');
    assert.equal(vipPriority(d), 140);
    assert.equal(await readFile(d.config, 'utf8'), changed, 'the node config file holds what runs');
    const back = await post(d.sock, '/api/v1/rollback', { to: 1 });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(vipPriority(d), 150);
    assert.equal(await readFile(d.config, 'utf8'), original);
    const h = await apiGet<{ generations: Generation[] }>(d.sock, '/api/v1/history');
    assert.deepEqual(h.body.generations.map((g) => `${g.generation} ${g.origin}${g.from ? ` ${g.from}` : ''}`), ['1 initial', '2 apply', '3 rollback 1']);
  });
});

test('apply refuses an invalid or a destructive config and changes nothing', async () => {
  await withDaemon(async (d) => {
    const before = await readFile(d.config, 'utf8');
    const invalid = await post(d.sock, '/api/v1/apply', { config: '- kind: VirtualAddress\n' });
    assert.equal(invalid.status, 409);
    assert.equal(invalid.body.outcome, 'invalid');
    const empty = await post(d.sock, '/api/v1/apply', { config: '' });
    assert.equal(empty.body.outcome, 'refused');
    assert.match(empty.body.message, /no resources at all/);
    assert.equal(await readFile(d.config, 'utf8'), before);
    assert.ok(d.daemon.manager.config.length > 0);
  });
});

test('apply --confirm rolls back by itself unless confirmed; confirm keeps it', async () => {
  await withDaemon(async (d) => {
    const original = await readFile(d.config, 'utf8');
    const r = await post(d.sock, '/api/v1/apply', { config: original.replace('priority: 150', 'priority: 130'), confirmMs: 1000 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(r.body.message, /run routerctl confirm before .* or it rolls back to generation 1/);
    assert.equal(vipPriority(d), 130);
    const second = await post(d.sock, '/api/v1/apply', { config: original });
    assert.equal(second.body.outcome, 'refused', 'no second apply while one waits for confirmation');
    // Not confirmed: back to generation 1, recorded as generation 3.
    const history = () => apiGet<{ generations: Generation[]; pending: unknown }>(d.sock, '/api/v1/history');
    for (let i = 0; i < 200 && (await history()).body.generations.length < 3; i++) await new Promise((res) => setTimeout(res, 50));
    assert.equal(vipPriority(d), 150);
    const h = await history();
    assert.deepEqual(h.body.generations.map((g) => `${g.generation} ${g.origin} ${g.confirmed}`), ['1 initial true', '2 apply false', '3 confirm-timeout true']);
    assert.equal(h.body.pending, null);
    // Confirmed in time: it stays.
    const kept = await post(d.sock, '/api/v1/apply', { config: original.replace('priority: 150', 'priority: 120'), confirmMs: 60_000 });
    assert.equal(kept.status, 200);
    const c = await post(d.sock, '/api/v1/confirm', {});
    assert.equal(c.status, 200, JSON.stringify(c.body));
    assert.equal(vipPriority(d), 120);
    assert.equal((await post(d.sock, '/api/v1/confirm', {})).body.outcome, 'refused');
  });
});
