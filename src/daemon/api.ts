// The status API: HTTP on a unix socket in the run dir (and on --listen if
// given). Read-only: nothing here changes the router.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmod, rm } from 'node:fs/promises';
import type { AnyResource } from '../api/kinds.ts';
import type { StatusStore } from '../controllers/status-store.ts';
import type { Registry } from 'prom-client';

export interface ApiSource {
  readonly store: StatusStore;
  readonly registry: Registry;
  config(): readonly AnyResource[];
  generation(id: string): number;
  summary(): Record<string, unknown>;
}

function send(res: ServerResponse, code: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? `${JSON.stringify(body)}\n` : String(body);
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(text);
}

function item(src: ApiSource, r: AnyResource) {
  const id = `${r.kind}/${r.metadata.name}`;
  return { kind: r.kind, name: r.metadata.name, generation: src.generation(id), spec: r.spec, status: src.store.get(id) ?? { phase: 'Pending', reason: 'NotReconciled', message: 'no pass has run yet' } };
}

export function handler(src: ApiSource) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      if (req.method !== 'GET') return send(res, 405, { error: 'read-only API: use GET' });
      const path = new URL(req.url ?? '/', 'http://routerd').pathname.replace(/\/+$/, '') || '/';
      if (path === '/healthz') return send(res, 200, { status: 'ok' });
      if (path === '/metrics') return send(res, 200, await src.registry.metrics(), src.registry.contentType);
      if (path === '/api/v1/status') return send(res, 200, { ...src.summary(), items: src.config().map((r) => item(src, r)) });
      const m = /^\/api\/v1\/resources(?:\/([A-Za-z0-9]+))?(?:\/([a-z0-9-]+))?$/.exec(path);
      if (!m) return send(res, 404, { error: `no such endpoint ${path}` });
      const [, kind, name] = m;
      const items = src.config().filter((r) => (!kind || r.kind === kind) && (!name || r.metadata.name === name));
      if (name) return items[0] ? send(res, 200, item(src, items[0])) : send(res, 404, { error: `${kind}/${name} is not in this node's config` });
      return send(res, 200, { items: items.map((r) => item(src, r)) });
    } catch (e) {
      send(res, 500, { error: (e as Error).message });
    }
  };
}

export async function listenUnix(server: Server, socketPath: string): Promise<void> {
  await rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(socketPath, 0o660);
}

export async function listenTcp(server: Server, hostPort: string): Promise<void> {
  const i = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(hostPort.slice(i + 1));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export function createApiServer(src: ApiSource): Server {
  return createServer((req, res) => void handler(src)(req, res));
}
