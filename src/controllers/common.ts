import { resourceId, whenOf, type AnyResource } from '../api/kinds.ts';
import type { EngineState, ExitInfo } from '../engines/process.ts';
import { evaluateWhen } from '../when/evaluate.ts';
import type { ControllerContext } from './controller.ts';
import { Phase, Reason, type ResourceStatus } from './status.ts';
import type { Action, Observed, ObservedInterface, PlanContext, ResourcePlan, Verb } from './types.ts';

/** The resource of node-wide actions (a table or a daemon no resource owns any more). */
export const NODE = 'node';

export function action(r: { readonly kind: string; readonly metadata: { readonly name: string } }, verb: Verb, object: string, detail: string): Action {
  return { resource: resourceId(r), verb, object, detail };
}

/** Removing a sync of any kind: its targets keep their last copy. */
export function syncRemoval(r: { readonly kind: string; readonly metadata: { readonly name: string }; readonly spec: { readonly targets: readonly { readonly name?: string; readonly host: string }[] } }): Action[] {
  return [action(r, 'delete', `sync ${resourceId(r)}`, `sync stopped: ${r.spec.targets.map((t) => t.name ?? t.host).join(', ')} keep their last copy, which ages`)];
}

export function status(phase: ResourceStatus['phase'], reason: Reason, message: string, extra: Record<string, unknown> = {}): ResourceStatus {
  return { phase, reason, message, ...extra };
}

/**
 * The spec.when gate. Returns a Pending/WhenFalse plan when the gate is shut
 * (false or unknown), naming the unmet conditions, else undefined.
 */
export function gate(r: AnyResource, ctx: PlanContext, what: string): ResourcePlan | undefined {
  const outcome = evaluateWhen(whenOf(r), ctx.status);
  if (outcome.truth === 'true') return undefined;
  const message = `${what} only while spec.when holds: ${outcome.unmet.join('; ')}`;
  return {
    resource: resourceId(r),
    actions: [action(r, 'wait', 'spec.when', message)],
    status: status(Phase.Pending, Reason.WhenFalse, message),
  };
}

export function findInterface(observed: Observed, ifname: string): ObservedInterface | undefined {
  return observed.interfaces?.find((i) => i.name === ifname);
}

/** Compare a rendered file with what is on disk: create, update or noop. */
export function fileVerb(observed: Observed, path: string, content: string): Verb {
  const current = observed.files.get(path);
  if (current === undefined) return 'create';
  return current === content ? 'noop' : 'update';
}

/** Status fields of a supervised daemon that is not running: Failed, and why (it crashed and waits to restart, or never started). */
export function engineDown(engine: string, e: { state(): EngineState; readonly restarts: number }) {
  const st = e.state();
  const failed = st.state === 'failed' ? st.message : undefined;
  return {
    phase: Phase.Failed,
    reason: e.restarts > 0 ? Reason.EngineRestarted : Reason.EngineFailed,
    message: failed ?? `${engine} is not running`,
    process: failed ? `failed: ${failed}` : 'stopped',
  } as const;
}

/** What a supervised daemon's unexpected exit does: count it, say it, and reconcile soon (the supervisor restarts it with backoff). */
export function onEngineExit(ctx: ControllerContext, engine: string, resource: string): (info: ExitInfo) => void {
  return (info) => {
    ctx.metrics.engineRestarts.inc({ engine });
    ctx.log.warn({ resource, action: `${engine}-exit`, code: info.code, signal: info.signal, restarts: info.restarts }, `${resource}: ${engine} exited; restarting`);
    ctx.trigger(`${engine} ${resource} exited`);
  };
}
