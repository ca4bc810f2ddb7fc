// The vocabulary every kind shares, with no list of kinds: each kind's folder
// (src/controllers/<kind>/schema.ts) declares its spec into KindSpecs by module
// augmentation and exports its API facts (kindApi); the one runtime list is
// src/controllers/registry.ts, and src/controllers/kinds.ts derives the lookups
// by kind name from it. The compiler fails on a kind declared here with no
// module there (registry.ts, Unregistered) and on a module or kindApi whose
// kind is not declared (K extends Kind).
import { z } from 'zod';
import { resourceName, type API_VERSION } from './primitives.ts';
import type { When } from './when.ts';

/**
 * Each kind's spec schema by kind name, e.g. `NAT44Rule: typeof nat44RuleSpec`.
 * Empty here; each kind's schema.ts adds its own:
 * `declare module '../../api/kinds.ts' { interface KindSpecs { NAT44Rule: typeof nat44RuleSpec } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by module augmentation
export interface KindSpecs {}

export type Kind = keyof KindSpecs;

export type SpecOf<K extends Kind> = z.output<KindSpecs[K]>;

export const COMMON_STATUS_FIELDS = ['phase', 'reason', 'message', 'observedGeneration', 'lastTransitionTime'] as const;

/** A reference from one resource to another, with the field path that holds it. */
export interface RefUse {
  readonly path: readonly (string | number)[];
  readonly target: string;
}

/** A kind's API facts: what the loader, `routerctl explain` and `spec.when` know of it. */
export interface KindApi<K extends Kind> {
  readonly kind: K;
  readonly spec: KindSpecs[K] & z.ZodType;
  /** kebab-case controller name for `routerd serve --controllers`. */
  readonly controller: string;
  readonly description: string;
  /** The status fields other resources may gate on (besides COMMON_STATUS_FIELDS). */
  readonly statusFields: readonly string[];
  /** Resource references in the spec (not counting `when`, which the loader walks itself). */
  readonly references?: (spec: SpecOf<K>) => readonly RefUse[];
}

/** Ties a kind's API facts to its name (declared in KindSpecs). */
export function kindApi<K extends Kind>(api: KindApi<K>): KindApi<K> {
  return api;
}

export const metadataSchema = z.strictObject({
  name: resourceName,
  labels: z.record(z.string(), z.string()).optional().describe('Free-form labels.'),
  annotations: z.record(z.string(), z.string()).optional().describe('Free-form annotations.'),
});
export type Metadata = z.infer<typeof metadataSchema>;

export interface ResourceOf<K extends Kind> {
  readonly apiVersion: typeof API_VERSION;
  readonly kind: K;
  readonly metadata: Metadata;
  readonly spec: SpecOf<K>;
}

export type AnyResource = { [K in Kind]: ResourceOf<K> }[Kind];

export function resourceId(r: { kind: string; metadata: { name: string } }): string {
  return `${r.kind}/${r.metadata.name}`;
}

export function isKindOf<K extends Kind>(r: AnyResource, kind: K): r is ResourceOf<K> & AnyResource {
  return r.kind === kind;
}

export function whenOf(r: AnyResource): When | undefined {
  return 'when' in r.spec ? (r.spec.when as When | undefined) : undefined;
}
