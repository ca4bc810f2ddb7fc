// Plain-text tables for routerctl: columns sized to content, no colour codes.
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[], opts: { maxWidth?: number } = {}): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const last = widths.length - 1;
  if (opts.maxWidth && last >= 0) {
    const before = widths.slice(0, last).reduce((a, b) => a + b + 2, 0);
    widths[last] = Math.max(header[last]!.length, Math.min(widths[last]!, opts.maxWidth - before));
  }
  const line = (cells: readonly string[]) => {
    const out: string[] = [];
    const wrapped = cells.map((c, i) => (i === last && opts.maxWidth ? wrap(c, widths[i]!) : [c]));
    const height = Math.max(...wrapped.map((w) => w.length));
    for (let row = 0; row < height; row++)
      out.push(
        wrapped
          .map((w, i) => (i === last ? (w[row] ?? '') : (w[row] ?? '').padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
      );
    return out.join('\n');
  };
  return [line(header), ...rows.map(line)].join('\n');
}

function wrap(text: string, width: number): string[] {
  if (text.length <= width) return [text];
  const out: string[] = [];
  let cur = '';
  for (const word of text.split(' ')) {
    if (cur && cur.length + 1 + word.length > width) {
      out.push(cur);
      cur = word;
    } else cur = cur ? `${cur} ${word}` : word;
  }
  if (cur) out.push(cur);
  return out;
}
