// The only parser of `rsync --stats` output (rsync 3.2+): the byte counters
// lease sync reports. Numbers may carry thousands separators ("4,007").
export interface RsyncStats {
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly filesTransferred: number;
  readonly literalBytes: number;
}

function counter(text: string, label: string): number | undefined {
  const m = new RegExp(`^${label}:\\s*([\\d,.]+)`, 'm').exec(text);
  if (!m) return undefined;
  const n = Number(m[1]!.replace(/[,.](?=\d{3}\b)/g, ''));
  return Number.isFinite(n) ? n : undefined;
}

/** undefined when the output carries no stats block (rsync failed before the transfer). */
export function parseRsyncStats(stdout: string): RsyncStats | undefined {
  const sent = counter(stdout, 'Total bytes sent');
  if (sent === undefined) return undefined;
  return {
    bytesSent: sent,
    bytesReceived: counter(stdout, 'Total bytes received') ?? 0,
    filesTransferred: counter(stdout, 'Number of regular files transferred') ?? 0,
    literalBytes: counter(stdout, 'Literal data') ?? 0,
  };
}
