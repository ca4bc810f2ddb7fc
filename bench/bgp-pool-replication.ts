// Replication traffic per router (issue 18): the pool's owner→successor push
// against a full mesh, measured in the N-router lab. K synthetic ESTABLISHED
// SNAT entries per pool address are inserted on the address's owner; then
// either (a) every router runs the pool's push plan (pushTargets: one
// SessionSyncWorker per target member, carrying the owned addresses that
// member succeeds to, the spec the pool gives its workers), or (b) every
// router runs one NAT44SessionSync worker over its owned addresses with the
// N−1 other routers as targets (the pool code cannot be told to push to all
// members: this is the full-mesh baseline). Bytes are counted by nftables
// counters in each router's own netns on its LAN link, TCP port 22 (ssh is the
// sync transport) in and out, over a window of whole resync intervals placed
// between resync cycles. The result is checked: every entry is present on the
// successor (a) or on every other member (b), and nowhere else.
import { pushTargets } from '../src/controllers/address-pool/gate.ts';
import { assign } from '../src/controllers/address-pool/ownership.ts';
import { targetHost } from '../src/controllers/session-sync/controller.ts';
import { SessionSyncWorker, type SyncTarget } from '../src/controllers/session-sync/worker.ts';
import { Phase } from '../src/controllers/status.ts';
import type { NAT44SessionSyncSpec } from '../src/controllers/session-sync/schema.ts';
import { runChecked } from '../src/host/host.ts';
import { createMultiLab, MULTI_ADDRESSES, type MultiLab, type MultiRouter } from '../src/lab/multi.ts';
import { enableMultiSsh } from '../src/lab/multi-ssh.ts';
import { labPrefix } from '../src/lab/topology.ts';
import { createMetrics } from '../src/observability/metrics.ts';
import { ctMatching, memoryLogger, sleep, until } from './lab-util.ts';

const POOL: string[] = [...MULTI_ADDRESSES.pool];
const CONTROL_DIR = '/run/routerd/ssh';
/** The lab pool's sync: stream mode, full resync every 10 s (src/lab/multi-config.ts). */
const INTERVAL_MS = 10_000;
const INTERVAL = '10s';
export const REPL_PER_ADDRESS = 1500;
export const REPL_INTERVALS = 2;

export type Scheme = 'successor' | 'mesh';

export interface RouterBytes {
  readonly router: MultiRouter;
  /** Entries this router owns (inserted on it). */
  readonly owns: number;
  readonly sentPerS: number;
  readonly recvPerS: number;
  /** Entries this router pushed in the window (from the workers' sync log lines), and in how many batches. */
  readonly pushed: number;
  readonly batches: number;
  /** `conntrack -E` overruns its event streams reported in the window (each forces a full resync). */
  readonly overruns: number;
}

export interface ReplicationTrial {
  readonly scheme: Scheme;
  readonly routers: readonly MultiRouter[];
  readonly windowMs: number;
  readonly perRouter: readonly RouterBytes[];
}

/** Entries of pool address j (index in the pool): distinct original tuples across addresses (dport 7000 + j). */
function synthLines(j: number, address: string, count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const client = `192.0.2.${10 + (i % 240)}`;
    const sport = 1024 + Math.floor(i / 240);
    out.push(`-I -p tcp -s ${client} -d ${MULTI_ADDRESSES.server} --sport ${sport} --dport ${7000 + j} --src-nat ${address}:${20_000 + i} -u SEEN_REPLY,ASSURED --state ESTABLISHED -t 3600`);
  }
  return `${out.join('\n')}\n`;
}

/** Counters on the LAN link for ssh (the sync transport), both directions. */
const COUNTERS = `table ip bench_repl {
  counter tx {}
  counter rx {}
  chain in {
    type filter hook input priority filter; policy accept;
    iifname "lan0" tcp sport 22 counter name "rx"
    iifname "lan0" tcp dport 22 counter name "rx"
  }
  chain out {
    type filter hook output priority filter; policy accept;
    oifname "lan0" tcp dport 22 counter name "tx"
    oifname "lan0" tcp sport 22 counter name "tx"
  }
}
`;

async function readCounters(lab: MultiLab, r: MultiRouter): Promise<{ tx: number; rx: number }> {
  const out = await runChecked(lab.node(r).host, ['nft', '-j', 'list', 'counters', 'table', 'ip', 'bench_repl'], { timeoutMs: 10_000 });
  const doc = JSON.parse(out.stdout) as { nftables: { counter?: { name: string; bytes: number } }[] };
  const get = (n: string) => doc.nftables.find((x) => x.counter?.name === n)?.counter?.bytes;
  const tx = get('tx');
  const rx = get('rx');
  if (tx === undefined || rx === undefined) throw new Error(`${r}: no bench_repl counters in ${out.stdout.slice(0, 200)}`);
  return { tx, rx };
}

function target(r: MultiRouter): SyncTarget {
  return { name: r, host: MULTI_ADDRESSES.routers[r].lan, port: 22, user: 'root', sshOptions: ['-o', 'ConnectTimeout=2'], restoreCommand: ['conntrack'] };
}

export async function replicationTrial(scheme: Scheme, routers: readonly MultiRouter[], tag: string): Promise<ReplicationTrial> {
  const lab = await createMultiLab({ prefix: labPrefix(tag), routers });
  const ssh = await enableMultiSsh(lab, routers);
  const workers: SessionSyncWorker[] = [];
  try {
    const owners = assign(POOL, routers);
    for (const r of routers) {
      const host = lab.node(r).host;
      await host.mkdirp(CONTROL_DIR, 0o700);
      await runChecked(host, ['nft', '-f', '-'], { stdin: COUNTERS, timeoutMs: 10_000 });
      const mine = owners.map((a, j) => ({ ...a, j })).filter((a) => a.owner === r);
      if (mine.length) await runChecked(host, ['conntrack', '-R', '/dev/stdin'], { stdin: mine.map((a) => synthLines(a.j, a.address, REPL_PER_ADDRESS)).join(''), timeoutMs: 120_000 });
      for (const a of mine) {
        const n = await ctMatching(lab.asLabNode(r), ['--src-nat', a.address]);
        if (n !== REPL_PER_ADDRESS) throw new Error(`${r}: ${n} entries for ${a.address} after inserting ${REPL_PER_ADDRESS}`);
      }
    }
    // Who must hold what once synced: address → members.
    const holders = new Map<string, Set<MultiRouter>>(owners.map((a) => [a.address, new Set([a.owner as MultiRouter])]));
    const plans: { from: MultiRouter; to: MultiRouter[]; addresses: string[] }[] = [];
    for (const r of routers) {
      const owned = owners.filter((a) => a.owner === r).map((a) => a.address);
      if (owned.length === 0) continue;
      if (scheme === 'mesh') plans.push({ from: r, to: routers.filter((o) => o !== r), addresses: owned });
      // The pool's own plan, with every member up and ready.
      else for (const [to, addrs] of pushTargets(POOL, r, routers, routers)) plans.push({ from: r, to: [to as MultiRouter], addresses: addrs });
    }
    for (const p of plans) for (const a of p.addresses) for (const t of p.to) holders.get(a)!.add(t);
    const logger = memoryLogger('bench');
    const metrics = createMetrics();
    const synced = plans.map(() => false);
    const t0 = Date.now();
    plans.forEach((p, i) => {
      const local = lab.node(p.from).host;
      // As PoolMembers.workerSpec builds it (the addresses are passed to the worker).
      const spec: NAT44SessionSyncSpec = { mode: 'stream', interval: INTERVAL, natRules: [], excludeNatRules: [], snatAddresses: [], targets: p.to.map(target) };
      const w = new SessionSyncWorker(`bench/${p.from}`, spec, p.addresses, {
        local,
        remote: (t) => targetHost(local, t, CONTROL_DIR),
        log: logger.log,
        metrics,
        report: (s) => {
          if (s.phase === Phase.Synced) synced[i] = true;
        },
        generation: () => 1,
      });
      workers.push(w);
      w.start();
    });
    await until('every worker synced', async () => synced.every(Boolean), 30_000, 50);
    // Start the window halfway between resync cycles (the workers started within a few ms of t0), so it holds exactly REPL_INTERVALS cycles of each.
    const since = Date.now() - t0;
    const k = Math.ceil((since - INTERVAL_MS / 2) / INTERVAL_MS);
    await sleep(Math.max(0, t0 + k * INTERVAL_MS + INTERVAL_MS / 2 - Date.now()));
    const before = await Promise.all(routers.map((r) => readCounters(lab, r)));
    const w0 = performance.now();
    const from = Date.now();
    await sleep(REPL_INTERVALS * INTERVAL_MS);
    const after = await Promise.all(routers.map((r) => readCounters(lab, r)));
    const windowMs = performance.now() - w0;
    const to = Date.now();
    const during = logger.lines.filter((l) => Date.parse(String(l.time)) >= from && Date.parse(String(l.time)) <= to);
    const inWindow = during.filter((l) => typeof l.action === 'string' && l.action.startsWith('sync-') && l.outcome === 'ok');
    const errors = logger.lines.filter((l) => l.outcome === 'error');
    if (errors.length) throw new Error(`sync errors during the window: ${JSON.stringify(errors[0])}`);
    // The check: each address's entries on exactly its holders. Resyncs forced by event overruns keep replaces in flight
    // (seen half done), so the workers stop first and the counts are polled, bounded, while the last batches land.
    for (const w of workers) w.stop();
    const counts = async () => {
      const bad: string[] = [];
      for (const r of routers)
        for (const a of POOL) {
          const n = await ctMatching(lab.asLabNode(r), ['--src-nat', a]);
          const want = holders.get(a)!.has(r) ? REPL_PER_ADDRESS : 0;
          if (n !== want) bad.push(`${r} holds ${n} of ${a} (owner ${owners.find((x) => x.address === a)?.owner}), expected ${want}`);
        }
      return bad;
    };
    let bad: string[] = [];
    const end = Date.now() + 15_000;
    while ((bad = await counts()).length && Date.now() < end) await sleep(500);
    if (bad.length) throw new Error(`${scheme}: ${bad.join('; ')}; sync log: ${JSON.stringify(logger.lines.slice(-10))}`);
    return {
      scheme,
      routers,
      windowMs,
      perRouter: routers.map((r, i) => ({
        router: r,
        owns: owners.filter((a) => a.owner === r).length * REPL_PER_ADDRESS,
        sentPerS: ((after[i]!.tx - before[i]!.tx) * 1000) / windowMs,
        recvPerS: ((after[i]!.rx - before[i]!.rx) * 1000) / windowMs,
        pushed: inWindow.filter((l) => l.resource === `bench/${r}`).reduce((n, l) => n + Number(l.entries ?? 0), 0),
        batches: inWindow.filter((l) => l.resource === `bench/${r}`).length,
        overruns: during.filter((l) => l.resource === `bench/${r}` && l.action === 'events-overrun').length,
      })),
    };
  } finally {
    for (const w of workers) w.stop();
    await ssh.stop().catch(() => undefined);
    await lab.destroy();
  }
}
