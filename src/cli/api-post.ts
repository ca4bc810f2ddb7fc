// routerctl's actions on a running routerd: POST over the daemon's unix socket
// (the TCP API takes no actions).
import { request } from 'node:http';
import type { ReloadOutcome } from '../daemon/serve.ts';
import { DaemonUnavailable } from '../daemon/api-client.ts';
import { Exit } from './exit.ts';

export function apiPost<T>(socketPath: string, path: string, body: unknown, timeoutMs = 60_000): Promise<{ status: number; body: T }> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path, method: 'POST', timeout: timeoutMs, headers: { 'content-type': 'application/json', 'content-length': payload.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as T });
          } catch (e) {
            reject(new Error(`bad response from routerd: ${(e as Error).message}`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e: NodeJS.ErrnoException) => reject(new DaemonUnavailable(socketPath, e.code ?? e.message)));
    req.end(payload);
  });
}

/** Print what routerd answered to a reload, apply, confirm or rollback; anything but "applied" fails the command. */
export function reportOutcome(body: ReloadOutcome | { error: string }): void {
  if ('error' in body) {
    process.stderr.write(`routerctl: ${body.error}\n`);
    process.exitCode = Exit.Failed;
    return;
  }
  const out = [body.message, ...(body.errors ?? []).map((e) => `  ${e}`)].join('\n');
  if (body.outcome === 'applied') process.stdout.write(`${out}\n`);
  else {
    process.stderr.write(`${out}\n`);
    process.exitCode = Exit.Failed;
  }
}
