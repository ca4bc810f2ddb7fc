// Pins the conntrack-tools 1.4.7 behaviour src/kernel/conntrack.ts relies on, in a
// private network namespace (root needed). Under CI=true a missing prerequisite
// fails the test instead of skipping it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { runChecked } from '../../src/host/host.ts';
import { LocalHost } from '../../src/host/local.ts';
import {
  applyRestore,
  conntrackCountArgv,
  conntrackDeleteBySnatArgv,
  conntrackDumpArgv,
  conntrackEventsArgv,
  conntrackRestoreArgv,
  parseConntrackCount,
  parseConntrackExtended,
  parseConntrackSave,
  parseConntrackSummary,
  restoreBatch,
  restoreInsertLine,
  restoreIsolating,
  snatAddress,
  snatRestoreBatch,
} from '../../src/kernel/index.ts';
import type { ConntrackEntry } from '../../src/kernel/index.ts';
import { ctDeleteHelperPath, ctDeleteHelperPresent, deleteExact } from '../../src/kernel/ct-delete.ts';
import { ctDumpHelperPath, ctDumpHelperPresent, dumpSnatFlows } from '../../src/kernel/ct-dump.ts';
import { ctEventsArgv, ctEventsHelperPath, ctEventsHelperPresent, parseCtEventsLine, type CtEventsLine } from '../../src/kernel/ct-events.ts';
import { LineSplitter } from '../../src/kernel/conntrack-lines.ts';
import type { ChildHandle } from '../../src/host/host.ts';
import { SYSCTL, SysctlWriteError, readConntrackSysctls, sysctlWriteArgv, writeSysctl } from '../../src/kernel/sysctl.ts';
import type { RunResult } from '../../src/host/host.ts';
import { requireE2E } from '../helpers/e2e.ts';

const NS = `rtk-${process.pid}-ct`;
const root = new LocalHost();
const host = new LocalHost({ netns: NS });
const TIMEOUT = 3000;
const SNAT_A = '198.51.100.100';
const SNAT_B = '198.51.100.101';

function deleteNamespaceSync(): void {
  try {
    execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

const restore = (text: string): Promise<RunResult> => applyRestore(host, text);

async function dump(): Promise<ConntrackEntry[]> {
  const r = await runChecked(host, conntrackDumpArgv({ format: 'extended' }));
  const parsed = parseConntrackExtended(r.stdout);
  assert.deepEqual(parsed.errors, []);
  return parsed.entries;
}

async function flush(): Promise<void> {
  await runChecked(host, ['conntrack', '-F']);
}

const key = (e: ConntrackEntry): string => `${e.protocol} ${JSON.stringify(e.original)} ${e.zone ?? 0}`;

/** What the kernel keeps of an entry, timeout aside (it counts down). */
function essence(e: ConntrackEntry): unknown {
  return {
    l3: e.l3,
    protocol: e.protocol,
    tcpState: e.tcpState,
    original: e.original,
    reply: e.reply,
    status: e.status,
    mark: e.mark,
    zone: e.zone,
  };
}

function sameTable(actual: ConntrackEntry[], expected: readonly ConntrackEntry[], maxAge = 10): void {
  const got = new Map(actual.map((e) => [key(e), e]));
  assert.equal(actual.length, expected.length, `table has ${actual.length} entries, want ${expected.length}`);
  for (const want of expected) {
    const e = got.get(key(want));
    assert.ok(e, `missing ${key(want)}`);
    assert.deepEqual(essence(e), essence(want));
    assert.ok(e.timeout <= want.timeout && e.timeout >= want.timeout - maxAge, `timeout ${e.timeout} vs ${want.timeout}`);
  }
}

function tcpEntry(n: number, snat: string, mark = 42): ConntrackEntry {
  return {
    l3: 'ipv4',
    protocol: 'tcp',
    protoNum: 6,
    timeout: TIMEOUT,
    tcpState: 'ESTABLISHED',
    original: { src: '192.0.2.2', dst: '203.0.113.7', sport: 40000 + n, dport: 443 },
    reply: { src: '203.0.113.7', dst: snat, sport: 443, dport: 20000 + n },
    status: ['SEEN_REPLY', 'ASSURED'],
    mark,
  };
}

/**
 * Real entries captured from a router namespace: SNATed TCP/UDP/ICMP with marks,
 * IPv6, UNREPLIED ones, plus a DNAT, a zone and a full 32-bit mark.
 */
function capturedEntries(): ConntrackEntry[] {
  return ['conntrack-extended-nat.txt', 'conntrack-extended-id-misc.txt'].flatMap((name) => {
    const text = readFileSync(new URL(`../fixtures/kernel/${name}`, import.meta.url), 'utf8');
    const parsed = parseConntrackExtended(text);
    assert.deepEqual(parsed.errors, []);
    return parsed.entries.map((e) => ({ ...e, timeout: TIMEOUT, use: undefined, id: undefined }));
  });
}


/** A native helper a subtest needs: missing, it fails under CI=true (scripts/setup builds it) and skips elsewhere. */
function needsHelper(st: TestContext, present: () => boolean, path: () => string): boolean {
  if (present()) return true;
  if (process.env.CI === 'true') assert.fail(`${path()} is missing: run scripts/setup (scripts/build-helpers)`);
  st.skip(`${path()} is not built (scripts/build-helpers)`);
  return false;
}

test('conntrack 1.4.7 behaviour the kernel layer relies on', async (t) => {
  if (!(await requireE2E(t, ['conntrack']))) return;
  process.on('exit', deleteNamespaceSync);
  await runChecked(root, ['ip', 'netns', 'add', NS]);
  try {
    await t.test('restored entries carry the NAT binding, mark, status and timeout', async () => {
      await flush();
      const entries = capturedEntries();
      assert.ok(entries.some((e) => e.protocol === 'icmp') && entries.some((e) => e.l3 === 'ipv6'));
      const batch = restoreBatch(entries);
      assert.deepEqual(batch.skipped, []);
      const r = await restore(batch.text);
      assert.equal(r.code, 0, r.stderr);
      const table = await dump();
      sameTable(table, entries);
      const tcp = table.find((e) => e.original.sport === 51260);
      assert.equal(tcp?.reply.dst, SNAT_A);
      assert.equal(tcp?.reply.dport, 35519);
      assert.equal(tcp?.mark, 42);
      assert.equal(snatAddress(table.find((e) => e.protocol === 'icmp')!), SNAT_A);
      const dnat = table.find((e) => e.original.sport === 45014);
      assert.deepEqual(dnat?.reply, { src: '192.0.2.10', dst: '192.0.2.2', sport: 8080, dport: 45014 });
      assert.equal(table.find((e) => e.zone === 5)?.mark, 4294967295);
    });

    await t.test('-R /dev/stdin cannot open a socket; LocalHost.run stdin (a file) works', async () => {
      await flush();
      const [a, b] = [tcpEntry(5, SNAT_A), tcpEntry(6, SNAT_A)];
      // spawn() gives the child Node's usual stdio, a socketpair: conntrack fopen()s
      // /dev/stdin by path and fails on it.
      const child = host.spawn(conntrackRestoreArgv(), { stdin: 'pipe' });
      let stderr = '';
      child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdin?.end(`${restoreInsertLine(a)}\n`);
      const exit = await child.exited;
      assert.equal(exit.code, 2);
      assert.match(stderr, /Failed to open file \/dev\/stdin for reading/);
      // run() hands bulk stdin over as an unlinked file, which conntrack can open.
      const viaRun = await host.run(conntrackRestoreArgv(), { stdin: `${restoreInsertLine(b)}\n` });
      assert.equal(viaRun.code, 0, viaRun.stderr);
      sameTable(await dump(), [b]);
    });

    await t.test('--src-nat=IP:PORT (with "=") is accepted but creates the entry without NAT', async () => {
      await flush();
      const e = tcpEntry(1, SNAT_A);
      const line = restoreInsertLine(e).replace('--src-nat ', '--src-nat=');
      assert.match(line, /--src-nat=198\.51\.100\.100:20001/);
      const r = await restore(`${line}\n`);
      assert.equal(r.code, 0, r.stderr);
      const [got] = await dump();
      assert.equal(got?.reply.dst, e.original.src, 'reply goes to the private address: no SNAT');
      assert.equal(got?.reply.dport, e.original.sport);
    });

    await t.test('-I of an existing entry fails: "Such conntrack exists", exit 1', async () => {
      await flush();
      const e = tcpEntry(2, SNAT_A);
      assert.equal((await restore(`${restoreInsertLine(e)}\n`)).code, 0);
      const again = await restore(`${restoreInsertLine({ ...e, mark: 7 })}\n`);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /Operation failed: Such conntrack exists, try -U to update/);
      sameTable(await dump(), [e]);
      // -A of the same entry: skipped silently, nothing updated.
      const add = await restore(`${restoreInsertLine({ ...e, mark: 7 }, { command: '-A' })}\n`);
      assert.equal(add.code, 0);
      assert.equal(add.stderr, '');
      sameTable(await dump(), [e]);
    });

    await t.test('delete-then-insert is idempotent: the same batch twice leaves the same table', async () => {
      await flush();
      const entries = [...capturedEntries(), tcpEntry(3, SNAT_A, 0)];
      for (const insert of ['-A', '-I'] as const) {
        const text = restoreBatch(entries, { insert }).text;
        const first = await restore(text);
        assert.equal(first.code, 0, first.stderr);
        const afterFirst = await dump();
        const second = await restore(text);
        assert.equal(second.code, 0, second.stderr);
        // -D lines echo what they deleted on stdout; -I/-A print nothing.
        assert.equal(second.stdout.trim().split('\n').length, entries.length);
        sameTable(afterFirst, entries);
        sameTable(await dump(), entries);
      }
    });

    await t.test('a malformed line anywhere: exit 2 and nothing applied, no line number', async () => {
      await flush();
      const [a, b, c] = [tcpEntry(10, SNAT_A), tcpEntry(11, SNAT_A), tcpEntry(12, SNAT_A)];
      const bad = restoreInsertLine(b).replace('ESTABLISHED', 'BOGUS');
      const r = await restore([restoreInsertLine(a), bad, restoreInsertLine(c), ''].join('\n'));
      assert.equal(r.code, 2);
      assert.match(r.stderr, /unknown TCP state `BOGUS'/);
      assert.doesNotMatch(r.stderr, /line/i);
      assert.deepEqual(await dump(), []);
    });

    await t.test('a kernel error stops -R at that line: earlier lines applied, later ones not, exit 1', async () => {
      await flush();
      const [a, x, c] = [tcpEntry(20, SNAT_A), tcpEntry(21, SNAT_A), tcpEntry(22, SNAT_A)];
      assert.equal((await restore(`${restoreInsertLine(x)}\n`)).code, 0);
      const r = await restore([a, x, c].map((e) => restoreInsertLine(e)).join('\n') + '\n');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Such conntrack exists/);
      sameTable(await dump(), [a, x]);
    });

    await t.test('-A skips a reply-tuple clash silently and carries on (the default batch insert)', async () => {
      await flush();
      const holder = tcpEntry(30, SNAT_A);
      // Another flow already owns 198.51.100.100:20030 towards the same server.
      const clash: ConntrackEntry = { ...tcpEntry(31, SNAT_A), reply: holder.reply };
      const [a, c] = [tcpEntry(32, SNAT_A), tcpEntry(33, SNAT_A)];
      assert.equal((await restore(`${restoreInsertLine(holder)}\n`)).code, 0);
      const withI = await restore(restoreBatch([clash], { insert: '-I' }).text);
      assert.equal(withI.code, 1, 'with -I the clash is a kernel error');
      const r = await restore(restoreBatch([a, clash, c]).text);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      sameTable(await dump(), [holder, a, c]);
    });

    await t.test('restoreIsolating applies every good entry around one the kernel refuses', async () => {
      await flush();
      const holder = tcpEntry(40, SNAT_A);
      const clash: ConntrackEntry = { ...tcpEntry(41, SNAT_A), reply: holder.reply };
      const good = [42, 43, 44, 45, 46, 47].map((n) => tcpEntry(n, SNAT_A));
      assert.equal((await restore(`${restoreInsertLine(holder)}\n`)).code, 0);
      const out = await restoreIsolating(host, [good[0]!, good[1]!, clash, ...good.slice(2)], { insert: '-I' });
      assert.equal(out.applied, good.length);
      assert.deepEqual(
        out.failed.map((f) => [f.entry.original.sport, f.kind]),
        [[40041, 'kernel']],
      );
      assert.match(out.failed[0]?.message ?? '', /Such conntrack exists/);
      sameTable(await dump(), [holder, ...good]);
    });

    await t.test('-o save leaves the mark out; -o extended has it', async () => {
      await flush();
      const e = tcpEntry(50, SNAT_A, 42);
      assert.equal((await restore(`${restoreInsertLine(e)}\n`)).code, 0);
      const save = await runChecked(host, conntrackDumpArgv({ format: 'save' }));
      assert.doesNotMatch(save.stdout, / -m /);
      assert.match(save.stdout, / -n 198\.51\.100\.100 /);
      assert.equal(parseConntrackSave(save.stdout).entries[0]?.mark, 0);
      assert.equal((await dump())[0]?.mark, 42);
    });

    await t.test('--src-nat ADDR filters dumps; -D --src-nat ADDR deletes only that binding', async () => {
      await flush();
      const onA = [tcpEntry(60, SNAT_A), tcpEntry(61, SNAT_A)];
      const onB = [tcpEntry(62, SNAT_B)];
      assert.equal((await restore(restoreBatch([...onA, ...onB]).text)).code, 0);
      const count = await runChecked(host, conntrackCountArgv());
      assert.equal(parseConntrackCount(count.stdout), 3);
      for (const format of ['extended', 'save'] as const) {
        const r = await runChecked(host, conntrackDumpArgv({ format, snatAddress: SNAT_A }));
        const parsed = format === 'extended' ? parseConntrackExtended(r.stdout) : parseConntrackSave(r.stdout);
        assert.deepEqual(parsed.entries.map(snatAddress), [SNAT_A, SNAT_A], format);
      }
      const none = await host.run(conntrackDumpArgv({ format: 'extended', snatAddress: '198.51.100.102' }));
      assert.equal(none.code, 0);
      assert.equal(none.stdout, '');

      const del = await host.run(conntrackDeleteBySnatArgv(SNAT_A));
      assert.equal(del.code, 0);
      assert.deepEqual(parseConntrackSummary(del.stderr), { count: 2, verb: 'deleted' });
      const again = await host.run(conntrackDeleteBySnatArgv(SNAT_A));
      assert.equal(again.code, 1, 'nothing to delete exits 1');
      assert.deepEqual(parseConntrackSummary(again.stderr), { count: 0, verb: 'deleted' });
      sameTable(await dump(), onB);
    });

    await t.test('snatRestoreBatch replaces one SNAT address wholesale and leaves the others', async () => {
      await flush();
      const old = [tcpEntry(70, SNAT_A), tcpEntry(71, SNAT_A)];
      const other = [tcpEntry(72, SNAT_B)];
      assert.equal((await restore(restoreBatch([...old, ...other]).text)).code, 0);
      const wanted = [tcpEntry(71, SNAT_A, 9), tcpEntry(73, SNAT_A)];
      const r = await restore(snatRestoreBatch(SNAT_A, wanted).text);
      assert.equal(r.code, 0, r.stderr);
      sameTable(await dump(), [...wanted, ...other]);
    });

    await t.test('exact deletes remove exactly the listed flows, scattered among many, in the zone each names', async (st) => {
      if (!needsHelper(st, ctDeleteHelperPresent, ctDeleteHelperPath)) return;
      await flush();
      const all: ConntrackEntry[] = [];
      for (let n = 0; n < 1500; n++) all.push(tcpEntry(n, n % 2 ? SNAT_A : SNAT_B));
      // The same tuple in another zone is another flow: deleting zone 0's leaves it.
      const zoned = { ...tcpEntry(3, SNAT_A), zone: 5 };
      const udp: ConntrackEntry = { ...tcpEntry(5000, SNAT_A), protocol: 'udp', protoNum: 17, tcpState: undefined };
      all.push(zoned, udp);
      assert.equal((await restore(restoreBatch(all).text)).code, 0);
      const doomed = all.filter((e, i) => i % 3 === 0 && e !== zoned);
      doomed.push(udp);
      const gone = { ...tcpEntry(9999, SNAT_A) }; // never inserted
      const summary = await deleteExact(host, [...doomed, gone]);
      assert.deepEqual(summary, { deleted: doomed.length, missing: 1, failed: 0 });
      const left = all.filter((e) => !doomed.includes(e));
      sameTable(await dump(), left, 300);
      assert.ok(left.includes(zoned) && (await dump()).some((e) => e.zone === 5 && e.original.sport === 40003));
      // A malformed line sends nothing.
      const bad = await host.run([ctDeleteHelperPath()], { stdin: 'tcp 192.0.2.2 203.0.113.7 40001 443 0\ntcp 192.0.2.2 nonsense 1 2 0\n' });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /line 2: malformed/);
      assert.equal((await dump()).length, left.length);
    });

    await t.test('routerd-ct-dump lists, per SNAT address, exactly the entries conntrack -L --src-nat shows, zones and marks included', async (st) => {
      if (!needsHelper(st, ctDumpHelperPresent, ctDumpHelperPath)) return;
      await flush();
      const all: ConntrackEntry[] = [...capturedEntries()];
      for (let n = 0; n < 600; n++) all.push(tcpEntry(n, n % 3 ? SNAT_A : SNAT_B, n));
      all.push({ ...tcpEntry(7, SNAT_A), zone: 5 });
      assert.equal((await restore(restoreBatch(all).text)).code, 0);
      for (const addr of [SNAT_A, SNAT_B]) {
        const native = parseConntrackExtended((await host.run(conntrackDumpArgv({ format: 'extended', snatAddress: addr }))).stdout).entries.filter((e) => snatAddress(e) === addr);
        const mine = await dumpSnatFlows(host, [addr]);
        assert.ok(mine.length > 100, `${mine.length} flows on ${addr}`);
        sameTable(mine, native.map((e) => ({ ...e, use: undefined, id: undefined })), 5);
      }
      assert.equal((await dumpSnatFlows(host, [SNAT_A, SNAT_B])).length, all.filter((e) => [SNAT_A, SNAT_B].includes(snatAddress(e) ?? '')).length);
    });

    await t.test('-E --buffer-size sizes a socket without event groups; the socket the events arrive on keeps the default', async () => {
      // conntrack 1.4.7 opens two netlink sockets for -E and grows the receive
      // buffer of the one that subscribes to no group, so routerd's stream mode
      // (conntrackEventsArgv) reads its events through the kernel default
      // (net.core.rmem_default) and overruns under bursts (docs/kernel-facts.md).
      const asked = 32 * 1024 * 1024;
      const child = host.spawn(conntrackEventsArgv(SNAT_A, asked));
      try {
        let sockets: { groups: number; rb: number }[] = [];
        for (let i = 0; i < 50 && sockets.length < 2; i++) {
          await new Promise((r) => setTimeout(r, 100));
          const ss = await runChecked(host, ['ss', '-f', 'netlink', '-a', '-m', '-e']);
          sockets = [...ss.stdout.matchAll(/groups=0x([0-9a-f]+)\s+skmem:\(r\d+,rb(\d+),/g)]
            .map((m) => ({ groups: Number.parseInt(m[1]!, 16), rb: Number(m[2]) }))
            .filter((x) => x.groups === 0x7 || x.rb >= asked);
        }
        const events = sockets.find((x) => x.groups === 0x7);
        const sized = sockets.find((x) => x.groups === 0);
        assert.ok(events && sized, `both of conntrack's sockets seen: ${JSON.stringify(sockets)}`);
        assert.ok(sized.rb >= asked, 'the socket without groups got the asked size (doubled by the kernel)');
        assert.ok(events.rb < asked, `the event socket (groups NEW|UPDATE|DESTROY) keeps ${events.rb} bytes`);
      } finally {
        child.kill('SIGTERM');
        await child.exited;
      }
    });

    await t.test('routerd-ct-events: the event socket gets the asked buffer and holds a burst while its reader is stopped; other addresses are filtered out', async (st) => {
      if (!needsHelper(st, ctEventsHelperPresent, ctEventsHelperPath)) return;
      await flush();
      interface Reader {
        child: ChildHandle;
        lines: CtEventsLine[];
      }
      const follow = (bufferBytes: number): Reader => {
        const child = host.spawn(ctEventsArgv([SNAT_A], { bufferBytes }));
        const lines: CtEventsLine[] = [];
        const split = new LineSplitter((l) => lines.push(parseCtEventsLine(l)));
        child.stdout?.on('data', (c: Buffer) => split.push(c));
        return { child, lines };
      };
      const until = async (what: string, ok: () => boolean): Promise<void> => {
        for (let i = 0; i < 600 && !ok(); i++) await new Promise((r) => setTimeout(r, 100));
        assert.ok(ok(), what);
      };
      const asked = 64 * 1024 * 1024;
      const big = follow(asked);
      // The control: the same helper with a small buffer (as conntrack -E's event socket has) loses events in the same burst.
      const small = follow(256 * 1024);
      try {
        await until('both helpers report their buffer', () => big.lines.length > 0 && small.lines.length > 0);
        assert.deepEqual(big.lines[0], { kind: 'rcvbuf', asked, got: 2 * asked }, 'SO_RCVBUFFORCE granted (the kernel reports it doubled)');
        // The kernel's own view: the socket with the three event groups has the buffer.
        const ss = await runChecked(host, ['ss', '-f', 'netlink', '-a', '-m', '-e']);
        const rbs = [...ss.stdout.matchAll(/groups=0x([0-9a-f]+)\s+skmem:\(r\d+,rb(\d+),/g)].filter((m) => Number.parseInt(m[1]!, 16) === 0x7).map((m) => Number(m[2]));
        assert.ok(rbs.includes(2 * asked), `an event socket (groups NEW|UPDATE|DESTROY) with rb ${2 * asked}: ${JSON.stringify(rbs)}`);
        // 40k entries on SNAT_A and 10k on SNAT_B inserted while both readers are stopped: every event waits in the socket.
        const N = 40_000;
        const entry = (i: number, snat: string): ConntrackEntry => ({
          ...tcpEntry(0, snat),
          original: { src: `192.0.2.${1 + (i % 200)}`, dst: `203.0.113.${1 + (i % 100)}`, sport: 1024 + Math.floor(i / 200), dport: 443 },
          reply: { src: `203.0.113.${1 + (i % 100)}`, dst: snat, sport: 443, dport: 10000 + Math.floor(i / 100) },
        });
        const entries = [...Array.from({ length: N }, (_, i) => entry(i, SNAT_A)), ...Array.from({ length: N / 4 }, (_, i) => entry(N + i, SNAT_B))];
        big.child.kill('SIGSTOP');
        small.child.kill('SIGSTOP');
        const text = `${entries.map((e) => restoreInsertLine(e, { command: '-A' })).join('\n')}\n`;
        assert.equal((await restore(text)).code, 0);
        assert.equal(parseConntrackCount((await runChecked(host, conntrackCountArgv())).stdout), entries.length);
        big.child.kill('SIGCONT');
        small.child.kill('SIGCONT');
        const events = (r: Reader) => r.lines.filter((l) => l.kind === 'event');
        await until(`the 64 MiB reader sees all ${N} NEW events of ${SNAT_A}`, () => events(big).length >= N);
        await until('the 256 KiB reader reports an overrun', () => small.lines.some((l) => l.kind === 'overrun'));
        await new Promise((r) => setTimeout(r, 500));
        assert.deepEqual(big.lines.filter((l) => l.kind === 'overrun'), [], 'no overrun with the asked buffer');
        const got = events(big).map((l) => (l.kind === 'event' ? l.event : undefined)!);
        assert.equal(got.length, N, 'one event per entry of the address, none of the other');
        assert.ok(got.every((e) => e.type === 'NEW' && e.entry.reply.dst === SNAT_A && snatAddress(e.entry) === SNAT_A));
        assert.equal(new Set(got.map((e) => `${e.entry.original.src}:${e.entry.original.sport}`)).size, N);
        const sample = got.find((e) => e.entry.original.src === '192.0.2.8' && e.entry.original.sport === 1024 + 3)!;
        assert.deepEqual({ ...sample.entry, timeout: TIMEOUT }, { ...entry(3 * 200 + 7, SNAT_A), status: ['SEEN_REPLY', 'ASSURED'] });
        assert.ok(events(small).length < N, `the small buffer lost events (${events(small).length} of ${N})`);
        // DESTROY events come through the same socket.
        const before = events(big).length;
        await runChecked(host, conntrackDeleteBySnatArgv(SNAT_A));
        await until(`${N} DESTROY events`, () => events(big).length >= before + N);
        assert.ok(events(big).slice(before).every((l) => l.kind === 'event' && l.event.type === 'DESTROY' && l.event.entry.reply.dst === SNAT_A));
      } finally {
        for (const r of [big, small]) {
          r.child.kill('SIGCONT');
          r.child.kill('SIGTERM');
          await r.child.exited;
        }
        await flush();
      }
    });

    await t.test('nf_conntrack_max is read-only in a netns; sysctl -w exits 0 anyway, writeSysctl notices', async () => {
      const before = await readConntrackSysctls(host);
      assert.equal(typeof before.conntrackMax, 'number');
      assert.equal(typeof before.tcpLoose, 'boolean');
      const raw = await host.run(sysctlWriteArgv(SYSCTL.conntrackMax, before.conntrackMax! + 1));
      assert.equal(raw.code, 0);
      assert.match(raw.stderr, /setting key "net\.netfilter\.nf_conntrack_max": Invalid argument/);
      await assert.rejects(writeSysctl(host, SYSCTL.conntrackMax, before.conntrackMax! + 1), SysctlWriteError);
      await writeSysctl(host, SYSCTL.conntrackTcpLoose, 0);
      assert.equal((await readConntrackSysctls(host)).tcpLoose, false);
    });
  } finally {
    await root.run(['ip', 'netns', 'del', NS]);
    process.off('exit', deleteNamespaceSync);
  }
});
