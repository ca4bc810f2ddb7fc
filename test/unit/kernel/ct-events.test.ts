// routerd-ct-events' lines: events parsed into the same entries conntrack -E's
// extended lines give, the overrun and rcvbuf lines, malformed lines refused,
// and the argv routerd hands the helper.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { eventFromLine } from '../../../src/kernel/conntrack-lines.ts';
import { CtEventsError, ctEventsArgv, ctEventsHelperPath, DEFAULT_CT_EVENTS_BUFFER, parseCtEventsLine } from '../../../src/kernel/ct-events.ts';

// The same events as conntrack -E -o extended,id prints them and as routerd-ct-events does.
const CONNTRACK = [
  '    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=192.0.2.10 dst=198.51.100.200 sport=54344 dport=7007 [UNREPLIED] src=198.51.100.200 dst=198.51.100.100 sport=7007 dport=47455 id=3516075765',
  ' [UPDATE] ipv4     2 tcp      6 432000 ESTABLISHED src=192.0.2.10 dst=198.51.100.200 sport=54344 dport=7007 src=198.51.100.200 dst=198.51.100.100 sport=7007 dport=47455 [ASSURED] mark=9 id=3516075765',
  '[DESTROY] ipv4     2 udp      17 29 src=192.0.2.10 dst=198.51.100.200 sport=35427 dport=7007 src=198.51.100.200 dst=198.51.100.100 sport=7007 dport=34843 zone=5 id=902998802',
  '    [NEW] ipv4     2 icmp     1 30 src=10.0.0.9 dst=198.51.100.200 type=8 code=0 id=77 [UNREPLIED] src=198.51.100.200 dst=198.51.100.101 type=0 code=0 id=77 id=11',
];
const HELPER = [
  'NEW 6 0 0 392 120 1 192.0.2.10 198.51.100.200 54344 7007 - 198.51.100.200 198.51.100.100 7007 47455 -',
  'UPDATE 6 0 9 398 432000 3 192.0.2.10 198.51.100.200 54344 7007 - 198.51.100.200 198.51.100.100 7007 47455 -',
  'DESTROY 17 5 0 394 29 - 192.0.2.10 198.51.100.200 35427 7007 - 198.51.100.200 198.51.100.100 7007 34843 -',
  'NEW 1 0 0 392 30 - 10.0.0.9 198.51.100.200 8 0 77 198.51.100.200 198.51.100.101 0 0 77',
];

function events(lines: readonly string[]): unknown[] {
  return lines.map((l) => {
    const x = parseCtEventsLine(l);
    assert.equal(x.kind, 'event');
    return x.kind === 'event' ? x.event : undefined;
  });
}

test('event lines parse into the events conntrack -E gives (without its id)', () => {
  const want = CONNTRACK.map((l) => {
    const ev = eventFromLine(l);
    assert.ok(ev, l);
    const { id: _id, use: _use, ...entry } = ev.entry;
    return { type: ev.type, entry };
  });
  assert.deepEqual(events(HELPER), want);
});

test('an event without its TCP state (an UPDATE that did not change it) keeps the entry without one', () => {
  const [ev] = events(['UPDATE 6 0 0 398 300 - 192.0.2.10 198.51.100.200 1 2 - 198.51.100.200 198.51.100.100 2 3 -']) as { entry: { tcpState?: string } }[];
  assert.equal(ev!.entry.tcpState, undefined);
});

test('with -t the read time follows the type', () => {
  const x = parseCtEventsLine(HELPER[0]!.replace('NEW ', 'NEW 1764532345.000250 '));
  assert.equal(x.kind, 'event');
  if (x.kind !== 'event') return;
  assert.equal(x.timeMs, 1764532345000.25);
  assert.deepEqual(x.event, events([HELPER[0]!])[0]);
  assert.throws(() => parseCtEventsLine(HELPER[0]!.replace('NEW ', 'NEW 1764532345.25 ')), /six digits/);
});

test('overrun and rcvbuf lines; malformed lines are refused', () => {
  assert.deepEqual(parseCtEventsLine('overrun 3'), { kind: 'overrun', count: 3 });
  assert.deepEqual(parseCtEventsLine('rcvbuf 67108864 134217728'), { kind: 'rcvbuf', asked: 67108864, got: 134217728 });
  assert.throws(() => parseCtEventsLine('overrun'), CtEventsError);
  assert.throws(() => parseCtEventsLine('overrun 3 4'), /end of the line/);
  assert.throws(() => parseCtEventsLine(''), CtEventsError);
  assert.throws(() => parseCtEventsLine('[NEW] ipv4 2 tcp'), /not an event/);
  assert.throws(() => parseCtEventsLine(HELPER[0]!.replace('192.0.2.10', '192.0.2.300')), /not an IP address/);
  assert.throws(() => parseCtEventsLine(HELPER[0]!.replace(' 54344 ', ' 70000 ')), /port/);
  assert.throws(() => parseCtEventsLine(`${HELPER[0]} extra`), /end of the line/);
  assert.throws(() => parseCtEventsLine(HELPER[0]!.slice(0, -2)), CtEventsError);
});

test('argv: the helper, the buffer, groups and timestamps when asked, each address once after --', (t) => {
  const saved = process.env['ROUTERD_CT_EVENTS'];
  process.env['ROUTERD_CT_EVENTS'] = fileURLToPath(import.meta.url);
  t.after(() => {
    if (saved === undefined) delete process.env['ROUTERD_CT_EVENTS'];
    else process.env['ROUTERD_CT_EVENTS'] = saved;
  });
  assert.equal(ctEventsHelperPath(), fileURLToPath(import.meta.url));
  assert.deepEqual(ctEventsArgv(['198.51.100.100', '2001:db8::1', '198.51.100.100']), [
    ctEventsHelperPath(),
    '-b',
    String(DEFAULT_CT_EVENTS_BUFFER),
    '--',
    '198.51.100.100',
    '2001:db8::1',
  ]);
  assert.deepEqual(ctEventsArgv(['198.51.100.100'], { bufferBytes: 1 << 20, events: ['new'], timestamps: true }), [
    ctEventsHelperPath(),
    '-b',
    String(1 << 20),
    '-e',
    'new',
    '-t',
    '--',
    '198.51.100.100',
  ]);
  assert.throws(() => ctEventsArgv([]), CtEventsError);
  assert.throws(() => ctEventsArgv(['198.51.100.100; reboot']), /not an IP address/);
  assert.throws(() => ctEventsArgv(['-b']), /not an IP address/);
  assert.throws(() => ctEventsArgv(['198.51.100.100'], { bufferBytes: 100 }), /buffer size/);
  assert.throws(() => ctEventsArgv(['198.51.100.100'], { bufferBytes: 1.5e6 + 0.5 }), /buffer size/);
  assert.throws(() => ctEventsArgv(['198.51.100.100'], { events: [] }), /event groups/);
  assert.throws(() => ctEventsArgv(['198.51.100.100'], { events: ['all' as 'new'] }), /event groups/);
});
