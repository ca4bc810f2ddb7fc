// Pins two facts mode conntrackd depends on (docs/kernel-facts.md), in lab
// namespaces with real conntrackd 1.4.7 run as routerd runs it:
// - the kernel (nf_conntrack_events=2, its default) gives an entry its event
//   extension only if an event listener exists when the entry is created; such
//   an entry never reports its destroy, so a peer would keep it for good;
// - a conntrackd whose kernel holds entries injected from the peer
//   (DisableExternalCache) takes them into its internal cache on any kernel dump
//   (`-R`, and the NetlinkOverrunResync dump, which also sends at once) and
//   sends them back as its own: the peer re-creates entries it has destroyed.
//   Why routerd renders NetlinkOverrunResync off and flushes the backup's
//   internal cache (`-f internal`) on every backup transition.
// - a bulk send after a flush and a kernel dump (`-f`, `-R`, `-B`: the
//   primary-backup master transition) sends every entry as NEW, and the peer's
//   conntrackd deletes and re-creates each entry it holds (a DESTROY on the peer);
//   `-R`, `-B` alone (routerd's master transition) updates them in place.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AnyResource } from '../../src/api/kinds.ts';
import { nat44SessionSyncSpec } from '../../src/controllers/session-sync/schema.ts';
import { standaloneContext } from '../../src/controllers/controller.ts';
import { ConntrackdSyncMode } from '../../src/controllers/session-sync/conntrackd.ts';
import type { SyncRole } from '../../src/controllers/session-sync/mode.ts';
import { runChecked } from '../../src/host/host.ts';
import { conntrackDumpArgv, parseConntrackExtended } from '../../src/kernel/conntrack.ts';
import { untrackRouterTraffic } from '../../src/lab/harden.ts';
import { createLab, labPrefix, type LabNode } from '../../src/lab/topology.ts';
import { requireE2E } from '../helpers/e2e.ts';

const SNAT = '198.51.100.100';
const SERVER = '198.51.100.200';
const PATHS = { stateDir: '/var/lib/routerd', runDir: '/run/routerd' };
const ID = 'NAT44SessionSync/facts';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const entry = (i: number) =>
  `-I -p tcp -s 192.0.2.${100 + i} -d ${SERVER} --sport ${3000 + i} --dport 443 --src-nat ${SNAT}:${21000 + i} -u SEEN_REPLY,ASSURED --state ESTABLISHED -t 3600 -m 7`;

async function insert(node: LabNode, ids: readonly number[]): Promise<void> {
  await runChecked(node.host, ['conntrack', '-R', '/dev/stdin'], { stdin: `${ids.map(entry).join('\n')}\n`, timeoutMs: 10_000 });
}

async function remove(node: LabNode, i: number): Promise<void> {
  await runChecked(node.host, ['conntrack', '-D', '-p', 'tcp', '-s', `192.0.2.${100 + i}`, '--sport', String(3000 + i)], { timeoutMs: 10_000 });
}

/** Test entries (by index) a router's kernel holds. */
async function held(node: LabNode): Promise<number[]> {
  const r = await runChecked(node.host, conntrackDumpArgv({ format: 'extended', family: 'ipv4', snatAddress: SNAT }), { timeoutMs: 10_000 });
  return parseConntrackExtended(r.stdout)
    .entries.map((e) => Number(e.original.src.split('.')[3]) - 100)
    .sort((a, b) => a - b);
}

test('kernel: with nf_conntrack_events=2 (default) an entry created while no listener runs never reports its destroy; with 1 it does', async (t) => {
  if (!(await requireE2E(t, ['conntrack']))) return;
  const lab = await createLab({ prefix: labPrefix('ctdfev'), ipv6: false });
  try {
    const node = lab.nodes.ra;
    const destroysSeen = async (events: string): Promise<number[]> => {
      await runChecked(node.host, ['sysctl', '-q', '-w', `net.netfilter.nf_conntrack_events=${events}`]);
      await runChecked(node.host, ['conntrack', '-F']);
      await insert(node, [1]); // no listener yet
      const log = `${lab.base}/destroy-events-${events}.log`;
      const watcher = node.host.spawn(['conntrack', '-E', '-e', 'DESTROY', '--src-nat', SNAT], { logFile: log });
      await sleep(300);
      await insert(node, [2]); // a listener runs
      await remove(node, 1);
      await remove(node, 2);
      await sleep(300);
      watcher.kill('SIGTERM');
      await watcher.exited;
      const text = (await node.host.readFile(log)) ?? '';
      return [1, 2].filter((i) => text.includes(`src=192.0.2.${100 + i} `));
    };
    assert.deepEqual(await destroysSeen('2'), [2], 'entry 1 was created with no listener: its destroy is never reported');
    assert.deepEqual(await destroysSeen('1'), [1, 2]);
  } finally {
    await lab.destroy();
  }
});

/** conntrackd through routerd's mode on both routers, ra master and rb backup, each in its role; each mode goes into `modes` as it starts (for the caller's cleanup). */
async function startConntrackdPair(ra: LabNode, rb: LabNode, modes: ConntrackdSyncMode[]): Promise<void> {
  const pair = [
    { node: ra, self: '192.0.2.2', peer: '192.0.2.3', role: 'master' as SyncRole },
    { node: rb, self: '192.0.2.3', peer: '192.0.2.2', role: 'backup' as SyncRole },
  ];
  for (const p of pair) {
    const ctx = standaloneContext({ host: p.node.host, paths: PATHS, nodeName: p.node.name });
    const mode = new ConntrackdSyncMode(ID, 'facts', { ctx });
    modes.push(mode);
    await mode.update({
      spec: nat44SessionSyncSpec.parse({ mode: 'conntrackd', snatAddresses: [SNAT], targets: [{ name: 'peer', host: p.peer }] }),
      addresses: [SNAT],
      role: p.role,
      planCtx: { resources: [] as AnyResource[], ifname: (x: string) => x, paths: PATHS, status: () => undefined, nodeName: p.node.name },
      observed: { files: new Map(), existing: new Set<string>(), interfaces: [{ name: 'lan0', up: true, addresses: [{ family: 4, address: p.self, prefixLength: 24 }] }] },
    });
    await until(`${p.node.name}: conntrackd ${p.role}`, async () => ctx.status.get(ID)?.appliedRole === p.role);
  }
}

/** conntrackd's own command line against the test's config. */
function ctl(node: LabNode, args: string[]) {
  return runChecked(node.host, ['conntrackd', '-C', `${PATHS.runDir}/conntrackd/facts.conf`, ...args], { timeoutMs: 10_000 });
}

test('conntrackd: a kernel dump on the backup takes the peer\'s injected entries as its own, and a bulk send brings a destroyed one back on the master', async (t) => {
  if (!(await requireE2E(t, ['conntrack', 'conntrackd', 'nft']))) return;
  const lab = await createLab({ prefix: labPrefix('ctdfbk'), ipv6: false });
  const modes: ConntrackdSyncMode[] = [];
  try {
    const { ra, rb } = lab.nodes;
    await untrackRouterTraffic([ra, rb]);
    await startConntrackdPair(ra, rb, modes);
    const internal = async (node: LabNode) => Number(/current active connections:\s+(\d+)/.exec((await ctl(node, ['-s'])).stdout)?.[1]);

    await insert(ra, [1, 2, 3]);
    await until('rb holds 1, 2, 3', async () => (await held(rb)).join() === '1,2,3');
    assert.equal(await internal(rb), 0, 'entries injected from the peer do not enter the internal cache through events');
    // routerd's fix holds: a destroy on the master reaches the backup, nothing comes back.
    await remove(ra, 3);
    await until('rb lost 3', async () => (await held(rb)).join() === '1,2');

    // What a kernel dump on the backup does (`-R` here; NetlinkOverrunResync runs the same dump after an overrun).
    await ctl(rb, ['-R']);
    assert.equal(await internal(rb), 2, 'the dump took the peer\'s entries as the backup\'s own');
    await remove(ra, 1);
    await until('rb lost 1', async () => (await held(rb)).join() === '2');
    assert.equal(await internal(rb), 2, 'the injected destroy is ignored by the internal cache: entry 1 stays in it');
    await ctl(rb, ['-B']);
    await until('entry 1 is back on ra', async () => (await held(ra)).includes(1), 5_000);
    assert.deepEqual(await held(ra), [1, 2], 'the master re-created an entry it had destroyed');
    // Flushing the backup's internal cache (routerd's backup transition) stops it.
    await remove(ra, 1);
    await until('rb lost 1 again', async () => !(await held(rb)).includes(1));
    await ctl(rb, ['-f', 'internal']);
    await ctl(rb, ['-B']);
    await sleep(500);
    assert.deepEqual(await held(ra), [2]);
  } finally {
    for (const m of modes) await m.stop({ keepEngines: false }).catch(() => undefined);
    await lab.destroy();
  }
});

test('conntrackd: after -f and -R a bulk send re-creates every entry on the peer; after -R alone it updates them in place', async (t) => {
  if (!(await requireE2E(t, ['conntrack', 'conntrackd', 'nft']))) return;
  const lab = await createLab({ prefix: labPrefix('ctdfnw'), ipv6: false });
  const modes: ConntrackdSyncMode[] = [];
  try {
    const { ra, rb } = lab.nodes;
    await untrackRouterTraffic([ra, rb]);
    await insert(ra, [1, 2, 3]);
    await startConntrackdPair(ra, rb, modes);
    await until('rb holds 1, 2, 3', async () => (await held(rb)).join() === '1,2,3');
    /** Test entries (by index) B's kernel destroyed while `step` ran, from a DESTROY watcher on B. */
    let n = 0;
    const destroyedOnB = async (step: () => Promise<void>): Promise<number[]> => {
      const log = `${lab.base}/rb-destroy-${n++}.log`;
      const watcher = rb.host.spawn(['conntrack', '-E', '-e', 'DESTROY', '--src-nat', SNAT], { logFile: log });
      await sleep(300);
      await step();
      await sleep(1000);
      watcher.kill('SIGTERM');
      await watcher.exited;
      const text = (await rb.host.readFile(log)) ?? '';
      return [1, 2, 3].filter((i) => text.includes(`src=192.0.2.${100 + i} `));
    };
    // Let the sends at start settle (until a second passes without a destroy on B).
    for (let i = 0; (await destroyedOnB(async () => undefined)).length > 0; i++) if (i === 10) assert.fail('rb still destroys entries 10 s after start');
    // routerd's master transition: the cache already holds the entries, -R updates them, -B sends updates.
    assert.deepEqual(
      await destroyedOnB(async () => {
        for (const a of ['-c', '-R', '-B']) await ctl(ra, [a]);
      }),
      [],
      'updates are applied in place',
    );
    assert.deepEqual(await held(rb), [1, 2, 3]);
    // primary-backup.sh's master transition: after the flush every object is new, -B sends NEW, the peer deletes and re-creates.
    assert.deepEqual(
      await destroyedOnB(async () => {
        for (const a of ['-c', '-f', '-R', '-B']) await ctl(ra, [a]);
      }),
      [1, 2, 3],
      'each NEW for an entry B holds deleted it first',
    );
    assert.deepEqual(await held(rb), [1, 2, 3]);
  } finally {
    for (const m of modes) await m.stop({ keepEngines: false }).catch(() => undefined);
    await lab.destroy();
  }
});
