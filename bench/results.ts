// bench/RESULTS.md holds one section per benchmark between markers, so running
// one benchmark rewrites its own section and leaves the others as they were.
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, release } from 'node:os';
import { fileURLToPath } from 'node:url';

export const RESULTS_PATH = fileURLToPath(new URL('./RESULTS.md', import.meta.url));

export interface BenchSection {
  readonly name: string;
  readonly title: string;
  /** What was measured and how, in a sentence or two. */
  readonly method: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
  readonly notes?: readonly string[];
}

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function renderSection(s: BenchSection): string {
  const when = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, Linux ${release()}, Node ${process.version}`;
  return [
    `<!-- bench:${s.name} -->`,
    `## ${s.title}`,
    '',
    `${s.method}`,
    '',
    markdownTable(s.header, s.rows),
    '',
    ...(s.notes ?? []).map((n) => `- ${n}`),
    ...(s.notes?.length ? [''] : []),
    `_Run ${when} on ${machine}._`,
    `<!-- /bench:${s.name} -->`,
  ].join('\n');
}

const PREAMBLE = `# Benchmark results

Written by \`npm run bench\` (all) or \`npm run bench -- NAME\` (one). Figures
come from one run on the machine named under each table; compare ratios within
a table, not absolute times across machines.
`;

export async function writeSection(s: BenchSection): Promise<void> {
  let text: string;
  try {
    text = await readFile(RESULTS_PATH, 'utf8');
  } catch {
    text = PREAMBLE;
  }
  const start = `<!-- bench:${s.name} -->`;
  const end = `<!-- /bench:${s.name} -->`;
  const rendered = renderSection(s);
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  text = i >= 0 && j > i ? `${text.slice(0, i)}${rendered}${text.slice(j + end.length)}` : `${text.trimEnd()}\n\n${rendered}\n`;
  await writeFile(RESULTS_PATH, text);
}

export function ms(n: number): string {
  return n >= 100 ? `${Math.round(n)} ms` : `${n.toFixed(1)} ms`;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
