import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FakeHost } from '../../../src/host/fake.ts';
import {
  ConntrackSerializeError,
  applyRestore,
  classifyRestoreResult,
  conntrackCountArgv,
  conntrackDeleteBySnatArgv,
  conntrackDumpArgv,
  conntrackRestoreArgv,
  deleteBatch,
  dnatAddress,
  isDestinationNatted,
  isSourceNatted,
  parseConntrackCount,
  parseConntrackExtended,
  parseConntrackSave,
  parseConntrackSummary,
  restoreBatch,
  restoreDeleteLine,
  restoreInsertLine,
  restoreIsolating,
  snatAddress,
  snatPort,
  snatRestoreBatch,
} from '../../../src/kernel/index.ts';
import type { ConntrackEntry } from '../../../src/kernel/index.ts';
import type { RunResult } from '../../../src/host/host.ts';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/kernel/${name}`, import.meta.url), 'utf8');

function parsedOk(text: string, parse = parseConntrackExtended): ConntrackEntry[] {
  const r = parse(text);
  assert.deepEqual(r.errors, []);
  return r.entries;
}

function byOrigPort(entries: ConntrackEntry[], sport: number): ConntrackEntry {
  const e = entries.find((x) => x.original.sport === sport);
  assert.ok(e, `entry with sport ${sport}`);
  return e;
}

function byIcmpId(entries: ConntrackEntry[], id: number): ConntrackEntry {
  const e = entries.find((x) => x.original.id === id);
  assert.ok(e, `entry with icmp id ${id}`);
  return e;
}

const natFixture = parsedOk(fixture('conntrack-extended-nat.txt'));

test('reads a NATed, marked TCP entry from -o extended', () => {
  assert.equal(natFixture.length, 10);
  const e = byOrigPort(natFixture, 51260);
  assert.deepEqual(e, {
    l3: 'ipv4',
    protocol: 'tcp',
    protoNum: 6,
    timeout: 431990,
    tcpState: 'ESTABLISHED',
    original: { src: '192.0.2.2', dst: '198.51.100.2', sport: 51260, dport: 7001 },
    reply: { src: '198.51.100.2', dst: '198.51.100.100', sport: 7001, dport: 35519 },
    status: ['SEEN_REPLY', 'ASSURED'],
    mark: 42,
    use: 1,
  });
  assert.equal(isSourceNatted(e), true);
  assert.equal(snatAddress(e), '198.51.100.100');
  assert.equal(snatPort(e), 35519);
  assert.equal(isDestinationNatted(e), false);
});

test('marks entries without a reply as UNREPLIED, keeping the NAT binding', () => {
  const udp = byOrigPort(natFixture, 53024);
  assert.deepEqual(udp.status, ['UNREPLIED']);
  assert.equal(udp.mark, 7);
  assert.equal(udp.tcpState, undefined);
  assert.equal(snatPort(udp), 43505);
  const syn = byOrigPort(natFixture, 49836);
  assert.equal(syn.tcpState, 'SYN_SENT');
  assert.deepEqual(syn.status, ['UNREPLIED']);
  const replied = byOrigPort(natFixture, 43019);
  assert.deepEqual(replied.status, ['SEEN_REPLY']);
});

test('reads ICMP and ICMPv6 tuples (type, code, id) and IPv6 entries', () => {
  const icmp = byIcmpId(natFixture, 4660);
  assert.equal(icmp.protocol, 'icmp');
  assert.deepEqual(icmp.original, { src: '192.0.2.2', dst: '198.51.100.2', type: 8, code: 0, id: 4660 });
  assert.deepEqual(icmp.reply, { src: '198.51.100.2', dst: '198.51.100.100', type: 0, code: 0, id: 4660 });
  assert.equal(icmp.mark, 256);
  assert.equal(snatAddress(icmp), '198.51.100.100');
  assert.equal(snatPort(icmp), undefined);

  const v6 = natFixture.filter((e) => e.l3 === 'ipv6');
  assert.deepEqual(v6.map((e) => e.protocol).sort(), ['icmpv6', 'tcp']);
  for (const e of v6) assert.equal(isSourceNatted(e), false);
  const icmp6 = v6.find((e) => e.protocol === 'icmpv6');
  assert.equal(icmp6?.protoNum, 58);
  assert.equal(icmp6?.reply.type, 129);
  assert.equal(icmp6?.mark, 9);
});

test('tells the conntrack id from the ICMP id in -o extended,id', () => {
  const entries = parsedOk(fixture('conntrack-extended-id-nat.txt'));
  const icmp = byIcmpId(entries, 4660);
  assert.equal(icmp.id, 875630967);
  assert.equal(icmp.reply.id, 4660);
  assert.equal(byOrigPort(entries, 51260).id, 1450730332);
});

test('reads the default format (no "ipv4 2" prefix) like extended', () => {
  const plain = parsedOk(fixture('conntrack-default.txt'));
  assert.deepEqual(plain, natFixture);
});

test('reads zone, a full 32-bit mark and a DNAT binding', () => {
  const entries = parsedOk(fixture('conntrack-extended-id-misc.txt'));
  const zoned = byOrigPort(entries, 45011);
  assert.equal(zoned.zone, 5);
  assert.equal(zoned.mark, 4294967295);
  const dnat = byOrigPort(entries, 45014);
  assert.equal(isDestinationNatted(dnat), true);
  assert.equal(dnatAddress(dnat), '192.0.2.10');
  assert.equal(isSourceNatted(dnat), false);
  const v6udp = byOrigPort(entries, 45013);
  assert.equal(v6udp.l3, 'ipv6');
  assert.equal(v6udp.protocol, 'udp');
});

test('reports bad lines with their number and keeps the good ones', () => {
  const lines = fixture('conntrack-extended-nat.txt').trimEnd().split('\n');
  const text = [
    lines[0],
    'garbage',
    'ipv4     2 tcp      6 notanumber ESTABLISHED src=192.0.2.2 dst=198.51.100.2 sport=1 dport=2 src=198.51.100.2 dst=192.0.2.2 sport=2 dport=1 mark=0 use=1',
    'ipv4     2 tcp      6 10 ESTABLISHED src=192.0.2.2 dst=198.51.100.2 sport=1 dport=2 mark=0 use=1',
    'ipv4     2 tcp      6 10 ESTABLISHED src=192.0.2.999 dst=198.51.100.2 sport=1 dport=2 src=198.51.100.2 dst=192.0.2.2 sport=2 dport=1 mark=0 use=1',
    'ipv6     10 udp      17 10 src=192.0.2.2 dst=198.51.100.2 sport=1 dport=2 src=198.51.100.2 dst=192.0.2.2 sport=2 dport=1 mark=0 use=1',
    'ipv4     2 udp      17 10 src=192.0.2.2 dst=198.51.100.2 sport=99999 dport=2 src=198.51.100.2 dst=192.0.2.2 sport=2 dport=1 mark=0 use=1',
    '',
    'conntrack v1.4.7 (conntrack-tools): 10 flow entries have been shown.',
    lines[1],
  ].join('\n');
  const r = parseConntrackExtended(text);
  assert.equal(r.entries.length, 2);
  assert.deepEqual(
    r.errors.map((e) => e.lineNo),
    [2, 3, 4, 5, 6, 7],
  );
  for (const e of r.errors) assert.ok(e.message.length > 0 && e.line.length > 0);
  assert.deepEqual(parseConntrackExtended(''), { entries: [], errors: [] });
});

test('-o save carries the same tuples, NAT and status as extended, but no mark', () => {
  const saved = parsedOk(fixture('conntrack-save-nat.txt'), parseConntrackSave);
  assert.equal(saved.length, natFixture.length);
  const key = (e: ConntrackEntry): string => JSON.stringify(e.original);
  const ext = new Map(natFixture.map((e) => [key(e), e]));
  for (const s of saved) {
    const x = ext.get(key(s));
    assert.ok(x, `save entry ${key(s)} also in extended`);
    assert.deepEqual(s.reply, x.reply);
    assert.deepEqual(s.status, x.status);
    assert.equal(s.tcpState, x.tcpState);
    assert.equal(s.protoNum, x.protoNum);
    assert.equal(s.l3, x.l3);
    assert.equal(s.mark, 0, 'conntrack 1.4.7 prints no -m in save output');
  }
  assert.ok(natFixture.some((e) => e.mark !== 0));
});

test('reads zone and DNAT (-g) from -o save', () => {
  const saved = parsedOk(fixture('conntrack-save-misc.txt'), parseConntrackSave);
  assert.equal(byOrigPort(saved, 45011).zone, 5);
  assert.equal(dnatAddress(byOrigPort(saved, 45014)), '192.0.2.10');
  assert.equal(byOrigPort(saved, 45014).reply.sport, 8080);
  const bad = parseConntrackSave('-A -t 10 -u SEEN_REPLY -s 192.0.2.1 -d 192.0.2.2 -p tcp --sport 1 --dport 2\n-A --bogus 1\n');
  assert.equal(bad.entries.length, 0);
  assert.deepEqual(
    bad.errors.map((e) => e.lineNo),
    [1, 2],
  );
});

test('writes the original tuple with --src-nat IP:PORT (space), timeout, status, state and mark', () => {
  const line = restoreInsertLine(byOrigPort(natFixture, 51260));
  assert.equal(
    line,
    '-I -p tcp -s 192.0.2.2 -d 198.51.100.2 --sport 51260 --dport 7001 --src-nat 198.51.100.100:35519 -t 431990 -u SEEN_REPLY,ASSURED --state ESTABLISHED -m 42',
  );
  assert.equal(
    restoreInsertLine(byOrigPort(natFixture, 53024), { command: '-A' }),
    '-A -p udp -s 192.0.2.2 -d 198.51.100.3 --sport 53024 --dport 7002 --src-nat 198.51.100.100:43505 -t 22 -m 7',
  );
  assert.equal(
    restoreInsertLine(byIcmpId(natFixture, 4660)),
    '-I -p icmp -s 192.0.2.2 -d 198.51.100.2 --icmp-type 8 --icmp-code 0 --icmp-id 4660 --src-nat 198.51.100.100 -t 24 -u SEEN_REPLY -m 256',
  );
  for (const e of natFixture) assert.doesNotMatch(restoreInsertLine(e), /--(src|dst)-nat=/);
});

test('brackets an IPv6 NAT address that carries a port', () => {
  const e: ConntrackEntry = {
    l3: 'ipv6',
    protocol: 'tcp',
    protoNum: 6,
    timeout: 30,
    tcpState: 'ESTABLISHED',
    original: { src: 'fd00:1::2', dst: 'fd00:2::2', sport: 5, dport: 7001 },
    reply: { src: 'fd00:2::2', dst: 'fd00:2::100', sport: 7001, dport: 4000 },
    status: ['SEEN_REPLY'],
    mark: 0,
  };
  assert.match(restoreInsertLine(e), / --src-nat \[fd00:2::100\]:4000 /);
});

test('round trip: extended -> restore line -> parsed line keeps what the kernel needs', () => {
  const all = [...natFixture, ...parsedOk(fixture('conntrack-extended-id-misc.txt'))];
  for (const e of all) {
    const back = parsedOk(restoreInsertLine(e), parseConntrackSave);
    assert.equal(back.length, 1);
    const b = back[0]!;
    assert.deepEqual(b.original, e.original, restoreInsertLine(e));
    assert.deepEqual(b.reply, e.reply, restoreInsertLine(e));
    assert.equal(b.mark, e.mark);
    assert.equal(b.timeout, e.timeout);
    assert.equal(b.tcpState, e.tcpState);
    assert.deepEqual(b.status, e.status);
    assert.equal(b.zone, e.zone);
    assert.equal(snatAddress(b), snatAddress(e));
    assert.equal(snatPort(b), snatPort(e));
  }
});

test('deletes by original tuple (and zone)', () => {
  assert.equal(
    restoreDeleteLine(byOrigPort(natFixture, 51260)),
    '-D -p tcp -s 192.0.2.2 -d 198.51.100.2 --sport 51260 --dport 7001',
  );
  const zoned = byOrigPort(parsedOk(fixture('conntrack-extended-id-misc.txt')), 45011);
  assert.match(restoreDeleteLine(zoned), / -w 5$/);
  assert.equal(
    restoreDeleteLine(byIcmpId(natFixture, 4660)),
    '-D -p icmp -s 192.0.2.2 -d 198.51.100.2 --icmp-type 8 --icmp-code 0 --icmp-id 4660',
  );
});

test('refuses what conntrack cannot restore instead of writing a line that would sink the batch', () => {
  const base = byOrigPort(natFixture, 51260);
  const cases: ConntrackEntry[] = [
    { ...base, tcpState: undefined },
    { ...base, tcpState: 'BOGUS' },
    { ...base, protocol: 'gre', protoNum: 47 },
    { ...base, mark: -1 },
    { ...base, timeout: 1.5 },
    { ...base, original: { ...base.original, src: 'fd00::1' } },
    { ...base, original: { ...base.original, sport: 70000 } },
    { ...byIcmpId(natFixture, 4660), reply: { ...byIcmpId(natFixture, 4660).reply, id: 1 } },
  ];
  for (const c of cases) assert.throws(() => restoreInsertLine(c), ConntrackSerializeError);
});

test('builds delete-then-insert batches that skip, not abort on, unserializable entries', () => {
  const good = byOrigPort(natFixture, 51260);
  const bad = { ...good, tcpState: 'BOGUS' };
  const b = restoreBatch([good, bad, byIcmpId(natFixture, 4660)]);
  const lines = b.text.split('\n');
  assert.equal(lines.at(-1), '');
  assert.deepEqual(
    lines.slice(0, -1).map((l) => l.slice(0, 2)),
    ['-D', '-A', '-D', '-A'],
  );
  assert.equal(b.entries.length, 2);
  assert.equal(b.skipped.length, 1);
  assert.match(b.skipped[0]!.reason, /BOGUS/);
  assert.match(restoreBatch([good], { insert: '-I' }).text, /^-D .*\n-I .*\n$/);
  assert.equal(restoreBatch([]).text, '');

  const s = snatRestoreBatch('198.51.100.100', [good]);
  assert.equal(s.text.split('\n')[0], '-D --src-nat 198.51.100.100');
  assert.match(s.text.split('\n')[1] ?? '', /^-A /);
  assert.throws(() => snatRestoreBatch('not-an-ip', [good]), ConntrackSerializeError);
  assert.match(deleteBatch([good]).text, /^-D .*\n$/);
});

test('builds dump, count, delete and restore argv', () => {
  assert.deepEqual(conntrackDumpArgv({ format: 'extended' }), ['conntrack', '-L', '-o', 'extended']);
  assert.deepEqual(
    conntrackDumpArgv({ format: 'extended', withId: true, family: 'ipv4', protocol: 'tcp', snatAddress: '198.51.100.100' }),
    ['conntrack', '-L', '-o', 'extended,id', '-f', 'ipv4', '-p', 'tcp', '--src-nat', '198.51.100.100'],
  );
  assert.deepEqual(conntrackDumpArgv({ format: 'save', snatAddress: 'fd00:2::100' }), [
    'conntrack',
    '-L',
    '-o',
    'save',
    '--src-nat',
    'fd00:2::100',
  ]);
  assert.throws(() => conntrackDumpArgv({ format: 'save', withId: true }));
  assert.throws(() => conntrackDumpArgv({ format: 'save', family: 'ipv4', snatAddress: 'fd00:2::100' }));
  assert.throws(() => conntrackDumpArgv({ format: 'save', snatAddress: '198.51.100.100; reboot' }));
  assert.deepEqual(conntrackCountArgv(), ['conntrack', '-C']);
  assert.deepEqual(conntrackDeleteBySnatArgv('198.51.100.100'), ['conntrack', '-D', '--src-nat', '198.51.100.100']);
  assert.throws(() => conntrackDeleteBySnatArgv('x'));
  assert.deepEqual(conntrackRestoreArgv(), ['conntrack', '-R', '/dev/stdin']);
  assert.deepEqual(conntrackRestoreArgv('/run/routerd/x.batch'), ['conntrack', '-R', '/run/routerd/x.batch']);
  assert.throws(() => conntrackRestoreArgv('-L'));
});

test('parses conntrack -C and the stderr summary line', () => {
  assert.equal(parseConntrackCount(fixture('conntrack-count.txt')), 5);
  assert.equal(parseConntrackCount('oops'), undefined);
  assert.deepEqual(parseConntrackSummary(fixture('conntrack-list-stderr.txt')), { count: 10, verb: 'shown' });
  assert.deepEqual(parseConntrackSummary('conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n'), {
    count: 0,
    verb: 'deleted',
  });
  assert.equal(parseConntrackSummary(''), undefined);
});

function result(code: number | null, stderr = ''): RunResult {
  return { argv: [], code, signal: null, stdout: '', stderr, timedOut: false, truncated: false, durationMs: 0 };
}

test('classifies conntrack -R exits: 2 refused before applying, 1 stopped midway', () => {
  assert.equal(classifyRestoreResult(result(0)), undefined);
  assert.equal(classifyRestoreResult(result(2)), 'parse');
  assert.equal(classifyRestoreResult(result(1)), 'kernel');
  assert.equal(classifyRestoreResult(result(127)), 'other');
});

test('applyRestore streams the batch to conntrack -R /dev/stdin', async () => {
  const host = new FakeHost();
  host.on(['conntrack', '-R'], { code: 0 });
  await applyRestore(host, 'BATCH\n');
  assert.deepEqual(host.calls, [{ argv: ['conntrack', '-R', '/dev/stdin'], stdin: 'BATCH\n' }]);
});

test('restoreIsolating bisects a failing batch down to the one bad entry', async () => {
  const base = byOrigPort(natFixture, 51260);
  const entries = Array.from({ length: 8 }, (_, i) => ({ ...base, original: { ...base.original, sport: 1000 + i } }));
  const host = new FakeHost();
  const batches: string[] = [];
  // Like conntrack -R: the batch fails as a whole if it holds the poisoned entry.
  host.on(['conntrack', '-R'], (_argv, stdin) => {
    const text = stdin ?? '';
    batches.push(text);
    return text.includes('--sport 1005 ')
      ? { code: 1, stderr: 'conntrack v1.4.7 (conntrack-tools): Operation failed: Such conntrack exists, try -U to update\n' }
      : { code: 0 };
  });
  const out = await restoreIsolating(host, entries);
  assert.equal(out.applied, 7);
  assert.equal(out.failed.length, 1);
  assert.equal(out.failed[0]?.entry.original.sport, 1005);
  assert.equal(out.failed[0]?.kind, 'kernel');
  assert.match(out.failed[0]?.message ?? '', /Such conntrack exists/);
  assert.ok(out.runs <= 1 + 2 * Math.log2(entries.length), `runs ${out.runs}`);
  assert.equal(batches[0]?.split('\n').length, 2 * entries.length + 1, 'first run carries the whole batch');
  for (const c of host.calls) assert.deepEqual(c.argv, ['conntrack', '-R', '/dev/stdin']);

  const clean = new FakeHost().on(['conntrack'], { code: 0 });
  assert.deepEqual(await restoreIsolating(clean, entries), { applied: 8, failed: [], runs: 1 });

  const missing = new FakeHost();
  const gone = await restoreIsolating(missing, entries);
  assert.equal(gone.runs, 1, 'a missing binary is not bisected');
  assert.equal(gone.failed.length, 8);
});
