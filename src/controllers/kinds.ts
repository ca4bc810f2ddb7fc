// Lookups by kind name, derived from the registry (the one list of kinds): each
// module carries its kind's API facts (schema.ts in the kind's folder).
import { z } from 'zod';
import { COMMON_STATUS_FIELDS, metadataSchema, type AnyResource, type Kind, type KindApi, type RefUse } from '../api/kinds.ts';
import { API_VERSION } from '../api/primitives.ts';
import { KIND_MODULES } from './registry.ts';

/** Every kind's API facts by name, in registry order. */
export const KINDS = Object.fromEntries(KIND_MODULES.map((m) => [m.kind, m.api])) as { readonly [K in Kind]: KindApi<K> };
export const KIND_NAMES: Kind[] = KIND_MODULES.map((m) => m.kind);

export function isKind(s: string): s is Kind {
  return Object.hasOwn(KINDS, s);
}

function buildResourceSchema(kind: Kind) {
  return z.strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(kind),
    metadata: metadataSchema,
    spec: KINDS[kind].spec,
  });
}

const resourceSchemas = new Map<Kind, ReturnType<typeof buildResourceSchema>>();

/** The whole-resource schema of one kind (strict: unknown fields are errors). */
export function resourceSchema(kind: Kind) {
  let s = resourceSchemas.get(kind);
  if (!s) resourceSchemas.set(kind, (s = buildResourceSchema(kind)));
  return s;
}

export function statusFieldsOf(kind: Kind): readonly string[] {
  return [...COMMON_STATUS_FIELDS, ...KINDS[kind].statusFields];
}

export function controllerNameOf(kind: Kind): string {
  return KINDS[kind].controller;
}

export function kindOfController(name: string): Kind | undefined {
  return KIND_NAMES.find((k) => KINDS[k].controller === name);
}

/** Resource references in a spec (not counting `when`, which the loader walks itself). */
export function referencesOf(r: AnyResource): RefUse[] {
  const api: KindApi<Kind> = KINDS[r.kind];
  return [...(api.references?.(r.spec as never) ?? [])];
}
