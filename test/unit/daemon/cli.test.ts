// routerd serve as a process, with a controller that has nothing to do in the
// example config (dhcpv6-prefix-delegation), so it only observes this host read-only.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { apiGet } from '../../../src/daemon/api-client.ts';
import { listenTcp } from '../../../src/daemon/api.ts';
import { TCP_LIMITS } from '../../../src/daemon/listen.ts';
import { example } from '../../helpers/paths.ts';

const ROUTERD = fileURLToPath(new URL('../../../bin/routerd', import.meta.url));

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('routerd serve: a SIGHUP during startup is queued, a second serve is refused naming the PID, bad --listen is a usage error', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'routerd-cli-'));
  const config = join(dir, 'router.yaml');
  await copyFile(example('lab/router-a.yaml'), config);
  const args = ['serve', '--config', config, '--run-dir', join(dir, 'run'), '--state-dir', join(dir, 'state'), '--node', 'ra', '--controllers', 'dhcpv6-prefix-delegation'];
  const child = spawn(process.execPath, [ROUTERD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    // As early as bin/routerd catches SIGHUP (SigCgt bit 1), long before the config is loaded.
    await until('a SIGHUP handler', async () => {
      const st = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const caught = /^SigCgt:\s*([0-9a-f]+)$/m.exec(st)?.[1];
      return caught !== undefined && (BigInt(`0x${caught}`) & 1n) === 1n ? true : undefined;
    }, 60_000);
    child.kill('SIGHUP');
    const sock = join(dir, 'run', 'routerd.sock');
    await until('the API', async () => ((await apiGet(sock, '/healthz', 500)).status === 200 ? true : undefined));
    await until('the queued reload', async () => (/"action":"config-load".*"trigger":"SIGHUP"|"queued":\["SIGHUP"\]/.test(out) ? true : undefined));

    const second = spawnSync(process.execPath, [ROUTERD, ...args], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(second.status, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`another routerd \\(pid ${child.pid}\\) is already running`));
    assert.equal((await apiGet(sock, '/healthz', 2000)).status, 200, 'the first still answers on its socket');

    for (const [listen, why] of [
      [':9556', /has no host/],
      ['9555', /has no host/],
      ['192.0.2.1:9555', /not a loopback address/],
    ] as const) {
      const r = spawnSync(process.execPath, [ROUTERD, 'serve', '--config', config, '--run-dir', join(dir, 'run2'), '--listen', listen], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, why);
    }
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
  } finally {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('the TCP API has connection and time limits', async () => {
  const server = createServer((_req, res) => res.end('ok'));
  await listenTcp(server, { host: '127.0.0.1', port: 0 });
  try {
    assert.equal(server.maxConnections, TCP_LIMITS.maxConnections);
    assert.equal(server.requestTimeout, TCP_LIMITS.requestTimeoutMs);
    assert.equal(server.headersTimeout, TCP_LIMITS.headersTimeoutMs);
    assert.equal(server.maxHeadersCount, TCP_LIMITS.maxHeadersCount);
    assert.equal(server.timeout, TCP_LIMITS.socketTimeoutMs);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});
