// NAT44AddressPool failover upstream: three routers, eight addresses, an FRR
// isp. A router that owns addresses is killed like a dead machine (links
// dark, routerd and FRR SIGKILLed) and we time, from just before link-down:
// - upstream: until the isp's kernel routes every one of its addresses to
//   the successor (`ip -j route show proto bgp` polled every 20 ms);
// - takeover: until a successor logs pool-own for the first of them.
// Three set-ups: BFD on the isp sessions and between members; BFD between
// members only (the successor's takeover turns its prepended standby route
// into the best one); no BFD at all (BGP hold time 9 s, no member liveness:
// the standby route wins only when the hold timer drops the dead one).
// Then the time a member takes to pull a holder's 100k sessions, and the
// replication traffic per router, measured for the pool's owner→successor
// push against a full mesh (bench/bgp-pool-replication.ts), 3 and 4 routers.
import { assign } from '../src/controllers/address-pool/ownership.ts';
import { pullSessions } from '../src/controllers/address-pool/members.ts';
import { targetHost } from '../src/controllers/session-sync/controller.ts';
import { enableMultiSsh } from '../src/lab/multi-ssh.ts';
import { runChecked } from '../src/host/host.ts';
import { ispRoutes, routerOfWan, startIsp } from '../src/lab/isp.ts';
import { createMultiLab, killMultiRouter, MULTI_ADDRESSES, type MultiRouter } from '../src/lab/multi.ts';
import { multiRouterConfig } from '../src/lab/multi-config.ts';
import { LAB_CONFIG_PATH, startRouterd, type RouterdProcess } from '../src/lab/routerd.ts';
import { labPrefix } from '../src/lab/topology.ts';
import { until } from './lab-util.ts';
import { median, ms, type BenchSection } from './results.ts';
import { REPL_INTERVALS, REPL_PER_ADDRESS, replicationTrial, type ReplicationTrial } from './bgp-pool-replication.ts';

const POOL: string[] = [...MULTI_ADDRESSES.pool];
const ROUTERS: MultiRouter[] = ['ra', 'rb', 'rc'];
const SETUPS = [
  { label: 'BFD 100 ms × 3 upstream and between members', bfd: true, liveness: true, runs: 3, tag: 'bpa' },
  { label: 'BFD between members only; upstream hold 9 s', bfd: false, liveness: true, runs: 3, tag: 'bpm' },
  { label: 'no BFD: upstream hold 9 s, no member liveness', bfd: false, liveness: false, runs: 2, tag: 'bpn' },
] as const;

interface Trial {
  upstreamMs: number;
  takeoverMs: number | undefined;
}

async function trial(s: (typeof SETUPS)[number], run: number): Promise<Trial> {
  const lab = await createMultiLab({ prefix: labPrefix(`${s.tag}${run}`), routers: ROUTERS });
  const procs: Partial<Record<MultiRouter, RouterdProcess>> = {};
  try {
    await startIsp(lab, { bfd: s.bfd });
    for (const r of ROUTERS) await lab.node(r).host.writeFileAtomic(LAB_CONFIG_PATH, multiRouterConfig(r, ROUTERS, s));
    await Promise.all(ROUTERS.map(async (r) => (procs[r] = await startRouterd(lab.asLabNode(r), { controllers: ['interface', 'bgp'] }))));
    const owners = new Map(assign(POOL, ROUTERS).map((a) => [a.address, a.owner]));
    const after = new Map(assign(POOL, ROUTERS.filter((r) => r !== 'rb')).map((a) => [a.address, a.owner]));
    const match = async (want: Map<string, string | undefined>) => {
      const routes = await ispRoutes(lab);
      return [...want].every(([a, r]) => routerOfWan(routes.get(a)) === r);
    };
    await until('routes via owners', () => match(owners), 60_000, 200);
    // Let the BFD-induced BGP flap at start (frr-facts pitfall 7) pass, and standby routes arrive.
    await new Promise((r) => setTimeout(r, 6000));
    await until('routes via owners after settling', () => match(owners), 30_000, 200);
    const moved = POOL.filter((a) => owners.get(a) === 'rb');
    const killedAt = Date.now();
    const t0 = performance.now();
    await killMultiRouter(lab, 'rb');
    procs.rb = undefined;
    await until('routes via successors', () => match(after), 30_000, 20);
    const upstreamMs = performance.now() - t0;
    const takeovers = () =>
      [...(procs.ra?.logs ?? []), ...(procs.rc?.logs ?? [])]
        .filter((l) => l.action === 'pool-own' && moved.includes(String(l.address)))
        .map((l) => Date.parse(String(l.time)) - killedAt)
        .filter((x) => x >= 0);
    if (s.liveness) await until('a successor takes over', async () => takeovers().length > 0, 10_000, 50);
    const owns = takeovers();
    return { upstreamMs, takeoverMs: owns.length ? Math.min(...owns) : undefined };
  } finally {
    await Promise.all(Object.values(procs).map((p) => p?.stop('SIGKILL').catch(() => undefined)));
    await lab.destroy();
  }
}

const HOLD_ENTRIES = 100_000;
const HOLD_RUNS = 3;

/** 100k ESTABLISHED TCP entries SNATed to one pool address, as session sync would restore them. */
function synthEntries(address: string, count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const client = `192.0.2.${10 + (i % 240)}`;
    const sport = 1024 + Math.floor(i / 240);
    const dport = 7007 + Math.floor(i / 40_000);
    out.push(`-I -p tcp -s ${client} -d ${MULTI_ADDRESSES.server} --sport ${sport} --dport ${dport} --src-nat ${address}:${20_000 + (i % 40_000)} -u SEEN_REPLY,ASSURED --state ESTABLISHED -t 3600`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * How long a member takes to hold a victim's 100k sessions of one address:
 * the pull a returning or joining member does before it claims (ssh
 * `conntrack -L --src-nat` on the holder, restored locally), timed on ra
 * pulling from rb. (The continuous push to the successor is the
 * NAT44SessionSync worker: see the session-sync section for its 100k figures.)
 */
async function holdTrial(run: number): Promise<number> {
  const lab = await createMultiLab({ prefix: labPrefix(`bph${run}`), routers: ['ra', 'rb'] });
  const ssh = await enableMultiSsh(lab, ['ra', 'rb']);
  try {
    const address = POOL[0]!;
    await runChecked(lab.node('rb').host, ['conntrack', '-R', '/dev/stdin'], { stdin: synthEntries(address, HOLD_ENTRIES), timeoutMs: 300_000 });
    const ra = lab.node('ra').host;
    await ra.mkdirp('/run/routerd/ssh', 0o700);
    const from = targetHost(ra, { name: 'rb', host: MULTI_ADDRESSES.routers.rb.lan, port: 22, user: 'root', sshOptions: [], restoreCommand: ['conntrack'] }, '/run/routerd/ssh');
    const t0 = performance.now();
    const n = await pullSessions(ra, from, address, 'rb');
    const took = performance.now() - t0;
    if (n !== HOLD_ENTRIES) throw new Error(`pulled ${n} of ${HOLD_ENTRIES} entries`);
    return took;
  } finally {
    await ssh.stop().catch(() => undefined);
    await lab.destroy();
  }
}

export async function benchBgpPool(): Promise<BenchSection> {
  const rows: string[][] = [];
  for (const s of SETUPS) {
    const trials: Trial[] = [];
    for (let i = 0; i < s.runs; i++) trials.push(await trial(s, i));
    const up = trials.map((t) => t.upstreamMs);
    const take = trials.map((t) => t.takeoverMs).filter((x): x is number => x !== undefined);
    rows.push([
      s.label,
      String(s.runs),
      `${ms(median(up))} (${ms(Math.min(...up))}–${ms(Math.max(...up))})`,
      take.length ? `${ms(median(take))} (${ms(Math.min(...take))}–${ms(Math.max(...take))})` : 'no takeover (by design: no liveness)',
    ]);
  }
  const holds: number[] = [];
  for (let i = 0; i < HOLD_RUNS; i++) holds.push(await holdTrial(i));
  rows.push([`a returning member pulls a holder's ${HOLD_ENTRIES / 1000}k sessions of one address (ssh dump + local restore)`, String(HOLD_RUNS), `${ms(median(holds))} (${ms(Math.min(...holds))}–${ms(Math.max(...holds))})`, '—']);
  // Replication, measured: the pool's owner→successor push against a full mesh, 3 and 4 routers.
  const notes: string[] = [];
  for (const routers of [ROUTERS, [...ROUTERS, 'rd'] as MultiRouter[]]) {
    const n = routers.length;
    const succ = await replicationTrial('successor', routers, `bps${n}`);
    const mesh = await replicationTrial('mesh', routers, `bpx${n}`);
    const per = (t: ReplicationTrial) =>
      t.perRouter.map((p) => `${p.router} ${kBs(p.sentPerS)} / ${kBs(p.recvPerS)} (pushed ${(p.pushed / 1000).toFixed(1)}k entries in ${p.batches} batches, ${p.overruns} event overruns)`).join('; ');
    rows.push([`replication, ${n} routers, owner→successor (pool push plan): per router sent / received`, '1', per(succ), `total ${kBs(sum(succ))}`]);
    rows.push([`replication, ${n} routers, full mesh (one NAT44SessionSync per router, ${n - 1} targets): per router sent / received`, '1', per(mesh), `total ${kBs(sum(mesh))}`]);
    const ratios = mesh.perRouter.map((m) => {
      const s = succ.perRouter.find((x) => x.router === m.router)!;
      return `${m.router} ${ratio(m.sentPerS, s.sentPerS)} / ${ratio(m.recvPerS, s.recvPerS)}`;
    });
    rows.push([`replication, ${n} routers, full mesh ÷ successor: per router sent / received`, '1', ratios.join('; '), `total ${ratio(sum(mesh), sum(succ))} (scheme: ${n - 1}×)`]);
    const owned = (t: ReplicationTrial, copies: (r: MultiRouter) => number) => t.perRouter.reduce((x, p) => x + p.owns * copies(p.router), 0) * REPL_INTERVALS;
    notes.push(
      `${n} routers own ${succ.perRouter.map((p) => `${p.router} ${p.owns / 1000}k`).join(', ')} entries; windows ${seconds(succ.windowMs)} (successor), ${seconds(mesh.windowMs)} (mesh). ` +
        `With one full resync per interval and no churn the window would carry ${(owned(succ, () => 1) / 1000).toFixed(1)}k pushed entries (successor) and ${(owned(mesh, () => n - 1) / 1000).toFixed(1)}k (mesh); ` +
        `measured ${(succ.perRouter.reduce((x, p) => x + p.pushed, 0) / 1000).toFixed(1)}k and ${(mesh.perRouter.reduce((x, p) => x + p.pushed, 0) / 1000).toFixed(1)}k.`,
    );
  }
  return {
    name: 'bgp-pool',
    title: 'NAT44AddressPool: upstream switch and successor takeover when a router dies',
    method:
      'Failover: three routers (ra, rb, rc), eight pool addresses, an FRR isp (AS 64500) with a server behind it, all in lab namespaces. rb is killed like a dead machine (its bridge ports down, then routerd, bgpd, bfdd and zebra SIGKILLed by PID). Upstream: from just before link-down until the isp kernel routes all of rb\'s addresses to their successors (20 ms poll). Takeover: until the first pool-own log line of a successor (routerd log time).',
    header: ['set-up / measurement', 'runs', 'upstream switch (or time), median (min–max); replication: bytes/s', 'successor takeover, median (min–max); replication: sum over routers'],
    rows,
    notes: [
      'For VRRP alone (the pair case, keepalived adverts 100 ms) see the failover section: detection is about 3 adverts plus skew.',
      'BFD upstream and the pre-announced standby route make the switch one route replacement at the isp, before the successor has even taken over.',
      `Replication: ${REPL_PER_ADDRESS} synthetic ESTABLISHED TCP entries per pool address (8 addresses) inserted on the address's owner (rendezvous hashing over the routers), no churn; every router pushes with the sync worker in stream mode, full resync every 10 s (the lab pool's sync), as the pool's push plan (pushTargets: each owned address to its successor) or as a full mesh (to all others). Bytes: nftables counters in each router's netns on its LAN link, TCP port 22 (ssh carries the sync), both directions, IP headers included (sent counts also the ssh acks a target returns), over ${REPL_INTERVALS} whole resync intervals placed between cycles. Checked after the window: each address's entries are on its owner and its successor (a) or on every router (b), and on no other router.`,
      ...notes,
      'Event overruns: in both schemes every router is an owner (it runs workers following `conntrack -E` for its own addresses) and a target (it receives full replaces of others\' addresses, thousands of delete and insert events at once). Those events overrun the receiving router\'s own event streams (`events-overrun`: conntrack -E filters by SNAT address in user space, so every event reaches every stream). An overrun is caught up from a dump, sending only what the target lacks (nothing, without churn), so the pushed entries above are one full resync per interval; before that fix each overrun forced a full replace, which overran the target\'s streams in turn, and the resyncs cascaded (about 3 times the entries of one resync per interval).',
    ],
  };
}

function kBs(bytesPerS: number): string {
  return `${(bytesPerS / 1000).toFixed(1)} kB/s`;
}

function sum(t: ReplicationTrial): number {
  return t.perRouter.reduce((n, p) => n + p.sentPerS, 0);
}

function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a';
}

function seconds(msv: number): string {
  return `${(msv / 1000).toFixed(1)} s`;
}
