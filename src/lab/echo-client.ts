// Long-lived echo flows from one process, run inside a lab node:
//   node --import tsx src/lab/echo-client.ts --target IP --port N --protocol tcp|udp
//        --count N --interval-ms MS --duration-ms MS [--connect-timeout-ms MS]
//        [--echo-timeout-ms MS] [--alive-window-ms MS] [--bind ADDR[,ADDR...]] [--stdin-lifeline]
//   node --import tsx src/lab/echo-client.ts --probe --target IP --port N [--connect-timeout-ms MS]
//
// Each flow is its own socket (own source port, own conntrack entry) and sends
// "<flow> <seq>\n" every interval; the kernel decides whether echoes come back.
// stdout carries JSON lines: {"event":"ready"} once every flow has its first echo
// or has failed (or the connect timeout passed), {"event":"snapshot"} on SIGUSR2,
// and {"event":"report"} at the end (duration over, SIGTERM/SIGINT, stdin closed
// with --stdin-lifeline); then the process exits. Bounded in count and time.
import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import type { Socket as TcpSocket } from 'node:net';
import { parseArgs } from 'node:util';

export type FlowProtocol = 'tcp' | 'udp';

export interface FlowStats {
  readonly id: number;
  readonly localPort: number | null;
  readonly sent: number;
  readonly echoed: number;
  /** Messages whose echo did not come within the echo timeout. */
  readonly lost: number;
  /** Sent, not echoed yet, younger than the echo timeout at the report. */
  readonly inFlight: number;
  /** Longest time without an echo since the flow began sending, up to the report (dead flows included). */
  readonly maxGapMs: number;
  /** Each time without an echo longer than three intervals (at most 64), for timelines; `open`: still no echo at the report. */
  readonly gaps: readonly EchoGap[];
  readonly maxRttMs: number;
  /** ms since the last echo when the report was made (null: never echoed). */
  readonly lastEchoAgoMs: number | null;
  /** No fatal error and an echo within the alive window before the report. */
  readonly alive: boolean;
  /** The error that ended a TCP flow (ECONNRESET for a RST, ETIMEDOUT, closed, ...). */
  readonly fatal: { readonly code: string; readonly atMs: number } | null;
  /** Errors counted per code (UDP flows keep going after ICMP errors). */
  readonly errors: Readonly<Record<string, number>>;
}

export interface EchoGap {
  /** Wall-clock start (epoch ms): the send, or the echo, after which nothing came back. */
  readonly startEpochMs: number;
  readonly ms: number;
  readonly open?: boolean;
}

export interface FlowSummary {
  readonly flows: number;
  /** Flows that got at least one echo. */
  readonly established: number;
  readonly alive: number;
  readonly dead: number;
  readonly sent: number;
  readonly echoed: number;
  readonly lost: number;
  readonly maxGapMs: number;
  readonly maxGapFlow: number | null;
  readonly maxRttMs: number;
  readonly errors: Readonly<Record<string, number>>;
}

export interface FlowReport {
  readonly kind: 'snapshot' | 'final';
  readonly protocol: FlowProtocol;
  readonly target: string;
  readonly port: number;
  readonly intervalMs: number;
  readonly elapsedMs: number;
  readonly summary: FlowSummary;
  readonly flows: readonly FlowStats[];
}

export interface FlowsReady {
  readonly flows: number;
  readonly established: number;
  readonly failed: number;
  readonly pending: number;
  readonly elapsedMs: number;
}

export type ProbeOutcome = 'connected' | 'refused' | 'timeout' | 'unreachable' | 'error';

export interface ProbeResult {
  readonly outcome: ProbeOutcome;
  readonly code: string | null;
  readonly ms: number;
}

interface Flow {
  readonly id: number;
  localPort: number | null;
  sent: number;
  echoed: number;
  lost: number;
  /** Start of the current "waiting for an echo" period: first send, then each echo. */
  gapFrom: number | null;
  lastEchoAt: number | null;
  maxGapMs: number;
  readonly gaps: { from: number; ms: number }[];
  maxRttMs: number;
  readonly pending: Map<number, number>;
  fatal: { code: string; atMs: number } | null;
  readonly errors: Record<string, number>;
  timer: NodeJS.Timeout | null;
  lineBuf: string;
  close: () => void;
}

const MAX_FLOWS = 10_000;
const MAX_DURATION_MS = 60 * 60_000;

// A program: import only its types (`import type`), which are erased.
const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    port: { type: 'string' },
    protocol: { type: 'string', default: 'tcp' },
    count: { type: 'string', default: '1' },
    'interval-ms': { type: 'string', default: '200' },
    'duration-ms': { type: 'string', default: '10000' },
    'connect-timeout-ms': { type: 'string', default: '3000' },
    'echo-timeout-ms': { type: 'string' },
    'alive-window-ms': { type: 'string' },
    'stdin-lifeline': { type: 'boolean', default: false },
    probe: { type: 'boolean', default: false },
    // Source address for every flow (a second address on the client stands for a second host).
    bind: { type: 'string' },
  },
  strict: true,
});

const target = values.target ?? fail('--target is required');
const port = int('port', values.port, 1, 65535);
const connectTimeoutMs = int('connect-timeout-ms', values['connect-timeout-ms'], 1, 600_000);
const t0 = performance.now();
const now = (): number => performance.now() - t0;
const MAX_GAPS = 64;

if (values.probe) probe();
else runFlows();

function probe(): void {
  const sock = connect({ host: target, port });
  const finish = (outcome: ProbeOutcome, code: string | null): void => {
    clearTimeout(timer);
    sock.destroy();
    const result: ProbeResult = { outcome, code, ms: Math.round(now()) };
    emit({ event: 'probe', ...result }, () => process.exit(0));
  };
  const timer = setTimeout(() => finish('timeout', 'ETIMEDOUT'), connectTimeoutMs);
  sock.on('connect', () => finish('connected', null));
  sock.on('error', (e: NodeJS.ErrnoException) => {
    const code = e.code ?? 'error';
    if (code === 'ECONNREFUSED') finish('refused', code);
    else if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') finish('unreachable', code);
    else finish('error', code);
  });
}

function runFlows(): void {
  const protocol = values.protocol === 'tcp' || values.protocol === 'udp' ? values.protocol : fail('--protocol must be tcp or udp');
  const count = int('count', values.count, 1, MAX_FLOWS);
  const intervalMs = int('interval-ms', values['interval-ms'], 10, 600_000);
  const durationMs = int('duration-ms', values['duration-ms'], 1, MAX_DURATION_MS);
  const echoTimeoutMs = int('echo-timeout-ms', values['echo-timeout-ms'] ?? String(Math.max(2_000, 4 * intervalMs)), 1, 600_000);
  const aliveWindowMs = int('alive-window-ms', values['alive-window-ms'] ?? String(Math.max(1_000, 3 * intervalMs)), 1, 600_000);
  const gapThresholdMs = 3 * intervalMs;

  const flows: Flow[] = [];
  // Several source addresses: flow i uses the (i mod n)-th.
  const binds = values.bind ? values.bind.split(',') : [];
  const bindOf = (f: Flow): string | undefined => (binds.length ? binds[f.id % binds.length] : undefined);
  let stopping = false;
  let readySent = false;

  const bump = (f: Flow, code: string): void => {
    f.errors[code] = (f.errors[code] ?? 0) + 1;
  };
  const kill = (f: Flow, code: string): void => {
    if (f.fatal !== null || stopping) return;
    f.fatal = { code, atMs: Math.round(now()) };
    bump(f, code);
    if (f.timer) clearInterval(f.timer);
    f.timer = null;
    f.close();
    checkReady();
  };
  const onEcho = (f: Flow, line: string): void => {
    const [idText, seqText] = line.trim().split(' ');
    const seq = Number(seqText);
    if (Number(idText) !== f.id || !Number.isInteger(seq)) {
      bump(f, 'garbled');
      return;
    }
    const t = now();
    const sentAt = f.pending.get(seq);
    if (sentAt === undefined) return; // duplicate, or already counted lost
    f.pending.delete(seq);
    f.echoed++;
    f.maxRttMs = Math.max(f.maxRttMs, t - sentAt);
    if (f.gapFrom !== null) {
      f.maxGapMs = Math.max(f.maxGapMs, t - f.gapFrom);
      if (t - f.gapFrom > gapThresholdMs && f.gaps.length < MAX_GAPS) f.gaps.push({ from: f.gapFrom, ms: t - f.gapFrom });
    }
    f.gapFrom = t;
    const first = f.lastEchoAt === null;
    f.lastEchoAt = t;
    if (first) checkReady();
  };
  const expire = (f: Flow, t: number): void => {
    for (const [seq, sentAt] of f.pending) {
      if (t - sentAt < echoTimeoutMs) break; // insertion order = send order
      f.pending.delete(seq);
      f.lost++;
    }
  };
  const startSending = (f: Flow, send: (payload: string) => void): void => {
    // Spread the flows over one interval so that 500 flows are not one burst.
    const offset = (f.id * intervalMs) / count;
    const tick = (): void => {
      if (stopping || f.fatal !== null) return;
      const t = now();
      expire(f, t);
      const seq = ++f.sent;
      f.pending.set(seq, t);
      f.gapFrom ??= t;
      send(`${f.id} ${seq}\n`);
    };
    f.timer = setTimeout(() => {
      tick();
      f.timer = setInterval(tick, intervalMs);
    }, offset);
  };

  for (let id = 0; id < count; id++) {
    const f: Flow = {
      id,
      localPort: null,
      sent: 0,
      echoed: 0,
      lost: 0,
      gapFrom: null,
      lastEchoAt: null,
      maxGapMs: 0,
      gaps: [],
      maxRttMs: 0,
      pending: new Map(),
      fatal: null,
      errors: {},
      timer: null,
      lineBuf: '',
      close: () => undefined,
    };
    flows.push(f);
    if (protocol === 'tcp') openTcp(f);
    else openUdp(f);
  }

  function openTcp(f: Flow): void {
    const bind = bindOf(f);
    const sock: TcpSocket = connect({ host: target, port, ...(bind ? { localAddress: bind } : {}) });
    f.close = () => sock.destroy();
    sock.setNoDelay(true);
    const connectTimer = setTimeout(() => kill(f, 'ETIMEDOUT'), connectTimeoutMs);
    sock.on('connect', () => {
      clearTimeout(connectTimer);
      f.localPort = sock.localPort ?? null;
      startSending(f, (payload) => {
        sock.write(payload);
      });
    });
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      f.lineBuf += chunk;
      let nl = f.lineBuf.indexOf('\n');
      while (nl >= 0) {
        onEcho(f, f.lineBuf.slice(0, nl));
        f.lineBuf = f.lineBuf.slice(nl + 1);
        nl = f.lineBuf.indexOf('\n');
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      kill(f, e.code ?? 'error');
    });
    sock.on('end', () => kill(f, 'closed'));
    sock.on('close', () => {
      clearTimeout(connectTimer);
      kill(f, 'closed');
    });
  }

  function openUdp(f: Flow): void {
    const sock: UdpSocket = createSocket(isIPv6(target) ? 'udp6' : 'udp4');
    f.close = () => sock.close();
    // Connected: ICMP errors (port unreachable → ECONNREFUSED) reach this socket.
    sock.on('error', (e: NodeJS.ErrnoException) => bump(f, e.code ?? 'error'));
    sock.on('message', (msg) => onEcho(f, msg.toString('utf8')));
    const bind = bindOf(f);
    if (bind) sock.bind({ address: bind, port: 0 });
    sock.connect(port, target, () => {
      f.localPort = sock.address().port;
      startSending(f, (payload) => {
        sock.send(payload, (err) => {
          if (err) bump(f, (err as NodeJS.ErrnoException).code ?? 'error');
        });
      });
    });
  }

  function checkReady(): void {
    if (readySent) return;
    const established = flows.filter((f) => f.lastEchoAt !== null).length;
    const failed = flows.filter((f) => f.lastEchoAt === null && f.fatal !== null).length;
    if (established + failed < count) return;
    sendReady();
  }
  function sendReady(): void {
    if (readySent) return;
    readySent = true;
    const established = flows.filter((f) => f.lastEchoAt !== null).length;
    const failed = flows.filter((f) => f.lastEchoAt === null && f.fatal !== null).length;
    const ready: FlowsReady = {
      flows: count,
      established,
      failed,
      pending: count - established - failed,
      elapsedMs: Math.round(now()),
    };
    emit({ event: 'ready', ...ready });
  }
  // Give up waiting for every flow: report readiness as it stands.
  const readyTimer = setTimeout(sendReady, connectTimeoutMs + intervalMs);

  function report(kind: 'snapshot' | 'final'): FlowReport {
    const t = now();
    const stats: FlowStats[] = flows.map((f) => {
      expire(f, t);
      // Up to the report even for a dead flow: it has not echoed since.
      const trailing = f.gapFrom !== null ? t - f.gapFrom : 0;
      return {
        id: f.id,
        localPort: f.localPort,
        sent: f.sent,
        echoed: f.echoed,
        lost: f.lost,
        inFlight: f.pending.size,
        maxGapMs: Math.round(Math.max(f.maxGapMs, trailing)),
        gaps: [...f.gaps, ...(trailing > gapThresholdMs && f.gapFrom !== null ? [{ from: f.gapFrom, ms: trailing, open: true }] : [])].map((g) => ({
          startEpochMs: Math.round(performance.timeOrigin + t0 + g.from),
          ms: Math.round(g.ms),
          ...('open' in g ? { open: true } : {}),
        })),
        maxRttMs: Math.round(f.maxRttMs),
        lastEchoAgoMs: f.lastEchoAt === null ? null : Math.round(t - f.lastEchoAt),
        alive: f.fatal === null && f.lastEchoAt !== null && t - f.lastEchoAt <= aliveWindowMs,
        fatal: f.fatal,
        errors: { ...f.errors },
      };
    });
    const errors: Record<string, number> = {};
    for (const s of stats) for (const [k, v] of Object.entries(s.errors)) errors[k] = (errors[k] ?? 0) + v;
    let maxGapFlow: number | null = null;
    let maxGapMs = 0;
    for (const s of stats) {
      if (maxGapFlow === null || s.maxGapMs > maxGapMs) {
        maxGapMs = s.maxGapMs;
        maxGapFlow = s.id;
      }
    }
    const alive = stats.filter((s) => s.alive).length;
    return {
      kind,
      protocol,
      target,
      port,
      intervalMs,
      elapsedMs: Math.round(t),
      summary: {
        flows: count,
        established: stats.filter((s) => s.echoed > 0).length,
        alive,
        dead: count - alive,
        sent: sum(stats.map((s) => s.sent)),
        echoed: sum(stats.map((s) => s.echoed)),
        lost: sum(stats.map((s) => s.lost)),
        maxGapMs,
        maxGapFlow,
        maxRttMs: Math.max(0, ...stats.map((s) => s.maxRttMs)),
        errors,
      },
      flows: stats,
    };
  }

  function finish(): void {
    if (stopping) return;
    sendReady(); // a run shorter than the connect phase still answers the wait for "ready"
    const final = report('final');
    stopping = true;
    clearTimeout(endTimer);
    clearTimeout(readyTimer);
    for (const f of flows) {
      if (f.timer) clearInterval(f.timer);
      f.close();
    }
    emit({ event: 'report', report: final }, () => process.exit(0));
  }

  const endTimer = setTimeout(finish, durationMs);
  process.on('SIGTERM', finish);
  process.on('SIGINT', finish);
  process.on('SIGUSR2', () => {
    if (!stopping) emit({ event: 'snapshot', report: report('snapshot') });
  });
  if (values['stdin-lifeline']) {
    process.stdin.on('end', finish);
    process.stdin.on('error', finish);
    process.stdin.resume();
  }
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function int(name: string, text: string | undefined, min: number, max: number): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer ${min}-${max}`);
  return n;
}

function emit(obj: Record<string, unknown>, then?: () => void): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`, then);
}

function fail(msg: string): never {
  process.stderr.write(`echo-client: ${msg}\n`);
  process.exit(2);
}
