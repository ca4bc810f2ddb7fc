// How long loading and validating a large config takes (issue: well under 1 s
// for 1000 resources), and planning it against an observed empty host.
import { parseConfigText } from '../src/config/load.ts';
import { validateConfigSet } from '../src/config/validate.ts';
import { planNode } from '../src/controllers/plan.ts';
import { markdownTable, median, ms, type BenchSection } from './results.ts';

function bigConfig(n: number): string {
  const out: string[] = [];
  const rules = Math.floor(n / 2);
  for (let i = 0; i < rules; i++) {
    const a = 10 + Math.floor(i / 250);
    out.push(`- apiVersion: net.routerd.net/v1alpha1
  kind: NAT44Rule
  metadata: {name: rule-${i}}
  spec:
    outInterface: wan0
    sources: [10.${a}.${i % 250}.0/24]
    snat: {address: 198.51.100.${100 + (i % 100)}}
    portRange: "20000-60000"
    random: true`);
  }
  for (let i = 0; i < n - rules; i++)
    out.push(`- apiVersion: net.routerd.net/v1alpha1
  kind: NAT44SessionSync
  metadata: {name: sync-${i}}
  spec:
    natRules: [NAT44Rule/rule-${i % rules}]
    targets: [{name: standby, host: 192.0.2.3, user: routerd, sshOptions: [-o, ConnectTimeout=5]}]`);
  return `${out.join('\n')}\n`;
}

export async function benchValidate(): Promise<BenchSection> {
  const rows: string[][] = [];
  for (const n of [100, 1000, 5000]) {
    const text = bigConfig(n);
    const load: number[] = [];
    const plan: number[] = [];
    for (let run = 0; run < 5; run++) {
      const t0 = performance.now();
      const r = parseConfigText(text, 'bench.yaml');
      const errors = validateConfigSet(r.resources);
      const t1 = performance.now();
      if (r.errors.length || errors.length) throw new Error(`bench config invalid: ${JSON.stringify(r.errors[0] ?? errors[0])}`);
      planNode(
        r.resources.map((l) => l.resource),
        { interfaces: [], files: new Map(), existing: new Set(), nftTables: new Map() },
        { paths: { stateDir: '/var/lib/routerd', runDir: '/run/routerd' }, nodeName: 'bench' },
      );
      load.push(t1 - t0);
      plan.push(performance.now() - t1);
    }
    rows.push([String(n), `${(text.length / 1024).toFixed(0)} KiB`, ms(median(load)), ms(median(plan))]);
  }
  return {
    name: 'validate',
    title: 'Config validation and planning',
    method: 'Parse + validate a YAML list of NAT44Rules and NAT44SessionSyncs (half each), then plan it against an empty observed host; median of 5 runs, in process.',
    header: ['resources', 'YAML size', 'load + validate', 'plan'],
    rows,
  };
}

export { markdownTable };
