import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseConntrackExtended, snatAddress } from '../../../src/kernel/conntrack.ts';
import { restoreInsertLine } from '../../../src/kernel/conntrack-batch.ts';
import { LineSplitter, restoreDeleteFromKey, restoreLineFromExtended, tupleFromExtended, tupleKeyFromExtended, unchanged } from '../../../src/kernel/conntrack-lines.ts';
import { exactDeleteLine } from '../../../src/kernel/ct-delete.ts';
import { fixture } from '../../helpers/paths.ts';

const SNAT = '198.51.100.100';
const NAT = readFileSync(fixture('kernel', 'conntrack-extended-nat.txt'), 'utf8');

test('the line transform writes what the full parser and serializer write, for every selected fixture line', () => {
  let entries = 0;
  for (const line of NAT.split('\n')) {
    const e = parseConntrackExtended(line).entries[0];
    const x = restoreLineFromExtended(line, SNAT);
    if (!e || e.l3 !== 'ipv4' || snatAddress(e) !== SNAT || e.original.src === SNAT) {
      assert.equal(x.kind, 'other', line);
      continue;
    }
    assert.equal(x.kind, 'entry', line);
    if (x.kind !== 'entry') continue;
    entries++;
    assert.equal(x.line, restoreInsertLine(e, { command: '-A' }));
    assert.equal(x.key, exactDeleteLine(e));
    assert.equal(tupleKeyFromExtended(line), x.key);
    assert.deepEqual(tupleFromExtended(line), { key: x.key, sig: x.sig });
  }
  assert.ok(entries >= 3);
});

test('the fast path keeps state, flags, mark and the SNAT port; other addresses, protocols and summaries are not selected', () => {
  const tcp = 'ipv4     2 tcp      6 3599 ESTABLISHED src=192.0.2.10 dst=198.51.100.200 sport=1024 dport=7007 src=198.51.100.200 dst=198.51.100.100 sport=7007 dport=20000 [ASSURED] mark=66 use=1';
  assert.deepEqual(restoreLineFromExtended(tcp, SNAT), {
    kind: 'entry',
    key: 'tcp 192.0.2.10 198.51.100.200 1024 7007 0',
    sig: 'ESTABLISHED|66',
    line: '-A -p tcp -s 192.0.2.10 -d 198.51.100.200 --sport 1024 --dport 7007 --src-nat 198.51.100.100:20000 -t 3599 -u SEEN_REPLY,ASSURED --state ESTABLISHED -m 66',
  });
  const udp = 'ipv4     2 udp      17 29 src=192.0.2.10 dst=198.51.100.200 sport=5353 dport=53 [UNREPLIED] src=198.51.100.200 dst=198.51.100.100 sport=53 dport=40000 mark=0 use=1';
  const u = restoreLineFromExtended(udp, SNAT);
  assert.ok(u.kind === 'entry');
  assert.equal(u.line, '-A -p udp -s 192.0.2.10 -d 198.51.100.200 --sport 5353 --dport 53 --src-nat 198.51.100.100:40000 -t 29 -m 0');
  assert.equal(restoreLineFromExtended(tcp, '198.51.100.101').kind, 'other');
  assert.equal(restoreLineFromExtended(tcp, SNAT, 'udp').kind, 'other');
  assert.equal(restoreLineFromExtended('conntrack v1.4.7 (conntrack-tools): 10 flow entries have been shown.', SNAT).kind, 'other');
  // A zone takes the full path and keeps it.
  const zoned = tcp.replace(' mark=66 use=1', ' mark=66 zone=3 use=1');
  const z = restoreLineFromExtended(zoned, SNAT);
  assert.ok(z.kind === 'entry');
  assert.match(z.line, / -w 3 /);
  assert.equal(z.key, 'tcp 192.0.2.10 198.51.100.200 1024 7007 3');
});

test('only a TCP ESTABLISHED entry held with the same mark counts as unchanged', () => {
  assert.equal(unchanged('ESTABLISHED|66', 'ESTABLISHED|66'), true);
  assert.equal(unchanged('ESTABLISHED|0', 'ESTABLISHED|66'), false);
  assert.equal(unchanged('SYN_SENT|66', 'ESTABLISHED|66'), false);
  assert.equal(unchanged('|7', '|7'), false, 'UDP is rewritten (its timeout is short)');
  assert.equal(unchanged(undefined, 'ESTABLISHED|66'), false);
});

test('keys become conntrack -R delete lines for targets without the helper', () => {
  assert.equal(restoreDeleteFromKey('tcp 192.0.2.10 198.51.100.200 1024 7007 0'), '-D -p tcp -s 192.0.2.10 -d 198.51.100.200 --sport 1024 --dport 7007\n');
  assert.equal(restoreDeleteFromKey('icmp 192.0.2.10 198.51.100.200 8 0 4660 2'), '-D -p icmp -s 192.0.2.10 -d 198.51.100.200 --icmp-type 8 --icmp-code 0 --icmp-id 4660 -w 2\n');
});

test('LineSplitter joins lines across chunks', () => {
  const lines: string[] = [];
  const s = new LineSplitter((l) => lines.push(l));
  s.push('ab');
  s.push(Buffer.from('c\nde\n'));
  s.push('f');
  s.end();
  assert.deepEqual(lines, ['abc', 'de', 'f']);
});
