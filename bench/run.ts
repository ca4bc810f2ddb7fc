// npm run bench [-- NAME ...]: run benchmarks and rewrite their sections of bench/RESULTS.md.
import { writeSection, type BenchSection } from './results.ts';
import { benchValidate } from './validate.ts';

const BENCHES: Record<string, { root: boolean; run: () => Promise<BenchSection> }> = {
  validate: { root: false, run: benchValidate },
  steady: { root: false, run: async () => (await import('./steady.ts')).benchSteady() },
  startup: { root: false, run: async () => (await import('./startup.ts')).benchStartup() },
  stateless: { root: true, run: async () => (await import('./stateless.ts')).benchStateless() },
  'session-sync': { root: true, run: async () => (await import('./session-sync.ts')).benchSessionSync() },
  'session-sync-modes': { root: true, run: async () => (await import('./session-sync-modes.ts')).benchSessionSyncModes() },
  'session-sync-burst': { root: true, run: async () => (await import('./session-sync-modes.ts')).benchSessionSyncBurst() },
  failover: { root: true, run: async () => (await import('./failover.ts')).benchFailover() },
  'failover-flows': { root: true, run: async () => (await import('./failover-flows.ts')).benchFailoverFlows(process.env['ROUTERD_BENCH_ADVERTS']?.split(',')) },
  dhcp: { root: true, run: async () => (await import('./dhcp.ts')).benchDhcp() },
  reconfig: { root: true, run: async () => (await import('./reconfig.ts')).benchReconfig() },
  failback: { root: true, run: async () => (await import('./failback.ts')).benchFailback() },
  'bgp-pool': { root: true, run: async () => (await import('./bgp-pool.ts')).benchBgpPool() },
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const name of wanted) if (!BENCHES[name]) throw new Error(`unknown benchmark ${name}; known: ${Object.keys(BENCHES).join(', ')}`);
const names = wanted.length ? wanted : Object.keys(BENCHES);
let failed = 0;
for (const name of names) {
  const b = BENCHES[name]!;
  if (b.root && process.getuid?.() !== 0) {
    console.log(`skip ${name}: needs root (network namespaces)`);
    continue;
  }
  const t0 = performance.now();
  try {
    const section = await b.run();
    await writeSection(section);
    console.log(`${name}: done in ${Math.round(performance.now() - t0)} ms`);
  } catch (e) {
    failed++;
    console.error(`${name}: failed: ${(e as Error).stack ?? String(e)}`);
  }
}
process.exitCode = failed ? 1 : 0;
