// Small helpers shared by the lab benchmarks (session-sync, failover): bounded
// waits, checked commands inside lab nodes, conntrack counts, a logger whose
// JSON lines are kept in memory.
import { Writable } from 'node:stream';
import { runChecked, type RunOptions, type RunResult } from '../src/host/host.ts';
import type { LabNode } from '../src/lab/topology.ts';
import { createLogger, type Logger } from '../src/observability/logger.ts';
import { parseConntrackCount, parseConntrackSummary } from '../src/kernel/conntrack.ts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` until it returns a value (not undefined/false); bounded by `timeoutMs`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, stepMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

export function checked(node: LabNode, argv: readonly string[], opts?: RunOptions): Promise<RunResult> {
  return runChecked(node.host, argv, { timeoutMs: 60_000, ...opts });
}

/** `conntrack -C` inside the node. */
export async function ctCount(node: LabNode): Promise<number> {
  const r = await checked(node, ['conntrack', '-C']);
  const n = parseConntrackCount(r.stdout);
  if (n === undefined) throw new Error(`${node.name}: conntrack -C printed ${JSON.stringify(r.stdout)}`);
  return n;
}

/** How many entries match a `conntrack -L` filter (read from conntrack's own summary line). */
export async function ctMatching(node: LabNode, filter: readonly string[]): Promise<number> {
  const r = await checked(node, ['sh', '-c', 'conntrack -L "$@" > /dev/null', 'sh', ...filter]);
  const s = parseConntrackSummary(r.stderr);
  if (s === undefined) throw new Error(`${node.name}: no summary from conntrack -L ${filter.join(' ')}: ${r.stderr}`);
  return s.count;
}

/** Empty the node's conntrack table (bench namespaces only). */
export async function ctFlush(node: LabNode): Promise<void> {
  await checked(node, ['conntrack', '-F']);
}

export function killPid(pid: number | undefined, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

export interface MemoryLogger {
  readonly log: Logger;
  readonly lines: Record<string, unknown>[];
}

/** A pino logger (routerd's) whose JSON lines land in `lines`. */
export function memoryLogger(node: string): MemoryLogger {
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          lines.push({ msg: line });
        }
      }
      cb();
    },
  });
  return { log: createLogger({ node, destination }), lines };
}

export function seconds(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

export function rate(n: number, ms: number): string {
  const r = n / (ms / 1000);
  return r >= 10_000 ? `${Math.round(r / 1000)}k/s` : `${Math.round(r)}/s`;
}

export function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a';
}
