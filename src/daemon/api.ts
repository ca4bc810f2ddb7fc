// The status API: HTTP on a unix socket in the run dir (and on --listen if
// given). Over TCP it is read-only and unauthenticated (docs/api.md); the unix
// socket (mode 0660, root's group) also takes the actions routerctl sends
// (POST /api/v1/reload).
import { Reason } from '../controllers/status.ts';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmod, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { MAX_CONFIG_BYTES } from '../config/load.ts';
import type { ApplyOptions, ApplyOutcome, ReloadOptions, ReloadOutcome } from './serve.ts';
import type { AnyResource } from '../api/kinds.ts';
import type { StatusStore } from '../controllers/status-store.ts';
import type { Registry } from 'prom-client';
import { TCP_LIMITS, type ListenAddress } from './listen.ts';

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
  return { kind: r.kind, name: r.metadata.name, generation: src.generation(id), spec: r.spec, status: src.store.get(id) ?? { phase: 'Pending', reason: Reason.NotReconciled, message: 'no pass has run yet' } };
}

/** What the unix socket may ask of the daemon; absent on TCP. */
export interface ApiActions {
  reload(opts: ReloadOptions): Promise<ReloadOutcome>;
  apply(configText: string, opts: ApplyOptions): Promise<ApplyOutcome>;
  confirm(): Promise<ApplyOutcome>;
  rollback(to: number, allowRemoval: boolean): Promise<ApplyOutcome>;
  history(): Promise<unknown>;
}

/** A config (at most MAX_CONFIG_BYTES) in JSON, with room to spare. */
const MAX_BODY = MAX_CONFIG_BYTES * 2 + 64 * 1024;
/** --confirm bounds: long enough to check, short enough that a lost router comes back soon. */
const MAX_CONFIRM_MS = 3_600_000;

async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new Error(`request body over ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  const v = JSON.parse(text) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('request body must be a JSON object');
  return v as Record<string, unknown>;
}

export function handler(src: ApiSource, actions?: ApiActions) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const path = new URL(req.url ?? '/', 'http://routerd').pathname.replace(/\/+$/, '') || '/';
      if (actions && req.method === 'GET' && path === '/api/v1/history') return send(res, 200, await actions.history());
      if (req.method === 'POST' && actions && ['/api/v1/reload', '/api/v1/apply', '/api/v1/confirm', '/api/v1/rollback'].includes(path)) {
        const body = await readJsonBody(req).catch((e: Error) => e);
        if (body instanceof Error) return send(res, 400, { error: body.message });
        const allowRemoval = body.allowRemoval === true;
        let outcome: ReloadOutcome;
        if (path === '/api/v1/reload') outcome = await actions.reload({ allowRemoval, trigger: 'api' });
        else if (path === '/api/v1/confirm') outcome = await actions.confirm();
        else if (path === '/api/v1/rollback') {
          if (typeof body.to !== 'number' || !Number.isInteger(body.to) || body.to < 1) return send(res, 400, { error: '"to" must be a generation number' });
          outcome = await actions.rollback(body.to, allowRemoval);
        } else {
          if (typeof body.config !== 'string') return send(res, 400, { error: '"config" must be the config text' });
          const c = body.confirmMs;
          if (c !== undefined && (typeof c !== 'number' || !Number.isInteger(c) || c < 1000 || c > MAX_CONFIRM_MS)) return send(res, 400, { error: `"confirmMs" must be 1000-${MAX_CONFIRM_MS}` });
          outcome = await actions.apply(body.config, { allowRemoval, ...(c !== undefined ? { confirmMs: c } : {}) });
        }
        return send(res, outcome.outcome === 'applied' ? 200 : 409, outcome);
      }
      if (req.method !== 'GET') return send(res, 405, { error: actions ? 'use GET, or POST /api/v1/reload' : 'read-only API: use GET' });
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

/** Whether something answers on a unix socket (a live daemon), as opposed to a stale file. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    const done = (v: boolean) => {
      c.destroy();
      resolve(v);
    };
    c.once('connect', () => done(true));
    c.once('error', () => done(false));
    c.setTimeout(1000, () => done(true));
  });
}

export async function listenUnix(server: Server, socketPath: string): Promise<void> {
  // The run-dir lock keeps a second routerd out; this is the last line: never
  // unlink a socket someone still answers on.
  if (await socketAnswers(socketPath)) throw new Error(`${socketPath} is in use by a running process; not replacing it`);
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

export async function listenTcp(server: Server, addr: ListenAddress): Promise<void> {
  server.maxConnections = TCP_LIMITS.maxConnections;
  server.requestTimeout = TCP_LIMITS.requestTimeoutMs;
  server.headersTimeout = TCP_LIMITS.headersTimeoutMs;
  server.keepAliveTimeout = TCP_LIMITS.keepAliveTimeoutMs;
  server.maxHeadersCount = TCP_LIMITS.maxHeadersCount;
  server.setTimeout(TCP_LIMITS.socketTimeoutMs, (socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export function createApiServer(src: ApiSource, actions?: ApiActions): Server {
  const h = handler(src, actions);
  return createServer((req, res) => void h(req, res));
}
