// spec.when with three-valued logic: a status nobody has reported yet is
// "unknown", which is neither true nor false. The gate opens only on true, and
// the message names every condition that kept it shut.
import { parseStateKey, type Condition, type When, type WhenScalar } from '../api/when.ts';

export type Truth = 'true' | 'false' | 'unknown';

/** Reads a status field: undefined when the resource or field has no value yet. */
export type StatusLookup = (kind: string, name: string, field: string) => unknown;

export interface WhenOutcome {
  readonly truth: Truth;
  /** Conditions that are false or unknown, in words. */
  readonly unmet: string[];
}

export function evaluateWhen(when: When | undefined, lookup: StatusLookup): WhenOutcome {
  if (!when) return { truth: 'true', unmet: [] };
  const parts: WhenOutcome[] = [];
  for (const [key, cond] of Object.entries(when.state ?? {})) parts.push(evaluateCondition(key, cond, lookup));
  if (when.all) parts.push(combineAll(when.all.map((w) => evaluateWhen(w, lookup))));
  if (when.any) parts.push(combineAny(when.any.map((w) => evaluateWhen(w, lookup))));
  return combineAll(parts);
}

function combineAll(parts: WhenOutcome[]): WhenOutcome {
  const truth: Truth = parts.some((p) => p.truth === 'false')
    ? 'false'
    : parts.some((p) => p.truth === 'unknown')
      ? 'unknown'
      : 'true';
  return { truth, unmet: parts.flatMap((p) => p.unmet) };
}

function combineAny(parts: WhenOutcome[]): WhenOutcome {
  if (parts.some((p) => p.truth === 'true')) return { truth: 'true', unmet: [] };
  const truth: Truth = parts.some((p) => p.truth === 'unknown') ? 'unknown' : 'false';
  const unmet = parts.flatMap((p) => p.unmet);
  return { truth, unmet: unmet.length > 1 ? [`none of: ${unmet.join('; ')}`] : unmet };
}

function evaluateCondition(key: string, cond: Condition, lookup: StatusLookup): WhenOutcome {
  const ref = parseStateKey(key);
  const value = ref ? lookup(ref.kind, ref.name, ref.field) : undefined;
  const known = value !== undefined && value !== null && value !== '' && value !== 'unknown';
  const want = describeCondition(cond);
  if (cond.exists !== undefined) {
    const ok = known === cond.exists;
    return ok ? { truth: 'true', unmet: [] } : { truth: 'false', unmet: [`${key} ${known ? `is ${fmt(value)}` : 'has no value'}, want ${want}`] };
  }
  if (!known) return { truth: 'unknown', unmet: [`${key} is unknown, want ${want}`] };
  let ok: boolean;
  if (cond.equals !== undefined) ok = same(value, cond.equals);
  else if (cond.notEquals !== undefined) ok = !same(value, cond.notEquals);
  else ok = (cond.in ?? []).some((v) => same(value, v));
  return ok ? { truth: 'true', unmet: [] } : { truth: 'false', unmet: [`${key} is ${fmt(value)}, want ${want}`] };
}

function same(value: unknown, want: WhenScalar): boolean {
  return typeof value === typeof want ? value === want : String(value) === String(want);
}

function fmt(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
}

export function describeCondition(c: Condition): string {
  if (c.equals !== undefined) return `equals ${fmt(c.equals)}`;
  if (c.notEquals !== undefined) return `notEquals ${fmt(c.notEquals)}`;
  if (c.in !== undefined) return `in [${c.in.map(fmt).join(', ')}]`;
  return c.exists ? 'exists' : 'not exists';
}

/** Read a dotted field path out of a status object. */
export function readField(status: Readonly<Record<string, unknown>> | undefined, field: string): unknown {
  let v: unknown = status;
  for (const seg of field.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[seg];
  }
  return v;
}
