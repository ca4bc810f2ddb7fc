// The three NAT44SessionSync modes side by side, each through routerd's own
// code path: snapshot and stream (SnapshotSyncMode/StreamSyncMode over ssh, as the controller
// builds it) and conntrackd (ConntrackdSyncMode: routerd renders the config,
// supervises conntrackd on both routers and drives the role transitions).
//
// session-sync-modes: N synthetic SNAT entries on router A, B empty; time until
//   B's kernel holds N; then B is promoted: is everything in B's kernel before
//   the VIP would move, and what does promotion still have to do (conntrackd:
//   the commit `-c` and the whole master transition).
// session-sync-burst: a steady base, then new entries at a fixed rate on A for
//   60 s, the oldest ones destroyed at the same rate once A holds BURST_CAP
//   (every mode), and stream once more at BURST_BIG_CAP (200k); lag from each
//   entry's NEW event on A to its NEW event on B (p50/p99), entries missing on
//   B and destroyed ones still on B after a settle time, CPU of routerd and
//   conntrackd, peak RSS of routerd.
import { readFile } from 'node:fs/promises';
import { nat44SessionSyncSpec } from '../src/controllers/session-sync/schema.ts';
import { standaloneContext } from '../src/controllers/controller.ts';
import { targetHost } from '../src/controllers/session-sync/controller.ts';
import { ConntrackdSyncMode } from '../src/controllers/session-sync/conntrackd.ts';
import type { SyncRole } from '../src/controllers/session-sync/mode.ts';
import { standaloneInput } from '../src/controllers/session-sync/mode.ts';
import { SnapshotSyncMode } from '../src/controllers/session-sync/snapshot.ts';
import { StreamSyncMode } from '../src/controllers/session-sync/stream.ts';
import { openSession, type RoutedModeDeps } from '../src/controllers/session-sync/targets.ts';
import type { AnyResource } from '../src/api/kinds.ts';
import type { ChildHandle } from '../src/host/host.ts';
import { LocalHost } from '../src/host/local.ts';
import { enableLabSsh, type LabSsh } from '../src/lab/sshd.ts';
import { untrackRouterTraffic } from '../src/lab/harden.ts';
import { createLab, labPrefix, type Lab, type LabNode } from '../src/lab/topology.ts';
import { ROUTERD_NODE_FLAGS } from '../src/lab/routerd.ts';
import { createMetrics } from '../src/observability/metrics.ts';
import { ctDeleteHelperPath, ctDeleteHelperPresent } from '../src/kernel/ct-delete.ts';
import { conntrackDumpArgv, parseConntrackExtended, parseConntrackSummary } from '../src/kernel/conntrack.ts';
import { dumpSnatFlows } from '../src/kernel/ct-dump.ts';
import { ctEventsArgv, ctEventsHelperPresent, parseCtEventsLine } from '../src/kernel/ct-events.ts';
import { parseConntrackdRuntime } from '../src/engines/conntrackd/stats.ts';
import { checked, ctCount, ctFlush, memoryLogger, seconds, sleep, until } from './lab-util.ts';
import { median, type BenchSection } from './results.ts';

const SNAT = '198.51.100.100';
const SERVER = '198.51.100.200';
const PORT = 7007;
const RA_LAN = '192.0.2.2';
const RB_LAN = '192.0.2.3';
const SIZES = [10_000, 100_000];
const MODES = ['snapshot', 'stream', 'conntrackd'] as const;
type Mode = (typeof MODES)[number];
/** ROUTERD_BENCH_SYNC_MODES=stream,snapshot runs only those (trial runs); default all three. */
const BURST_MODES = (process.env.ROUTERD_BENCH_SYNC_MODES?.split(',') ?? MODES).filter((m): m is Mode => (MODES as readonly string[]).includes(m));
const SNAT_PORTS = 40_000;
const CONTROL_DIR = '/run/routerd/ssh';
const PATHS = { stateDir: '/var/lib/routerd', runDir: '/run/routerd' };
const CATCHUP_TIMEOUT_MS = 180_000;
/**
 * Burst: this many new entries per second, in batches every BATCH_MS, for
 * BURST_S seconds, on top of BURST_BASE; once A holds the run's cap, each batch
 * also destroys as many of the oldest ones, so the table stays bounded
 * (nf_conntrack_max 262144 cannot be raised inside a network namespace).
 */
const BURST_RATE = 5000;
const BURST_S = Number(process.env.ROUTERD_BENCH_BURST_S ?? 60);
const BURST_BASE = 10_000;
/** The table size the destroys hold A at, for every mode (ROUTERD_BENCH_BURST_CAP; default 100k). */
const BURST_CAP = Number(process.env.ROUTERD_BENCH_BURST_CAP ?? 100_000);
/**
 * Stream mode runs once more with A held at this size (routerd's CPU and RSS at
 * 200k sessions, issue 17), in the same run; ROUTERD_BENCH_BURST_BIG_CAP=0 leaves it out.
 */
const BURST_BIG_CAP = Number(process.env.ROUTERD_BENCH_BURST_BIG_CAP ?? 200_000);
const BATCH_MS = 100;
const SETTLE_MS = 15_000;
const TICKS = 100;

function synthLines(from: number, count: number): string {
  const out: string[] = [];
  for (let i = from; i < from + count; i++) {
    const client = `192.0.2.${10 + (i % 240)}`;
    const sport = 1024 + Math.floor(i / 240);
    const dport = PORT + Math.floor(i / SNAT_PORTS);
    out.push(
      `-I -p tcp -s ${client} -d ${SERVER} --sport ${sport} --dport ${dport} --src-nat ${SNAT}:${20_000 + (i % SNAT_PORTS)} -u SEEN_REPLY,ASSURED --state ESTABLISHED -t 3600 -m 66`,
    );
  }
  return `${out.join('\n')}\n`;
}

async function insertOnA(ra: LabNode, from: number, count: number): Promise<void> {
  await checked(ra, ['conntrack', '-R', '/dev/stdin'], { stdin: synthLines(from, count), timeoutMs: 120_000 });
}

/** Destroy synthetic entries [from, from + count) on A by exact tuple (routerd-ct-delete: one hash lookup each). */
async function destroyOnA(ra: LabNode, from: number, count: number): Promise<void> {
  const lines: string[] = [];
  for (let i = from; i < from + count; i++) lines.push(`tcp 192.0.2.${10 + (i % 240)} ${SERVER} ${1024 + Math.floor(i / 240)} ${PORT + Math.floor(i / SNAT_PORTS)} 0`);
  await checked(ra, [ctDeleteHelperPath()], { stdin: `${lines.join('\n')}\n`, timeoutMs: 120_000 });
}

/** The original tuples of the bench entries a router holds. */
async function benchKeys(node: LabNode): Promise<Set<string>> {
  const r = await checked(node, conntrackDumpArgv({ format: 'extended', family: 'ipv4', snatAddress: SNAT }), { timeoutMs: 120_000 });
  return new Set(parseConntrackExtended(r.stdout).entries.map((e) => `${e.original.src}:${e.original.sport}:${e.original.dport}`));
}

/**
 * What a router's kernel holds of the bench entries [0, n): one kernel-filtered
 * dump of the entries SNATed to SNAT (routerd-ct-dump), each counted once if its
 * original tuple is one the generator made. `conntrack -C` is not that count: it
 * reads nf_conntrack_count, which also counts entries already deleted from the
 * table whose destroy event the kernel still has to deliver to a reliable
 * listener (conntrackd's NetlinkEventsReliable); those sit on the dying list
 * (`conntrack -L dying`) and match no packet.
 */
async function benchHeld(node: LabNode, n: number): Promise<number> {
  const seen = new Set<string>();
  for (const e of await dumpSnatFlows(node.host, [SNAT], { timeoutMs: 120_000 })) {
    const k = `${e.original.src}:${e.original.sport}:${e.original.dport}`;
    if (e.protocol === 'tcp' && e.original.dst === SERVER && BENCH_KEYS(n).has(k)) seen.add(k);
  }
  return seen.size;
}

const benchKeySets = new Map<number, Set<string>>();
function BENCH_KEYS(n: number): Set<string> {
  let s = benchKeySets.get(n);
  if (!s) {
    s = new Set<string>();
    for (let i = 0; i < n; i++) s.add(keyOf(i));
    benchKeySets.set(n, s);
  }
  return s;
}

/** `conntrack -C` (nf_conntrack_count) and the dying list's length (`conntrack -L dying`). */
async function kernelCounts(node: LabNode): Promise<{ count: number; dying: number | undefined }> {
  const [count, dying] = await Promise.all([ctCount(node), node.host.run(['sh', '-c', 'conntrack -L dying > /dev/null', 'sh'], { timeoutMs: 60_000 })]);
  return { count, dying: parseConntrackSummary(dying.stderr)?.count };
}

// ---------------------------------------------------------------------------
// the modes, each started on a pair where A is master and B is backup

interface Running {
  /** Promote B (A is gone): what runs on B's critical path, in ms (undefined: nothing runs). */
  promote(): Promise<{ commitMs?: number; transitionMs?: number }>;
  stop(): Promise<void>;
  /** PIDs of conntrackd on A and B (for CPU). */
  conntrackdPids(): Promise<number[]>;
  /** conntrackd's netlink overruns and kernel resyncs on A and B (conntrackd only). */
  conntrackdRuntime(): Promise<string>;
}

function routerdSpec(mode: 'snapshot' | 'stream', interval: string) {
  return nat44SessionSyncSpec.parse({ mode, interval, snatAddresses: [SNAT], targets: [{ name: 'peer', host: RB_LAN, user: 'root' }] });
}

async function startWorker(lab: Lab, mode: 'snapshot' | 'stream', interval: string): Promise<Running> {
  const ra = lab.nodes.ra.host;
  const deps: RoutedModeDeps = {
    local: ra,
    remote: (t) => targetHost(ra, t, CONTROL_DIR),
    session: (t, a) => openSession(ra, t, CONTROL_DIR, a),
    log: memoryLogger('ra').log,
    metrics: createMetrics(),
    report: () => undefined,
    generation: () => 1,
  };
  const worker = mode === 'stream' ? new StreamSyncMode('NAT44SessionSync/bench', deps) : new SnapshotSyncMode('NAT44SessionSync/bench', deps);
  await worker.update(standaloneInput(routerdSpec(mode, interval), [SNAT]));
  return {
    promote: async () => ({}),
    stop: async () => worker.stop(),
    conntrackdPids: async () => [],
    conntrackdRuntime: async () => '',
  };
}

/**
 * snapshot or stream in its own process inside router A (bench/sync-agent.ts),
 * so its CPU and peak RSS are its own, apart from the load generator.
 */
function startAgent(lab: Lab, mode: 'snapshot' | 'stream', interval: string): Running & { usage(): Promise<AgentUsage | undefined> } {
  const child = lab.nodes.ra.host.spawn(['node', ...AGENT_NODE_FLAGS, AGENT, JSON.stringify({ mode, interval, snat: SNAT, target: { name: 'peer', host: RB_LAN, user: 'root' }, controlDir: CONTROL_DIR })]);
  let buf = '';
  let usage: AgentUsage | undefined;
  let last: Record<string, unknown> | undefined;
  child.stdout?.on('data', (b: Buffer) => {
    buf += b.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const msg = JSON.parse(buf.slice(0, nl)) as { status?: Record<string, unknown>; exit?: AgentUsage };
      buf = buf.slice(nl + 1);
      if (msg.exit) usage = msg.exit;
      if (msg.status) last = msg.status;
    }
  });
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      child.kill('SIGTERM');
      await Promise.race([child.exited, sleep(15_000)]);
      child.kill('SIGKILL');
      await child.exited;
    })());
  return {
    promote: async () => ({}),
    stop,
    conntrackdPids: async () => [],
    conntrackdRuntime: async () => '',
    async usage() {
      await stop();
      return usage && last ? { ...usage, status: last } : usage;
    },
  };
}

interface AgentUsage {
  cpuSelfS: number;
  cpuChildrenS: number;
  maxRssMB: number;
  /** process.memoryUsage() at the highest sampled RSS (MB). */
  atPeak?: { rssMB: number; heapUsedMB: number; heapTotalMB: number; externalMB: number };
  /** [seconds since start, RSS MB, V8 heap used MB] every 2 s. */
  timeline?: [number, number, number][];
  fromDist?: boolean;
  /** [seconds, VmHWM MB, RSS MB, heap used MB] whenever the RSS high-water mark rose by 5 MB or more; seconds -1: after stopping. */
  hwmRises?: [number, number, number, number][];
  /** Garbage collections over the agent's life: count and pause time, minor and major. */
  gc?: { minor: number; minorMs: number; major: number; majorMs: number };
  status?: Record<string, unknown>;
}

const AGENT = new URL('./sync-agent.mjs', import.meta.url).pathname;
/** The agent runs with bin/routerd's Node flags; ROUTERD_BENCH_AGENT_NODE_FLAGS (space-separated) replaces them for trials. */
const AGENT_NODE_FLAGS = process.env.ROUTERD_BENCH_AGENT_NODE_FLAGS?.split(' ').filter(Boolean) ?? ROUTERD_NODE_FLAGS;

const CTD_SPEC = (peer: string) => nat44SessionSyncSpec.parse({ mode: 'conntrackd', snatAddresses: [SNAT], targets: [{ name: 'peer', host: peer }] });

async function startConntrackdPair(lab: Lab): Promise<Running> {
  const nodes = [
    { node: lab.nodes.ra, self: RA_LAN, peer: RB_LAN, role: 'master' as SyncRole },
    { node: lab.nodes.rb, self: RB_LAN, peer: RA_LAN, role: 'backup' as SyncRole },
  ];
  const modes = nodes.map((n) => {
    const ctx = standaloneContext({ host: n.node.host, paths: PATHS, nodeName: n.node.name });
    const mode = new ConntrackdSyncMode('NAT44SessionSync/bench', 'bench', { ctx });
    const input = (role: SyncRole) => ({
      spec: CTD_SPEC(n.peer),
      addresses: [SNAT],
      role,
      planCtx: { resources: [] as AnyResource[], ifname: (x: string) => x, paths: PATHS, status: () => undefined, nodeName: n.node.name },
      observed: { files: new Map(), existing: new Set<string>(), interfaces: [{ name: 'lan0', up: true, addresses: [{ family: 4 as const, address: n.self, prefixLength: 24 }] }] },
    });
    return { ...n, ctx, mode, input };
  });
  await Promise.all(modes.map((m) => m.mode.update(m.input(m.role))));
  const ctl = (node: LabNode, args: string[]) => checked(node, ['conntrackd', '-C', `${PATHS.runDir}/conntrackd/bench.conf`, ...args], { timeoutMs: 60_000 });
  return {
    async promote() {
      const b = modes[1]!;
      // The commit a classic setup runs first on promotion: nothing to commit with the external cache disabled.
      const c0 = performance.now();
      await ctl(b.node, ['-c']);
      const commitMs = performance.now() - c0;
      const t0 = performance.now();
      await b.mode.update(b.input('master'));
      await until('B master transition', async () => (await ctl(b.node, ['-s'])).code === 0 && b.ctx.status.get('NAT44SessionSync/bench')?.appliedRole === 'master', 60_000, 5);
      return { commitMs, transitionMs: performance.now() - t0 };
    },
    async stop() {
      for (const m of modes) await m.mode.stop({ keepEngines: false });
    },
    async conntrackdPids() {
      const pids: number[] = [];
      for (const m of modes) {
        const t = await m.node.host.readFile(`${PATHS.runDir}/conntrackd/bench.pid`);
        if (t) pids.push(Number(t.trim()));
      }
      return pids;
    },
    async conntrackdRuntime() {
      const parts: string[] = [];
      for (const m of modes) {
        const rt = parseConntrackdRuntime((await ctl(m.node, ['-s', 'runtime'])).stdout);
        await m.mode.pollStats();
        const st = m.ctx.status.get('NAT44SessionSync/bench');
        parts.push(
          `${m.node.name}: ${rt ? `${rt.netlinkOverruns} netlink overruns, ${rt.kernelResyncs} kernel resyncs (\`-R\` included)` : 'unreadable'}, ` +
            `${String(st?.eventDrops ?? '?')} events dropped by the kernel, ${String(st?.heals ?? '?')} heals, internal cache ${String(st?.localEntries ?? '?')}`,
        );
      }
      return parts.join('; ');
    },
  };
}

function start(lab: Lab, mode: Mode, purpose: 'catchup' | 'burst'): Promise<Running> | Running {
  if (mode === 'conntrackd') return startConntrackdPair(lab);
  // catch-up: only the first cycle counts; burst: the modes' defaults, in a process of their own.
  if (purpose === 'burst') return startAgent(lab, mode, mode === 'snapshot' ? '2s' : '30s');
  return startWorker(lab, mode, '1h');
}

// ---------------------------------------------------------------------------
// CPU: utime+stime (+ reaped children) from /proc, in seconds

async function cpuOf(pid: number, withChildren: boolean): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields 14..17 (1-based) are utime stime cutime cstime; f[0] is field 3.
    const [ut, st, cut, cst] = [f[11], f[12], f[13], f[14]].map(Number);
    return ((ut ?? 0) + (st ?? 0) + (withChildren ? (cut ?? 0) + (cst ?? 0) : 0)) / TICKS;
  } catch {
    return 0;
  }
}

const local = new LocalHost();

async function netnsPids(lab: Lab, node: 'ra' | 'rb'): Promise<number[]> {
  const out = await local.run(['ip', 'netns', 'pids', lab.nodes[node].netns], { timeoutMs: 10_000 });
  return out.stdout.split(/\s+/).filter((x) => /^\d+$/.test(x)).map(Number);
}

/** CPU seconds of every process in one router's namespace (with reaped children), but `exclude`. */
async function nodeCpu(lab: Lab, node: 'ra' | 'rb', exclude: ReadonlySet<number>): Promise<number> {
  let sum = 0;
  for (const pid of await netnsPids(lab, node)) if (!exclude.has(pid)) sum += await cpuOf(pid, true);
  return sum;
}

/** CPU seconds of routerd's side (this process with its reaped children, and sshd on B running restores) and of conntrackd. */
async function cpuSample(lab: Lab, ctdPids: readonly number[], exclude: ReadonlySet<number>): Promise<{ routerd: number; conntrackd: number }> {
  let routerd = await cpuOf(process.pid, true);
  let conntrackd = 0;
  for (const node of ['ra', 'rb'] as const)
    for (const pid of await netnsPids(lab, node)) {
      if (exclude.has(pid)) continue;
      if (ctdPids.includes(pid)) conntrackd += await cpuOf(pid, false);
      else routerd += await cpuOf(pid, true);
    }
  return { routerd, conntrackd };
}

// ---------------------------------------------------------------------------
// NEW events seen on A and on B, keyed by the original tuple. The watcher
// writes straight into a file with its own receive times, so a busy bench
// process neither delays the times nor makes the watcher lose events:
// routerd-ct-events -t (its own socket with a 64 MB buffer, one time per read
// batch) when built, else `conntrack -E -o timestamp`, whose event socket keeps
// the kernel default buffer whatever --buffer-size asks (docs/kernel-facts.md).

const WATCH_BUFFER = 64 * 1024 * 1024;
const WATCH_HELPER = ctEventsHelperPresent();

interface Watcher {
  readonly file: string;
  readonly child: ChildHandle;
}

function watchNew(lab: Lab, node: LabNode): Watcher {
  const file = `${lab.base}/watch-${node.name}-${Date.now()}.log`;
  const argv = WATCH_HELPER
    ? ctEventsArgv([SNAT], { bufferBytes: WATCH_BUFFER, events: ['new'], timestamps: true })
    : ['conntrack', '-E', '-e', 'NEW', '-o', 'timestamp', '--src-nat', SNAT, '--buffer-size', String(WATCH_BUFFER)];
  const child = node.host.spawn(argv, { logFile: file });
  return { file, child };
}

/** First NEW time (ms) per tuple, and how often the watcher said it lost events. */
async function readWatch(w: Watcher): Promise<{ first: Map<string, number>; overruns: number }> {
  const first = new Map<string, number>();
  let overruns = 0;
  for (const line of (await readFile(w.file, 'utf8')).split('\n')) {
    if (WATCH_HELPER) {
      if (!/^(NEW|overrun) /.test(line)) continue;
      const x = parseCtEventsLine(line);
      if (x.kind === 'overrun') overruns++;
      if (x.kind !== 'event' || x.timeMs === undefined) continue;
      const o = x.event.entry.original;
      const key = `${o.src}:${o.sport}:${o.dport}`;
      if (!first.has(key)) first.set(key, x.timeMs);
      continue;
    }
    if (/ENOBUFS|losing events/.test(line)) overruns++;
    const t = /^\[(\d+)\.(\d+)\]/.exec(line);
    const m = /src=(\S+) dst=\S+ sport=(\d+) dport=(\d+)/.exec(line);
    if (!t || !m) continue;
    const key = `${m[1]}:${m[2]}:${m[3]}`;
    if (!first.has(key)) first.set(key, Number(t[1]) * 1000 + Number(`0.${t[2]}`) * 1000);
  }
  return { first, overruns };
}

function keyOf(i: number): string {
  return `192.0.2.${10 + (i % 240)}:${1024 + Math.floor(i / 240)}:${PORT + Math.floor(i / SNAT_PORTS)}`;
}

function percentile(xs: readonly number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

// ---------------------------------------------------------------------------

async function withLab<T>(tag: string, fn: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = await createLab({ prefix: labPrefix(tag), ipv6: false });
  let ssh: LabSsh | undefined;
  try {
    ssh = await enableLabSsh(lab);
    await untrackRouterTraffic([lab.nodes.ra, lab.nodes.rb]);
    await lab.nodes.ra.host.mkdirp(CONTROL_DIR, 0o700);
    return await fn(lab);
  } finally {
    await ssh?.stop().catch(() => undefined);
    await lab.destroy();
  }
}

interface CatchUp {
  mode: Mode;
  n: number;
  ms: number;
  beforePromotion: number;
  commitMs?: number;
  transitionMs?: number;
  afterPromotion: number;
  /** `conntrack -C` and the dying list on B, before and after promotion. */
  kernelBefore: { count: number; dying: number | undefined };
  kernelAfter: { count: number; dying: number | undefined };
}

export async function benchSessionSyncModes(): Promise<BenchSection> {
  const results: CatchUp[] = [];
  await withLab('ssmodes', async (lab) => {
    const { ra, rb } = lab.nodes;
    for (const n of SIZES) {
      await ctFlush(ra);
      await insertOnA(ra, 0, n);
      for (const mode of MODES) {
        await ctFlush(rb);
        const t0 = performance.now();
        const run = await start(lab, mode, 'catchup');
        try {
          // Timed by cheap polls: the table's count is `conntrack -C` less the dying list (entries deleted but
          // still counted while their destroy event waits for a reliable listener). A dump of the bench
          // entries then confirms all N are there (not timed); until it does, the polls go on.
          let reached = 0;
          await until(
            `${mode}: B holds ${n}`,
            async () => {
              const k = await kernelCounts(rb);
              if (k.count - (k.dying ?? 0) < n) return false;
              reached = performance.now();
              return (await benchHeld(rb, n)) === n;
            },
            CATCHUP_TIMEOUT_MS,
            10,
          );
          const ms = reached - t0;
          await sleep(1000);
          const beforePromotion = await benchHeld(rb, n);
          const kernelBefore = await kernelCounts(rb);
          const p = await run.promote();
          const afterPromotion = await benchHeld(rb, n);
          const kernelAfter = await kernelCounts(rb);
          results.push({ mode, n, ms, beforePromotion, ...p, afterPromotion, kernelBefore, kernelAfter });
          console.log(`session-sync-modes ${mode} N=${n}: ${JSON.stringify(results.at(-1))}`);
          if (mode === 'conntrackd') console.log(`session-sync-modes ${mode} N=${n}: ${await run.conntrackdRuntime()}`);
        } finally {
          await run.stop();
        }
        await sleep(500);
      }
    }
  });
  const rows = results.map((r) => [
    `${r.n / 1000}k`,
    r.mode,
    seconds(r.ms),
    `${r.beforePromotion === r.n ? 'yes' : 'no'} (${r.beforePromotion}/${r.n})`,
    r.mode === 'conntrackd' ? `\`-c\` ${seconds(r.commitMs ?? 0)} (nothing to commit); whole master transition ${seconds(r.transitionMs ?? 0)}, entries already in place` : 'none (nothing runs on promotion)',
    String(r.afterPromotion),
    `${r.kernelBefore.count} (${r.kernelBefore.dying ?? '?'} dying) / ${r.kernelAfter.count} (${r.kernelAfter.dying ?? '?'} dying)`,
  ]);
  return {
    name: 'session-sync-modes',
    title: 'NAT session sync, the three modes: standby catch-up and promotion',
    method:
      'N synthetic SNAT entries in router A\'s kernel, B\'s table emptied; each mode started as routerd runs it (snapshot/stream: SnapshotSyncMode/StreamSyncMode over ssh as the controller builds them, first cycle only; ' +
      'conntrackd: ConntrackdSyncMode on both routers, A master, B backup, conntrackd started fresh) until B\'s table holds N (polled every 10 ms: `conntrack -C` less the dying list, `conntrack -L dying`), confirmed by a dump of B\'s bench entries (routerd-ct-dump, filtered by the SNAT address; polls go on until the dump holds all N). ' +
      'Then B is promoted: the bench entries B\'s kernel holds before (the VIP would move then), what runs on B after, and the bench entries it holds after; last column: B\'s `conntrack -C` and its dying list (`conntrack -L dying`) at the same two moments.',
    header: ['N', 'mode', 'until B holds N', 'in B\'s kernel before the VIP moves', 'left on the critical path at promotion', 'bench entries in B after promotion', 'B\'s `conntrack -C` (dying list) before / after promotion'],
    rows,
    notes: [
      'conntrackd runs with `DisableExternalCache on`: the peer\'s entries go into B\'s kernel as they arrive, so the commit a classic external-cache setup runs on promotion ' +
        '(0.7–1.1 s at 100k in the session-sync section above) has nothing to do here; the master transition (`-c`, `-R`, `-B`) runs after the VIP moved but no packet waits for it.',
      'snapshot and stream restore into B\'s kernel with `conntrack -R` over ssh; promotion runs nothing. Their catch-up time is one full cycle (dump, ssh, restore); ' +
        'conntrackd\'s is its startup dump on A plus a bulk send (A\'s master transition and B\'s resync request).',
      'Routers\' own traffic (ssh, conntrackd\'s UDP) is notrack\'ed, so the tables hold bench entries only. `conntrack -C` (nf_conntrack_count) is not the table\'s size: it also counts deleted entries on the dying list, ' +
        'whose destroy event the kernel still has to deliver to a reliable listener (conntrackd, NetlinkEventsReliable); hence the dumps. Before routerd\'s master transition dropped its `-f` (and StartupResync went off), ' +
        'A sent its cache twice at start, the second time as NEW messages, which conntrackd on B applies by deleting and re-creating the entry: B\'s `conntrack -C` read up to 162k/176k at 100k while its table held 100k (docs/session-sync.md). ' +
        'Other work shares this 2-core machine: compare within a row.',
    ],
  };
}

interface Burst {
  mode: Mode;
  /** The table size A was held at. */
  cap: number;
  sent: number;
  achievedRate: number;
  lags: number[];
  destroyed: number;
  /** Entries A still holds (never destroyed) that B does not, after the settle time. */
  missing: number;
  /** Destroyed entries B still holds, after the settle time. */
  stale: number;
  /** Destroyed entries that are back in A's kernel, after the settle time. */
  resurrected: number;
  ctdRuntime: string;
  onA: number;
  onB: number;
  settleMs: number;
  seenOnA: number;
  cpu: { routerd: number; conntrackd: number };
  overruns: number;
  /** snapshot/stream: the mode's own process (CPU with its children, peak RSS), the target side on B, and its overrun count. */
  agent?: { cpuS: number; maxRssMB: number; targetCpuS: number; eventOverruns: number; resyncs: number; fromDist: boolean; atPeak?: AgentUsage['atPeak'] };
}

export async function benchSessionSyncBurst(): Promise<BenchSection> {
  if (!ctDeleteHelperPresent()) throw new Error(`${ctDeleteHelperPath()} missing: run scripts/build-helpers`);
  const results: Burst[] = [];
  await withLab('ssburst', async (lab) => {
    const { ra, rb } = lab.nodes;
    const runs: { mode: Mode; cap: number }[] = BURST_MODES.map((mode) => ({ mode, cap: BURST_CAP }));
    if (BURST_BIG_CAP && BURST_BIG_CAP !== BURST_CAP && BURST_MODES.includes('stream')) runs.push({ mode: 'stream', cap: BURST_BIG_CAP });
    for (const { mode, cap } of runs) {
      const label = `session-sync-burst ${mode} ${cap / 1000}k`;
      await ctFlush(ra);
      await ctFlush(rb);
      // routerd's conntrackd mode sets nf_conntrack_events=1 before it starts conntrackd; the base here is
      // inserted before the mode starts, as on a router already running it (with the default 2, entries
      // created while no event listener runs never report their destroy: docs/kernel-facts.md).
      if (mode === 'conntrackd') for (const n of [ra, rb]) await checked(n, ['sysctl', '-q', '-w', 'net.netfilter.nf_conntrack_events=1']);
      await insertOnA(ra, 0, BURST_BASE);
      const run = await start(lab, mode, 'burst');
      const watchers: Watcher[] = [];
      try {
        await until(`${mode}: B holds the base`, async () => (await ctCount(rb)) >= BURST_BASE, CATCHUP_TIMEOUT_MS, 50);
        const wa = watchNew(lab, ra);
        const wb = watchNew(lab, rb);
        watchers.push(wa, wb);
        await sleep(500);
        const exclude = new Set([wa.child.pid, wb.child.pid].filter((p): p is number => p !== undefined));
        const ctdPids = await run.conntrackdPids();
        const cpu0 = await cpuSample(lab, ctdPids, exclude);
        const b0 = await nodeCpu(lab, 'rb', exclude);
        const perBatch = Math.round((BURST_RATE * BATCH_MS) / 1000);
        const batches = Math.round((BURST_S * 1000) / BATCH_MS);
        const t0 = performance.now();
        let next = BURST_BASE;
        let oldest = 0;
        for (let b = 0; b < batches; b++) {
          const due = t0 + b * BATCH_MS;
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
          await insertOnA(ra, next, perBatch);
          next += perBatch;
          if (next - oldest > cap) {
            await destroyOnA(ra, oldest, perBatch);
            oldest += perBatch;
          }
        }
        const sendMs = performance.now() - t0;
        const sent = next - BURST_BASE;
        const total = next;
        const live = next - oldest;
        const s0 = performance.now();
        await until(`${mode}: B holds what A holds`, async () => (await ctCount(rb)) === live, SETTLE_MS, 100).catch(() => undefined);
        // An equal count is not yet the same entries: with the last NEW and destroy batches both still on their
        // way, B holds as many entries as A. Dumps until B holds exactly the generator's live entries (or time is up).
        const exact = async (): Promise<boolean> => {
          const kb = await benchKeys(rb);
          if (kb.size !== live) return false;
          for (let i = oldest; i < next; i++) if (!kb.has(keyOf(i))) return false;
          return true;
        };
        await until(`${mode}: B holds exactly A's live entries`, exact, Math.max(0, SETTLE_MS - (performance.now() - s0)), 100).catch(() => undefined);
        const settleMs = performance.now() - s0;
        const cpu1 = await cpuSample(lab, ctdPids, exclude);
        const b1 = await nodeCpu(lab, 'rb', exclude);
        const own = 'usage' in run ? await (run as ReturnType<typeof startAgent>).usage() : undefined;
        const agent = own
          ? { cpuS: own.cpuSelfS + own.cpuChildrenS, maxRssMB: own.maxRssMB, targetCpuS: b1 - b0, eventOverruns: Number(own.status?.eventOverruns ?? 0), resyncs: Number(own.status?.resyncs ?? 0), fromDist: own.fromDist === true, ...(own.atPeak ? { atPeak: own.atPeak } : {}) }
          : undefined;
        const [keysA, keysB] = await Promise.all([benchKeys(ra), benchKeys(rb)]);
        const ctdRuntime = await run.conntrackdRuntime();
        // Judged against what the generator did, not against A: entries [oldest, next) live, [0, oldest) destroyed.
        let missing = 0;
        for (let i = oldest; i < next; i++) if (!keysB.has(keyOf(i))) missing++;
        let stale = 0;
        let resurrected = 0;
        const staleRanges: [number, number][] = [];
        for (let i = 0; i < oldest; i++) {
          if (keysB.has(keyOf(i))) {
            stale++;
            const last = staleRanges.at(-1);
            if (last && last[1] === i - 1) last[1] = i;
            else staleRanges.push([i, i]);
          }
          if (keysA.has(keyOf(i))) resurrected++;
        }
        if (staleRanges.length) console.log(`${label}: stale entries (generator indexes): ${staleRanges.slice(0, 20).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', ')}${staleRanges.length > 20 ? ', ...' : ''}`);
        for (const w of watchers.splice(0)) {
          w.child.kill('SIGTERM');
          await w.child.exited;
        }
        const [ea, eb] = await Promise.all([readWatch(wa), readWatch(wb)]);
        const lags: number[] = [];
        let seenOnA = 0;
        for (let i = BURST_BASE; i < total; i++) {
          const a = ea.first.get(keyOf(i));
          const bAt = eb.first.get(keyOf(i));
          if (a !== undefined) seenOnA++;
          if (a !== undefined && bAt !== undefined) lags.push(bAt - a);
        }
        results.push({
          mode,
          cap,
          sent,
          achievedRate: sent / (sendMs / 1000),
          lags,
          destroyed: oldest,
          missing,
          stale,
          resurrected,
          ctdRuntime,
          onA: keysA.size,
          onB: keysB.size,
          settleMs,
          seenOnA,
          cpu: { routerd: cpu1.routerd - cpu0.routerd, conntrackd: cpu1.conntrackd - cpu0.conntrackd },
          ...(agent ? { agent } : {}),
          overruns: ea.overruns + eb.overruns,
        });
        const r = results.at(-1)!;
        // Where the tail is: lag by 5 s of A's NEW times, and the agent's memory over time.
        let t0a = Infinity;
        for (const v of ea.first.values()) if (v < t0a) t0a = v;
        const buckets = new Map<number, number[]>();
        for (let i = BURST_BASE; i < total; i++) {
          const a = ea.first.get(keyOf(i));
          const bAt = eb.first.get(keyOf(i));
          if (a === undefined || bAt === undefined) continue;
          const k = Math.floor((a - t0a) / 5000) * 5;
          let xs = buckets.get(k);
          if (!xs) buckets.set(k, (xs = []));
          xs.push(bAt - a);
        }
        console.log(`${label}: lag by 5 s (from A's first NEW): ${[...buckets].map(([k, xs]) => `${k}s p50 ${Math.round(percentile(xs, 50))} p99 ${Math.round(percentile(xs, 99))} max ${Math.round(xs.reduce((m, x) => Math.max(m, x), 0))}`).join('; ')}`);
        if (own?.timeline) console.log(`${label}: agent [s, RSS MB, heap used MB]: ${JSON.stringify(own.timeline)}`);
        if (own?.hwmRises) console.log(`${label}: agent RSS high-water rises [s, VmHWM MB, RSS MB, heap used MB]: ${JSON.stringify(own.hwmRises)}`);
        if (own?.gc) console.log(`${label}: agent GC: ${own.gc.minor} minor (${Math.round(own.gc.minorMs)} ms), ${own.gc.major} major (${Math.round(own.gc.majorMs)} ms); CPU ${own.cpuSelfS.toFixed(1)} s itself, ${own.cpuChildrenS.toFixed(1)} s children`);
        console.log(`${label}: sent ${sent} at ${Math.round(r.achievedRate)}/s, destroyed ${r.destroyed}, lag p50 ${percentile(lags, 50)} p99 ${percentile(lags, 99)}, A ${r.onA} B ${r.onB} missing ${r.missing} stale ${r.stale} resurrected on A ${r.resurrected} ${r.ctdRuntime} (settled in ${Math.round(settleMs)} ms), cpu ${JSON.stringify(r.cpu)}`);
      } finally {
        for (const w of watchers) {
          w.child.kill('SIGTERM');
          await w.child.exited;
        }
        await run.stop();
      }
      await sleep(500);
    }
  });
  const rows = results.map((r) => [
    r.mode,
    `${r.cap / 1000}k`,
    `${r.sent} in ${BURST_S} s (${Math.round(r.achievedRate)}/s)`,
    String(r.destroyed),
    `${seconds(percentile(r.lags, 50))} / ${seconds(percentile(r.lags, 99))}`,
    `${r.missing} / ${r.stale} (A ${r.onA}, B ${r.onB}; ${r.missing === 0 && r.stale === 0 && r.resurrected === 0 ? `as generated after ${seconds(r.settleMs)}` : `not as generated ${seconds(r.settleMs)} after the burst`})`,
    String(r.resurrected),
    r.agent ? `${r.agent.cpuS.toFixed(1)} s (its process); B side ${r.agent.targetCpuS.toFixed(1)} s` : `${r.cpu.routerd.toFixed(1)} s`,
    r.agent ? `${Math.round(r.agent.maxRssMB)} MB` : '-',
    r.agent ? `${r.agent.eventOverruns} / ${r.agent.resyncs}` : '-',
    r.mode === 'conntrackd' ? `${r.cpu.conntrackd.toFixed(1)} s` : '-',
  ]);
  return {
    name: 'session-sync-burst',
    title: `NAT session sync, the three modes: a burst of ${BURST_RATE / 1000}k new flows/s`,
    method:
      `Router A holds ${BURST_BASE / 1000}k entries, already on B; then ${BURST_RATE}/s new SNAT entries are inserted on A (\`conntrack -R\` batches of ${(BURST_RATE * BATCH_MS) / 1000} every ${BATCH_MS} ms) for ${BURST_S} s; ` +
      `once A holds the table size of the row (${BURST_CAP / 1000}k for every mode${results.some((r) => r.cap !== BURST_CAP) ? `, and stream once more at ${BURST_BIG_CAP / 1000}k for its CPU and memory at that size` : ''}), each batch also destroys the ${(BURST_RATE * BATCH_MS) / 1000} oldest (exact ctnetlink deletes, routerd-ct-delete), so the table stays at that size ` +
      `(${BURST_S} s at 5k/s without destroys would exceed nf_conntrack_max 262144, which cannot be raised inside a network namespace). Lag = first NEW event of an entry on A to its first NEW event on B ` +
      `(${WATCH_HELPER ? '`routerd-ct-events -e new -t` watchers (its own socket with a 64 MB receive buffer; one receive time per read batch)' : '`conntrack -E -o timestamp` watchers asking for 64 MB buffers (which conntrack 1.4.7 does not put on its event socket)'}, one per router, writing to files: their own receive times). After the burst, up to ${SETTLE_MS / 1000} s for B's count to equal A's and then for B's dump to hold exactly the generator's live entries (an equal count alone passed with the last insert and destroy batches both still on their way), then both tables are dumped: ` +
      `missing = entries the generator left on A (the last table size's worth) that B does not hold, stale = destroyed entries B still holds (0 / 0 expected); destroyed entries back on A = destroyed entries A's own kernel holds again (0 expected). CPU = utime+stime over the burst and settle time, from /proc.`,
    header: ['mode', 'table', 'new entries', 'destroyed', 'lag p50 / p99', 'missing / stale on B after settle', 'destroyed entries back on A', 'CPU routerd', 'routerd peak RSS', 'event overruns / resyncs', 'CPU conntrackd (A+B)'],
    rows,
    notes: [
      'snapshot: interval 2 s (default), a streamed full resync per cycle (B\'s tuples read over ssh; A\'s dump line by line into 8192-line batches on a restore session; exact deletes for what B holds, then `-A`; what A no longer has pruned at the end); ' +
        `stream: ${ctEventsHelperPresent() ? 'one routerd-ct-events for its addresses (a socket of its own with a 64 MB receive buffer, NETLINK_BROADCAST_ERROR, filtered to the SNAT addresses in the helper, one compact line per event; src/kernel/ct-events.ts)' : '`conntrack -E` asking for a 32 MB buffer (conntrack 1.4.7 puts it on a socket without event groups; the event socket keeps the kernel default: docs/kernel-facts.md)'}; each batch (events coalesced per flow, formed while the previous batch is applied) goes on its own restore session: ended flows as exact deletes (routerd-ct-delete on B), new flows as \`-A\`; full resync every 30 s on a second session, events seen meanwhile applied again after it; ` +
        'conntrackd: FTFW over UDP, DisableExternalCache, NetlinkEventsReliable with a 64 MB buffer, NetlinkOverrunResync off ' +
        '(a kernel resync on the backup sent the master\'s entries back: docs/session-sync.md), nf_conntrack_events=1, routerd heals kernel-counted event drops on the master with `-R`, `-B`.',
      `snapshot and stream run in a process of their own inside A (bench/sync-agent.ts: the classes, hosts and ssh sessions the controller builds; pino lines written as in routerd; ${results.some((r) => r.agent) ? (results.every((r) => !r.agent || r.agent.fromDist) ? `loaded from dist/ as an installed routerd runs, with Node flags ${AGENT_NODE_FLAGS.join(' ') || 'none'}${AGENT_NODE_FLAGS.join(' ') === ROUTERD_NODE_FLAGS.join(' ') ? " (bin/routerd's)" : ''}` : 'loaded from the TypeScript sources through tsx, which alone adds about 70 MB of RSS') : ''}): CPU routerd = that process and its children (the event reader, dumps, ssh clients), peak RSS = its VmHWM (its own high-water mark; getrusage's maxrss would also count the bench process's RSS at the fork that started it: docs/kernel-facts.md); B side = sshd and what it runs on B (the restore sessions' sh, conntrack -R, routerd-ct-delete, the tuple dumps). ` +
        'Event overruns / resyncs: what the stream mode counted and healed with a full resync (routerd_session_sync_event_overruns_total, status eventOverruns and resyncs). ' +
        'With destroys, the lag watchers see only NEW events; a destroy\'s lag is not timed, only its end result (stale). ' +
        'Lags are differences of two watchers\' receive times, so a sub-millisecond lag can come out slightly negative when A\'s watcher reads later than B\'s.',
      'For conntrackd, CPU routerd counts this bench process (the worker, or ConntrackdSyncMode\'s stats polls and transitions) with its reaped children (conntrack dumps and event streams, ssh), and every other process in both routers\' namespaces (sshd running `conntrack -R` on B) except the two measuring watchers and conntrackd, which has its own column. ' +
        'It also includes the load generator (the `conntrack -R` inserts and the routerd-ct-delete destroys on A, children of the bench process), the same in every mode, so routerd\'s column is an upper bound; in mode conntrackd it is mostly the generator.',
      ...results.map((r) => `${r.mode} at ${r.cap / 1000}k: ${r.ctdRuntime ? `conntrackd ${r.ctdRuntime}; ` : ''}${r.agent?.atPeak ? `at its highest sampled RSS (${Math.round(r.agent.atPeak.rssMB)} MB) V8 heap ${Math.round(r.agent.atPeak.heapUsedMB)} MB used of ${Math.round(r.agent.atPeak.heapTotalMB)} MB, Buffers ${Math.round(r.agent.atPeak.externalMB)} MB; ` : ''}${r.lags.length} of ${r.sent} entries timed (seen on A by the watcher: ${r.seenOnA}); watcher overruns ${r.overruns}; lag p90 ${seconds(percentile(r.lags, 90))}, max ${seconds(r.lags.reduce((a, b) => Math.max(a, b), 0))}, median ${seconds(median(r.lags.length ? r.lags : [0]))}.`),
    ],
  };
}
