// The status API's client side (routerctl, the lab): HTTP over the daemon's unix socket.
import { request } from 'node:http';
import type { StatusLookup } from '../when/evaluate.ts';
import { readField } from '../when/evaluate.ts';

export interface ApiResource {
  readonly kind: string;
  readonly name: string;
  readonly generation?: number;
  readonly status: Record<string, unknown>;
  readonly spec?: unknown;
}

export class DaemonUnavailable extends Error {
  constructor(readonly socketPath: string, cause: string) {
    super(`routerd is not reachable at ${socketPath} (${cause}); is routerd serve running? pick the instance with --run-dir or --socket`);
  }
}

export function apiGet<T>(socketPath: string, path: string, timeoutMs = 5000): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: (res.headers['content-type']?.includes('json') ? JSON.parse(text) : text) as T });
        } catch (e) {
          reject(new Error(`bad response from routerd: ${(e as Error).message}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e: NodeJS.ErrnoException) => reject(new DaemonUnavailable(socketPath, e.code ?? e.message)));
    req.end();
  });
}

/** Statuses the daemon reports, for plan's spec.when evaluation; empty when it is not running. */
export async function reportedStatuses(socketPath: string): Promise<{ lookup: StatusLookup; reachable: boolean }> {
  try {
    const { status, body } = await apiGet<{ items: ApiResource[] }>(socketPath, '/api/v1/resources', 2000);
    if (status !== 200) return { lookup: () => undefined, reachable: false };
    const map = new Map(body.items.map((i) => [`${i.kind}/${i.name}`, i.status]));
    return { lookup: (kind, name, field) => readField(map.get(`${kind}/${name}`), field), reachable: true };
  } catch {
    return { lookup: () => undefined, reachable: false };
  }
}
