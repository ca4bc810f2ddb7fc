// An SVG timeline: lanes of spans (a role held, an echo gap) and marks (a sync
// batch), with vertical markers across all lanes (a router dies, comes back).
// Generic on purpose: the demo's failover and any later phase (failback) just
// add lanes, items and markers. Pure: data in, SVG text out, no I/O.
//
// The SVG is also machine-checkable: every lane is <g class="lane"
// data-lane="ID">, every item carries class="span TONE" or "mark TONE" and
// data-from/data-to/data-at in ms since the timeline's start.

export type Tone = 'master' | 'backup' | 'fault' | 'unknown' | 'down' | 'echo' | 'gap' | 'sync' | 'sync-error' | 'lease' | 'event';

export interface TimelineLane {
  readonly id: string;
  readonly label: string;
  /** Lanes of a group are drawn together under the group's heading. */
  readonly group: string;
  /** thin: many lanes of one kind (one per flow). */
  readonly size?: 'normal' | 'thin';
}

export type TimelineItem =
  | { readonly lane: string; readonly type: 'span'; readonly from: number; readonly to: number; readonly tone: Tone; readonly title?: string }
  | { readonly lane: string; readonly type: 'mark'; readonly at: number; readonly tone: Tone; readonly title?: string };

export interface TimelineMarker {
  readonly at: number;
  readonly label: string;
}

export interface Timeline {
  readonly title: string;
  readonly subtitle?: string;
  /** Epoch ms of the left edge and the right edge. */
  readonly start: number;
  readonly end: number;
  readonly lanes: readonly TimelineLane[];
  readonly items: readonly TimelineItem[];
  readonly markers: readonly TimelineMarker[];
}

const COLORS: Record<Tone, string> = {
  master: '#2e7d32',
  backup: '#1565c0',
  fault: '#c62828',
  unknown: '#bdbdbd',
  down: '#616161',
  echo: '#a5d6a7',
  gap: '#d32f2f',
  sync: '#6a1b9a',
  'sync-error': '#e65100',
  lease: '#00838f',
  event: '#000000',
};

const LEGEND: readonly [Tone, string][] = [
  ['master', 'VRRP master'],
  ['backup', 'VRRP backup'],
  ['fault', 'VRRP fault'],
  ['unknown', 'role unknown'],
  ['down', 'router down'],
  ['echo', 'flow echoing'],
  ['gap', 'echo gap'],
  ['sync', 'session sync batch'],
  ['lease', 'lease sync'],
  ['sync-error', 'sync failed'],
];

const WIDTH = 1200;
const LABEL_W = 230;
const PLOT_W = WIDTH - LABEL_W - 20;
const LANE_H = { normal: 18, thin: 3 } as const;
const GROUP_GAP = 22;

export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** Tick step (ms) giving about ten ticks over the span. */
function tickStep(spanMs: number): number {
  for (const s of [100, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000]) if (spanMs / s <= 12) return s;
  return 600_000;
}

export function renderTimelineSvg(t: Timeline): string {
  const span = Math.max(1, t.end - t.start);
  const x = (ms: number) => LABEL_W + (Math.min(Math.max(ms, t.start), t.end) - t.start) * (PLOT_W / span);
  const rel = (ms: number) => Math.round(ms - t.start);
  const out: string[] = [];
  let y = t.subtitle ? 70 : 56;
  const groups = [...new Set(t.lanes.map((l) => l.group))];
  const laneY = new Map<string, { y: number; h: number }>();
  const body: string[] = [];
  for (const g of groups) {
    body.push(`<text class="group" x="8" y="${y + 12}" font-weight="bold">${escapeXml(g)}</text>`);
    y += GROUP_GAP;
    const lanes = t.lanes.filter((l) => l.group === g);
    for (const lane of lanes) {
      const h = LANE_H[lane.size ?? 'normal'];
      laneY.set(lane.id, { y, h });
      const items = t.items.filter((i) => i.lane === lane.id);
      const inner: string[] = [];
      if (lane.size !== 'thin') inner.push(`<text class="label" x="16" y="${y + h - 5}">${escapeXml(lane.label)}</text>`);
      for (const i of items) {
        const title = i.title ? `<title>${escapeXml(i.title)}</title>` : '';
        if (i.type === 'span') {
          const x0 = x(i.from);
          const w = Math.max(i.tone === 'gap' ? 1.5 : 0.5, x(i.to) - x0);
          inner.push(`<rect class="span ${i.tone}" data-from="${rel(i.from)}" data-to="${rel(i.to)}" x="${x0.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${h}" fill="${COLORS[i.tone]}">${title}</rect>`);
        } else {
          const xm = x(i.at).toFixed(1);
          inner.push(`<line class="mark ${i.tone}" data-at="${rel(i.at)}" x1="${xm}" x2="${xm}" y1="${y}" y2="${y + h}" stroke="${COLORS[i.tone]}" stroke-width="1.5">${title}</line>`);
        }
      }
      body.push(`<g class="lane" data-lane="${escapeXml(lane.id)}" data-group="${escapeXml(g)}">${inner.join('')}</g>`);
      y += h + (lane.size === 'thin' ? 1 : 4);
    }
    if (lanes.some((l) => l.size === 'thin'))
      body.push(`<text class="label" x="16" y="${y - Math.min(y - (laneY.get(lanes[0]!.id)?.y ?? y), 60) / 2}">${escapeXml(`${lanes.length} flows, one line each`)}</text>`);
    y += 6;
  }
  const plotTop = t.subtitle ? 70 : 56;
  const plotBottom = y;
  // Axis: seconds since the start.
  const step = tickStep(span);
  const axis: string[] = [`<line x1="${LABEL_W}" x2="${LABEL_W + PLOT_W}" y1="${plotBottom}" y2="${plotBottom}" stroke="#000"/>`];
  for (let ms = 0; ms <= span; ms += step) {
    const xt = x(t.start + ms).toFixed(1);
    axis.push(`<line x1="${xt}" x2="${xt}" y1="${plotTop}" y2="${plotBottom + 4}" stroke="#eee"/>`);
    axis.push(`<text x="${xt}" y="${plotBottom + 16}" text-anchor="middle">${(ms / 1000).toFixed(step < 1000 ? 1 : 0)} s</text>`);
  }
  // Marker labels: each takes the first free slot (row 0 left of its line,
  // row 1 right of it, then the other sides) where it overlaps no other label.
  const placed: { row: number; from: number; to: number }[] = [];
  const SLOTS = [[0, 'end'], [1, 'start'], [0, 'start'], [1, 'end']] as const;
  const markers = [...t.markers]
    .sort((a, b) => a.at - b.at)
    .map((m) => {
      const xm = x(m.at);
      const w = m.label.length * 6.5 + 6;
      const span = (anchor: 'start' | 'end') => (anchor === 'end' ? { from: xm - w, to: xm } : { from: xm, to: xm + w });
      const free = SLOTS.find(([r, a]) => {
        const s = span(a);
        return !placed.some((p) => p.row === r && p.from < s.to && s.from < p.to);
      });
      const [row, anchor] = free ?? SLOTS[placed.length % 2]!;
      placed.push({ row, ...span(anchor) });
      return `<g class="marker" data-at="${rel(m.at)}"><line x1="${xm.toFixed(1)}" x2="${xm.toFixed(1)}" y1="${plotTop - 4 - row * 12}" y2="${plotBottom}" stroke="#000" stroke-dasharray="4 3"/><text x="${(xm + (anchor === 'start' ? 3 : -3)).toFixed(1)}" y="${plotTop - 6 - row * 12}" text-anchor="${anchor}" font-weight="bold">${escapeXml(m.label)}</text></g>`;
    });
  let lx = LABEL_W;
  const ly = plotBottom + 36;
  const legend = LEGEND.map(([tone, label]) => {
    const g = `<g class="legend"><rect x="${lx}" y="${ly - 9}" width="12" height="10" fill="${COLORS[tone]}"/><text x="${lx + 16}" y="${ly}">${escapeXml(label)}</text></g>`;
    lx += 24 + label.length * 6.2;
    return g;
  });
  const height = ly + 16;
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text class="title" x="8" y="20" font-size="15" font-weight="bold">${escapeXml(t.title)}</text>`,
    ...(t.subtitle ? [`<text class="subtitle" x="8" y="38">${escapeXml(t.subtitle)}</text>`] : []),
    ...axis,
    ...body,
    ...markers,
    ...legend,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}
