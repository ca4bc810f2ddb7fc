// Start-up time of the two commands: through tsx (TypeScript compiled at run
// time, what bin/ did before `npm run build` existed) and from dist/ (the
// compiled package). Wall-clock time of whole processes, median of 15 runs,
// alternating the two ways so that a busy neighbour hits both alike.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median, ms, type BenchSection } from './results.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const RUNS = 15;

const COMMANDS: readonly { readonly label: string; readonly argv: readonly string[] }[] = [
  { label: '`routerctl --help`', argv: ['bin/routerctl', '--help'] },
  { label: '`routerctl --version`', argv: ['bin/routerctl', '--version'] },
  { label: '`routerctl validate -f examples/dhcp-lease-sync-ha.yaml --replace`', argv: ['bin/routerctl', 'validate', '-f', 'examples/dhcp-lease-sync-ha.yaml', '--replace'] },
  { label: '`routerd --help`', argv: ['bin/routerd', '--help'] },
];

function timeOnce(argv: readonly string[], fromSource: boolean): number {
  const env = { ...process.env, ROUTERD_FROM_SOURCE: fromSource ? '1' : '0' };
  const t0 = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: REPO, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const elapsed = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return elapsed;
}

export async function benchStartup(): Promise<BenchSection> {
  const build = spawnSync('npm', ['run', 'build'], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  if (build.status !== 0) throw new Error(`npm run build failed: ${build.stderr.toString()}`);
  const rows: string[][] = [];
  for (const c of COMMANDS) {
    const tsx: number[] = [];
    const dist: number[] = [];
    timeOnce(c.argv, true); // warm the page cache (and tsx's own cache) for both
    timeOnce(c.argv, false);
    for (let i = 0; i < RUNS; i++) {
      tsx.push(timeOnce(c.argv, true));
      dist.push(timeOnce(c.argv, false));
    }
    const [a, b] = [median(tsx), median(dist)];
    rows.push([c.label, ms(a), ms(b), `${(a / b).toFixed(1)} ×`]);
  }
  return {
    name: 'startup',
    title: 'Command start-up: tsx vs dist/',
    method: `Whole-process wall time of bin/ commands, median of ${RUNS} runs each, the two ways alternating: through tsx (ROUTERD_FROM_SOURCE=1; what bin/ always did before \`npm run build\`) and from the compiled dist/ (what an installed package runs). Warm page cache.`,
    header: ['command', 'tsx (before)', 'dist/ (after)', 'speed-up'],
    rows,
    notes: ['bin/ checks that no file under src/ is newer than dist/ before using it (a walk of ~110 files), included in the dist/ figures; an installed package has no src/ and skips it.'],
  };
}
