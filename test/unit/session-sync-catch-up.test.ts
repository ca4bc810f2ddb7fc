// After lost conntrack events the stream worker catches up from a dump instead
// of a full replace: what the target is known to hold is not sent again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { catchUpChanges } from '../../src/controllers/session-sync/worker.ts';
import { parseConntrackExtended } from '../../src/kernel/conntrack.ts';

const line = (sport: number, state: string) =>
  `ipv4     2 tcp      6 431999 ${state} src=192.0.2.10 dst=203.0.113.10 sport=${sport} dport=7007 src=203.0.113.10 dst=198.51.100.116 sport=7007 dport=${20000 + sport} [ASSURED] mark=0 use=1`;

test('a catch-up sends only the flows the target lacks or that became established since', () => {
  const entries = parseConntrackExtended([line(1001, 'ESTABLISHED'), line(1002, 'ESTABLISHED'), line(1003, 'ESTABLISHED')].join('\n')).entries;
  assert.equal(entries.length, 3);
  const known = new Map([
    ['tcp 192.0.2.10:1001 203.0.113.10:7007', 'ESTABLISHED|0'],
    ['tcp 192.0.2.10:1002 203.0.113.10:7007', 'SYN_RECV|0'],
  ]);
  const changes = catchUpChanges(new Map([['198.51.100.116', entries]]), known);
  assert.deepEqual(
    changes.map((c) => [c.op, c.entry.original.sport]),
    [
      ['replace', 1002],
      ['insert', 1003],
    ],
  );
  assert.deepEqual(catchUpChanges(new Map([['198.51.100.116', entries.slice(0, 1)]]), known), [], 'nothing owed: nothing sent');
});
