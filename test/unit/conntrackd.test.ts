import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeProcs } from '../helpers/fake-procs.ts';
import type { AnyResource, ResourceOf } from '../../src/api/kinds.ts';
import { nat44SessionSyncSpec } from '../../src/controllers/session-sync/schema.ts';
import { standaloneContext } from '../../src/controllers/controller.ts';
import { ConntrackdSyncMode } from '../../src/controllers/session-sync/conntrackd.ts';
import { conntrackdRole, planConntrackd } from '../../src/controllers/session-sync/conntrackd-role.ts';
import { conntrackdPaths, ConntrackdEngine, TRANSITION_COMMANDS } from '../../src/engines/conntrackd/engine.ts';
import { DEFAULT_TUNING, renderConntrackdConf, type ConntrackdConfInput } from '../../src/engines/conntrackd/render.ts';
import { parseConntrackdRuntime, parseConntrackdStats } from '../../src/engines/conntrackd/stats.ts';
import { FakeHost } from '../../src/host/fake.ts';
import type { RunResult } from '../../src/host/host.ts';
import { assertGolden } from '../helpers/golden.ts';

const PATHS = conntrackdPaths({ stateDir: '/var/lib/routerd', runDir: '/run/routerd' }, 'lan-sessions');

const UDP_INPUT: ConntrackdConfInput = {
  transport: { kind: 'udp', localAddress: '192.0.2.2', peerAddress: '192.0.2.3', interface: 'lan0', port: 3780 },
  ignore: ['127.0.0.0/8', '192.0.2.2', '192.0.2.1', '198.51.100.100', '192.0.2.3', '192.0.2.2'],
  files: PATHS,
  tuning: DEFAULT_TUNING,
};

test('conntrackd.conf: FTFW over UDP, external cache disabled, own addresses ignored once each, files in the run dir', () => {
  const conf = renderConntrackdConf(UDP_INPUT);
  assertGolden('conntrackd-udp.conf', conf);
  assert.match(conf, /DisableExternalCache on/);
  // A kernel resync on the backup would take the peer's entries as its own and send them back (test/e2e/conntrackd-facts.test.ts).
  assert.match(conf, /NetlinkOverrunResync off/);
  assert.match(conf, /NetlinkEventsReliable on/);
  assert.equal(conf.match(/IPv4_address 192\.0\.2\.2$/gm)?.length, 2, 'once in UDP, once in the ignore list');
});

test('conntrackd.conf: multicast for more than two routers', () => {
  assertGolden(
    'conntrackd-multicast.conf',
    renderConntrackdConf({ ...UDP_INPUT, transport: { kind: 'multicast', group: '225.0.0.50', localAddress: '192.0.2.2', interface: 'sync0', port: 3780 } }),
  );
});

test('conntrackd.conf: refuses values conntrackd would parse as something else', () => {
  const bad: [string, ConntrackdConfInput][] = [
    ['interface', { ...UDP_INPUT, transport: { ...UDP_INPUT.transport, interface: 'lan0 }\nGeneral {' } as ConntrackdConfInput['transport'] }],
    ['address', { ...UDP_INPUT, transport: { ...UDP_INPUT.transport, localAddress: '192.0.2.2\n}' } as ConntrackdConfInput['transport'] }],
    ['ignored', { ...UDP_INPUT, ignore: ['192.0.2.0/33'] }],
    ['ignored', { ...UDP_INPUT, ignore: ['fd00::1'] }],
    ['multicast', { ...UDP_INPUT, transport: { kind: 'multicast', group: '192.0.2.9', localAddress: '192.0.2.2', interface: 'lan0', port: 3780 } }],
    ['path', { ...UDP_INPUT, files: { ...PATHS, socket: '/run/a b.ctl' } }],
    ['purge', { ...UDP_INPUT, tuning: { ...DEFAULT_TUNING, purgeTimeout: 0 } }],
  ];
  for (const [what, input] of bad) assert.throws(() => renderConntrackdConf(input), TypeError, what);
});

// `conntrackd -s` and `-s runtime` as conntrack-tools 1.4.7 printed them in the lab.
const STATS = `cache internal:
current active connections:	           5
connections created:		           5	failed:	           0
connections updated:		           0	failed:	           0
connections destroyed:		           0	failed:	           0

external inject:
connections created:		         250	failed:	           2
connections updated:		          12	failed:	           0
connections destroyed:		          10	failed:	           1

traffic processed:
                   0 Bytes                         0 Pckts

UDP traffic (active device=lan0):
                 524 Bytes sent                   32 Bytes recv
                   4 Pckts sent                    2 Pckts recv
                   0 Error send                    1 Error recv

message tracking:
                   0 Malformed msgs                    3 Lost msgs

`;
const RUNTIME = `daemon uptime: 0 min

netlink stats:
	events received:	                   5
	events filtered:	                   0
	events unknown type:		           0
	catch event failed:		           0
	dump unknown type:		           0
	netlink overrun:		           2
	flush kernel table:		           0
	resync with kernel table:	           1
	current buffer size (in bytes):	     2097152

runtime stats:
	child process failed:		           0
`;

test('conntrackd -s: caches, injected entries, traffic and lost messages; -s runtime: overruns and resyncs', () => {
  assert.deepEqual(parseConntrackdStats(STATS), {
    internalEntries: 5,
    injected: { created: 250, updated: 12, destroyed: 10, failed: 3 },
    bytesSent: 524,
    bytesReceived: 32,
    packetsSent: 4,
    packetsReceived: 2,
    sendErrors: 0,
    receiveErrors: 1,
    messagesMalformed: 0,
    messagesLost: 3,
  });
  assert.deepEqual(parseConntrackdRuntime(RUNTIME), { eventsReceived: 5, eventsFiltered: 0, netlinkOverruns: 2, kernelResyncs: 1, netlinkBufferBytes: 2097152 });
  assert.equal(parseConntrackdStats('something else\n'), undefined);
  assert.equal(parseConntrackdRuntime(''), undefined);
});

test('conntrackd engine: a stale lock file is removed before a start, routerd writes the pid file, a running one is adopted, a config change restarts it', async () => {
  const host = new FakeHost();
  const procs = new FakeProcs();
  host.files.set(PATHS.lockFile, '');
  const e = new ConntrackdEngine(host, PATHS, () => undefined, procs);
  assert.equal(await e.run('conf 1\n'), 'started');
  assert.equal(host.files.has(PATHS.lockFile), false, 'a SIGKILLed conntrackd leaves its lock file; the next one would refuse to start');
  assert.deepEqual(host.spawned.map((c) => c.argv), [['conntrackd', '-C', PATHS.conf]]);
  const pid = Number(host.files.get(PATHS.pidFile));
  assert.equal(pid, e.pid);
  assert.equal(await e.run('conf 1\n'), 'running');
  assert.equal(await e.run('conf 2\n'), 'restarted');
  assert.deepEqual(procs.killed[0], [pid, 'SIGTERM']);
  await e.stop(true);
  // routerd restarts: the next engine adopts conntrackd from the pid file and leaves its lock alone.
  host.files.set(PATHS.pidFile, '4242\n');
  host.files.set(PATHS.lockFile, '');
  procs.cmdlines.set(4242, ['conntrackd', '-C', PATHS.conf]);
  const again = new ConntrackdEngine(host, PATHS, () => undefined, procs);
  assert.equal(await again.run('conf 2\n'), 'adopted');
  assert.equal(host.files.has(PATHS.lockFile), true);
  assert.equal(host.spawned.length, 2);
});

function syncResource(when: boolean): ResourceOf<'NAT44SessionSync'> & AnyResource {
  return {
    apiVersion: 'net.routerd.net/v1alpha1',
    kind: 'NAT44SessionSync',
    metadata: { name: 'lan-sessions' },
    spec: nat44SessionSyncSpec.parse({
      mode: 'conntrackd',
      snatAddresses: ['198.51.100.100'],
      targets: [{ name: 'peer', host: '192.0.2.3' }],
      ...(when ? { when: { state: { 'VirtualAddress/lan-vip.role': { equals: 'master' } } } } : {}),
    }),
  } as ResourceOf<'NAT44SessionSync'> & AnyResource;
}

const VIP = { apiVersion: 'net.routerd.net/v1alpha1', kind: 'VirtualAddress', metadata: { name: 'lan-vip' }, spec: { address: '192.0.2.1/24', extraAddresses: [] } } as unknown as AnyResource;

test('conntrackd role from the VirtualAddress that spec.when reads (or the only one): master, backup, fault, unknown', () => {
  const lookup = (role: string | undefined) => (kind: string, name: string, field: string) => (kind === 'VirtualAddress' && name === 'lan-vip' && field === 'role' ? role : undefined);
  for (const when of [true, false]) {
    const r = syncResource(when);
    assert.equal(conntrackdRole(r, [VIP, r], lookup('master')), 'master');
    assert.equal(conntrackdRole(r, [VIP, r], lookup('backup')), 'backup');
    assert.equal(conntrackdRole(r, [VIP, r], lookup('fault')), 'fault');
    assert.equal(conntrackdRole(r, [VIP, r], lookup(undefined)), 'unknown');
  }
});

test('plan: conntrackd runs in every role; the plan names the transition the role asks for', () => {
  const r = syncResource(true);
  const ctx = (role: string | undefined) => ({
    resources: [VIP, r],
    ifname: (n: string) => n,
    paths: { stateDir: '/var/lib/routerd', runDir: '/run/routerd' },
    status: (kind: string, _name: string, field: string) => (kind === 'VirtualAddress' && field === 'role' ? role : undefined),
    nodeName: 'rb',
  });
  const backup = planConntrackd(r, ctx('backup'));
  assert.deepEqual(backup.actions.map((a) => a.verb), ['run']);
  assert.match(backup.actions[0]!.detail, /role backup: conntrackd -f internal, -n/);
  assert.match(planConntrackd(r, ctx('master')).actions[0]!.detail, /role master: conntrackd -c, -R, -B/);
  assert.match(planConntrackd(r, ctx(undefined)).actions[0]!.detail, /role unknown/);
});

/** An engine whose control commands take a while and record when they ran. */
class SlowEngine extends ConntrackdEngine {
  readonly log: string[] = [];
  private active = 0;
  overlapped = false;
  override async run(): Promise<'started'> {
    return 'started';
  }
  override get pid(): number {
    return 4242;
  }
  override state() {
    return { state: 'running', pid: 4242, since: '2026-01-01T00:00:00Z', adopted: false } as const;
  }
  override async ctl(args: readonly string[]): Promise<RunResult> {
    if (args[0] === '-s') return { argv: args, code: 1, signal: null, stdout: '', stderr: 'not in this test', timedOut: false, truncated: false, durationMs: 0 };
    this.active++;
    if (this.active > 1) this.overlapped = true;
    this.log.push(args.join(' '));
    await new Promise((r) => setTimeout(r, 20));
    this.active--;
    return { argv: args, code: 0, signal: null, stdout: '', stderr: '', timedOut: false, truncated: false, durationMs: 20 };
  }
}

test('role transitions run in primary-backup order, one at a time, each once, however fast the roles change', async () => {
  const host = new FakeHost();
  host.on(['ip', '-j', '-4', 'route', 'get'], { stdout: '[{"dst":"192.0.2.3","dev":"lan0","prefsrc":"192.0.2.2","flags":[]}]' });
  const ctx = standaloneContext({ host, paths: { stateDir: '/var/lib/routerd', runDir: '/run/routerd' }, nodeName: 'ra' });
  let engine: SlowEngine | undefined;
  const mode = new ConntrackdSyncMode('NAT44SessionSync/lan-sessions', 'lan-sessions', {
    ctx,
    makeEngine: () => (engine = new SlowEngine(host, PATHS, () => undefined, new FakeProcs())),
  });
  const r = syncResource(true);
  const planCtx = { resources: [VIP, r], ifname: (n: string) => n, paths: { stateDir: '/var/lib/routerd', runDir: '/run/routerd' }, status: () => undefined, nodeName: 'ra' };
  const input = (role: 'master' | 'backup' | 'fault') => ({ spec: r.spec, addresses: ['198.51.100.100'], role, planCtx, observed: { files: new Map(), existing: new Set<string>() } });
  await mode.update(input('backup'));
  await mode.update(input('master'));
  await mode.update(input('master'));
  await mode.update(input('fault'));
  await mode.update(input('backup'));
  await new Promise((res) => setTimeout(res, 300));
  await mode.stop({ keepEngines: true });
  const expected = [...TRANSITION_COMMANDS.backup, ...TRANSITION_COMMANDS.master, ...TRANSITION_COMMANDS.fault, ...TRANSITION_COMMANDS.backup].map((c) => c.join(' '));
  assert.deepEqual(engine!.log, expected);
  assert.deepEqual(engine!.log.slice(0, 5), ['-f internal', '-n', '-c', '-R', '-B']);
  assert.equal(engine!.overlapped, false);
});

test('NAT44SessionSync schema: event-stream is stream; conntrackd fields and their checks', () => {
  const base = { snatAddresses: ['198.51.100.100'], targets: [{ host: '192.0.2.3' }] };
  assert.equal(nat44SessionSyncSpec.parse({ ...base, mode: 'event-stream' }).mode, 'stream');
  const c = nat44SessionSyncSpec.parse({ ...base, mode: 'conntrackd', conntrackd: { interface: 'sync0', localAddress: '10.0.0.1', peerAddress: '10.0.0.2' } });
  assert.equal(c.conntrackd?.port, 3780);
  assert.equal(c.conntrackd?.tuning.netlinkBufferSize, 2_097_152);
  const issues = (x: unknown) => nat44SessionSyncSpec.safeParse(x).error?.issues.map((i) => i.message).join('; ') ?? '';
  assert.match(issues({ ...base, mode: 'snapshot', conntrackd: {} }), /apply to mode conntrackd only/);
  assert.match(issues({ ...base, mode: 'conntrackd', targets: [{ host: '192.0.2.3' }, { host: '192.0.2.4' }] }), /need conntrackd.multicast/);
  assert.match(issues({ ...base, mode: 'conntrackd', targets: [{ host: 'peer.example' }] }), /set conntrackd.peerAddress/);
  assert.match(issues({ ...base, mode: 'conntrackd', conntrackd: { ignoreIPv4: ['192.0.2.0/40'] } }), /not an IPv4 address or prefix/);
});

/** Stats as conntrackd reports them, with a netlink overrun count the test moves. */
class OverrunEngine extends SlowEngine {
  overruns = 0;
  override async stats() {
    return {
      stats: parseConntrackdStats(STATS)!,
      runtime: { eventsReceived: 5, eventsFiltered: 0, netlinkOverruns: this.overruns, kernelResyncs: 1, netlinkBufferBytes: 2097152 },
    };
  }
}

/** A host where conntrackd (pid 4242) holds one ctnetlink event socket whose kernel drop count the test moves. */
function droppingHost(): { host: FakeHost; drops: { n: number }; sysctl: { events: string } } {
  const host = new FakeHost();
  const drops = { n: 0 };
  const sysctl = { events: '2' };
  host.on(['ip', '-j', '-4', 'route', 'get'], { stdout: '[{"dst":"192.0.2.3","dev":"lan0","prefsrc":"192.0.2.2","flags":[]}]' });
  host.on(['conntrack', '-C'], { stdout: '5\n' });
  host.on(['sysctl', 'net.netfilter.nf_conntrack_events'], () => ({ stdout: `net.netfilter.nf_conntrack_events = ${sysctl.events}\n` }));
  host.on(['sysctl', '-w'], (argv) => {
    sysctl.events = argv[2]!.split('=')[1]!;
    return { stdout: `${argv[2]!.replace('=', ' = ')}\n` };
  });
  host.on(['find', '/proc/4242/fd'], { stdout: 'socket:[1001]\nsocket:[1002]\n' });
  host.on(['cat', '/proc/net/netlink'], () => ({
    stdout:
      'sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\n' +
      `0000000000000001 12  4242       00000007 0        0        0     2        ${drops.n}        1001\n` +
      '0000000000000002 12  -1000      00000000 0        0        0     2        7        1002\n' +
      '0000000000000003 12  99         00000007 0        0        0     2        9        2000\n',
  }));
  return { host, drops, sysctl };
}

test('/proc/net/netlink: the kernel drop count of a process\'s ctnetlink event sockets only', async () => {
  const { host, drops } = droppingHost();
  drops.n = 41;
  const { eventSocketDrops, parseProcNetNetlink, parseSocketInodes, socketFdsArgv } = await import('../../src/kernel/netlink-sockets.ts');
  const inodes = parseSocketInodes((await host.run(socketFdsArgv(4242))).stdout);
  assert.equal(eventSocketDrops(parseProcNetNetlink((await host.run(['cat', '/proc/net/netlink'])).stdout), inodes), 41, 'not the socket without groups, not another process\'s');
  assert.equal(eventSocketDrops([], inodes), undefined);
  assert.throws(() => socketFdsArgv(1), TypeError);
});

test('conntrackd mode sets nf_conntrack_events=1 before conntrackd runs (entries created with no listener never report their destroy)', async () => {
  const { host, sysctl } = droppingHost();
  const ctx = standaloneContext({ host, paths: { stateDir: '/var/lib/routerd', runDir: '/run/routerd' }, nodeName: 'ra' });
  const id = 'NAT44SessionSync/lan-sessions';
  const mode = new ConntrackdSyncMode(id, 'lan-sessions', { ctx, makeEngine: () => new OverrunEngine(host, PATHS, () => undefined, new FakeProcs()) });
  const r = syncResource(true);
  const planCtx = { resources: [VIP, r], ifname: (n: string) => n, paths: { stateDir: '/var/lib/routerd', runDir: '/run/routerd' }, status: () => undefined, nodeName: 'ra' };
  await mode.update({ spec: r.spec, addresses: ['198.51.100.100'], role: 'backup', planCtx, observed: { files: new Map(), existing: new Set<string>() } });
  assert.equal(sysctl.events, '1');
  assert.equal(ctx.status.get(id)?.everyEntryReportsEvents, true);
  await mode.update({ spec: r.spec, addresses: ['198.51.100.100'], role: 'backup', planCtx, observed: { files: new Map(), existing: new Set<string>() } });
  assert.equal(host.commandLines().filter((c) => c.startsWith('sysctl -w')).length, 1, 'written once');
  await mode.stop({ keepEngines: true });
  // A kernel that refuses the write: Degraded, with the reason.
  const refusing = droppingHost();
  refusing.host.on(['sysctl', '-w'], { stdout: '' });
  const ctx2 = standaloneContext({ host: refusing.host, paths: { stateDir: '/var/lib/routerd', runDir: '/run/routerd' }, nodeName: 'ra' });
  const mode2 = new ConntrackdSyncMode(id, 'lan-sessions', { ctx: ctx2, makeEngine: () => new OverrunEngine(refusing.host, PATHS, () => undefined, new FakeProcs()) });
  await mode2.update({ spec: r.spec, addresses: ['198.51.100.100'], role: 'backup', planCtx, observed: { files: new Map(), existing: new Set<string>() } });
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(ctx2.status.get(id)?.reason, 'EventsIncomplete');
  await mode2.stop({ keepEngines: true });
});

test('events the kernel could not deliver to conntrackd (reliable delivery hides them from it): the master heals with -R, -B and counts it; a backup has nothing to heal', async () => {
  for (const role of ['master', 'backup'] as const) {
    const { host, drops } = droppingHost();
    const ctx = standaloneContext({ host, paths: { stateDir: '/var/lib/routerd', runDir: '/run/routerd' }, nodeName: 'ra' });
    let engine: OverrunEngine | undefined;
    const id = 'NAT44SessionSync/lan-sessions';
    const mode = new ConntrackdSyncMode(id, 'lan-sessions', { ctx, makeEngine: () => (engine = new OverrunEngine(host, PATHS, () => undefined, new FakeProcs())) });
    const r = syncResource(true);
    const planCtx = { resources: [VIP, r], ifname: (n: string) => n, paths: { stateDir: '/var/lib/routerd', runDir: '/run/routerd' }, status: () => undefined, nodeName: 'ra' };
    await mode.update({ spec: r.spec, addresses: ['198.51.100.100'], role, planCtx, observed: { files: new Map(), existing: new Set<string>() } });
    await new Promise((res) => setTimeout(res, 150));
    await mode.pollStats();
    assert.equal(ctx.status.get(id)?.phase, 'Synced', role);
    engine!.log.length = 0;
    drops.n = 500;
    await mode.pollStats();
    assert.equal(ctx.status.get(id)?.eventDrops, 500);
    if (role === 'master') assert.equal(ctx.status.get(id)?.reason, 'EventOverrun');
    await new Promise((res) => setTimeout(res, 150));
    assert.deepEqual(engine!.log, role === 'master' ? ['-R', '-B'] : [], role);
    assert.equal(ctx.status.get(id)?.phase, 'Synced', role);
    assert.equal(ctx.status.get(id)?.heals, role === 'master' ? 1 : 0, role);
    assert.match(await ctx.metrics.registry.metrics(), role === 'master' ? /routerd_conntrackd_stat\{[^}]*counter="heals"[^}]*\} 1/ : /counter="event_drops"[^}]*\} 500/);
    await mode.stop({ keepEngines: true });
  }
});

test('a netlink overrun on the master is a status reason, and heals by a resync from the kernel and a bulk send', async () => {
  const { host } = droppingHost();
  const ctx = standaloneContext({ host, paths: { stateDir: '/var/lib/routerd', runDir: '/run/routerd' }, nodeName: 'ra' });
  let engine: OverrunEngine | undefined;
  const id = 'NAT44SessionSync/lan-sessions';
  const mode = new ConntrackdSyncMode(id, 'lan-sessions', { ctx, makeEngine: () => (engine = new OverrunEngine(host, PATHS, () => undefined, new FakeProcs())) });
  const r = syncResource(true);
  const planCtx = { resources: [VIP, r], ifname: (n: string) => n, paths: { stateDir: '/var/lib/routerd', runDir: '/run/routerd' }, status: () => undefined, nodeName: 'ra' };
  await mode.update({ spec: r.spec, addresses: ['198.51.100.100'], role: 'master', planCtx, observed: { files: new Map(), existing: new Set<string>() } });
  await new Promise((res) => setTimeout(res, 150));
  await mode.pollStats();
  assert.equal(ctx.status.get(id)?.phase, 'Synced');
  engine!.overruns = 2;
  engine!.log.length = 0;
  await mode.pollStats();
  assert.equal(ctx.status.get(id)?.reason, 'EventOverrun');
  await new Promise((res) => setTimeout(res, 150));
  assert.deepEqual(engine!.log, ['-R', '-B']);
  assert.equal(ctx.status.get(id)?.phase, 'Synced');
  assert.equal(ctx.status.get(id)?.netlinkOverruns, 2);
  await mode.stop({ keepEngines: true });
});
