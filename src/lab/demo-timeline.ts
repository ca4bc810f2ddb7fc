// The demo's story as a Timeline (timeline-svg.ts): per router, its VRRP role
// and its sync batches from routerd's own log lines; per flow, when it echoed
// and its echo gaps. Phases (failover, failback) are markers plus whatever the
// logs and flow reports of that phase contain: nothing here is failover-only.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FlowReport } from './echo-client.ts';
import type { LogLine } from './routerd.ts';
import { renderTimelineSvg, type Timeline, type TimelineItem, type TimelineLane, type TimelineMarker, type Tone } from './timeline-svg.ts';

export interface RouterTrace {
  /** Lane id prefix, e.g. "ra". */
  readonly id: string;
  readonly label: string;
  readonly logs: readonly LogLine[];
  /** Spans when the router was down (dead machine), epoch ms. */
  readonly down?: readonly { readonly from: number; readonly to?: number }[];
}

export interface FlowTrace {
  readonly label: string;
  readonly startedAt: number;
  readonly report: FlowReport;
  /** When the report was taken (epoch ms). */
  readonly reportedAt: number;
}

export interface DemoTimelineInput {
  readonly title: string;
  readonly subtitle?: string;
  readonly start: number;
  readonly end: number;
  readonly routers: readonly RouterTrace[];
  readonly flows: readonly FlowTrace[];
  readonly markers: readonly TimelineMarker[];
}

const ROLE_TONES = new Set<Tone>(['master', 'backup', 'fault', 'unknown']);
/** pino's time: ISO text (routerd's logger) or epoch ms (pino's default). */
function timeOf(l: LogLine): number | undefined {
  if (typeof l.time === 'number') return l.time;
  const t = typeof l.time === 'string' ? Date.parse(l.time) : NaN;
  return Number.isFinite(t) ? t : undefined;
}

function roleItems(r: RouterTrace, end: number, start: number): { lanes: TimelineLane[]; items: TimelineItem[] } {
  const changes = r.logs.filter((l) => l.action === 'role-change' && typeof l.resource === 'string' && timeOf(l) !== undefined);
  const resources = [...new Set(changes.map((l) => l.resource as string))];
  const lanes: TimelineLane[] = [];
  const items: TimelineItem[] = [];
  for (const res of resources) {
    const lane = `${r.id}-role-${res}`;
    lanes.push({ id: lane, label: `${r.label}: ${res.replace(/^VirtualAddress\//, '')} role`, group: 'VRRP role' });
    let from = start;
    let tone: Tone = 'unknown';
    for (const c of changes.filter((l) => l.resource === res)) {
      const at = timeOf(c)!;
      items.push({ lane, type: 'span', from, to: at, tone, title: `${r.label}: ${tone}` });
      const to = String(c.to);
      tone = ROLE_TONES.has(to as Tone) ? (to as Tone) : 'unknown';
      items.push({ lane, type: 'mark', at, tone: 'event', title: `${r.label}: ${String(c.from)} → ${to}` });
      from = at;
    }
    items.push({ lane, type: 'span', from, to: end, tone, title: `${r.label}: ${tone}` });
    // Drawn over the role: a dead router's last reported role means nothing.
    for (const d of r.down ?? []) items.push({ lane, type: 'span', from: d.from, to: d.to ?? end, tone: 'down', title: `${r.label} down` });
  }
  return { lanes, items };
}

function syncItems(r: RouterTrace): { lanes: TimelineLane[]; items: TimelineItem[] } {
  const sessions = `${r.id}-session-sync`;
  const leases = `${r.id}-lease-sync`;
  const items: TimelineItem[] = [];
  for (const l of r.logs) {
    const at = timeOf(l);
    if (at === undefined || typeof l.action !== 'string') continue;
    const ok = l.outcome === 'ok';
    if (/^sync-(full|stream|udp-refresh)$/.test(l.action))
      items.push({ lane: sessions, type: 'mark', at, tone: ok ? 'sync' : 'sync-error', title: `${r.label}: ${l.action} → ${String(l.target)}: ${String(l.entries)} entries${ok ? '' : ' (failed)'}` });
    else if (l.action === 'lease-sync')
      items.push({ lane: leases, type: 'mark', at, tone: ok ? 'lease' : 'sync-error', title: `${r.label}: ${String(l.resource)} → ${String(l.target)}${ok ? '' : ' (failed)'}` });
  }
  const lanes: TimelineLane[] = [
    { id: sessions, label: `${r.label}: session sync batches`, group: 'Sync batches sent' },
    { id: leases, label: `${r.label}: lease sync pushes`, group: 'Sync batches sent' },
  ];
  return { lanes, items };
}

function flowItems(f: FlowTrace): { lanes: TimelineLane[]; items: TimelineItem[] } {
  const lanes: TimelineLane[] = [];
  const items: TimelineItem[] = [];
  const gapped = f.report.flows.filter((s) => s.gaps.length > 0).length;
  const group = `${f.label} flows: ${f.report.flows.length}, ${gapped} with an echo gap (longest ${f.report.summary.maxGapMs} ms)`;
  for (const s of f.report.flows) {
    const lane = `${f.label.toLowerCase()}-flow-${s.id}`;
    lanes.push({ id: lane, label: `${f.label} flow ${s.id}`, group, size: 'thin' });
    const endedAt = s.fatal ? f.startedAt + s.fatal.atMs : f.reportedAt;
    items.push({ lane, type: 'span', from: f.startedAt, to: endedAt, tone: 'echo' });
    for (const g of s.gaps)
      items.push({ lane, type: 'span', from: g.startEpochMs, to: g.startEpochMs + g.ms, tone: 'gap', title: `${f.label} flow ${s.id}: no echo for ${g.ms} ms${g.open ? ' (still none at the end)' : ''}` });
  }
  return { lanes, items };
}

export function demoTimeline(input: DemoTimelineInput): Timeline {
  const parts = [
    ...input.routers.map((r) => roleItems(r, input.end, input.start)),
    ...input.routers.map(syncItems),
    ...input.flows.map(flowItems),
  ];
  return {
    title: input.title,
    subtitle: input.subtitle,
    start: input.start,
    end: input.end,
    lanes: parts.flatMap((p) => p.lanes),
    items: parts.flatMap((p) => p.items),
    markers: input.markers,
  };
}

/** Writes the timeline as `dir`/timeline.svg; returns its path. */
export async function saveDemoTimeline(dir: string, input: DemoTimelineInput): Promise<string> {
  await mkdir(dir, { recursive: true });
  const svg = join(dir, 'timeline.svg');
  await writeFile(svg, renderTimelineSvg(demoTimeline(input)));
  return svg;
}
