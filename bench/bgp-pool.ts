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
  // Replication: each owner pushes an address's sessions to its one successor; a full mesh pushes every session to all others.
  const notes = [3, 4, 8].map(
    (n) => `replication per router, S sessions spread evenly over ${n} routers: successor scheme sends S/${n} (one copy of what it owns), a full mesh S/${n} × ${n - 1}; each router receives S/${n} vs S × ${n - 1}/${n} (computed from the scheme, not measured)`,
  );
  return {
    name: 'bgp-pool',
    title: 'NAT44AddressPool: upstream switch and successor takeover when a router dies',
    method:
      'Three routers (ra, rb, rc), eight pool addresses, an FRR isp (AS 64500) with a server behind it, all in lab namespaces. rb is killed like a dead machine (its bridge ports down, then routerd, bgpd, bfdd and zebra SIGKILLed by PID). Upstream: from just before link-down until the isp kernel routes all of rb\'s addresses to their successors (20 ms poll). Takeover: until the first pool-own log line of a successor (routerd log time).',
    header: ['set-up / measurement', 'runs', 'upstream switch (or time), median (min–max)', 'successor takeover, median (min–max)'],
    rows,
    notes: [
      'For VRRP alone (the pair case, keepalived adverts 100 ms) see the failover section: detection is about 3 adverts plus skew.',
      'BFD upstream and the pre-announced standby route make the switch one route replacement at the isp, before the successor has even taken over.',
      ...notes,
    ],
  };
}
