// Human output for routerctl: plans, validation results, resource status.
import { formatConfigError, type ConfigError } from '../api/errors.ts';
import type { ResourcePlan } from '../controllers/types.ts';
import type { ApiResource } from '../daemon/api-client.ts';
import { renderTable } from './table.ts';

const WIDTH = Math.max(100, Math.min(process.stdout.columns ?? 160, 200));

export function formatErrors(errors: readonly ConfigError[]): string {
  return `${errors.map(formatConfigError).join('\n')}\n${errors.length} error${errors.length === 1 ? '' : 's'}; nothing was applied`;
}

export function formatPlan(plans: readonly ResourcePlan[]): string {
  const rows = plans.flatMap((p) => p.actions.map((a, i) => [i === 0 ? p.resource : '', a.verb, a.object, a.detail]));
  const counts = new Map<string, number>();
  for (const p of plans) for (const a of p.actions) counts.set(a.verb, (counts.get(a.verb) ?? 0) + 1);
  const summary = [...counts].map(([v, n]) => `${n} ${v}`).join(', ');
  return `${renderTable(['RESOURCE', 'ACTION', 'OBJECT', 'DETAIL'], rows, { maxWidth: WIDTH })}\n\nPlan: ${summary || 'nothing to do'}`;
}

function scalar(v: unknown): string {
  if (v === undefined || v === null) return '-';
  if (Array.isArray(v)) return v.length ? v.map(scalar).join(', ') : '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function isObjectList(v: unknown): boolean {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'object' && x !== null && !Array.isArray(x));
}

const CONDITION_FIELDS = ['phase', 'reason', 'message', 'observedGeneration', 'lastTransitionTime'];

export function formatDescribe(r: ApiResource): string {
  const s = r.status;
  const head: string[][] = [
    ['Resource', `${r.kind}/${r.name}`],
    ['Phase', scalar(s.phase)],
    ['Reason', scalar(s.reason)],
    ['Message', scalar(s.message)],
    ['Since', scalar(s.lastTransitionTime)],
    ['Generation', `${scalar(s.observedGeneration)} observed / ${scalar(r.generation)} desired`],
  ];
  const warnings = Array.isArray(s.warnings) ? (s.warnings as string[]) : [];
  // Fields holding a list of objects (targets, mappings) get a table of their own.
  const tables = Object.entries(s).filter((e): e is [string, Record<string, unknown>[]] => isObjectList(e[1]));
  const tabled = new Set(tables.map(([k]) => k));
  for (const [k, v] of Object.entries(s)) if (!CONDITION_FIELDS.includes(k) && !tabled.has(k) && k !== 'warnings') head.push([k, scalar(v)]);
  let out = renderTable(['FIELD', 'VALUE'], head, { maxWidth: WIDTH });
  for (const [k, rows] of tables) {
    const cols = [...new Set(rows.flatMap((t) => Object.keys(t)))];
    out += `\n\n${k[0]!.toUpperCase()}${k.slice(1)}:\n${renderTable(
      cols.map((c) => c.toUpperCase()),
      rows.map((t) => cols.map((c) => scalar(t[c]))),
      { maxWidth: WIDTH },
    )}`;
  }
  if (warnings.length) out += `\n\nWarnings:\n${warnings.map((w) => `  ! ${w}`).join('\n')}`;
  return out;
}

export function formatList(items: readonly ApiResource[]): string {
  return renderTable(
    ['RESOURCE', 'PHASE', 'REASON', 'MESSAGE'],
    items.map((i) => [`${i.kind}/${i.name}`, scalar(i.status.phase), scalar(i.status.reason), scalar(i.status.message)]),
    { maxWidth: WIDTH },
  );
}

export function formatListWide(items: readonly ApiResource[]): string {
  return renderTable(
    ['RESOURCE', 'PHASE', 'REASON', 'GENERATION', 'SINCE', 'MESSAGE'],
    items.map((i) => [
      `${i.kind}/${i.name}`,
      scalar(i.status.phase),
      scalar(i.status.reason),
      `${scalar(i.status.observedGeneration)}/${scalar(i.generation)}`,
      scalar(i.status.lastTransitionTime),
      scalar(i.status.message),
    ]),
    { maxWidth: WIDTH },
  );
}
