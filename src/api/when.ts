// The `spec.when` gate: conditions on other resources' status, e.g.
//   when: { state: { VirtualAddress/lan-vip.role: { equals: master } } }
import { z } from 'zod';
import { ErrorCode } from './errors.ts';

const scalar = z.union([z.string(), z.number(), z.boolean()]);
export type WhenScalar = z.infer<typeof scalar>;

export const STATE_KEY = /^([A-Z][A-Za-z0-9]*)\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)*)$/;

export interface StateKey {
  readonly kind: string;
  readonly name: string;
  /** Dotted path into the status, e.g. `role`. */
  readonly field: string;
}

export function parseStateKey(key: string): StateKey | undefined {
  const m = STATE_KEY.exec(key);
  return m ? { kind: m[1]!, name: m[2]!, field: m[4]! } : undefined;
}

export const conditionSchema = z
  .strictObject({
    equals: scalar.optional().describe('True when the field equals this value.'),
    notEquals: scalar.optional().describe('True when the field is known and differs from this value.'),
    in: z.array(scalar).min(1).optional().describe('True when the field equals one of these values.'),
    exists: z.boolean().optional().describe('true: the field has a value; false: it has none.'),
  })
  .superRefine((c, ctx) => {
    const ops = Object.keys(c).filter((k) => c[k as keyof typeof c] !== undefined);
    if (ops.length !== 1)
      ctx.addIssue({
        code: 'custom',
        message: `a condition needs exactly one of equals, notEquals, in, exists (found ${ops.length === 0 ? 'none' : ops.join(', ')})`,
        params: { rdCode: ErrorCode.InvalidWhen },
      });
  });

export type Condition = z.infer<typeof conditionSchema>;

export interface When {
  state?: Record<string, Condition> | undefined;
  all?: When[] | undefined;
  any?: When[] | undefined;
}

export const whenSchema: z.ZodType<When> = z.lazy(() =>
  z
    .strictObject({
      state: z
        .record(z.string(), conditionSchema)
        .optional()
        .describe('Conditions keyed by "Kind/name.field"; all must hold.'),
      all: z.array(whenSchema).min(1).optional().describe('All of these must hold.'),
      any: z.array(whenSchema).min(1).optional().describe('At least one of these must hold.'),
    })
    .superRefine((w, ctx) => {
      if (!w.state && !w.all && !w.any)
        ctx.addIssue({ code: 'custom', message: 'when needs state, all or any', params: { rdCode: ErrorCode.InvalidWhen } });
      for (const key of Object.keys(w.state ?? {}))
        if (!parseStateKey(key))
          ctx.addIssue({
            code: 'custom',
            path: ['state', key],
            message: `"${key}" is not a status reference (write it as Kind/name.field, e.g. VirtualAddress/lan-vip.role)`,
            params: { rdCode: ErrorCode.InvalidWhen },
          });
    }),
);

/** Every "Kind/name.field" key in a when tree, with the path to it. */
export function stateKeys(when: When, path: (string | number)[] = []): { key: StateKey; path: (string | number)[] }[] {
  const out: { key: StateKey; path: (string | number)[] }[] = [];
  for (const k of Object.keys(when.state ?? {})) {
    const key = parseStateKey(k);
    if (key) out.push({ key, path: [...path, 'state', k] });
  }
  when.all?.forEach((w, i) => out.push(...stateKeys(w, [...path, 'all', i])));
  when.any?.forEach((w, i) => out.push(...stateKeys(w, [...path, 'any', i])));
  return out;
}
