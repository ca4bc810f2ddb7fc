// The demo's failback step: router A comes back (links up, routerd started),
// advertises a demoted priority until it holds B's sessions and lease files,
// then takes the role back; every flow must keep echoing. Kept apart from
// demo.ts so the demo's own flow stays readable.
import { Reason } from '../controllers/status.ts';
import type { Lab } from './topology.ts';
import { startRouterd, type RouterdProcess } from './routerd.ts';
import type { EchoFlows } from './traffic.ts';

export interface FailbackDeps {
  readonly lab: Lab;
  readonly procs: Record<'ra' | 'rb', RouterdProcess | undefined>;
  readonly tcp: EchoFlows;
  readonly udp: EchoFlows;
  readonly step: (name: string, ok: boolean, detail: string) => void;
  readonly say: (s?: string) => void;
  readonly routerctl: (node: 'ra' | 'rb', args: readonly string[]) => Promise<string>;
  readonly until: <T>(fn: () => Promise<T | undefined | false>, timeoutMs: number, stepMs?: number) => Promise<T | undefined>;
  /** For the demo timeline: A's new routerd (its log lines), the moment A returned, markers. */
  readonly trace?: {
    readonly started: (p: RouterdProcess) => void;
    readonly returned: (at: number) => void;
    readonly mark: (at: number, label: string) => void;
  };
}

export async function demoFailback(d: FailbackDeps): Promise<void> {
  const { lab, procs } = d;
  d.say('\n== Router A returns: links up, routerd started; it takes the role back only once it holds B\'s state');
  const returnedAt = Date.now();
  await lab.linkUp('sw', 'ra-lan');
  await lab.linkUp('sw', 'ra-wan');
  d.trace?.returned(returnedAt);
  d.trace?.mark(returnedAt, 'A returns');
  procs.ra = await startRouterd(lab.nodes.ra);
  const ra = procs.ra;
  d.trace?.started(ra);
  const demoted = await d.until(async () => {
    const v = await ra.resource('VirtualAddress/lan-vip');
    return v?.status.role === 'master' ? 'master' : v?.status.reason === Reason.Demoted ? String(v.status.message) : undefined;
  }, 30_000, 20);
  if (demoted && demoted !== 'master') d.say(`   A while it waits: ${demoted}`);
  const master = await d.until(async () => ((await ra.resource('VirtualAddress/lan-vip'))?.status.role === 'master' ? Date.now() : undefined), 60_000, 20);
  const pull = ra.logs.find((l) => l.action === 'handover-pull' && l.outcome === 'ok');
  if (typeof pull?.time === 'string') d.trace?.mark(Date.parse(pull.time), 'A holds B\'s state');
  if (master) d.trace?.mark(master, 'A master again');
  const pulledFirst =
    ra.logs.findIndex((l) => l.action === 'handover-pull' && l.outcome === 'ok') >= 0 &&
    ra.logs.findIndex((l) => l.action === 'handover-pull' && l.outcome === 'ok') < ra.logs.findIndex((l) => l.action === 'role-change' && l.to === 'master');
  d.step(
    'failback',
    master !== undefined && pulledFirst,
    master
      ? `A is master again ${master - returnedAt} ms after it returned, ${pulledFirst ? `after taking ${String(pull?.sessions)} sessions and ${String(pull?.leaseFiles)} lease files from B (${String(pull?.durationMs)} ms)` : 'WITHOUT taking B\'s state first'}`
      : 'A did not take the role back',
  );
  await new Promise((r) => setTimeout(r, 4000));
  const [t, u] = await Promise.all([d.tcp.snapshot(), d.udp.snapshot()]);
  const tcpFlows = t.flows.length;
  const udpFlows = u.flows.length;
  d.step('flows after failback', t.summary.alive === tcpFlows && u.summary.alive === udpFlows && t.flows.every((f) => !f.fatal), `${t.summary.alive}/${tcpFlows} TCP and ${u.summary.alive}/${udpFlows} UDP flows kept echoing through A again (${t.flows.filter((f) => f.fatal).length} reset)`);
  d.say('\n== routerctl describe VirtualAddress/lan-vip (router A)');
  d.say(await d.routerctl('ra', ['describe', 'VirtualAddress/lan-vip', '--run-dir', '/run/routerd']));
}
