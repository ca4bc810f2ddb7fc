import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { demoTimeline, type FlowTrace } from '../../src/lab/demo-timeline.ts';
import type { FlowReport, FlowStats } from '../../src/lab/echo-client.ts';
import { renderTimelineSvg, type Timeline } from '../../src/lab/timeline-svg.ts';
import { REPO } from '../helpers/paths.ts';

interface SvgItem {
  readonly lane: string;
  readonly shape: 'rect' | 'line';
  readonly cls: string;
  readonly from?: number;
  readonly to?: number;
  readonly at?: number;
}

/** The lanes and items of a rendered timeline, read back from its classes and data attributes. */
function parseTimeline(svg: string) {
  const lanes = [...svg.matchAll(/<g class="lane" data-lane="([^"]+)" data-group="([^"]+)">(.*?)<\/g>/g)].map((m) => ({ id: m[1]!, group: m[2]!, body: m[3]! }));
  const items: SvgItem[] = lanes.flatMap((l) =>
    [...l.body.matchAll(/<(rect|line) class="((?:span|mark) [a-z-]+)"((?: data-[a-z]+="-?\d+")+)/g)].map((m) => {
      const attr = (n: string) => {
        const v = new RegExp(`data-${n}="(-?\\d+)"`).exec(m[3]!)?.[1];
        return v === undefined ? undefined : Number(v);
      };
      return { lane: l.id, shape: m[1] as 'rect' | 'line', cls: m[2]!, from: attr('from'), to: attr('to'), at: attr('at') };
    }),
  );
  const markers = [...svg.matchAll(/<g class="marker" data-at="(\d+)">.*?font-weight="bold">([^<]+)<\/text><\/g>/g)].map((m) => ({ at: Number(m[1]), label: m[2]! }));
  return { lanes, items, markers };
}

const T0 = 1_700_000_000_000;

test('renders lanes, spans, marks and markers with their times relative to the start', () => {
  const t: Timeline = {
    title: 'A <test> & more',
    start: T0,
    end: T0 + 10_000,
    lanes: [
      { id: 'ra-role', label: 'router A role', group: 'VRRP role' },
      { id: 'ra-sync', label: 'router A sync', group: 'Sync' },
      { id: 'tcp-0', label: 'flow 0', group: 'TCP flows', size: 'thin' },
    ],
    items: [
      { lane: 'ra-role', type: 'span', from: T0, to: T0 + 4000, tone: 'master' },
      { lane: 'ra-role', type: 'span', from: T0 + 4000, to: T0 + 10_000, tone: 'down' },
      { lane: 'ra-sync', type: 'mark', at: T0 + 2000, tone: 'sync' },
      { lane: 'tcp-0', type: 'span', from: T0 + 4100, to: T0 + 5300, tone: 'gap', title: 'no echo for 1200 ms' },
    ],
    markers: [{ at: T0 + 4000, label: 'A dies' }],
  };
  const svg = renderTimelineSvg(t);
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 1200 \d+"/);
  assert.match(svg, /A &lt;test&gt; &amp; more/);
  const p = parseTimeline(svg);
  assert.deepEqual(p.lanes.map((l) => [l.id, l.group]), [['ra-role', 'VRRP role'], ['ra-sync', 'Sync'], ['tcp-0', 'TCP flows']]);
  assert.deepEqual(p.items, [
    { lane: 'ra-role', shape: 'rect', cls: 'span master', from: 0, to: 4000, at: undefined },
    { lane: 'ra-role', shape: 'rect', cls: 'span down', from: 4000, to: 10_000, at: undefined },
    { lane: 'ra-sync', shape: 'line', cls: 'mark sync', from: undefined, to: undefined, at: 2000 },
    { lane: 'tcp-0', shape: 'rect', cls: 'span gap', from: 4100, to: 5300, at: undefined },
  ]);
  assert.deepEqual(p.markers, [{ at: 4000, label: 'A dies' }]);
  assert.match(svg, /<title>no echo for 1200 ms<\/title>/);
});

function flowStats(id: number, gaps: FlowStats['gaps']): FlowStats {
  return { id, localPort: 40000 + id, sent: 100, echoed: 95, lost: 5, inFlight: 0, maxGapMs: Math.max(0, ...gaps.map((g) => g.ms)), gaps, maxRttMs: 3, lastEchoAgoMs: 50, alive: true, fatal: null, errors: {} };
}

test('the demo timeline takes role changes and sync batches from the log lines and gaps from the flow reports', () => {
  const iso = (ms: number) => new Date(T0 + ms).toISOString();
  const logs = {
    ra: [
      { time: iso(500), action: 'role-change', resource: 'VirtualAddress/lan-vip', from: 'unknown', to: 'master' },
      { time: iso(1000), action: 'sync-full', outcome: 'ok', target: 'rb', entries: 120 },
      { time: iso(1500), action: 'lease-sync', outcome: 'ok', resource: 'DHCPv4ServerLeaseSync/lan-v4-leases', target: 'rb' },
    ],
    rb: [
      { time: iso(600), action: 'role-change', resource: 'VirtualAddress/lan-vip', from: 'unknown', to: 'backup' },
      { time: iso(5000), action: 'role-change', resource: 'VirtualAddress/lan-vip', from: 'backup', to: 'master' },
      { time: iso(6000), action: 'sync-full', outcome: 'error', target: 'ra', entries: 120 },
    ],
  };
  const report = { flows: [flowStats(0, [{ startEpochMs: T0 + 4000, ms: 1400 }]), flowStats(1, [])], summary: { maxGapMs: 1400 } } as unknown as FlowReport;
  const flows: FlowTrace[] = [{ label: 'TCP', startedAt: T0 + 2000, report, reportedAt: T0 + 9000 }];
  const t = demoTimeline({ title: 't', start: T0, end: T0 + 10_000, routers: [{ id: 'ra', label: 'router A', logs: logs.ra, down: [{ from: T0 + 4000 }] }, { id: 'rb', label: 'router B', logs: logs.rb }], flows, markers: [] });
  const p = parseTimeline(renderTimelineSvg(t));
  const spans = (lane: string) => p.items.filter((i) => i.lane === lane && i.shape === 'rect').map((i) => [i.cls, i.from, i.to]);
  assert.deepEqual(spans('rb-role-VirtualAddress/lan-vip'), [['span unknown', 0, 600], ['span backup', 600, 5000], ['span master', 5000, 10_000]]);
  assert.deepEqual(spans('ra-role-VirtualAddress/lan-vip'), [['span unknown', 0, 500], ['span master', 500, 10_000], ['span down', 4000, 10_000]]);
  assert.deepEqual(p.items.filter((i) => i.lane === 'rb-role-VirtualAddress/lan-vip' && i.cls === 'mark event').map((i) => i.at), [600, 5000]);
  assert.deepEqual(p.items.filter((i) => i.lane === 'ra-session-sync').map((i) => [i.cls, i.at]), [['mark sync', 1000]]);
  assert.deepEqual(p.items.filter((i) => i.lane === 'ra-lease-sync').map((i) => [i.cls, i.at]), [['mark lease', 1500]]);
  assert.deepEqual(p.items.filter((i) => i.lane === 'rb-session-sync').map((i) => [i.cls, i.at]), [['mark sync-error', 6000]]);
  assert.deepEqual(spans('tcp-flow-0'), [['span echo', 2000, 9000], ['span gap', 4000, 5400]]);
  assert.deepEqual(spans('tcp-flow-1'), [['span echo', 2000, 9000]]);
  assert.match(p.lanes.find((l) => l.id === 'tcp-flow-0')!.group, /TCP flows: 2, 1 with an echo gap \(longest 1400 ms\)/);
});

// The picture in the README, from a real `npm run demo` (copied from
// demo-out/timeline.svg): it must show the failover, not just exist.
const README_SVG = join(REPO, 'docs', 'img', 'demo-timeline.svg');

test('the README\'s demo timeline shows both routers\' roles, the takeover, sync batches and per-flow echo gaps', () => {
  assert.ok(existsSync(README_SVG), 'docs/img/demo-timeline.svg (run npm run demo and copy demo-out/timeline.svg)');
  const svg = readFileSync(README_SVG, 'utf8');
  assert.match(readFileSync(join(REPO, 'README.md'), 'utf8'), /docs\/img\/demo-timeline\.svg/);
  const p = parseTimeline(svg);
  const dies = p.markers.find((m) => m.label === 'A dies');
  const takeover = p.markers.find((m) => m.label === 'B master');
  assert.ok(dies && takeover && takeover.at >= dies.at, JSON.stringify(p.markers));
  const roleSpans = (router: string) => p.items.filter((i) => i.lane.startsWith(`${router}-role-`) && i.cls.startsWith('span '));
  assert.ok(roleSpans('ra').some((s) => s.cls === 'span master' && s.from! < dies.at), 'A was master before it died');
  assert.ok(roleSpans('ra').some((s) => s.cls === 'span down' && s.from === dies.at), 'A is drawn down from its death');
  assert.ok(roleSpans('rb').some((s) => s.cls === 'span backup' && s.to! >= dies.at), 'B was backup until A died');
  assert.ok(roleSpans('rb').some((s) => s.cls === 'span master' && s.from! >= dies.at), 'B is master after');
  assert.ok(p.items.some((i) => i.lane === 'ra-session-sync' && i.cls === 'mark sync' && i.at! < dies.at), 'session sync batches before the failover');
  assert.ok(p.items.some((i) => i.lane === 'ra-lease-sync' && i.cls === 'mark lease'), 'lease sync pushes');
  const flowLanes = p.lanes.filter((l) => /^(tcp|udp)-flow-\d+$/.test(l.id));
  assert.equal(flowLanes.length, 120, '100 TCP and 20 UDP flows, one lane each');
  const gaps = p.items.filter((i) => /^(tcp|udp)-flow-/.test(i.lane) && i.cls === 'span gap');
  assert.ok(gaps.length > 0, 'echo gaps drawn');
  assert.ok(gaps.every((g) => g.to! >= dies.at), 'the flows\' gaps come with the failover, not before');
});
