// Failback with a large table (issue 12): routerd (stream session sync, the
// handover gate on) on both hardened lab routers; 20 TCP + 5 UDP real echo
// flows through A; A goes dark (links cut, routerd and keepalived killed); B
// takes over and then holds N more sessions (synthetic, SNATed to the same
// address); A's links come back and routerd starts on it. Measured from that
// moment: when A holds B's sessions in its kernel (its handover-pull log
// line), when A is master again (its role-change log line), and how many real
// flows were lost.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { killKeepalived, type LogLine } from '../src/lab/routerd.ts';
import { HardenedPair, PAIR_CONTROLLERS } from '../src/lab/pair.ts';
import { createLab, labPrefix, type Lab } from '../src/lab/topology.ts';
import { startEchoFlows } from '../src/lab/traffic.ts';
import { checked, ctMatching, killPid, seconds, sleep, until } from './lab-util.ts';
import type { BenchSection } from './results.ts';

const SNAT = '198.51.100.100';
const SERVER = '198.51.100.200';
const PORT = 7007;
/** Synthetic sessions go to other server ports, so their reply tuples never clash with the real flows'. */
const SYNTH_PORT = 9000;
const SNAT_PORTS = 40_000;
const SIZES = [10_000, 100_000];

function synthLines(count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const client = `192.0.2.${10 + (i % 240)}`;
    const sport = 1024 + Math.floor(i / 240);
    const dport = SYNTH_PORT + Math.floor(i / SNAT_PORTS);
    out.push(`-I -p tcp -s ${client} -d ${SERVER} --sport ${sport} --dport ${dport} --src-nat ${SNAT}:${20_000 + (i % SNAT_PORTS)} -u SEEN_REPLY,ASSURED --state ESTABLISHED -t 3600`);
  }
  return `${out.join('\n')}\n`;
}

async function config(router: 'a' | 'b'): Promise<string> {
  const text = await readFile(fileURLToPath(new URL(`../examples/lab/router-${router}.yaml`, import.meta.url)), 'utf8');
  const edited = text.replace('mode: snapshot\n    interval: 1s', 'mode: stream\n    interval: 30s');
  if (edited === text) throw new Error(`examples/lab/router-${router}.yaml: no snapshot mode to edit`);
  return edited;
}

const logTime = (logs: readonly LogLine[], pred: (l: LogLine) => boolean): number | undefined => {
  const l = logs.find(pred);
  return typeof l?.time === 'string' ? Date.parse(l.time) : undefined;
};

interface Run {
  readonly n: number;
  readonly stateMs: number;
  readonly masterMs: number;
  readonly pullMs: number;
  readonly pulled: number;
  readonly onA: number;
  readonly lostTcp: number;
  readonly lostUdp: number;
  readonly resets: number;
}

async function measure(n: number): Promise<Run> {
  const lab: Lab = await createLab({ prefix: labPrefix(`fbk${n / 1000}`) });
  const pair = new HardenedPair(lab, { controllers: PAIR_CONTROLLERS });
  const { procs, flows } = pair;
  const start = (node: 'ra' | 'rb') => pair.start(node);
  try {
    await pair.up({ a: await config('a'), b: await config('b') }, PORT);
    const opts = { target: SERVER, port: PORT, intervalMs: 100, durationMs: 240_000 };
    const tcp = await startEchoFlows(lab.nodes.client, { ...opts, protocol: 'tcp', count: 20 });
    flows.push(tcp);
    const udp = await startEchoFlows(lab.nodes.client, { ...opts, protocol: 'udp', count: 5 });
    flows.push(udp);
    await until('ra synced the real flows', async () => (await ctMatching(lab.nodes.rb, ['--src-nat', SNAT])) >= 25, 30_000, 200);

    await lab.linkDown('sw', 'ra-lan');
    await lab.linkDown('sw', 'ra-wan');
    killPid(procs.ra?.pid, 'SIGKILL');
    await killKeepalived(lab.nodes.ra);
    procs.ra = undefined;
    await procs.rb!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 15_000);
    await checked(lab.nodes.rb, ['conntrack', '-R', '/dev/stdin'], { stdin: synthLines(n), timeoutMs: 180_000 });
    const onB = await ctMatching(lab.nodes.rb, ['--src-nat', SNAT]);
    if (onB < n) throw new Error(`rb holds ${onB} sessions on ${SNAT}, wanted ${n}`);
    await sleep(2000);

    const returnedAt = Date.now();
    await lab.linkUp('sw', 'ra-lan');
    await lab.linkUp('sw', 'ra-wan');
    await start('ra');
    await procs.ra!.waitFor('VirtualAddress/lan-vip', (r) => r.status.role === 'master', 240_000);
    const ra = procs.ra!;
    const pull = ra.logs.find((l) => l.action === 'handover-pull' && l.outcome === 'ok');
    const stateAt = logTime(ra.logs, (l) => l.action === 'handover-pull' && l.outcome === 'ok');
    const masterAt = logTime(ra.logs, (l) => l.action === 'role-change' && l.to === 'master');
    if (!pull || stateAt === undefined || masterAt === undefined) throw new Error('ra logged no pull or no role change');
    const onA = await ctMatching(lab.nodes.ra, ['--src-nat', SNAT]);
    await sleep(4000);
    const [tr, ur] = await Promise.all([tcp.stop(), udp.stop()]);
    return {
      n,
      stateMs: stateAt - returnedAt,
      masterMs: masterAt - returnedAt,
      pullMs: Number(pull.durationMs),
      pulled: Number(pull.sessions),
      onA,
      lostTcp: tr.summary.flows - tr.summary.alive,
      lostUdp: ur.summary.flows - ur.summary.alive,
      resets: tr.flows.filter((f) => f.fatal !== null).length,
    };
  } finally {
    await pair.close();
  }
}

export async function benchFailback(): Promise<BenchSection> {
  const runs: Run[] = [];
  for (const n of SIZES) runs.push(await measure(n));
  return {
    name: 'failback',
    title: 'Failback: returning router to master, with 10k and 100k sessions',
    method:
      'routerd on both hardened lab routers (examples/lab/router-{a,b}.yaml, session sync in stream mode, handover gate on, advertInterval 200ms); 20 TCP + 5 UDP echo flows through A; A goes dark (switch ports down, routerd and keepalived SIGKILLed); B takes over and gets N more sessions on the SNAT address (synthetic, `conntrack -R`); then A\'s ports come up and routerd starts on A. Times are from that moment to A\'s log lines: `handover-pull` (B\'s sessions restored in A\'s kernel, replacing A\'s own) and `role-change` to master. One run per size.',
    header: ['sessions on B', 'state in A\'s kernel', 'A master again', 'pull (dump over ssh + restore)', 'sessions pulled', 'on A after', 'real flows lost', 'TCP resets'],
    rows: runs.map((r) => [
      String(r.n),
      seconds(r.stateMs),
      seconds(r.masterMs),
      seconds(r.pullMs),
      String(r.pulled),
      String(r.onA),
      `${r.lostTcp} of 20 TCP, ${r.lostUdp} of 5 UDP`,
      String(r.resets),
    ]),
    notes: [
      '"state in A\'s kernel" includes keepalived starting demoted (priority 1), hearing B\'s adverts (BACKUP), finding the master over ssh (`ip -j addr` on each target) and the pull; routerd\'s own start (Node.js, config load) is in it too.',
      '"A master again" adds the gate opening (track_file offset 0), keepalived raising the priority to 150 and preempting on B\'s next advert (200 ms).',
      'The pull is bounded by the table size (one `conntrack -L -o extended --src-nat` over ssh, one local `conntrack -R` with `-D --src-nat` then `-A` per entry), not by a timer; B\'s own pushes to A are not waited for.',
    ],
  };
}
