// `conntrackd -s` (general) and `conntrackd -s runtime` output (conntrack-tools
// 1.4.7), parsed once, here. Lines look like
//   current active connections:	           5
//   connections created:		           5	failed:	           0
//                  524 Bytes sent                   32 Bytes recv
//                    0 Malformed msgs                    0 Lost msgs
//   	netlink overrun:		           0
// under section headers ("cache internal:", "external inject:", ...).

export interface ConntrackdCounts {
  readonly created: number;
  readonly updated: number;
  readonly destroyed: number;
  readonly failed: number;
}

export interface ConntrackdStats {
  /** Entries in the internal cache: this router's own flows, what it sends. */
  readonly internalEntries: number;
  /** Entries in the external cache (absent with DisableExternalCache). */
  readonly externalEntries?: number;
  /** Entries from the peer written into the kernel (DisableExternalCache), since conntrackd started. */
  readonly injected: ConntrackdCounts;
  readonly packetsSent: number;
  readonly packetsReceived: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly sendErrors: number;
  readonly receiveErrors: number;
  /** Sync messages the peer sent that never arrived (sequence gaps). */
  readonly messagesLost: number;
  readonly messagesMalformed: number;
}

export interface ConntrackdRuntime {
  readonly eventsReceived: number;
  readonly eventsFiltered: number;
  readonly netlinkOverruns: number;
  readonly kernelResyncs: number;
  readonly netlinkBufferBytes: number;
}

function sections(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (!line.trim()) continue;
    if (!/^\s/.test(line) && line.endsWith(':')) {
      current = line.slice(0, -1).trim();
      out.set(current, []);
    } else {
      const list = out.get(current) ?? [];
      list.push(line);
      out.set(current, list);
    }
  }
  return out;
}

function field(lines: readonly string[] | undefined, label: string): number | undefined {
  for (const l of lines ?? []) {
    const i = l.indexOf(`${label}:`);
    if (i < 0 || l.slice(0, i).trim() !== '') continue;
    const m = /^\s*(\d+)/.exec(l.slice(i + label.length + 1));
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** "connections created:   5   failed:   0" → [5, 0]. */
function pair(lines: readonly string[] | undefined, label: string): [number, number] | undefined {
  for (const l of lines ?? []) {
    const m = new RegExp(`^\\s*${label}:\\s+(\\d+)\\s+failed:\\s+(\\d+)`).exec(l);
    if (m) return [Number(m[1]), Number(m[2])];
  }
  return undefined;
}

/** "  524 Bytes sent   32 Bytes recv" → [524, 32]. */
function twoColumns(lines: readonly string[], left: string, right: string): [number, number] | undefined {
  for (const l of lines) {
    const m = new RegExp(`^\\s*(\\d+) ${left}\\s+(\\d+) ${right}\\s*$`).exec(l);
    if (m) return [Number(m[1]), Number(m[2])];
  }
  return undefined;
}

function counts(lines: readonly string[] | undefined): ConntrackdCounts | undefined {
  const c = pair(lines, 'connections created');
  const u = pair(lines, 'connections updated');
  const d = pair(lines, 'connections destroyed');
  if (!c || !u || !d) return undefined;
  return { created: c[0], updated: u[0], destroyed: d[0], failed: c[1] + u[1] + d[1] };
}

/** `conntrackd -s`; undefined when the output is not what 1.4.7 prints. */
export function parseConntrackdStats(text: string): ConntrackdStats | undefined {
  const s = sections(text);
  const internal = field(s.get('cache internal'), 'current active connections');
  const injected = counts(s.get('external inject'));
  const all = text.split('\n');
  const bytes = twoColumns(all, 'Bytes sent', 'Bytes recv');
  const pkts = twoColumns(all, 'Pckts sent', 'Pckts recv');
  const errs = twoColumns(all, 'Error send', 'Error recv');
  const msgs = twoColumns(all, 'Malformed msgs', 'Lost msgs');
  if (internal === undefined || !injected || !bytes || !pkts || !errs || !msgs) return undefined;
  const external = field(s.get('cache external'), 'current active connections');
  return {
    internalEntries: internal,
    ...(external !== undefined ? { externalEntries: external } : {}),
    injected,
    bytesSent: bytes[0],
    bytesReceived: bytes[1],
    packetsSent: pkts[0],
    packetsReceived: pkts[1],
    sendErrors: errs[0],
    receiveErrors: errs[1],
    messagesMalformed: msgs[0],
    messagesLost: msgs[1],
  };
}

/** `conntrackd -s runtime`. */
export function parseConntrackdRuntime(text: string): ConntrackdRuntime | undefined {
  const nl = sections(text).get('netlink stats');
  const get = (label: string) => field(nl, label);
  const [eventsReceived, eventsFiltered, netlinkOverruns, kernelResyncs, netlinkBufferBytes] = [
    get('events received'),
    get('events filtered'),
    get('netlink overrun'),
    get('resync with kernel table'),
    get('current buffer size (in bytes)'),
  ];
  if (eventsReceived === undefined || netlinkOverruns === undefined || kernelResyncs === undefined) return undefined;
  return { eventsReceived, eventsFiltered: eventsFiltered ?? 0, netlinkOverruns, kernelResyncs, netlinkBufferBytes: netlinkBufferBytes ?? 0 };
}
