import type { Controller, ControllerContext, ReconcileInput } from '../controller.ts';
import { Outcome } from '../controller.ts';

/** Interface only observes: its status is the plan's view of the link. */
export class InterfaceController implements Controller<'Interface', undefined> {
  readonly name = 'interface';
  readonly kind = 'Interface';

  async reconcile(input: ReconcileInput<'Interface', undefined>, ctx: ControllerContext) {
    for (const p of input.plans) ctx.status.set(p.resource, { ...p.status, observedGeneration: ctx.generation(p.resource) });
    return Outcome.ok;
  }

  async stop(): Promise<void> {}
}
