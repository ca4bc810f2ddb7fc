import type { Controller, ControllerContext, ReconcileInput } from '../controller.ts';

/** Interface only observes: its status is the plan's view of the link. */
export class InterfaceController implements Controller {
  readonly name = 'interface';
  readonly kinds = ['Interface'] as const;

  async reconcile(input: ReconcileInput, ctx: ControllerContext): Promise<void> {
    for (const p of input.plans) ctx.status.set(p.resource, { ...p.status, observedGeneration: ctx.generation(p.resource) });
  }

  async stop(): Promise<void> {}
}
