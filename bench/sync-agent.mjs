/* global process, setTimeout, setInterval */
// A session sync mode (snapshot or stream) in a process of its own, run inside
// a lab router by the benches, so its CPU and memory are its own: the same
// classes, hosts and ssh sessions the NAT44SessionSync controller builds,
// loaded as routerd loads them (dist/ when current, as an installed routerd
// runs; else the sources through tsx, reported as fromDist: false).
// argv[2]: JSON {mode, interval, snat, target, controlDir}. stdout: a JSON line
// per change of phase and at most one a second otherwise ({"status": ...}); on
// SIGTERM it stops the mode, lets its children exit and prints
// {"exit": {cpuSelfS, cpuChildrenS, maxRssMB (VmHWM), atPeak, gc, fromDist}} (children: conntrack
// -E, dumps and ssh clients, reaped by then).
import { createWriteStream, readFileSync } from 'node:fs';
import { PerformanceObserver, constants as perf } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { fromDist, loadModule } from '../bin/launch.js';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const [{ nat44SessionSyncSpec }, { targetHost }, { standaloneInput }, { SnapshotSyncMode }, { StreamSyncMode }, { openSession }, { LocalHost }, { createLogger }, { createMetrics }] = await Promise.all(
  [
    'controllers/session-sync/schema',
    'controllers/session-sync/controller',
    'controllers/session-sync/mode',
    'controllers/session-sync/snapshot',
    'controllers/session-sync/stream',
    'controllers/session-sync/targets',
    'host/local',
    'observability/logger',
    'observability/metrics',
  ].map((m) => loadModule(m)),
);
const spec = nat44SessionSyncSpec.parse({ mode: cfg.mode, interval: cfg.interval, snatAddresses: [cfg.snat], targets: [cfg.target] });
const local = new LocalHost();
let lastPhase = '';
let lastAt = 0;
const print = (o) => void process.stdout.write(`${JSON.stringify(o)}\n`);
const deps = {
  local,
  remote: (t) => targetHost(local, t, cfg.controlDir),
  session: (t, a) => openSession(local, t, cfg.controlDir, a),
  // routerd writes a pino line per batch; to /dev/null here, so that cost stays without a reader.
  log: createLogger({ node: 'agent', destination: createWriteStream('/dev/null') }),
  metrics: createMetrics(),
  report: (s) => {
    const now = Date.now();
    if (s.phase !== lastPhase || now - lastAt > 1000) {
      lastPhase = s.phase;
      lastAt = now;
      print({ status: s });
    }
  },
  generation: () => 1,
};
const mode = cfg.mode === 'stream' ? new StreamSyncMode('NAT44SessionSync/bench', deps) : new SnapshotSyncMode('NAT44SessionSync/bench', deps);
await mode.update(standaloneInput(spec, [cfg.snat]));

function cpuChildren() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}

// Where the memory is at the RSS peak: V8 heap (used and reserved) and Buffers, sampled every 100 ms.
const peak = { rssMB: 0, heapUsedMB: 0, heapTotalMB: 0, externalMB: 0 };
const timeline = [];
// ROUTERD_BENCH_HEAPSNAP_MB=N: write one V8 heap snapshot when the heap in use first passes N MB, into
// ROUTERD_BENCH_HEAPSNAP_DIR (default /tmp, which scripts/isolated makes private). Diagnosis only: the
// snapshot stops the process for a second or more, which shows in the lag figures of that run.
let snapAtMB = Number(process.env.ROUTERD_BENCH_HEAPSNAP_MB ?? 0);
// Garbage collections: count and pause time, minor (scavenges) and major (mark-compact) apart.
const gc = { minor: 0, minorMs: 0, major: 0, majorMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const major = e.detail?.kind === perf.NODE_PERFORMANCE_GC_MAJOR;
    gc[major ? 'major' : 'minor']++;
    gc[major ? 'majorMs' : 'minorMs'] += e.duration;
  }
}).observe({ entryTypes: ['gc'] });
const t0 = Date.now();
setInterval(() => {
  const m = process.memoryUsage();
  timeline.push([Math.round((Date.now() - t0) / 1000), Math.round(m.rss / 1048576), Math.round(m.heapUsed / 1048576)]);
}, 2000).unref();
// When the high-water mark of RSS (VmHWM, what maxRSS reports) rises: [seconds, VmHWM MB, RSS MB now, heap used MB];
// a rise that the 100 ms RSS samples miss is a spike shorter than that.
const hwmRises = [];
let hwm = 0;
const hwmMB = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;
setInterval(() => {
  const m = process.memoryUsage();
  const h = hwmMB();
  if (h >= hwm + 5) {
    hwm = h;
    hwmRises.push([Math.round((Date.now() - t0) / 100) / 10, Math.round(h), Math.round(m.rss / 1048576), Math.round(m.heapUsed / 1048576)]);
  }
  if (snapAtMB && m.heapUsed / 1048576 > snapAtMB) {
    snapAtMB = 0;
    print({ heapSnapshot: writeHeapSnapshot(`${process.env.ROUTERD_BENCH_HEAPSNAP_DIR ?? '/tmp'}/routerd-agent-${process.pid}.heapsnapshot`) });
  }
  if (m.rss / 1048576 > peak.rssMB) Object.assign(peak, { rssMB: m.rss / 1048576, heapUsedMB: m.heapUsed / 1048576, heapTotalMB: m.heapTotal / 1048576, externalMB: (m.external + m.arrayBuffers) / 1048576 });
}, 100).unref();

process.on('SIGTERM', () => {
  void (async () => {
    const hwmBeforeStop = hwmMB();
    await mode.stop();
    const hwmAfterStop = hwmMB();
    await new Promise((r) => setTimeout(r, 500));
    const u = process.resourceUsage();
    hwmRises.push([-1, Math.round(Math.max(hwmBeforeStop, hwmAfterStop)), Math.round(process.memoryUsage().rss / 1048576), Math.round(process.memoryUsage().heapUsed / 1048576)]);
    // Peak RSS is VmHWM, this process's own high-water mark: getrusage's maxRSS also holds the RSS the
    // bench process had when it forked the command that became this one (the kernel folds the old
    // memory's high-water mark into it at exec; docs/kernel-facts.md), so it grew with the bench.
    print({ exit: { cpuSelfS: (u.userCPUTime + u.systemCPUTime) / 1e6, cpuChildrenS: cpuChildren(), maxRssMB: hwmMB(), getrusageMaxRssMB: u.maxRSS / 1024, atPeak: peak, timeline, hwmRises, gc, fromDist: fromDist() } });
    process.exit(0);
  })();
});
