// NAT session sync throughput in the lab: N synthetic SNAT entries on router A
// copied to router B by (a) the native pipeline an operator would script
// (conntrack -L -o save | sed | ssh conntrack -R), (b) one routerd snapshot
// cycle (SnapshotSyncMode, as the NAT44SessionSync controller builds it), and
// (c) conntrackd (FTFW over UDP on the LAN: resync request `-n` on B, then
// commit `-c`). Plus the lag of routerd's stream mode for new entries.
// Methods alternate within each round, so machine noise hits them alike.
import { nat44SessionSyncSpec } from '../src/controllers/session-sync/schema.ts';
import { Phase, type ResourceStatus } from '../src/controllers/status.ts';
import { targetHost } from '../src/controllers/session-sync/controller.ts';
import { standaloneInput } from '../src/controllers/session-sync/mode.ts';
import { SnapshotSyncMode } from '../src/controllers/session-sync/snapshot.ts';
import { openSession, type TargetStatus } from '../src/controllers/session-sync/targets.ts';
import type { ChildHandle } from '../src/host/host.ts';
import { conntrackDumpArgv } from '../src/kernel/conntrack.ts';
import { restoreLineFromExtended } from '../src/kernel/conntrack-lines.ts';
import { enableLabSsh, type LabSsh } from '../src/lab/sshd.ts';
import { untrackRouterTraffic } from '../src/lab/harden.ts';
import { createLab, labPrefix, type Lab, type LabNode } from '../src/lab/topology.ts';
import { createMetrics, type Metrics } from '../src/observability/metrics.ts';
import { sshExitMasterArgv } from '../src/transport/ssh.ts';
import { SshHost } from '../src/transport/ssh-host.ts';
import { checked, ctCount, ctFlush, ctMatching, memoryLogger, rate, ratio, seconds, sleep, until, type MemoryLogger } from './lab-util.ts';
import { median, type BenchSection } from './results.ts';

const SNAT = '198.51.100.100';
const SERVER = '198.51.100.200';
const PORT = 7007;
const RA_LAN = '192.0.2.2';
const RB_LAN = '192.0.2.3';
const MARK = 66;
const SIZES = (process.env.ROUTERD_BENCH_SIZES ?? '10000,100000,200000').split(',').map(Number);
const ROUNDS = 3;
const STREAM_TRIALS = 5;
/** SNAT ports used (the NAT44Rule's portRange 20000-60000). */
const SNAT_PORTS = 40_000;
const CONTROL_DIR = '/run/routerd/ssh';
const CTD_DIR = '/etc/routerd/conntrackd';
const CTD_CONF = `${CTD_DIR}/conntrackd.conf`;
const SYNC_TIMEOUT_MS = 180_000;
const AGENT = new URL('./sync-agent.mjs', import.meta.url).pathname;

/** The pipeline an operator would script; constant, run by sh inside router A. */
const NATIVE_PIPELINE = `conntrack -L -o save --src-nat ${SNAT} | sed 's/^-A/-I/' | ssh root@${RB_LAN} conntrack -R /dev/stdin`;

/**
 * Entry i: client 192.0.2.(10..249):(1024+) → server:PORT+k, SNAT to
 * 198.51.100.100:(20000..59999). A reply tuple differs only in the SNAT port
 * and the server port, and 16-bit ports cannot give 100k distinct SNAT ports
 * for one server port: every 40 000 entries the server port goes up by one.
 */
function synthLines(from: number, count: number): string {
  const out: string[] = [];
  for (let i = from; i < from + count; i++) {
    const client = `192.0.2.${10 + (i % 240)}`;
    const sport = 1024 + Math.floor(i / 240);
    const dport = PORT + Math.floor(i / SNAT_PORTS);
    const snatPort = 20_000 + (i % SNAT_PORTS);
    out.push(
      `-I -p tcp -s ${client} -d ${SERVER} --sport ${sport} --dport ${dport} --src-nat ${SNAT}:${snatPort} -u SEEN_REPLY,ASSURED --state ESTABLISHED -t 3600 -m ${MARK}`,
    );
  }
  return `${out.join('\n')}\n`;
}

async function insertOnA(ra: LabNode, from: number, count: number): Promise<number> {
  const text = synthLines(from, count);
  const t0 = performance.now();
  await checked(ra, ['conntrack', '-R', '/dev/stdin'], { stdin: text, timeoutMs: 120_000 });
  return performance.now() - t0;
}

// ---------------------------------------------------------------------------
// routerd: the worker as the controller builds it (local Host, SshHost per target, ControlMaster dir)

const TARGET = { name: 'peer', host: RB_LAN, user: 'root' };

function specFor(mode: 'snapshot' | 'stream') {
  // 1h: only the first cycle runs in a measurement (stream: its first full replace).
  return nat44SessionSyncSpec.parse({ mode, interval: '1h', snatAddresses: [SNAT], targets: [TARGET] });
}

interface WorkerRun {
  readonly worker: SnapshotSyncMode;
  /** update() → first report with phase Synced. */
  readonly ms: number;
  readonly target: TargetStatus;
}

async function startWorker(lab: Lab, logger: MemoryLogger, metrics: Metrics): Promise<WorkerRun> {
  const ra = lab.nodes.ra.host;
  const spec = specFor('snapshot');
  let settle: ((s: ResourceStatus) => void) | undefined;
  const first = new Promise<ResourceStatus>((resolve) => (settle = resolve));
  let t1 = 0;
  const worker = new SnapshotSyncMode('NAT44SessionSync/bench', {
    local: ra,
    remote: (t) => targetHost(ra, t, CONTROL_DIR),
    session: (t, a) => openSession(ra, t, CONTROL_DIR, a),
    log: logger.log,
    metrics,
    report: (s) => {
      if (settle && (s.phase === Phase.Synced || s.phase === Phase.Degraded)) {
        t1 = performance.now();
        settle(s);
        settle = undefined;
      }
    },
    generation: () => 1,
  });
  const t0 = performance.now();
  await worker.update(standaloneInput(spec, [SNAT]));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`snapshot: no Synced report within ${SYNC_TIMEOUT_MS} ms`)), SYNC_TIMEOUT_MS);
  });
  try {
    const s = await Promise.race([first, timeout]);
    if (s.phase !== Phase.Synced) throw new Error(`snapshot: ${s.phase} ${s.reason}: ${s.message}`);
    const target = (s.targets as TargetStatus[])[0]!;
    return { worker, ms: t1 - t0, target: { ...target } };
  } catch (e) {
    await worker.stop();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** Stream mode in its own process inside router A (bench/sync-agent.ts), so its memory is its own. */
interface Agent {
  readonly child: ChildHandle;
  readonly synced: Promise<void>;
  /** SIGTERM, then its own account of CPU and peak RSS. */
  stop(): Promise<{ cpuSelfS: number; cpuChildrenS: number; maxRssMB: number }>;
}

function startAgent(lab: Lab, mode: 'snapshot' | 'stream', interval: string): Agent {
  const child = lab.nodes.ra.host.spawn(['node', AGENT, JSON.stringify({ mode, interval, snat: SNAT, target: TARGET, controlDir: CONTROL_DIR })]);
  let buf = '';
  let onSynced: () => void = () => undefined;
  let onFail: (e: Error) => void = () => undefined;
  let onExit: (x: { cpuSelfS: number; cpuChildrenS: number; maxRssMB: number }) => void = () => undefined;
  const synced = new Promise<void>((resolve, reject) => {
    onSynced = resolve;
    onFail = reject;
  });
  const exit = new Promise<{ cpuSelfS: number; cpuChildrenS: number; maxRssMB: number }>((resolve) => (onExit = resolve));
  let err = '';
  child.stderr?.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-2000)));
  child.stdout?.on('data', (b: Buffer) => {
    buf += b.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const msg = JSON.parse(line) as { status?: ResourceStatus; exit?: { cpuSelfS: number; cpuChildrenS: number; maxRssMB: number } };
      if (msg.status?.phase === Phase.Synced) onSynced();
      if (msg.status?.phase === Phase.Degraded) onFail(new Error(`agent: ${msg.status.reason}: ${msg.status.message}`));
      if (msg.exit) onExit(msg.exit);
    }
  });
  void child.exited.then((x) => onFail(new Error(`agent exited ${x.code ?? x.signal}: ${err}`)));
  return {
    child,
    synced,
    async stop() {
      child.kill('SIGTERM');
      const r = await Promise.race([exit, sleep(10_000).then(() => undefined)]);
      if (!r) {
        child.kill('SIGKILL');
        throw new Error(`agent did not report on exit: ${err}`);
      }
      await child.exited;
      return r;
    },
  };
}

/** One ssh command over the ControlMaster connection (`true`), median of 5: the fixed cost of every batch. */
async function sshExecMs(lab: Lab): Promise<number> {
  const host = new SshHost(lab.nodes.ra.host, specFor('snapshot').targets[0]!, { controlDir: CONTROL_DIR });
  const times: number[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await host.run(['true'], { timeoutMs: 15_000 });
    if (r.code !== 0) throw new Error(`ssh ra → rb: ${r.stderr.trim()}`);
    if (i > 0) times.push(r.durationMs);
  }
  return median(times);
}

/** Close the persistent ssh connection, so the next first cycle pays its connect as the native pipeline does. */
async function closeControlMaster(lab: Lab): Promise<void> {
  const t = specFor('snapshot').targets[0]!;
  await lab.nodes.ra.host.run(sshExitMasterArgv(t, { controlDir: CONTROL_DIR }), { timeoutMs: 10_000 });
}

// ---------------------------------------------------------------------------
// conntrackd: FTFW over UDP between the routers' LAN addresses

function conntrackdConf(self: string, peer: string): string {
  return `Sync {
	Mode FTFW {
		ResendQueueSize 262144
	}
	UDP {
		IPv4_address ${self}
		IPv4_Destination_Address ${peer}
		Port 3780
		Interface lan0
		SndSocketBuffer 24985600
		RcvSocketBuffer 24985600
		Checksum on
	}
}
General {
	Systemd no
	HashSize 65536
	HashLimit 524288
	LogFile ${CTD_DIR}/conntrackd.log
	Syslog no
	LockFile ${CTD_DIR}/conntrackd.lock
	UNIX {
		Path ${CTD_DIR}/conntrackd.ctl
	}
	NetlinkBufferSize 2097152
	NetlinkBufferSizeMaxGrowth 8388608
	Filter From Kernelspace {
		Protocol Accept {
			TCP
			UDP
			ICMP
		}
		Address Ignore {
			IPv4_address 127.0.0.1
			IPv4_address ${RA_LAN}
			IPv4_address ${RB_LAN}
		}
	}
}
`;
}

interface Conntrackd {
  readonly child: ChildHandle;
  ctl(args: readonly string[]): Promise<string>;
  cache(which: 'internal' | 'external'): Promise<number>;
  stop(): Promise<void>;
}

async function startConntrackd(node: LabNode, self: string, peer: string): Promise<Conntrackd> {
  await node.host.mkdirp(CTD_DIR, 0o755);
  await node.host.remove(`${CTD_DIR}/conntrackd.lock`);
  await node.host.remove(`${CTD_DIR}/conntrackd.ctl`);
  await node.host.writeFileAtomic(CTD_CONF, conntrackdConf(self, peer), 0o644);
  // Foreground (no -d): nsenter execs conntrackd, so the child PID is conntrackd's.
  const child = node.host.spawn(['conntrackd', '-C', CTD_CONF]);
  let output = '';
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  const ctl = async (args: readonly string[]): Promise<string> => (await checked(node, ['conntrackd', '-C', CTD_CONF, ...args], { timeoutMs: 120_000 })).stdout;
  const cache = async (which: 'internal' | 'external'): Promise<number> => {
    const m = new RegExp(`cache:${which}\\s+active objects:\\s+(\\d+)`).exec(await ctl(['-s', 'cache']));
    if (!m) throw new Error(`conntrackd on ${node.name}: no ${which} cache line`);
    return Number(m[1]);
  };
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await child.exited;
    clearTimeout(t);
  };
  try {
    await until(`conntrackd on ${node.name} answers`, async () => {
      const exited = await Promise.race([child.exited, sleep(50).then(() => undefined)]);
      if (exited) throw new Error(`conntrackd on ${node.name} exited (${exited.code ?? exited.signal}): ${output.trim()}`);
      return (await node.host.run(['conntrackd', '-C', CTD_CONF, '-s', 'runtime'], { timeoutMs: 5_000 })).code === 0;
    }, 10_000, 50);
  } catch (e) {
    await stop();
    throw e;
  }
  return { child, ctl, cache, stop };
}

/** Scheduling policy of a process as chrt reports it (conntrackd asks for SCHED_RR 99 by default). */
async function schedPolicy(lab: Lab, pid: number | undefined): Promise<string> {
  if (pid === undefined) return 'unknown';
  const r = await lab.nodes.ra.host.run(['chrt', '-p', String(pid)], { timeoutMs: 5_000 });
  const pol = /policy:\s*(\S+)/.exec(r.stdout)?.[1];
  const prio = /priority:\s*(\d+)/.exec(r.stdout)?.[1];
  return pol ? `${pol}${prio ? ` ${prio}` : ''}` : 'unknown';
}

// ---------------------------------------------------------------------------
// stream lag: NEW events seen on A and on B by independent `conntrack -E` watchers

interface Watcher {
  readonly times: number[];
  readonly child: ChildHandle;
}

function watchNew(node: LabNode): Watcher {
  const child = node.host.spawn(['conntrack', '-E', '-e', 'NEW', '--src-nat', SNAT, '--buffer-size', String(8 * 1024 * 1024)]);
  const times: number[] = [];
  let buf = '';
  child.stdout?.on('data', (b: Buffer) => {
    const at = performance.now();
    buf += b.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      if (buf.slice(0, nl).includes('[NEW]')) times.push(at);
      buf = buf.slice(nl + 1);
    }
  });
  return { times, child };
}

/** Insert `count` new entries on A; ms from the first NEW event on A to the last one on B. */
async function streamTrial(lab: Lab, wa: Watcher, wb: Watcher, from: number, count: number): Promise<number> {
  const ia = wa.times.length;
  const ib = wb.times.length;
  await insertOnA(lab.nodes.ra, from, count);
  await until(`${count} new entries seen on A`, async () => wa.times.length >= ia + count, 10_000, 5);
  await until(`${count} new entries on B`, async () => wb.times.length >= ib + count, 30_000, 5);
  return wb.times[ib + count - 1]! - wa.times[ia]!;
}

// ---------------------------------------------------------------------------

interface Round {
  native: number;
  routerd: number;
  replace: number;
  ctdBulk: number;
  ctdCommit: number;
}

interface SizeResult {
  readonly n: number;
  readonly insertMs: number;
  readonly rounds: Round[];
  readonly stream100: number[];
  readonly stream1: number[];
  readonly marks: { native: number; routerd: number; replace: number; conntrackd: number };
  readonly streamFirstMs: number;
  readonly usage: { cpuSelfS: number; cpuChildrenS: number; maxRssMB: number };
  readonly floor: { dumpMs: number; restoreMs: number; extDumpMs: number; transformMs: number; batchBytes: number };
}

export async function benchSessionSync(): Promise<BenchSection> {
  const lab = await createLab({ prefix: labPrefix('ssync'), ipv6: false });
  const notes: string[] = [];
  let ssh: LabSsh | undefined;
  const agents: Agent[] = [];
  const daemons: Conntrackd[] = [];
  const watchers: Watcher[] = [];
  const logger = memoryLogger('ra');
  const metrics = createMetrics();
  const results: SizeResult[] = [];
  let ctdSched = 'unknown';
  let sshNeutral = 0;
  const { ra, rb } = lab.nodes;
  try {
    // The plain root shell, as in every lab: with this machine's /root/.bashrc (pyenv init) the
    // first ssh commands under load took over 5 s and the bench's set-up failed.
    ssh = await enableLabSsh(lab);
    await untrackRouterTraffic([ra, rb]);
    await ra.host.mkdirp(CONTROL_DIR, 0o700);
    sshNeutral = await sshExecMs(lab);
    await closeControlMaster(lab);

    for (const n of SIZES) {
      await ctFlush(ra);
      await ctFlush(rb);
      const insertMs = await insertOnA(ra, 0, n);
      if ((await ctCount(ra)) !== n) throw new Error(`A holds ${await ctCount(ra)} entries, want ${n}`);
      const rounds: Round[] = [];
      const marks = { native: 0, routerd: 0, replace: 0, conntrackd: 0 };
      const expectB = async (what: string): Promise<void> => {
        const c = await ctCount(rb);
        if (c !== n) throw new Error(`${what} (N=${n}): B holds ${c} entries, want ${n}`);
      };
      const marked = (): Promise<number> => ctMatching(rb, ['--mark', String(MARK)]);

      // The floor: dump on A and restore on B with no transport, once per size.
      const d0 = performance.now();
      const save = await checked(ra, ['conntrack', '-L', '-o', 'save', '--src-nat', SNAT]);
      const dumpMs = performance.now() - d0;
      const lines = save.stdout.replace(/^-A /gm, '-I ');
      // routerd's own dump, then its parse and batch build in this process.
      const e0 = performance.now();
      const ext = await checked(ra, conntrackDumpArgv({ format: 'extended', family: 'ipv4', snatAddress: SNAT }));
      const e1 = performance.now();
      // routerd's line transform alone (kernel/conntrack-lines.ts), on the whole dump at once.
      const e2 = performance.now();
      let transformed = 0;
      let batchBytes = 0;
      for (const line of ext.stdout.split('\n')) {
        const x = restoreLineFromExtended(line, SNAT);
        if (x.kind === 'entry') {
          transformed++;
          batchBytes += x.line.length + 1;
        }
      }
      const e3 = performance.now();
      if (transformed !== n) throw new Error(`transformed ${transformed} of ${n} entries`);
      await ctFlush(rb);
      const r0 = performance.now();
      await checked(rb, ['conntrack', '-R', '/dev/stdin'], { stdin: lines, timeoutMs: 120_000 });
      const restoreMs = performance.now() - r0;
      await expectB('local restore');

      for (let round = 0; round < ROUNDS; round++) {
        // (a) native pipeline
        await ctFlush(rb);
        const a0 = performance.now();
        const nat = await ra.host.run(['sh', '-c', NATIVE_PIPELINE], { timeoutMs: 300_000 });
        const native = performance.now() - a0;
        if (nat.code !== 0) throw new Error(`native pipeline exited ${nat.code}: ${nat.stderr.trim()}`);
        await expectB('native pipeline');
        if (round === 0) marks.native = await marked();

        // (b) routerd snapshot: first cycle into an empty B (fresh ssh connection), then a replace into a full B
        await ctFlush(rb);
        await closeControlMaster(lab);
        const first = await startWorker(lab, logger, metrics);
        await first.worker.stop();
        await expectB('routerd snapshot');
        if (round === 0) marks.routerd = await marked();
        const second = await startWorker(lab, logger, metrics);
        await second.worker.stop();
        await expectB('routerd replace');
        if (round === 0) marks.replace = await marked();
        if (first.target.sent !== n || second.target.sent !== n) throw new Error(`routerd sent ${first.target.sent}/${second.target.sent}, want ${n}`);

        // (c) conntrackd: started fresh on both, A's internal cache filled from its startup dump
        await ctFlush(rb);
        const ca = await startConntrackd(ra, RA_LAN, RB_LAN);
        daemons.push(ca);
        const cb = await startConntrackd(rb, RB_LAN, RA_LAN);
        daemons.push(cb);
        ctdSched = await schedPolicy(lab, ca.child.pid);
        await until('conntrackd on A holds every entry in its internal cache', async () => (await ca.cache('internal')) >= n, 60_000, 50);
        const c0 = performance.now();
        await cb.ctl(['-n']);
        await until('conntrackd on B received every entry', async () => (await cb.cache('external')) >= n, 60_000, 5);
        const c1 = performance.now();
        await cb.ctl(['-c']);
        await until('B kernel table full', async () => (await ctCount(rb)) >= n, 60_000, 5);
        const c2 = performance.now();
        await expectB('conntrackd commit');
        if (round === 0) marks.conntrackd = await marked();
        for (const d of [ca, cb]) {
          await d.stop();
          daemons.splice(daemons.indexOf(d), 1);
        }

        rounds.push({
          native,
          routerd: first.ms,
          replace: second.ms,
          ctdBulk: c1 - c0,
          ctdCommit: c2 - c1,
        });
      }

      // Stream mode (its own process in A): B already holds the N entries (conntrackd's commit); the first full resync, then new entries.
      const s0 = performance.now();
      const stream = startAgent(lab, 'stream', '1h');
      agents.push(stream);
      await Promise.race([stream.synced, sleep(SYNC_TIMEOUT_MS).then(() => Promise.reject(new Error('stream agent: no Synced report')))]);
      const streamFirstMs = performance.now() - s0;
      // Watchers start after the full replace, so its N events on B do not flood them.
      const wa = watchNew(ra);
      const wb = watchNew(rb);
      watchers.push(wa, wb);
      await sleep(500);
      let next = n;
      const stream100: number[] = [];
      const stream1: number[] = [];
      for (let i = 0; i < STREAM_TRIALS; i++) {
        stream100.push(await streamTrial(lab, wa, wb, next, 100));
        next += 100;
        await sleep(200);
      }
      for (let i = 0; i < STREAM_TRIALS; i++) {
        stream1.push(await streamTrial(lab, wa, wb, next, 1));
        next += 1;
        await sleep(200);
      }
      const usage = await stream.stop();
      agents.splice(agents.indexOf(stream), 1);
      for (const w of [wa, wb]) {
        w.child.kill('SIGTERM');
        await w.child.exited;
        watchers.splice(watchers.indexOf(w), 1);
      }
      const onB = await ctCount(rb);
      if (onB !== next) throw new Error(`stream (N=${n}): B holds ${onB}, want ${next}`);
      results.push({ n, insertMs, rounds, stream100, stream1, marks, streamFirstMs, usage, floor: { dumpMs, restoreMs, extDumpMs: e1 - e0, transformMs: e3 - e2, batchBytes } });
      console.log(`session-sync N=${n}: ${JSON.stringify({ rounds, stream100, stream1, marks })}`);
    }
  } finally {
    for (const a of agents) a.child.kill('SIGKILL');
    for (const w of watchers) w.child.kill('SIGTERM');
    for (const d of daemons) await d.stop().catch(() => undefined);
    await closeControlMaster(lab).catch(() => undefined);
    await ssh?.stop().catch(() => undefined);
    await lab.destroy();
  }

  const med = (rs: Round[], k: keyof Round): number => median(rs.map((r) => r[k]));
  const cell = (n: number, ms: number): string => `${seconds(ms)} (${rate(n, ms)})`;
  const rows = results.map((r) => {
    const native = med(r.rounds, 'native');
    const routerd = med(r.rounds, 'routerd');
    const ctdTotal = median(r.rounds.map((x) => x.ctdBulk + x.ctdCommit));
    return [
      `${r.n / 1000}k`,
      cell(r.n, native),
      cell(r.n, routerd),
      cell(r.n, ctdTotal),
      ratio(routerd, native),
      ratio(routerd, ctdTotal),
      cell(r.n, med(r.rounds, 'replace')),
      `${seconds(med(r.rounds, 'ctdBulk'))} + ${seconds(med(r.rounds, 'ctdCommit'))}`,
      `${seconds(median(r.stream100))} / ${seconds(median(r.stream1))}`,
      `${Math.round(r.usage.maxRssMB)} MB`,
    ];
  });
  for (const r of results) {
    notes.push(
      `N=${r.n / 1000}k, the stages routerd overlaps, measured alone: \`-o extended\` dump ${seconds(r.floor.extDumpMs)}, line transform in Node ${seconds(r.floor.transformMs)} (${(r.floor.batchBytes / 1e6).toFixed(1)} MB of restore lines); ` +
        `floor without transport: \`-o save\` dump on A ${seconds(r.floor.dumpMs)} + \`conntrack -R\` into an empty B ${seconds(r.floor.restoreMs)}; ` +
        `inserting the N entries on A took ${seconds(r.insertMs)}. Per-round times (native / routerd / conntrackd total): ` +
        r.rounds.map((x) => `${seconds(x.native)} / ${seconds(x.routerd)} / ${seconds(x.ctdBulk + x.ctdCommit)}`).join('; ') +
        `. Stream mode (own process): first full resync into a B that holds N ${seconds(r.streamFirstMs)}; lags +100: ${r.stream100.map((x) => Math.round(x)).join(', ')} ms; +1: ${r.stream1.map((x) => Math.round(x)).join(', ')} ms; ` +
        `its process: peak RSS ${Math.round(r.usage.maxRssMB)} MB, CPU ${r.usage.cpuSelfS.toFixed(2)} s itself + ${r.usage.cpuChildrenS.toFixed(2)} s children (conntrack -E, dumps, ssh) over the whole stream run.`,
    );
  }
  const m = results.map((r) => `N=${r.n / 1000}k native ${r.marks.native}, routerd ${r.marks.routerd} (after the replace into a full B ${r.marks.replace}), conntrackd ${r.marks.conntrackd}`).join('; ');
  notes.push(
    `Every run was checked: B's \`conntrack -C\` equals N after each method (the routers' own traffic is notrack'ed in a raw table, so the count is the bench entries only). ` +
      `Entries on B carrying ct mark ${MARK}: ${m}. The native pipeline loses every ct mark (\`-o save\` does not print it); routerd (extended dump, \`-m\` per line) and conntrackd keep it.`,
  );
  notes.push(
    `conntrackd ${'1.4.7'} setup: FTFW over UDP ${RA_LAN}↔${RB_LAN}:3780 on lan0 (Checksum on, 24 MB socket buffers, ResendQueueSize 262144, HashSize 65536, HashLimit 524288, ` +
      `NetlinkBufferSize 2 MB, kernel-space filter: TCP/UDP/ICMP, routers' own addresses ignored); own config, lock file, unix socket and log under ${CTD_DIR} on each router (private mount), ` +
      `run in the foreground and stopped by PID. Started fresh each round; A's startup dump fills its internal cache (not timed). "bulk" = \`conntrackd -n\` on B (resync request) until B's external cache holds N ` +
      `(polled with \`conntrackd -s cache\` every ~5 ms); "commit" = \`conntrackd -c\` on B until B's \`conntrack -C\` reaches N. conntrackd ran with scheduling policy ${ctdSched} (its default asks for SCHED_RR 99), routerd and the native tools with the normal policy.`,
  );
  notes.push(
    'Comparing like with like: conntrackd, once running, replicates continuously, so at failover only its commit (the second number) is on the critical path; ' +
      'the routerd/conntrackd ratio compares a full copy from A\'s kernel into B\'s (resync + commit) with one routerd snapshot cycle, both starting with B empty. ' +
      'routerd\'s first cycle includes opening the ssh ControlMaster connection (closed before each measurement, as the native pipeline also connects once) and reading B\'s tuples for the address (empty here); its replace reuses the connection. ' +
      'routerd streams: the local `-o extended` dump is read line by line, each line becomes its `-A` line, and every 8192 lines go as one batch to a restore session on B (one ssh command that runs `conntrack -R` per batch, two batches in flight), so dump, transform, ssh and restore overlap. ' +
      'A replace into a full B first reads B\'s tuples (state, mark) over ssh; an entry B holds as it is (TCP ESTABLISHED, same mark) is left alone, any other is deleted exactly (routerd-ct-delete) just before its insert, and what B holds and A does not is deleted at the end; B is never emptied. Here B holds exactly A\'s entries, so the replace column is the cost of a resync that finds nothing changed (both dumps and the comparison).',
  );
  notes.push(
    `One ssh command over the ControlMaster connection: ${seconds(sshNeutral)} (median of 5). sshd runs every command through root's bash, which sources ~/.bashrc; ` +
      "the lab binds an empty file over /root/.bashrc in each router's mount namespace (this machine's runs `pyenv init`, which a router has not: it cost ~90 ms per command, and seconds under load).",
  );
  notes.push(
    `Stream lag: stream mode in its own process inside A (bench/sync-agent.ts: the classes and ssh sessions the controller builds; interval 1h, so no periodic resync during the trials) with B already holding N; entries inserted on A with \`conntrack -R\`, ` +
      `lag = first NEW event for them on A to the last NEW event on B, both seen by \`conntrack -E\` watchers in the bench process (median of ${STREAM_TRIALS}). ` +
      'It includes the 10 ms coalescing delay and one batch on the stream restore session (no ssh exec per batch). Peak RSS is that process\'s VmHWM (getrusage\'s maxrss would also count this bench process\'s RSS at the fork that started it: docs/kernel-facts.md), which includes the first full resync of N entries.',
  );
  notes.push(
    `Synthetic entries: TCP ESTABLISHED [SEEN_REPLY,ASSURED], timeout 3600, mark ${MARK}, client 192.0.2.10-249 with varied source ports → ${SERVER}:${PORT}, SNAT ${SNAT}:20000-59999. ` +
      `Ports are 16 bits, so 100k distinct SNAT ports for one server port do not exist: every 40 000 entries the server port goes up by one (${PORT}, ${PORT + 1}, ${PORT + 2}). ` +
      `nf_conntrack_max (262144) bounds each namespace's own count (the count is per network namespace, the limit global): A and B each hold N, 200k each fit. Other work may share this 2-core machine: compare ratios within a row.`,
  );
  return {
    name: 'session-sync',
    title: 'NAT session sync: native pipeline vs routerd vs conntrackd',
    method:
      `N synthetic SNAT entries on router A, copied into B's kernel table, B emptied first; median of ${ROUNDS} rounds, the three methods alternating within each round. ` +
      `native = \`${NATIVE_PIPELINE}\` until it exits; routerd = SnapshotSyncMode (as the controller builds it) update() until its first Synced report; ` +
      'conntrackd = `conntrackd -n` on B until its external cache holds N, then `conntrackd -c` until B\'s `conntrack -C` reaches N. ' +
      'Ratios are times (below 1× means routerd is faster).',
    header: [
      'N',
      'native pipeline',
      'routerd snapshot',
      'conntrackd resync + commit',
      'routerd / native',
      'routerd / conntrackd',
      'routerd replace (B full)',
      'conntrackd bulk + commit',
      'stream lag +100 / +1',
      'stream mode peak RSS',
    ],
    rows,
    notes,
  };
}
