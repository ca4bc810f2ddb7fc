// Exact deletes: the helper's input lines (one per entry, original tuple and
// zone), its summary, and the argv and stdin routerd hands it (FakeHost).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FakeHost } from '../../../src/host/fake.ts';
import { parseConntrackExtended } from '../../../src/kernel/conntrack.ts';
import { ExactDeleteError, ctDeleteHelperPath, deleteExact, exactDeleteLine, parseExactDeleteSummary } from '../../../src/kernel/ct-delete.ts';

const LINES = [
  'ipv4     2 tcp      6 431999 ESTABLISHED src=192.0.2.10 dst=198.51.100.200 sport=40000 dport=7007 src=198.51.100.200 dst=198.51.100.100 sport=7007 dport=20001 [ASSURED] mark=0 use=1',
  'ipv4     2 udp      17 29 src=192.0.2.11 dst=198.51.100.200 sport=5353 dport=53 src=198.51.100.200 dst=198.51.100.100 sport=53 dport=30000 mark=0 zone=7 use=1',
  'ipv4     2 icmp     1 29 src=192.0.2.12 dst=198.51.100.200 type=8 code=0 id=77 src=198.51.100.200 dst=198.51.100.100 type=0 code=0 id=77 mark=0 use=1',
  'ipv6     10 tcp      6 60 SYN_SENT src=2001:db8::10 dst=2001:db8:1::1 sport=40001 dport=443 [UNREPLIED] src=2001:db8:1::1 dst=2001:db8::10 sport=443 dport=40001 mark=0 use=1',
];
const entries = parseConntrackExtended(LINES.join('\n')).entries;

test('exact delete lines carry the original tuple and the zone (0 when none is shown)', () => {
  assert.equal(entries.length, 4);
  assert.deepEqual(entries.map(exactDeleteLine), [
    'tcp 192.0.2.10 198.51.100.200 40000 7007 0',
    'udp 192.0.2.11 198.51.100.200 5353 53 7',
    'icmp 192.0.2.12 198.51.100.200 8 0 77 0',
    'tcp 2001:db8::10 2001:db8:1::1 40001 443 0',
  ]);
  const bad = { ...entries[0]!, original: { ...entries[0]!.original, src: '192.0.2.10; rm -rf /' } };
  assert.throws(() => exactDeleteLine(bad), ExactDeleteError);
  assert.throws(() => exactDeleteLine({ ...entries[0]!, protocol: 'sctp' }), /cannot be deleted by tuple/);
});

test('deleteExact sends every line on stdin to the helper and reads its summary; a failure throws', async (t) => {
  // The FakeHost runs nothing; the helper only has to exist (this file stands in for it).
  const saved = process.env['ROUTERD_CT_DELETE'];
  process.env['ROUTERD_CT_DELETE'] = fileURLToPath(import.meta.url);
  t.after(() => {
    if (saved === undefined) delete process.env['ROUTERD_CT_DELETE'];
    else process.env['ROUTERD_CT_DELETE'] = saved;
  });
  const host = new FakeHost().on([ctDeleteHelperPath()], { stdout: 'deleted 3 missing 1 failed 0\n' });
  assert.deepEqual(await deleteExact(host, entries), { deleted: 3, missing: 1, failed: 0 });
  assert.deepEqual(host.calls.map((c) => c.argv), [[ctDeleteHelperPath()]]);
  assert.equal(host.calls[0]!.stdin, `${entries.map(exactDeleteLine).join('\n')}\n`);
  assert.deepEqual(await deleteExact(new FakeHost(), []), { deleted: 0, missing: 0, failed: 0 }, 'nothing to delete runs nothing');
  const failing = new FakeHost().on([ctDeleteHelperPath()], { code: 1, stdout: 'deleted 0 missing 0 failed 1\n', stderr: 'line 1: Operation not permitted\n' });
  await assert.rejects(deleteExact(failing, entries), /Operation not permitted/);
  assert.equal(parseExactDeleteSummary('garbage'), undefined);
});

test('without the helper, deleteExact falls back to one conntrack -R -D line per flow', async (t) => {
  const saved = process.env['ROUTERD_CT_DELETE'];
  process.env['ROUTERD_CT_DELETE'] = '/nonexistent/routerd-ct-delete';
  t.after(() => {
    if (saved === undefined) delete process.env['ROUTERD_CT_DELETE'];
    else process.env['ROUTERD_CT_DELETE'] = saved;
  });
  const host = new FakeHost().on(['conntrack', '-R', '/dev/stdin'], {});
  assert.deepEqual(await deleteExact(host, entries.slice(0, 2)), { deleted: 2, missing: 0, failed: 0 });
  assert.equal(host.calls.length, 2);
  assert.match(host.calls[0]!.stdin ?? '', /^-D -p tcp -s 192\.0\.2\.10 -d 198\.51\.100\.200 --sport 40000 --dport 7007/);
});
