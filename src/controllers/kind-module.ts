// What a kind brings to routerd: its API facts (schema.ts: spec, controller
// name, description, gateable status fields, references), its planner, its
// controller and how a plan words its removal. Each kind's folder exports one
// of these from kind.ts, and controllers/registry.ts lists them, once each.
import type { AnyResource, Kind, KindApi, ResourceOf } from '../api/kinds.ts';
import type { Controller } from './controller.ts';
import type { Action, Observed, Planner } from './types.ts';

export interface KindModule<K extends Kind, P> {
  readonly kind: K;
  readonly api: KindApi<K>;
  readonly planner: Planner<K, P>;
  /** Absent when another kind's controller reconciles this one too (Controller.alsoKinds). */
  newController?(): Controller<K, P>;
  /** What removing `r` from the config does on this node, as plan actions. */
  removal(r: ResourceOf<K> & AnyResource, observed: Observed): Action[];
}

/** Ties a planner and a controller to one kind (the one its API facts name) and one payload type. */
export function kindModule<K extends Kind, P>(m: Omit<KindModule<K, P>, 'kind'>): KindModule<K, P> {
  return { kind: m.api.kind, ...m };
}
