// A session sync mode (snapshot or stream) in a process of its own, run inside
// a lab router by the benches, so its CPU and memory are its own: the same
// classes, hosts and ssh sessions the NAT44SessionSync controller builds.
// argv[2]: JSON {mode, interval, snat, target, controlDir}. stdout: a JSON line
// per change of phase and at most one a second otherwise ({"status": ...}); on
// SIGTERM it stops the mode, lets its children exit and prints
// {"exit": {cpuSelfS, cpuChildrenS, maxRssMB}} (children: conntrack -E,
// dumps and ssh clients, reaped by then).
import { readFileSync } from 'node:fs';
import { nat44SessionSyncSpec } from '../src/api/nat.ts';
import { targetHost } from '../src/controllers/session-sync/controller.ts';
import { standaloneInput } from '../src/controllers/session-sync/mode.ts';
import { SnapshotSyncMode } from '../src/controllers/session-sync/snapshot.ts';
import { StreamSyncMode } from '../src/controllers/session-sync/stream.ts';
import { openSession, type RoutedModeDeps } from '../src/controllers/session-sync/targets.ts';
import type { ResourceStatus } from '../src/controllers/status.ts';
import { LocalHost } from '../src/host/local.ts';
import { createLogger } from '../src/observability/logger.ts';
import { createMetrics } from '../src/observability/metrics.ts';

export interface AgentConfig {
  mode: 'snapshot' | 'stream';
  interval: string;
  snat: string;
  target: { name: string; host: string; user: string };
  controlDir: string;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as AgentConfig;
const spec = nat44SessionSyncSpec.parse({ mode: cfg.mode, interval: cfg.interval, snatAddresses: [cfg.snat], targets: [cfg.target] });
const local = new LocalHost();
let lastPhase = '';
let lastAt = 0;
const print = (o: unknown): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
const deps: RoutedModeDeps = {
  local,
  remote: (t) => targetHost(local, t, cfg.controlDir),
  session: (t, a) => openSession(local, t, cfg.controlDir, a),
  // routerd writes a pino line per batch; level info to /dev/null keeps that cost without a reader.
  log: createLogger({ node: 'agent', destination: (await import('node:fs')).createWriteStream('/dev/null') }),
  metrics: createMetrics(),
  report: (s: ResourceStatus) => {
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

function cpuChildren(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}

process.on('SIGTERM', () => {
  void (async () => {
    await mode.stop();
    await new Promise((r) => setTimeout(r, 500));
    const u = process.resourceUsage();
    print({ exit: { cpuSelfS: (u.userCPUTime + u.systemCPUTime) / 1e6, cpuChildrenS: cpuChildren(), maxRssMB: u.maxRSS / 1024 } });
    process.exit(0);
  })();
});
