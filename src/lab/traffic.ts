// Bounded traffic for e2e tests and benchmarks, judged by the kernel: real
// sockets in the lab's namespaces, each side its own Node.js process
// (echo-server.ts, echo-client.ts) started through the node's Host, stopped by
// PID through its ChildHandle. Both scripts also exit when our stdin pipe closes,
// so a crashed test leaves nothing running.
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildHandle, Host } from '../host/host.ts';
import type { FlowProtocol, FlowReport, FlowsReady, ProbeOutcome, ProbeResult } from './echo-client.ts';

export type { FlowProtocol, FlowReport, FlowStats, FlowSummary, FlowsReady, ProbeOutcome, ProbeResult } from './echo-client.ts';

/** Anything with a Host that runs inside a lab node (a LabNode fits). */
export interface TrafficNode {
  readonly name: string;
  readonly host: Host;
}

export interface EchoServerStats {
  readonly tcpConnections: number;
  readonly tcpOpen: number;
  readonly tcpBytes: number;
  readonly udpDatagrams: number;
  readonly udpBytes: number;
}

export interface EchoServer {
  readonly pid: number | undefined;
  readonly port: number;
  stats(timeoutMs?: number): Promise<EchoServerStats>;
  /** SIGTERM, then SIGKILL after 3 s; resolves once the process has exited. */
  stop(): Promise<void>;
  readonly child: ChildHandle;
}

export interface EchoServerOptions {
  /** The server exits by itself after this long (default 30 min). */
  readonly maxLifetimeMs?: number;
  readonly startTimeoutMs?: number;
}

export interface EchoFlowsOptions {
  readonly target: string;
  readonly port: number;
  readonly protocol: FlowProtocol;
  /** Number of parallel flows (sockets), 1-10000. */
  readonly count: number;
  readonly intervalMs: number;
  /** Hard bound: the client reports and exits after this long. */
  readonly durationMs: number;
  readonly connectTimeoutMs?: number;
  /** An echo later than this counts the message as lost (default max(2 s, 4 intervals)). */
  readonly echoTimeoutMs?: number;
  /** A flow is alive at the report if it echoed within this window (default max(1 s, 3 intervals)). */
  readonly aliveWindowMs?: number;
  /** Source address of every flow, or several comma-separated (flow i uses the (i mod n)-th); each must be configured on the node. */
  readonly bind?: string;
}

export interface EchoFlows {
  readonly pid: number | undefined;
  /** Readiness as reported once every flow has echoed or failed (or the connect timeout passed). */
  readonly ready: FlowsReady;
  /** Final report: at durationMs, or after stop(). Rejects if the client dies without one. */
  readonly done: Promise<FlowReport>;
  /** Report so far, the flows keep running (SIGUSR2). */
  snapshot(timeoutMs?: number): Promise<FlowReport>;
  /** End the flows now and get the final report (SIGTERM). */
  stop(): Promise<FlowReport>;
  readonly child: ChildHandle;
}

const ECHO_SERVER = fileURLToPath(new URL('./echo-server.ts', import.meta.url));
const ECHO_CLIENT = fileURLToPath(new URL('./echo-client.ts', import.meta.url));

/** argv running a lab script with this Node.js and the tsx loader, whatever the cwd. */
function scriptArgv(script: string, args: readonly string[]): string[] {
  return [process.execPath, '--import', import.meta.resolve('tsx'), script, ...args];
}

/** TCP and UDP echo on `port` (all addresses, v4 and v6) inside `node`. */
export async function startTcpEchoServer(node: TrafficNode, port: number, opts: EchoServerOptions = {}): Promise<EchoServer> {
  const args = ['--port', String(port), '--stdin-lifeline'];
  if (opts.maxLifetimeMs !== undefined) args.push('--max-lifetime-ms', String(opts.maxLifetimeMs));
  const child = node.host.spawn(scriptArgv(ECHO_SERVER, args), { stdin: 'pipe' });
  const events = new JsonLines(child, `echo-server on ${node.name}`);
  try {
    await events.next('listening', opts.startTimeoutMs ?? 10_000);
  } catch (e) {
    await stopChild(child);
    throw e;
  }
  return {
    pid: child.pid,
    port,
    child,
    stats: async (timeoutMs = 5_000) => {
      const next = events.next('stats', timeoutMs);
      child.kill('SIGUSR2');
      return toServerStats(await next);
    },
    stop: () => stopChild(child),
  };
}

/** Alias: the echo server answers TCP and UDP alike. */
export const startEchoServer = startTcpEchoServer;

/**
 * Start `count` long-lived echo flows from `node` to target:port in one
 * process; resolves once they are established (see EchoFlows.ready).
 */
export async function startEchoFlows(node: TrafficNode, opts: EchoFlowsOptions): Promise<EchoFlows> {
  const args = [
    '--target', opts.target,
    '--port', String(opts.port),
    '--protocol', opts.protocol,
    '--count', String(opts.count),
    '--interval-ms', String(opts.intervalMs),
    '--duration-ms', String(opts.durationMs),
    '--stdin-lifeline',
  ];
  if (opts.connectTimeoutMs !== undefined) args.push('--connect-timeout-ms', String(opts.connectTimeoutMs));
  if (opts.echoTimeoutMs !== undefined) args.push('--echo-timeout-ms', String(opts.echoTimeoutMs));
  if (opts.aliveWindowMs !== undefined) args.push('--alive-window-ms', String(opts.aliveWindowMs));
  if (opts.bind !== undefined) args.push('--bind', opts.bind);
  const child = node.host.spawn(scriptArgv(ECHO_CLIENT, args), { stdin: 'pipe' });
  const events = new JsonLines(child, `echo-client on ${node.name}`);
  const done = events.next('report', opts.durationMs + 60_000).then((e) => e['report'] as FlowReport);
  done.catch(() => undefined); // observed by the caller through `done`/stop()
  let ready: FlowsReady;
  try {
    const startupMs = 15_000 + (opts.connectTimeoutMs ?? 3_000) + opts.intervalMs;
    const e = await events.next('ready', startupMs);
    ready = { flows: num(e, 'flows'), established: num(e, 'established'), failed: num(e, 'failed'), pending: num(e, 'pending'), elapsedMs: num(e, 'elapsedMs') };
  } catch (e) {
    await stopChild(child);
    throw e;
  }
  return {
    pid: child.pid,
    ready,
    done,
    child,
    snapshot: async (timeoutMs = 5_000) => {
      const next = events.next('snapshot', timeoutMs);
      child.kill('SIGUSR2');
      return (await next)['report'] as FlowReport;
    },
    stop: async () => {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      try {
        return await done;
      } finally {
        clearTimeout(killer);
      }
    },
  };
}

/**
 * One TCP connection attempt from `node`: 'connected' or 'refused' prove a
 * round trip (a RST came back), 'timeout'/'unreachable' that there is none.
 * Works without ping (not installed on the lab machines) and for v4 and v6.
 */
export async function probeTcp(node: TrafficNode, target: string, port: number, timeoutMs = 2_000): Promise<ProbeResult> {
  const argv = scriptArgv(ECHO_CLIENT, ['--probe', '--target', target, '--port', String(port), '--connect-timeout-ms', String(timeoutMs)]);
  const r = await node.host.run(argv, { timeoutMs: timeoutMs + 15_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (r.code !== 0 || line === undefined) {
    throw new Error(`probe from ${node.name} to ${target}:${port} failed (exit ${r.code}): ${r.stderr.trim()}`);
  }
  const parsed = JSON.parse(line) as { outcome: ProbeOutcome; code: string | null; ms: number };
  return { outcome: parsed.outcome, code: parsed.code, ms: parsed.ms };
}

/** True when a probe shows packets going both ways. */
export function reached(p: ProbeResult): boolean {
  return p.outcome === 'connected' || p.outcome === 'refused';
}

async function stopChild(child: ChildHandle): Promise<void> {
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  try {
    await child.exited;
  } finally {
    clearTimeout(killer);
  }
}

function num(e: Record<string, unknown>, key: string): number {
  const v = e[key];
  return typeof v === 'number' ? v : 0;
}

function toServerStats(e: Record<string, unknown>): EchoServerStats {
  const n = (k: string): number => num(e, k);
  return {
    tcpConnections: n('tcpConnections'),
    tcpOpen: n('tcpOpen'),
    tcpBytes: n('tcpBytes'),
    udpDatagrams: n('udpDatagrams'),
    udpBytes: n('udpBytes'),
  };
}

type JsonEvent = Record<string, unknown> & { event: string };

/** The JSON-lines protocol of the lab scripts: wait for the next event of a kind. */
class JsonLines {
  private readonly queue: JsonEvent[] = [];
  private readonly waiters: { event: string; resolve: (e: JsonEvent) => void; reject: (err: Error) => void }[] = [];
  private exit: string | undefined;
  private stderr = '';

  constructor(child: ChildHandle, private readonly what: string) {
    child.stderr?.on('data', (b: Buffer) => {
      if (this.stderr.length < 64 * 1024) this.stderr += b.toString('utf8');
    });
    if (child.stdout) {
      createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => this.onLine(line));
    }
    void child.exited.then(({ code, signal }) => {
      // Let the last stdout lines through before failing the waiters.
      setTimeout(() => {
        this.exit = `exited ${code ?? signal ?? '?'}`;
        for (const w of this.waiters.splice(0)) w.reject(this.failure(w.event));
      }, 50);
    });
  }

  next(event: string, timeoutMs: number): Promise<JsonEvent> {
    const i = this.queue.findIndex((e) => e.event === event);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]!);
    if (this.exit !== undefined) return Promise.reject(this.failure(event));
    return new Promise((resolve, reject) => {
      const w = {
        event,
        resolve: (e: JsonEvent) => {
          clearTimeout(timer);
          resolve(e);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        const k = this.waiters.indexOf(w);
        if (k >= 0) this.waiters.splice(k, 1);
        reject(new Error(`${this.what}: no "${event}" within ${timeoutMs} ms; stderr: ${this.stderr.trim()}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  private onLine(line: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { event?: unknown }).event !== 'string') return;
    const e = parsed as JsonEvent;
    const k = this.waiters.findIndex((w) => w.event === e.event);
    if (k >= 0) this.waiters.splice(k, 1)[0]!.resolve(e);
    else this.queue.push(e);
  }

  private failure(event: string): Error {
    return new Error(`${this.what} ${this.exit ?? 'exited'} before "${event}"; stderr: ${this.stderr.trim()}`);
  }
}
