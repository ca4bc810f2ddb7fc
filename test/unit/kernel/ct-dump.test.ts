// routerd-ct-dump's compact lines: parsed into the same entries conntrack's
// extended listing gives, a truncated or malformed listing refused, and the
// argv routerd hands the helper (FakeHost).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FakeHost } from '../../../src/host/fake.ts';
import { parseConntrackExtended } from '../../../src/kernel/conntrack.ts';
import { CtDumpError, ctDumpHelperPath, dumpSnatFlows, parseCtDump } from '../../../src/kernel/ct-dump.ts';

// The same four flows as conntrack prints them and as routerd-ct-dump does (captured from one namespace).
const EXTENDED = [
  'ipv4     2 tcp      6 3599 ESTABLISHED src=10.0.0.2 dst=198.51.100.200 sport=1002 dport=80 src=198.51.100.200 dst=198.51.100.100 sport=80 dport=20002 [ASSURED] mark=7 use=1',
  'ipv4     2 icmp     1 29 src=10.0.0.9 dst=198.51.100.200 type=8 code=0 id=77 [UNREPLIED] src=198.51.100.200 dst=198.51.100.100 type=0 code=0 id=77 mark=0 use=1',
  'ipv4     2 udp      17 99 src=10.0.0.9 dst=198.51.100.200 sport=5 dport=53 [UNREPLIED] src=198.51.100.200 dst=198.51.100.101 sport=53 dport=30000 mark=0 zone=5 use=1',
  'ipv6     10 tcp      6 60 SYN_SENT src=2001:db8::10 dst=2001:db8:1::1 sport=40001 dport=443 [UNREPLIED] src=2001:db8:1::1 dst=2001:db8::99 sport=443 dport=40001 mark=0 use=1',
];
const COMPACT = [
  '6 0 7 414 3599 3 10.0.0.2 198.51.100.200 1002 80 - 198.51.100.200 198.51.100.100 80 20002 -',
  '1 0 0 408 29 - 10.0.0.9 198.51.100.200 8 0 77 198.51.100.200 198.51.100.100 0 0 77',
  '17 5 0 408 99 - 10.0.0.9 198.51.100.200 5 53 - 198.51.100.200 198.51.100.101 53 30000 -',
  '6 0 0 392 60 1 2001:db8::10 2001:db8:1::1 40001 443 - 2001:db8:1::1 2001:db8::99 443 40001 -',
  'end 4',
];

test('compact lines parse into the entries the extended listing gives (without use)', () => {
  const want = parseConntrackExtended(EXTENDED.join('\n')).entries.map(({ use: _use, ...e }) => e);
  assert.equal(want.length, 4);
  assert.deepEqual(parseCtDump(`${COMPACT.join('\n')}\n`), want);
});

test('a listing without its end line, with a wrong count or a malformed field is refused', () => {
  assert.throws(() => parseCtDump(`${COMPACT.slice(0, 2).join('\n')}\n`), /truncated/);
  assert.throws(() => parseCtDump(`${COMPACT[0]}\nend 2\n`), /end line says 2/);
  assert.throws(() => parseCtDump(`${COMPACT[0]!.replace('10.0.0.2', '10.0.0.256')}\nend 1\n`), CtDumpError);
  assert.throws(() => parseCtDump(`${COMPACT[0]!.replace(' 1002 ', ' 70000 ')}\nend 1\n`), /port/);
  assert.throws(() => parseCtDump(`${COMPACT[0]} extra\nend 1\n`), /end of the line/);
  assert.throws(() => parseCtDump('end 0\nend 0\n'), /after the end line/);
  assert.deepEqual(parseCtDump('end 0\n'), []);
});

test('dumpSnatFlows runs the helper once with each address once and keeps only source-NATed flows on them', async (t) => {
  const saved = process.env['ROUTERD_CT_DUMP'];
  process.env['ROUTERD_CT_DUMP'] = fileURLToPath(import.meta.url);
  t.after(() => {
    if (saved === undefined) delete process.env['ROUTERD_CT_DUMP'];
    else process.env['ROUTERD_CT_DUMP'] = saved;
  });
  // The last line's reply goes back to its own source: not source-NATed, though its reply destination is the address.
  const own = '6 0 0 414 100 3 198.51.100.100 198.51.100.200 5 80 - 198.51.100.200 198.51.100.100 80 5 -';
  const host = new FakeHost().on([ctDumpHelperPath(), '198.51.100.100', '198.51.100.101'], { stdout: `${[...COMPACT.slice(0, 3), own].join('\n')}\nend 4\n` });
  const flows = await dumpSnatFlows(host, ['198.51.100.100', '198.51.100.101', '198.51.100.100']);
  assert.deepEqual(host.calls.map((c) => c.argv), [[ctDumpHelperPath(), '198.51.100.100', '198.51.100.101']]);
  assert.deepEqual(flows.map((e) => e.original.src), ['10.0.0.2', '10.0.0.9', '10.0.0.9']);
  await assert.rejects(dumpSnatFlows(new FakeHost(), ['198.51.100.100; reboot']), CtDumpError);
  const failing = new FakeHost().on([ctDumpHelperPath(), '198.51.100.100'], { code: 1, stderr: 'recv: Operation not permitted\n' });
  await assert.rejects(dumpSnatFlows(failing, ['198.51.100.100']), /Operation not permitted/);
});
