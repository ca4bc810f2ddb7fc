// The lab demo (`npm run demo`): two routers in network namespaces, each given
// its example config, validated and planned by routerctl inside the router,
// then torn down. Later stages (serve, failover) build on this.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createLab, labPrefix, type Lab, type LabNodeName } from './topology.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const ROUTERCTL = `${REPO}bin/routerctl`;
const CONFIGS: Record<'ra' | 'rb', string> = { ra: `${REPO}examples/lab/router-a.yaml`, rb: `${REPO}examples/lab/router-b.yaml` };

interface Step {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

const say = (s: string) => process.stdout.write(`${s}\n`);

async function routerctl(lab: Lab, node: LabNodeName, args: readonly string[]) {
  return lab.nodes[node].host.run([process.execPath, ROUTERCTL, ...args], { timeoutMs: 60_000 });
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    say('The lab demo needs root (network namespaces). Run it as root, e.g. in the CI container.');
    return 1;
  }
  const steps: Step[] = [];
  const prefix = labPrefix('demo');
  say(`routerd lab demo — namespaces ${prefix}*`);
  const t0 = performance.now();
  const lab = await createLab({ prefix });
  steps.push({ name: 'lab up', ok: true, detail: `client, ra, rb, server, switch in ${Math.round(performance.now() - t0)} ms` });
  try {
    for (const node of ['ra', 'rb'] as const) {
      const config = await readFile(CONFIGS[node], 'utf8');
      await lab.nodes[node].host.writeFileAtomic('/etc/routerd/router.yaml', config);
      say(`\n== ${node}: routerctl validate (config: ${CONFIGS[node].slice(REPO.length)})`);
      const v = await routerctl(lab, node, ['validate']);
      say((v.stdout + v.stderr).trimEnd());
      steps.push({ name: `${node} validate`, ok: v.code === 0, detail: v.code === 0 ? v.stdout.trim() : v.stderr.trim() });
      say(`\n== ${node}: routerctl plan`);
      const p = await routerctl(lab, node, ['plan', '--node', node]);
      say((p.stdout + p.stderr).trimEnd());
      steps.push({ name: `${node} plan`, ok: p.code === 0, detail: p.stdout.split('\n').find((l) => l.startsWith('Plan:')) ?? p.stderr.trim() });
    }
  } finally {
    const t1 = performance.now();
    await lab.destroy();
    steps.push({ name: 'lab down', ok: true, detail: `${Math.round(performance.now() - t1)} ms` });
  }
  say('\n== Report');
  for (const s of steps) say(`${s.ok ? 'PASS' : 'FAIL'}  ${s.name.padEnd(12)} ${s.detail}`);
  const failed = steps.filter((s) => !s.ok).length;
  say(failed === 0 ? '\nAll steps passed.' : `\n${failed} step(s) failed.`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
